/** The few broker operations the benchmarks need, over kafkajs. */
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import type { WorkloadMessage } from './workload.ts';

/**
 * kafkajs schedules a negative timeout when a response arrives with no request pending
 * (kafkajs/src/network/requestQueue), and Node 24 warns about it each time; it is harmless.
 */
export function silenceKafkajsTimeoutWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'TimeoutNegativeWarning') console.warn(`${warning.name}: ${warning.message}`);
  });
}

/** A name-safe timestamp for a run's topics and folders: 20261122-093204. */
export function runStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

export interface BenchKafka {
  kafka: Kafka;
  admin: Admin;
  brokers: string[];
  close(): Promise<void>;
}

export async function connect(brokers: string, clientId = 'sagaflow-bench'): Promise<BenchKafka> {
  const list = brokers.split(',').map((b) => b.trim()).filter(Boolean);
  const kafka = new Kafka({ clientId, brokers: list, logLevel: logLevel.ERROR, retry: { retries: 8 } });
  const admin = kafka.admin();
  await admin.connect();
  return { kafka, admin, brokers: list, close: () => admin.disconnect() };
}

export async function createTopics(admin: Admin, topics: string[], partitions: number): Promise<void> {
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    waitForLeaders: true,
  });
}

/** Deletes the topics that exist among `topics`; others are ignored. */
export async function deleteTopics(admin: Admin, topics: string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
}

export async function deleteGroups(admin: Admin, groups: string[]): Promise<void> {
  try {
    await admin.deleteGroups(groups);
  } catch {
    // A group that never committed does not exist; nothing to clean.
  }
}

/** Log-end offsets by partition. */
export async function endOffsets(admin: Admin, topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const out: number[] = [];
  for (const o of offsets) out[o.partition] = Number(o.high);
  return out;
}

/** The group's committed offsets by partition (0 where nothing is committed yet). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string, partitions: number): Promise<number[]> {
  const out = new Array<number>(partitions).fill(0);
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const t of res) {
    for (const p of t.partitions) out[p.partition] = Math.max(0, Number(p.offset));
  }
  return out;
}

/**
 * Produces the messages in order (sequential batches of an idempotent producer, so each
 * partition receives them in generation order and, on a fresh topic, at the offsets the
 * workload summary predicts).
 */
export async function produceAll(
  bench: BenchKafka,
  topic: string,
  messages: Iterable<WorkloadMessage>,
  onProgress?: (produced: number) => void,
  batchSize = 5000,
): Promise<number> {
  const producer = bench.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  let produced = 0;
  let batch: WorkloadMessage[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await producer.send({ topic, acks: -1, messages: batch });
    produced += batch.length;
    batch = [];
    onProgress?.(produced);
  };
  try {
    for (const m of messages) {
      batch.push(m);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return produced;
}

export interface CommittedCount {
  records: number;
  byLabel: Record<string, number>;
}

/**
 * Reads a topic from the beginning as a read_committed consumer and counts the records by
 * `messageLabel`. Stops `settleMs` after reaching `expected` (so duplicates would still be
 * seen) or after `idleMs` without a new record.
 */
export async function countCommitted(
  bench: BenchKafka,
  topic: string,
  expected: number,
  opts: { settleMs?: number; idleMs?: number } = {},
): Promise<CommittedCount> {
  const settleMs = opts.settleMs ?? 1000;
  const idleMs = opts.idleMs ?? 10_000;
  const groupId = `sagaflow-bench-count-${process.pid}-${Date.now()}`;
  const consumer = bench.kafka.consumer({ groupId, readUncommitted: false, maxBytes: 50 * 1024 * 1024 });
  const result: CommittedCount = { records: 0, byLabel: {} };
  let last = Date.now();
  let reachedAt: number | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          result.records++;
          let label = '(not JSON)';
          try {
            const parsed = JSON.parse(m.value?.toString('utf8') ?? 'null') as { messageLabel?: unknown } | null;
            if (parsed && typeof parsed.messageLabel === 'string') label = parsed.messageLabel;
          } catch {
            // counted under "(not JSON)"
          }
          result.byLabel[label] = (result.byLabel[label] ?? 0) + 1;
        }
        last = Date.now();
        if (reachedAt === undefined && result.records >= expected) reachedAt = last;
      },
    });
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const now = Date.now();
      if (reachedAt !== undefined && now - reachedAt >= settleMs) break;
      if (now - last >= idleMs) break;
    }
  } finally {
    await consumer.disconnect();
    await deleteGroups(bench.admin, [groupId]);
  }
  return result;
}

/** Connects and checks the broker answers; undefined (after saying how to start one) when not. */
export async function connectOrExplain(brokers: string): Promise<BenchKafka | undefined> {
  try {
    const bench = await connect(brokers);
    await bench.admin.listTopics();
    return bench;
  } catch (err) {
    console.error(`cannot reach Kafka at ${brokers} (${err instanceof Error ? err.message : String(err)}); start the local stack with: npm run stack -- up`);
    return undefined;
  }
}
