import { randomUUID } from 'node:crypto';
import { AssignerProtocol } from 'kafkajs';
import type { Admin, Kafka, PartitionAssigner } from 'kafkajs';
import type { ChangelogReader, RestoreResult } from '../../broker/ports.ts';
import type { InputRecord, RecordHeaders } from '../../broker/records.ts';
import { kafkajsCall } from './errors.ts';

/** Assigns exactly one partition of the subscribed topic to the (only) member of a group. */
export function singlePartitionAssigner(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: 'SagaflowRestoreAssigner',
    version: 0,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: i === 0 ? { [topic]: [partition] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'SagaflowRestoreAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}

export function kafkajsHeaders(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): RecordHeaders {
  const out: RecordHeaders = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const value = Array.isArray(v) ? v[v.length - 1] : v;
    if (value !== undefined) out[k] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  return out;
}

/**
 * kafkajs consumers cannot `assign()` a partition, so restore uses a throwaway consumer
 * group whose assigner takes exactly the partition to restore, seeks to the start offset,
 * reads with read_committed until its position reaches the end offset taken before it
 * started, then deletes the group. The end is compared as a position, not as the offset of
 * the last record: the last entries of a transactional log are commit markers, which a
 * read_committed consumer never sees as records.
 */
export class KafkajsChangelogReader implements ChangelogReader {
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly groupPrefix: string;

  constructor(opts: { kafka: Kafka; admin: Admin; groupPrefix: string }) {
    this.kafka = opts.kafka;
    this.admin = opts.admin;
    this.groupPrefix = opts.groupPrefix;
  }

  readPartition(
    topic: string,
    partition: number,
    after: bigint | undefined,
    onRecords: (records: readonly InputRecord[]) => Promise<void>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<RestoreResult> {
    return kafkajsCall(() => this.read(topic, partition, after, onRecords, opts.signal));
  }

  private async read(topic: string, partition: number, after: bigint | undefined, onRecords: (records: readonly InputRecord[]) => Promise<void>, signal: AbortSignal | undefined): Promise<RestoreResult> {
    const started = Date.now();
    const offsets = await this.admin.fetchTopicOffsets(topic);
    const entry = offsets.find((o) => o.partition === partition);
    const end = BigInt(entry?.high ?? '0');
    const low = BigInt(entry?.low ?? '0');
    let start = after === undefined ? low : after + 1n;
    if (start < low) start = low;
    if (start >= end || signal?.aborted) return { records: 0, lastOffset: undefined, end, low, durationMs: Date.now() - started };

    const groupId = `${this.groupPrefix}-restore-${partition}-${randomUUID()}`;
    const consumer = this.kafka.consumer({
      groupId,
      partitionAssigners: [singlePartitionAssigner(topic, partition)],
      readUncommitted: false,
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    let records = 0;
    let lastOffset: bigint | undefined;
    let position = start;
    let finish: () => void = () => undefined;
    const onAbort = () => finish();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        finish = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
        if (signal?.aborted) return resolve();
        const advance = (last: string | null | undefined) => {
          if (last === null || last === undefined) return;
          const next = BigInt(last) + 1n;
          if (next > position) position = next;
          if (position >= end) resolve();
        };
        // Batches that hold only commit markers never reach eachBatch but still move the
        // position; kafkajs reports them through this event.
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
          const last = e.payload.lastOffset as string | null;
          if (e.payload.partition === partition && last !== null && BigInt(last) >= start) advance(last);
        });
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              if (batch.partition !== partition || signal?.aborted) return;
              const chunk: InputRecord[] = [];
              for (const m of batch.messages) {
                const offset = BigInt(m.offset);
                // The group starts at the beginning before the seek lands: ignore what
                // precedes `start`, or an older document would overwrite a newer one.
                if (offset < start) continue;
                if (offset >= end) break;
                chunk.push({ topic, partition, offset, key: m.key, value: m.value, headers: kafkajsHeaders(m.headers), timestamp: Number(m.timestamp) });
              }
              if (chunk.length > 0) {
                await onRecords(chunk);
                records += chunk.length;
                lastOffset = chunk[chunk.length - 1]?.offset;
              }
              if (BigInt(batch.lastOffset()) >= start) advance(batch.lastOffset());
            },
          })
          .then(() => consumer.seek({ topic, partition, offset: start.toString() }))
          .catch(reject);
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return { records, lastOffset, end, low, durationMs: Date.now() - started };
  }
}
