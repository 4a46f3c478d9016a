import type { KafkaConsumer, Message } from '@confluentinc/kafka-javascript';
import { BrokerError } from '../../broker/errors.ts';
import type { BrokerClientConfig, ChangelogReader, RestoreResult } from '../../broker/ports.ts';
import type { InputRecord } from '../../broker/records.ts';
import type { LibrdkafkaTopicAdmin } from './admin.ts';
import { clusterConfig } from './config.ts';
import { rdCall } from './errors.ts';
import { toInputRecord } from './group-member.ts';
import { rdkafka } from './native.ts';

/** No record and no end of partition for this long: the read is given up (and retried by the task). */
const STALL_MS = 60_000;

/**
 * Restore by `assign()`: a consumer that joins no group reads one partition read_committed
 * from an offset until librdkafka reports the end of the partition (its read_committed end,
 * past any commit markers) at or beyond the end taken when the read began.
 */
export class LibrdkafkaChangelogReader implements ChangelogReader {
  private readonly config: BrokerClientConfig;
  private readonly admin: () => Promise<LibrdkafkaTopicAdmin>;

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
    const started = Date.now();
    const { signal } = opts;
    const marks = (await (await this.admin()).watermarks(topic)).get(partition) ?? { low: 0n, high: 0n };
    const { low, high: end } = marks;
    let start = after === undefined ? low : after + 1n;
    if (start < low) start = low;
    if (start >= end || signal?.aborted) return { records: 0, lastOffset: undefined, end, low, durationMs: Date.now() - started };
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
        'fetch.max.bytes': 32 * 1024 * 1024,
        'queued.max.messages.kbytes': 65_536,
      },
      {},
    );
    let records = 0;
    let lastOffset: bigint | undefined;
    let position = start;
    let eof = false;
    try {
      await rdCall((cb) => consumer.connect({ timeout: 30_000 }, (err) => cb(err)));
      consumer.on('partition.eof', (e) => {
        if (e.topic === topic && e.partition === partition && BigInt(e.offset) >= end) eof = true;
      });
      consumer.setDefaultConsumeTimeout(200);
      consumer.assign([{ topic, partition, offset: Number(start) }]);
      let progressAt = Date.now();
      while (!eof && position < end && !signal?.aborted) {
        const messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(5_000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
        if (signal?.aborted) break;
        const chunk: InputRecord[] = [];
        for (const m of messages) {
          if (m.topic !== topic || m.partition !== partition) continue;
          const offset = BigInt(m.offset);
          if (offset < start || offset >= end) continue;
          chunk.push(toInputRecord(m));
          position = offset + 1n;
        }
        if (chunk.length > 0) {
          await onRecords(chunk);
          records += chunk.length;
          lastOffset = chunk[chunk.length - 1]?.offset;
          progressAt = Date.now();
        } else if (Date.now() - progressAt > STALL_MS) {
          throw new BrokerError('retryable', 'other', `restore of ${topic}-${partition} made no progress for ${STALL_MS / 1000} s at offset ${position}`, { client: 'librdkafka' });
        }
      }
    } finally {
      await new Promise<void>((resolve) => {
        try {
          consumer.disconnect(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    return { records, lastOffset, end, low, durationMs: Date.now() - started };
  }
}
