import type { KafkaConsumer, Message } from '@confluentinc/kafka-javascript';
import { BrokerError } from '../../broker/errors.ts';
import type { BrokerClientConfig, ChangelogReader, RestoreResult } from '../../broker/ports.ts';
import type { InputRecord } from '../../broker/records.ts';
import type { LibrdkafkaTopicAdmin } from './admin.ts';
import { clusterConfig, routeLogs } from './config.ts';
import { rdCall } from './errors.ts';
import { toInputRecord } from './group-member.ts';
import type { CooperativeConsumer } from './group-member.ts';
import { rdkafka } from './native.ts';

/** No record and no end of partition for this long: the read is given up (and retried by the task). */
const STALL_MS = 60_000;

/** Messages taken from librdkafka per consume call, for all the partitions being read. */
const CONSUME_BATCH = 10_000;

/** One partition being read: from `start` up to the read_committed end taken when the read began. */
interface PartitionRead {
  topic: string;
  partition: number;
  start: bigint;
  end: bigint;
  low: bigint;
  began: number;
  position: bigint;
  records: number;
  lastOffset: bigint | undefined;
  eof: boolean;
  progressAt: number;
  onRecords: (records: readonly InputRecord[]) => Promise<void>;
  signal: AbortSignal | undefined;
  resolve: (result: RestoreResult) => void;
  reject: (err: unknown) => void;
}

const readKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Restore by `assign()`: a consumer that joins no group reads partitions read_committed from
 * an offset until librdkafka reports the end of each (its read_committed end, past any commit
 * markers) at or beyond the end taken when its read began.
 *
 * The reads going on at the same time share one consumer (the tasks of an instance restore
 * together after a rebalance): each read adds its partition to the assignment and leaves it
 * when done, and the consumer goes once no read is left. One consumer per partition cost a
 * connection and fetcher threads each, and each consume call holds a libuv pool thread while
 * it waits, which the store's reads and writes need too: restore ran at a third of what one
 * consumer for all partitions reads.
 */
export class LibrdkafkaChangelogReader implements ChangelogReader {
  private readonly config: BrokerClientConfig;
  private readonly admin: () => Promise<LibrdkafkaTopicAdmin>;
  private readonly reads = new Map<string, PartitionRead>();
  /** The shared consumer, connected (or connecting) while any read is going on. */
  private consumer: Promise<KafkaConsumer> | undefined;

  constructor(config: BrokerClientConfig, admin: () => Promise<LibrdkafkaTopicAdmin>) {
    this.config = config;
    this.admin = admin;
  }

  async readPartition(
    topic: string,
    partition: number,
    after: bigint | undefined,
    onRecords: (records: readonly InputRecord[]) => Promise<void>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<RestoreResult> {
    const began = Date.now();
    const { signal } = opts;
    const marks = (await (await this.admin()).watermarks(topic)).get(partition) ?? { low: 0n, high: 0n };
    const { low, high: end } = marks;
    let start = after === undefined ? low : after + 1n;
    if (start < low) start = low;
    if (start >= end || signal?.aborted) return { records: 0, lastOffset: undefined, end, low, durationMs: Date.now() - began };
    const key = readKey(topic, partition);
    if (this.reads.has(key)) throw new BrokerError('permanent', 'other', `${topic}-${partition} is already being read`, { client: 'librdkafka' });
    return new Promise<RestoreResult>((resolve, reject) => {
      const read: PartitionRead = { topic, partition, start, end, low, began, position: start, records: 0, lastOffset: undefined, eof: false, progressAt: Date.now(), onRecords, signal, resolve, reject };
      this.reads.set(key, read);
      void this.join(read);
    });
  }

  /** Adds the read's partition to the shared consumer, starting one (and its loop) if needed. */
  private async join(read: PartitionRead): Promise<void> {
    const key = readKey(read.topic, read.partition);
    for (;;) {
      const pending = this.consumer ?? this.start();
      let consumer: KafkaConsumer;
      try {
        consumer = await pending;
      } catch (err) {
        // A consumer that failed to connect serves nobody: the next read makes a new one.
        if (this.consumer === pending) this.consumer = undefined;
        this.finish(read, err);
        return;
      }
      if (this.reads.get(key) !== read) return;
      // That consumer found no read left and is closing: join the next one.
      if (this.consumer !== pending) continue;
      try {
        (consumer as unknown as CooperativeConsumer).incrementalAssign([{ topic: read.topic, partition: read.partition, offset: Number(read.start) }]);
      } catch (err) {
        this.finish(read, err);
      }
      return;
    }
  }

  private start(): Promise<KafkaConsumer> {
    const connecting = this.connect();
    this.consumer = connecting;
    connecting.then(
      (consumer) => void this.loop(consumer),
      () => undefined,
    );
    return connecting;
  }

  private async connect(): Promise<KafkaConsumer> {
    const { KafkaConsumer } = rdkafka();
    const consumer: KafkaConsumer = new KafkaConsumer(
      {
        ...clusterConfig({ ...this.config, clientId: `${this.config.clientId}-restore` }),
        // Never subscribed and never committing: the group id joins nothing.
        'group.id': `${this.config.clientId}-restore`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        'enable.partition.eof': true,
        'fetch.wait.max.ms': 100,
        'max.partition.fetch.bytes': 8 * 1024 * 1024,
        'fetch.max.bytes': 64 * 1024 * 1024,
        'queued.max.messages.kbytes': 131_072,
      },
      {},
    );
    routeLogs(consumer, this.config);
    await rdCall((cb) => consumer.connect({ timeout: 30_000 }, (err) => cb(err)));
    consumer.on('partition.eof', (e) => {
      const read = this.reads.get(readKey(e.topic, e.partition));
      if (read && BigInt(e.offset) >= read.end) read.eof = true;
    });
    consumer.setDefaultConsumeTimeout(200);
    // Wait for the first message only: a call then returns what is queued instead of waiting
    // for a full batch, so the partitions' stores are written while the next fetch comes in.
    (consumer as unknown as CooperativeConsumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
    return consumer;
  }

  /** Reads for every partition assigned, until no read is left; then the consumer goes. */
  private async loop(consumer: KafkaConsumer): Promise<void> {
    try {
      while (this.reads.size > 0) {
        const messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(CONSUME_BATCH, (err, m) => (err ? reject(err) : resolve(m ?? []))));
        const chunks = new Map<PartitionRead, InputRecord[]>();
        for (const m of messages) {
          const read = this.reads.get(readKey(m.topic, m.partition));
          if (!read || read.signal?.aborted) continue;
          const offset = BigInt(m.offset);
          if (offset < read.start || offset >= read.end) continue;
          let chunk = chunks.get(read);
          if (!chunk) chunks.set(read, (chunk = []));
          chunk.push(toInputRecord(m));
          read.position = offset + 1n;
        }
        // Each partition's records go to its own store: written side by side.
        await Promise.all(
          [...chunks].map(async ([read, chunk]) => {
            if (read.signal?.aborted) return;
            try {
              await read.onRecords(chunk);
              read.records += chunk.length;
              read.lastOffset = chunk[chunk.length - 1]?.offset;
              read.progressAt = Date.now();
            } catch (err) {
              this.finish(read, err, consumer);
            }
          }),
        );
        const now = Date.now();
        for (const read of [...this.reads.values()]) {
          if (read.eof || read.position >= read.end || read.signal?.aborted) this.finish(read, undefined, consumer);
          else if (now - read.progressAt > STALL_MS) {
            this.finish(read, new BrokerError('retryable', 'other', `restore of ${read.topic}-${read.partition} made no progress for ${STALL_MS / 1000} s at offset ${read.position}`, { client: 'librdkafka' }), consumer);
          }
        }
      }
    } catch (err) {
      for (const read of [...this.reads.values()]) this.finish(read, err);
    } finally {
      // Set in the same turn as the loop saw no read left: a read that comes later makes a new consumer.
      this.consumer = undefined;
      await new Promise<void>((resolve) => {
        try {
          consumer.disconnect(() => resolve());
        } catch {
          resolve();
        }
      });
    }
  }

  /** Ends a read: resolved with what it delivered, or rejected; its partition leaves the assignment. */
  private finish(read: PartitionRead, err: unknown, consumer?: KafkaConsumer): void {
    const key = readKey(read.topic, read.partition);
    if (this.reads.get(key) !== read) return;
    this.reads.delete(key);
    if (consumer) {
      try {
        (consumer as unknown as CooperativeConsumer).incrementalUnassign([{ topic: read.topic, partition: read.partition }]);
      } catch {
        // The consumer is going anyway when it cannot change its assignment.
      }
    }
    if (err !== undefined) read.reject(err);
    else read.resolve({ records: read.records, lastOffset: read.lastOffset, end: read.end, low: read.low, durationMs: Date.now() - read.began });
  }
}
