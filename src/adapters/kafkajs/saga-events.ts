import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Envelope } from '../../kafka/codec.ts';
import { partitionForKey } from '../../broker/murmur2.ts';
import { singlePartitionAssigner } from './changelog-reader.ts';
import type { SagaEventLog, SagaEventRecord, SagaEventsPage } from '../../http/console/ports.ts';

export interface KafkajsSagaEventLogOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  partitions: number;
  groupPrefix: string;
  decode: (value: Buffer | null) => Promise<Envelope>;
  /** Records of the saga's partition read at most for one saga, and for how long. */
  maxScanned?: number;
  maxMs?: number;
}

/**
 * A saga's events read back from its partition of the events topic: from the first record at
 * or after its creation (found by timestamp) until its last change, keeping those keyed by the
 * sagaId. The scan is bounded (records and time), since the partition holds every other saga's
 * events too. kafkajs cannot assign() a partition: a throwaway group with an assigner that
 * takes exactly this one, deleted afterwards, as restore does.
 */
export class KafkajsSagaEventLog implements SagaEventLog {
  private readonly opts: KafkajsSagaEventLogOptions;

  constructor(opts: KafkajsSagaEventLogOptions) {
    this.opts = opts;
  }

  async eventsOf(sagaId: string, since: string, until: string): Promise<SagaEventsPage> {
    const { admin, topic } = this.opts;
    const partition = partitionForKey(sagaId, this.opts.partitions);
    // A second of slack: the history's timestamps are the records' own, but a clock may step.
    const from = Date.parse(since) - 1_000;
    const last = Date.parse(until) + 1_000;
    const [starts, ends] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, from), admin.fetchTopicOffsets(topic)]);
    const start = BigInt(starts.find((o) => o.partition === partition)?.offset ?? '0');
    const end = BigInt(ends.find((o) => o.partition === partition)?.high ?? '0');
    if (start >= end) return { events: [], complete: true, scanned: 0 };

    const groupId = `${this.opts.groupPrefix}-saga-events-${randomUUID()}`;
    const consumer = this.opts.kafka.consumer({
      groupId,
      partitionAssigners: [singlePartitionAssigner(topic, partition)],
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    const events: SagaEventRecord[] = [];
    const maxScanned = this.opts.maxScanned ?? 50_000;
    let scanned = 0;
    let complete = false;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        let finished = false;
        const finish = (done: boolean) => {
          if (finished) return;
          finished = true;
          complete = done;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => finish(false), this.opts.maxMs ?? 8_000);
        let position = start;
        // Batches of commit markers alone never reach eachBatch but still move the position.
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
          if (e.payload.partition !== partition) return;
          const next = BigInt(e.payload.lastOffset) + 1n;
          if (next > position) position = next;
          if (position >= end) finish(true);
        });
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (batch.partition !== partition || finished) return;
              for (const m of batch.messages) {
                if (finished) return;
                const offset = BigInt(m.offset);
                // The group starts at the beginning before the seek lands.
                if (offset < start) continue;
                if (offset >= end || Number(m.timestamp) > last) return finish(true);
                scanned += 1;
                if (scanned > maxScanned) return finish(false);
                if (m.key?.toString('utf8') !== sagaId) continue;
                events.push(await this.record(partition, m.offset, m.timestamp, m.value));
              }
            },
          })
          .then(() => consumer.seek({ topic, partition, offset: start.toString() }))
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return { events, complete, scanned: Math.min(scanned, maxScanned) };
  }

  private async record(partition: number, offset: string, timestamp: string, value: Buffer | null): Promise<SagaEventRecord> {
    const base = { partition, offset, timestamp: new Date(Number(timestamp)).toISOString() };
    try {
      const envelope = await this.opts.decode(value);
      const record: SagaEventRecord = { ...base, label: envelope.messageLabel, payload: envelope.messagePayload ?? null };
      if (envelope.eventId !== undefined) record.eventId = envelope.eventId;
      return record;
    } catch (err) {
      return { ...base, label: null, payload: null, decodeError: (err as Error).message };
    }
  }
}
