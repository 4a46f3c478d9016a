import type { Producer } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { BrokerError } from '../../broker/errors.ts';
import type { BrokerClientConfig, GroupMember, TxWriter } from '../../broker/ports.ts';
import type { OutputRecord, TopicPartitionOffset } from '../../broker/records.ts';
import { clusterConfig, routeLogs } from './config.ts';
import { withDeadline } from '../../deadline.ts';
import { DeliveryTracker } from './delivery.ts';
import { isFatalRdError, isRetriableRdError, rdCall } from './errors.ts';
import { LibrdkafkaGroupMember } from './group-member.ts';
import { rdkafka } from './native.ts';

const TIMEOUT_MS = 30_000;

/** How long after librdkafka's message.timeout.ms an unreported message counts as lost (see DeliveryTracker). */
export const REPORT_MARGIN_MS = 15_000;

/** How long past its own timeout a transactional call may go unanswered before its producer is given up (see `bounded`). */
export const STUCK_MARGIN_MS = 15_000;

/**
 * Disconnects a producer being replaced or closed, waiting at most `timeoutMs` for it: a
 * wedged producer's disconnect (it flushes first) must not hold the caller; the handle is
 * left to finish on librdkafka's threads.
 */
export function disconnectWithin(producer: Producer, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs + 1_000);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      producer.disconnect(timeoutMs, done);
    } catch {
      done();
    }
  });
}

/**
 * librdkafka's own cap on a record (`message.max.bytes`, 1,000,000 by default) counts headers
 * and framing: a record the engine allows (MAX_RECORD_BYTES of key and value) must not be
 * refused before the broker (message.max.bytes, 1,048,588 by default) sees it.
 */
export const PRODUCER_MAX_MESSAGE_BYTES = 1_048_588;

/** Producer properties shared by the transactional writer and the plain producer. */
export function producerConfig(config: BrokerClientConfig, clientId: string): Record<string, string | number | boolean> {
  return {
    ...clusterConfig({ ...config, clientId }),
    'enable.idempotence': true,
    'dr_cb': true,
    // librdkafka's default hashes keys with CRC32; sagaflow names every partition itself
    // (src/broker/murmur2.ts), and sets Java's partitioner for anything that does not.
    partitioner: 'murmur2_random',
    'linger.ms': 5,
    // Bound what waits in librdkafka's queue (its default is 1 GB): RSS, not throughput.
    'queue.buffering.max.kbytes': 65_536,
    'batch.size': 1_000_000,
    'message.max.bytes': PRODUCER_MAX_MESSAGE_BYTES,
  };
}

async function connected(producer: Producer): Promise<void> {
  await rdCall((cb) => producer.connect({ timeout: TIMEOUT_MS }, (err) => cb(err)));
  producer.setPollInBackground(true);
}

/**
 * A librdkafka transactional producer (exactly-once v2). Its offsets go through
 * sendOffsetsToTransaction with the consumer's group metadata (KIP-447), so a member of an
 * older generation cannot commit. After a fatal error (fenced by its transactional id, an
 * idempotence failure) librdkafka's producer is unusable: the next `begin` makes a new one
 * with the same id, whose InitProducerId ends whatever the old one left open.
 */
export class LibrdkafkaTxWriter implements TxWriter {
  readonly transactionalId: string;
  private readonly config: BrokerClientConfig;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private producer: Producer | undefined;
  private tracker: DeliveryTracker | undefined;
  private broken = false;
  /**
   * A transactional call of the current producer that never answered (see `bounded`): the
   * producer must not be disconnected while a native call is still inside it; it is
   * disconnected if that call ever returns.
   */
  private stuck: Promise<unknown> | undefined;
  /**
   * The first send of the open transaction that failed. librdkafka fails a commit whose
   * records failed delivery, but not one whose record it refused before queuing it (too
   * large, say): committing then would move the input positions past a record whose outputs
   * are missing. Such a transaction must be aborted, never committed.
   */
  private failure: unknown;

  private constructor(config: BrokerClientConfig, transactionalId: string, timeoutMs: number) {
    this.config = config;
    this.transactionalId = transactionalId;
    this.timeoutMs = timeoutMs;
    this.log = config.logger.child({ component: 'tx-writer', client: 'librdkafka' });
  }

  static async create(config: BrokerClientConfig, transactionalId: string, transactionTimeoutMs: number): Promise<LibrdkafkaTxWriter> {
    const writer = new LibrdkafkaTxWriter(config, transactionalId, transactionTimeoutMs);
    await writer.init();
    return writer;
  }

  private async init(): Promise<void> {
    const { Producer } = rdkafka();
    const producer = new Producer({
      ...producerConfig(this.config, `${this.config.clientId}-tx`),
      'transactional.id': this.transactionalId,
      'transaction.timeout.ms': this.timeoutMs,
    });
    routeLogs(producer, this.config);
    try {
      await connected(producer);
      // InitProducerId: fences earlier producers with this id and ends their open transaction.
      await this.bounded('init_transactions', rdCall((cb) => producer.initTransactions(TIMEOUT_MS, cb)));
    } catch (err) {
      void this.retire(producer, 5_000);
      throw err;
    }
    this.producer = producer;
    // librdkafka sets message.timeout.ms to transaction.timeout.ms.
    this.tracker = new DeliveryTracker(producer, {
      reportDeadlineMs: this.timeoutMs + REPORT_MARGIN_MS,
      onWedged: (err) => {
        this.log.warn({ transactionalId: this.transactionalId, err: err.message }, 'a transaction record timed out or was never reported; the producer is replaced');
        this.broken = true;
      },
    });
    this.broken = false;
  }

  private open(): Producer {
    if (!this.producer) throw new BrokerError('retryable', 'other', 'the transactional producer is closed', { client: 'librdkafka' });
    return this.producer;
  }

  /**
   * A transactional call that has not answered STUCK_MARGIN_MS past its own timeout fails
   * (retryable) and its producer is replaced. librdkafka can leave such a call waiting for
   * good: after a broker restart, send_offsets_to_transaction was seen blocked for minutes
   * with its 30 s timeout long gone (waiting, inside librdkafka, on a reply that never came;
   * librdkafka issues #5456 and #5511), which held the instance's commits, and with them its
   * partitions, until it was killed.
   * The call keeps its libuv thread-pool thread until it returns, which is why the CLI starts
   * with a larger pool (bin/sagaflow.js).
   */
  private bounded<T>(what: string, call: Promise<T>, timeoutMs = TIMEOUT_MS): Promise<T> {
    const waitedMs = timeoutMs + STUCK_MARGIN_MS;
    return withDeadline(call, waitedMs, (stuck) => {
      this.broken = true;
      this.stuck = stuck.catch(() => undefined);
      this.log.warn({ transactionalId: this.transactionalId, call: what, waitedMs }, 'a transactional call did not answer; the producer is replaced');
      return new BrokerError('retryable', 'other', `${what} did not answer within ${waitedMs} ms`, { client: 'librdkafka' });
    });
  }

  /**
   * Disconnects a producer being replaced or closed, waiting at most `waitMs` for it; one with a
   * stuck call (see `bounded`) is only disconnected once that call returns, without waiting.
   */
  private retire(producer: Producer, waitMs: number): Promise<void> {
    const stuck = this.stuck;
    this.stuck = undefined;
    if (!stuck) return disconnectWithin(producer, waitMs);
    void stuck.then(() => disconnectWithin(producer, waitMs));
    return Promise.resolve();
  }

  /** Marks the producer for replacement when librdkafka says it cannot go on. */
  private watch<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (isFatalRdError(err)) this.broken = true;
      throw err;
    });
  }

  async begin(): Promise<void> {
    if (this.broken || !this.producer) {
      const old = this.producer;
      this.producer = undefined;
      this.tracker?.close();
      if (old) await this.retire(old, 5_000);
      this.log.warn({ transactionalId: this.transactionalId }, 'replacing the transactional producer after a fatal error');
      const began = Date.now();
      await this.init();
      this.log.info({ transactionalId: this.transactionalId, tookMs: Date.now() - began }, 'transactional producer replaced');
    }
    const producer = this.open();
    try {
      await rdCall((cb) => producer.beginTransaction(cb));
    } catch (err) {
      // begin_transaction only checks local state: failing means librdkafka still holds an
      // earlier call as current (see abort) or is in a state this writer did not expect.
      // A new producer with the same id starts clean.
      this.broken = true;
      throw err;
    }
    this.failure = undefined;
  }

  send(records: readonly OutputRecord[]): Promise<bigint[]> {
    this.open();
    const sent = this.watch(
      (this.tracker as DeliveryTracker).send(records, (err) => {
        this.failure ??= err;
      }),
    );
    sent.catch((err: unknown) => {
      this.failure ??= err;
    });
    return sent;
  }

  async sendOffsets(offsets: readonly TopicPartitionOffset[], member: GroupMember): Promise<void> {
    const producer = this.open();
    if (!(member instanceof LibrdkafkaGroupMember)) throw new BrokerError('permanent', 'other', 'offsets need the librdkafka group member they were read by', { client: 'librdkafka' });
    if (offsets.length === 0) return;
    const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }));
    await this.watch(this.bounded('send_offsets_to_transaction', rdCall((cb) => producer.sendOffsetsToTransaction(list, member.consumer, TIMEOUT_MS, cb))));
  }

  async commit(): Promise<void> {
    const producer = this.open();
    if (this.failure !== undefined) throw this.failure;
    // commit_transaction flushes the queued records first. A retriable failure (a timeout)
    // may be retried as is (librdkafka keeps the transaction's state); anything else is
    // reported and the caller aborts.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.watch(this.bounded('commit_transaction', rdCall((cb) => producer.commitTransaction(TIMEOUT_MS, cb))));
        // A delivery report of this transaction's records may land after the flush: a
        // failure there means the broker refused part of it, which librdkafka reports as a
        // failed commit too; check anyway before reporting success.
        if (this.failure !== undefined) throw this.failure;
        return;
      } catch (err) {
        if (attempt >= 3 || this.broken || !isRetriableRdError(err)) throw err;
        this.log.warn({ err, attempt }, 'commit failed with a retriable error; retrying it');
      }
    }
  }

  async abort(): Promise<void> {
    const producer = this.producer;
    if (!producer || this.broken) return;
    try {
      await this.bounded('abort_transaction', rdCall((cb) => producer.abortTransaction(TIMEOUT_MS, cb)));
    } catch (err) {
      // An abort that timed out (the broker away longer than TIMEOUT_MS) stays librdkafka's
      // current call: every other transactional call is refused ("Conflicting
      // abort_transaction API call is already in progress") until an abort completes, and a
      // commit that timed out blocks the abort the same way. Replacing the producer ends
      // either for sure: the next one's InitProducerId completes whatever this one left open.
      this.broken = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.tracker?.close();
    if (producer) await this.retire(producer, TIMEOUT_MS);
  }
}
