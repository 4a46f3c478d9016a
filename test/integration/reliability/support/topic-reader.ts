import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads every partition of `topic` from the beginning up to the end offsets taken when the
 * read starts, with read_committed unless told otherwise. The end is compared as a position,
 * not as the offset of the last record: a transactional log ends with commit markers, which a
 * read_committed consumer never sees as records (kafkajs reports them in END_BATCH_PROCESS).
 */
export async function readWholeTopic(
  kafka: Kafka,
  topic: string,
  opts: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<TopicRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `reliability-reader-${randomUUID()}`;
  const records: TopicRecord[] = [];
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    const positions = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    const done = () => [...ends].every(([p, end]) => (positions.get(p) ?? 0n) >= end);
    if (done()) return records;
    const consumer = kafka.consumer({ groupId, readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`readWholeTopic(${topic}): not at the end within ${opts.timeoutMs ?? 60_000} ms: ${JSON.stringify([...positions].map(([p, o]) => [p, String(o), String(ends.get(p))]))}`)),
          opts.timeoutMs ?? 60_000,
        );
        const advance = (partition: number, last: string | null | undefined) => {
          if (last === null || last === undefined) return;
          const next = BigInt(last) + 1n;
          if (next > (positions.get(partition) ?? 0n)) positions.set(partition, next);
          if (done()) {
            clearTimeout(timer);
            resolve();
          }
        };
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, e.payload.lastOffset as string | null));
        consumer.on(consumer.events.CRASH, (e) => {
          clearTimeout(timer);
          reject(e.payload.error);
        });
        void consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0n;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= end) break;
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
              records.push({ partition: batch.partition, offset, key: m.key === null ? null : m.key.toString('utf8'), value: m.value, headers });
            }
            advance(batch.partition, batch.lastOffset());
          },
        });
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  // A partition may be read twice if the group rebalanced mid-read: keep one copy per offset.
  const unique = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
  return [...unique.values()].sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}
