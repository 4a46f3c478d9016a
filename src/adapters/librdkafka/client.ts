import type { Producer } from '@confluentinc/kafka-javascript';
import type { BrokerClient, BrokerClientConfig, ChangelogReader, GroupMember, GroupMemberOptions, RecordProducer, TopicAdmin, TxWriter } from '../../broker/ports.ts';
import { BrokerError } from '../../broker/errors.ts';
import type { OutputRecord } from '../../broker/records.ts';
import { LibrdkafkaTopicAdmin } from './admin.ts';
import { LibrdkafkaChangelogReader } from './changelog-reader.ts';
import { DeliveryTracker } from './delivery.ts';
import { rdCall } from './errors.ts';
import { LibrdkafkaGroupMember } from './group-member.ts';
import { routeLogs } from './config.ts';
import { rdkafka } from './native.ts';
import { disconnectWithin, LibrdkafkaTxWriter, PRODUCER_MAX_MESSAGE_BYTES, producerConfig, REPORT_MARGIN_MS } from './tx-writer.ts';

/**
 * How long a plain producer's message waits for the broker (librdkafka's message.timeout.ms;
 * its default is five minutes): a send fails after this, and callers such as SagaWorker.emit
 * retry it. Java's delivery.timeout.ms is two minutes; one is enough to ride out a broker
 * restart.
 */
export const PLAIN_MESSAGE_TIMEOUT_MS = 60_000;

/**
 * A plain (idempotent, not transactional) producer. When librdkafka leaves a message
 * unreported past its timeout (see DeliveryTracker), the producer is replaced: sends waiting
 * on it fail (retryable) and the next send goes through a new one.
 */
class LibrdkafkaProducer implements RecordProducer {
  private readonly config: BrokerClientConfig;
  private current: { producer: Producer; tracker: DeliveryTracker } | undefined;
  private connecting: Promise<{ producer: Producer; tracker: DeliveryTracker }> | undefined;
  private closed = false;

  private constructor(config: BrokerClientConfig) {
    this.config = config;
  }

  static async create(config: BrokerClientConfig): Promise<LibrdkafkaProducer> {
    const p = new LibrdkafkaProducer(config);
    await p.open();
    return p;
  }

  private open(): Promise<{ producer: Producer; tracker: DeliveryTracker }> {
    if (this.current) return Promise.resolve(this.current);
    this.connecting ??= (async () => {
      const { Producer } = rdkafka();
      const producer = new Producer({ ...producerConfig(this.config, `${this.config.clientId}-producer`), 'message.timeout.ms': PLAIN_MESSAGE_TIMEOUT_MS });
      routeLogs(producer, this.config);
      await rdCall((cb) => producer.connect({ timeout: 30_000 }, (err) => cb(err)));
      producer.setPollInBackground(true);
      const opened = {
        producer,
        tracker: new DeliveryTracker(producer, { reportDeadlineMs: PLAIN_MESSAGE_TIMEOUT_MS + REPORT_MARGIN_MS, onWedged: (err) => this.replace(opened, err) }),
      };
      this.current = opened;
      return opened;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private replace(wedged: { producer: Producer; tracker: DeliveryTracker }, err: Error): void {
    if (this.current !== wedged) return;
    this.current = undefined;
    wedged.tracker.close();
    this.config.logger.warn({ component: 'producer', client: 'librdkafka', err: err.message }, 'a message timed out or was never reported; the producer is replaced');
    void disconnectWithin(wedged.producer, 5_000);
  }

  async send(records: readonly OutputRecord[]): Promise<void> {
    if (this.closed) throw new BrokerError('permanent', 'other', 'the producer is closed', { client: 'librdkafka' });
    const { tracker } = await this.open();
    await tracker.send(records);
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = await (this.connecting ?? Promise.resolve(this.current)).catch(() => undefined);
    this.current = undefined;
    if (!current) return;
    current.tracker.close();
    await new Promise<void>((resolve) => current.producer.flush(10_000, () => resolve()));
    await disconnectWithin(current.producer, 10_000);
  }
}

/**
 * The librdkafka adapter (@confluentinc/kafka-javascript, low-level API): exactly-once v2
 * (KIP-447), cooperative-sticky rebalancing with awaited callbacks, restore by `assign()`,
 * linger batching; record encoding, compression and CRCs run on librdkafka's threads.
 */
export class LibrdkafkaBrokerClient implements BrokerClient {
  readonly name = 'librdkafka' as const;
  readonly exactlyOnce = 'v2' as const;
  readonly maxRecordBytes = PRODUCER_MAX_MESSAGE_BYTES;
  private readonly config: BrokerClientConfig;
  private sharedAdmin: Promise<LibrdkafkaTopicAdmin> | undefined;

  /** Loads the native binding now, so a missing one fails here with its explanation. */
  constructor(config: BrokerClientConfig) {
    rdkafka();
    this.config = config;
  }

  private connectedAdmin(): Promise<LibrdkafkaTopicAdmin> {
    this.sharedAdmin ??= LibrdkafkaTopicAdmin.create(this.config).catch((err: unknown) => {
      this.sharedAdmin = undefined;
      throw err;
    });
    return this.sharedAdmin;
  }

  admin(): Promise<TopicAdmin> {
    return LibrdkafkaTopicAdmin.create(this.config);
  }

  groupMember(opts: GroupMemberOptions): GroupMember {
    return new LibrdkafkaGroupMember(this.config, opts, () => this.connectedAdmin());
  }

  txWriter(transactionalId: string, opts: { transactionTimeoutMs?: number } = {}): Promise<TxWriter> {
    // Kafka Streams' default under exactly-once: a dead owner's open transaction blocks its
    // partitions' successors for at most this long.
    return LibrdkafkaTxWriter.create(this.config, transactionalId, opts.transactionTimeoutMs ?? 10_000);
  }

  changelogReader(): ChangelogReader {
    return new LibrdkafkaChangelogReader(this.config, () => this.connectedAdmin());
  }

  producer(): Promise<RecordProducer> {
    return LibrdkafkaProducer.create(this.config);
  }

  async close(): Promise<void> {
    const admin = this.sharedAdmin;
    this.sharedAdmin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.close();
  }
}
