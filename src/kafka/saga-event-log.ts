import { partitionForKey } from '../broker/murmur2.ts';
import type { ChangelogReader, TopicAdmin } from '../broker/ports.ts';
import type { InputRecord } from '../broker/records.ts';
import type { SagaEventLog, SagaEventRecord, SagaEventsPage } from '../http/console/ports.ts';
import type { Envelope } from './codec.ts';

export interface KafkaSagaEventLogOptions {
  admin: TopicAdmin;
  reader: ChangelogReader;
  topic: string;
  partitions: number;
  decode: (value: Buffer | null) => Promise<Envelope>;
  /** Records of the saga's partition read at most for one saga, and for how long. */
  maxScanned?: number;
  maxMs?: number;
}

/** A second of slack around the saga's lifetime: the history's timestamps are the records' own, but a clock may step. */
const SLACK_MS = 1_000;

/**
 * A saga's events read back from its partition of the events topic, through the broker ports:
 * from the first record at or after its creation (ListOffsets by timestamp) until its last
 * change, keeping those keyed by the sagaId. The scan is bounded (records and time), since the
 * partition holds every other saga's events too: the read is aborted at the first record past
 * the saga's last change, at the limit of records, or when the time is up.
 */
export class KafkaSagaEventLog implements SagaEventLog {
  private readonly opts: KafkaSagaEventLogOptions;

  constructor(opts: KafkaSagaEventLogOptions) {
    this.opts = opts;
  }

  async eventsOf(sagaId: string, since: string, until: string): Promise<SagaEventsPage> {
    const { topic } = this.opts;
    const partition = partitionForKey(sagaId, this.opts.partitions);
    const last = Date.parse(until) + SLACK_MS;
    const start = (await this.opts.admin.offsetsForTimestamp(topic, Date.parse(since) - SLACK_MS)).get(partition) ?? 0n;
    const maxScanned = this.opts.maxScanned ?? 50_000;
    const events: SagaEventRecord[] = [];
    let scanned = 0;
    let limited = false;
    const stop = new AbortController();
    const timer = setTimeout(() => {
      limited = true;
      stop.abort();
    }, this.opts.maxMs ?? 8_000);
    const onRecords = async (records: readonly InputRecord[]) => {
      for (const r of records) {
        if (stop.signal.aborted) return;
        if (r.timestamp > last) return stop.abort();
        if (scanned >= maxScanned) {
          limited = true;
          return stop.abort();
        }
        scanned += 1;
        if (r.key?.toString('utf8') === sagaId) events.push(await this.record(r));
      }
    };
    try {
      await this.opts.reader.readPartition(topic, partition, start > 0n ? start - 1n : undefined, onRecords, { signal: stop.signal });
    } finally {
      clearTimeout(timer);
    }
    return { events, complete: !limited, scanned };
  }

  private async record(r: InputRecord): Promise<SagaEventRecord> {
    const base = { partition: r.partition, offset: r.offset.toString(), timestamp: new Date(r.timestamp).toISOString() };
    try {
      const envelope = await this.opts.decode(r.value);
      const record: SagaEventRecord = { ...base, label: envelope.messageLabel, payload: envelope.messagePayload ?? null };
      if (envelope.eventId !== undefined) record.eventId = envelope.eventId;
      return record;
    } catch (err) {
      return { ...base, label: null, payload: null, decodeError: (err as Error).message };
    }
  }
}
