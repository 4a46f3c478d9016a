import type { Producer } from '@confluentinc/kafka-javascript';
import type { BrokerClient, BrokerClientConfig, ChangelogReader, GroupMember, GroupMemberOptions, RecordProducer, TopicAdmin, TxWriter } from '../../broker/ports.ts';
import type { OutputRecord } from '../../broker/records.ts';
import { LibrdkafkaTopicAdmin } from './admin.ts';
import { LibrdkafkaChangelogReader } from './changelog-reader.ts';
import { DeliveryTracker } from './delivery.ts';
import { rdCall } from './errors.ts';
import { LibrdkafkaGroupMember } from './group-member.ts';
import { rdkafka } from './native.ts';
import { LibrdkafkaTxWriter, PRODUCER_MAX_MESSAGE_BYTES, producerConfig } from './tx-writer.ts';

class LibrdkafkaProducer implements RecordProducer {
  private readonly producer: Producer;
  private readonly tracker: DeliveryTracker;

  constructor(producer: Producer) {
    this.producer = producer;
    this.tracker = new DeliveryTracker(producer);
  }

  async send(records: readonly OutputRecord[]): Promise<void> {
    await this.tracker.send(records);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.producer.flush(10_000, () => resolve()));
    await new Promise<void>((resolve) => this.producer.disconnect(10_000, () => resolve()));
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

  async producer(): Promise<RecordProducer> {
    const { Producer } = rdkafka();
    const producer = new Producer(producerConfig(this.config, `${this.config.clientId}-producer`));
    await rdCall((cb) => producer.connect({ timeout: 30_000 }, (err) => cb(err)));
    producer.setPollInBackground(true);
    return new LibrdkafkaProducer(producer);
  }

  async close(): Promise<void> {
    const admin = this.sharedAdmin;
    this.sharedAdmin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.close();
  }
}
