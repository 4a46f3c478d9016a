import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, TopicAdmin, TxWriter } from '../broker/ports.ts';
import type { InputRecord, OutputRecord } from '../broker/records.ts';
import { headersToStrings } from '../broker/records.ts';
import { withDeadline } from '../deadline.ts';
import { SagaflowError } from '../errors.ts';
import { DeadLetterIndex, DEFAULT_MAX_DEAD_LETTERS, isSagaflowHeader } from '../http/console/dead-letter-index.ts';
import type { DeadLetter, DeadLetterActionResult, DeadLetterPage, DeadLetterQuery, DeadLetterStore, HandledMarker } from '../http/console/ports.ts';
import { produceError } from './produce-errors.ts';

/** Compacted topic of operators' markers, key = dead-letter id, value = HandledMarker JSON (null takes it back). */
export function deadLetterHandledTopicName(applicationId: string): string {
  return `${applicationId}-dead-letter-handled`;
}

/** Header a re-driven event carries: where in the dead-letter topic it came from. */
export const REDRIVEN_FROM_HEADER = 'sagaflow-redriven-from';

export interface KafkaDeadLetterStoreOptions {
  client: BrokerClient;
  admin: TopicAdmin;
  applicationId: string;
  deadLetterTopic: string;
  eventsTopic: string;
  logger: Logger;
  /** Replication factor of the handled topic when it is created (undefined: the broker's default). */
  replicationFactor?: number;
  maxRecords?: number;
  /** How long a list waits for the topics to be read up to their end before answering. */
  catchUpMs?: number;
}

function unavailable(err: unknown, what: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { message: `${what}: Kafka is unavailable now; retry later`, retryable: true, cause: err });
}

const tpKey = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * The dead-letter topic through the broker ports, on whichever client the engine runs. Each
 * call first reads what both topics (the dead-letter topic and the handled markers) gained
 * since the last call, up to the read_committed ends it fetched, into a DeadLetterIndex: an
 * operator sees what was there when they asked, their own markers included. Partitions are
 * read with the changelog reader (assign() on librdkafka, a throwaway group on kafkajs), so
 * nothing stays subscribed between calls and no group of the store's outlives it.
 *
 * Positions are those the reads ended at, not the last record's offset + 1: transactional
 * logs end in commit markers, which a read_committed reader never receives as records.
 */
export class KafkaDeadLetterStore implements DeadLetterStore {
  private readonly opts: KafkaDeadLetterStoreOptions;
  private readonly log: Logger;
  private readonly index: DeadLetterIndex;
  private readonly handledTopic: string;
  /** Next offset to read, per `topic/partition`. */
  private readonly positions = new Map<string, bigint>();
  private starting: Promise<void> | undefined;
  /** The read in progress: at most one, callers that need more wait for it and read again. */
  private reading: Promise<void> | undefined;
  private writer: Promise<TxWriter> | undefined;
  /** Re-drives and markings, one transaction after the other. */
  private writes: Promise<unknown> = Promise.resolve();
  private eventsPartitions: number | undefined;
  /** Aborted by close: a read in progress stops instead of running into its stall timeout. */
  private readonly closing = new AbortController();

  constructor(opts: KafkaDeadLetterStoreOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'dead-letters' });
    this.index = new DeadLetterIndex(opts.maxRecords ?? DEFAULT_MAX_DEAD_LETTERS);
    this.handledTopic = deadLetterHandledTopicName(opts.applicationId);
  }

  async list(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const complete = await this.caughtUp();
    return { ...this.index.list(query), complete };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    await this.caughtUp();
    return this.index.get(id);
  }

  async redrive(ids: string[], by: string, opts: { force?: boolean } = {}): Promise<DeadLetterActionResult> {
    await this.caughtUp();
    const result: DeadLetterActionResult = { done: [], skipped: [] };
    const records: OutputRecord[] = [];
    const at = new Date().toISOString();
    const partitions = await this.partitionsOfEvents();
    for (const id of new Set(ids)) {
      const letter = this.index.get(id);
      if (!letter) {
        result.skipped.push({ id, reason: 'no such dead letter (or no longer held: only the newest are kept for browsing)' });
        continue;
      }
      if (letter.handled && !opts.force) {
        result.skipped.push({ id, reason: `already ${letter.handled.action} by ${letter.handled.by} at ${letter.handled.at}; pass force to re-drive again` });
        continue;
      }
      const key = letter.record.key;
      if (!key || key.length === 0) {
        result.skipped.push({ id, reason: 'it has no key (sagaId): re-driven it would be dead-lettered again' });
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(letter.record.headers)) if (!isSagaflowHeader(name)) headers[name] = value;
      headers[REDRIVEN_FROM_HEADER] = `${this.opts.deadLetterTopic}/${letter.record.partition}/${letter.record.offset}`;
      // The partition its sagaId belongs to (murmur2, as every producer of sagaflow's does).
      records.push({ topic: this.opts.eventsTopic, partition: partitionForKey(key.toString('utf8'), partitions), key, value: letter.record.value, headers });
      records.push(this.marker(id, { action: 'redriven', by, at }));
      result.done.push(id);
    }
    if (records.length > 0) {
      await this.transact('re-drive', records);
      for (const id of result.done) this.index.mark(id, { action: 'redriven', by, at });
      this.log.info({ count: result.done.length, by }, 'dead letters re-driven to the events topic');
    }
    return result;
  }

  async markHandled(ids: string[], by: string, note?: string): Promise<DeadLetterActionResult> {
    await this.caughtUp();
    const result: DeadLetterActionResult = { done: [], skipped: [] };
    const marker: HandledMarker = { action: 'handled', by, at: new Date().toISOString() };
    if (note !== undefined) marker.note = note;
    for (const id of new Set(ids)) {
      if (this.index.get(id)) result.done.push(id);
      else result.skipped.push({ id, reason: 'no such dead letter (or no longer held: only the newest are kept for browsing)' });
    }
    if (result.done.length > 0) {
      await this.transact('mark as handled', result.done.map((id) => this.marker(id, marker)));
      for (const id of result.done) this.index.mark(id, marker);
    }
    return result;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.starting?.catch(() => undefined);
    await this.reading?.catch(() => undefined);
    await this.writes.catch(() => undefined);
    const writer = await this.writer?.catch(() => undefined);
    await writer?.close().catch(() => undefined);
  }

  private marker(id: string, marker: HandledMarker): OutputRecord {
    return { topic: this.handledTopic, partition: 0, key: id, value: Buffer.from(JSON.stringify(marker)) };
  }

  private async partitionsOfEvents(): Promise<number> {
    if (this.eventsPartitions === undefined) {
      let count: number | undefined;
      try {
        count = (await this.opts.admin.partitionCounts([this.opts.eventsTopic])).get(this.opts.eventsTopic);
      } catch (err) {
        throw unavailable(err, 'the events topic cannot be described');
      }
      if (count === undefined) throw new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { message: `the events topic "${this.opts.eventsTopic}" does not exist now; retry later`, retryable: true });
      this.eventsPartitions = count;
    }
    return this.eventsPartitions;
  }

  /** One transaction, so a re-driven event and its `redriven` marker are written together or not at all. */
  private transact(what: string, records: OutputRecord[]): Promise<void> {
    const run = this.writes.then(async () => {
      const writer = await this.transactionalWriter();
      try {
        await writer.begin();
        await writer.send(records);
        await writer.commit();
      } catch (err) {
        await writer.abort().catch(() => undefined);
        this.log.warn({ err }, `${what} failed`);
        throw produceError(err);
      }
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  private transactionalWriter(): Promise<TxWriter> {
    // Unique per store: two instances re-driving at once must not fence each other.
    this.writer ??= this.opts.client.txWriter(`${this.opts.applicationId}-dead-letter-admin-${randomUUID()}`).catch((err: unknown) => {
      this.writer = undefined;
      throw unavailable(err, 'the dead-letter producer cannot start');
    });
    return this.writer;
  }

  /**
   * Reads both topics up to the ends they have now. False when that took longer than
   * `catchUpMs`: the read goes on, and the answer may miss the newest.
   */
  private async caughtUp(): Promise<boolean> {
    if (this.closing.signal.aborted) throw new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { message: 'the dead-letter store is closed', retryable: true });
    this.starting ??= this.start().catch((err: unknown) => {
      this.starting = undefined;
      throw unavailable(err, 'the dead-letter topic cannot be read');
    });
    await this.starting;
    let ends: Map<string, bigint>;
    try {
      ends = await this.endOffsets();
    } catch (err) {
      throw unavailable(err, 'the dead-letter topic offsets cannot be read');
    }
    const late = new Error('late');
    // A read failing after the deadline was logged where it failed; its outcome is ignored.
    try {
      await withDeadline(this.readUpTo(ends), this.opts.catchUpMs ?? 5_000, () => late);
      return true;
    } catch (err) {
      if (err === late) return false;
      throw unavailable(err, 'the dead-letter topic cannot be read');
    }
  }

  private async start(): Promise<void> {
    const existing = await this.opts.admin.partitionCounts([this.handledTopic]);
    if (existing.has(this.handledTopic)) return;
    await this.opts.admin.createTopics([
      {
        topic: this.handledTopic,
        partitions: 1,
        ...(this.opts.replicationFactor === undefined ? {} : { replicationFactor: this.opts.replicationFactor }),
        config: { 'cleanup.policy': 'compact' },
      },
    ]);
  }

  private async endOffsets(): Promise<Map<string, bigint>> {
    const ends = new Map<string, bigint>();
    const topics = [this.opts.deadLetterTopic, this.handledTopic];
    const marks = await Promise.all(topics.map((t) => this.opts.admin.watermarks(t)));
    topics.forEach((topic, i) => {
      for (const [partition, { low, high }] of marks[i] ?? []) {
        const key = tpKey(topic, partition);
        ends.set(key, high);
        // Records deleted by retention are not read: start (or go on) at the low mark.
        if ((this.positions.get(key) ?? 0n) < low) this.positions.set(key, low);
      }
    });
    return ends;
  }

  private behind(ends: Map<string, bigint>): [string, number][] {
    const out: [string, number][] = [];
    for (const [key, end] of ends) {
      if ((this.positions.get(key) ?? 0n) >= end) continue;
      const slash = key.lastIndexOf('/');
      out.push([key.slice(0, slash), Number(key.slice(slash + 1))]);
    }
    return out;
  }

  private async readUpTo(ends: Map<string, bigint>): Promise<void> {
    for (let partitions = this.behind(ends); partitions.length > 0 && !this.closing.signal.aborted; partitions = this.behind(ends)) {
      const running = this.reading;
      if (running) {
        // Someone else's read, perhaps of other partitions: wait for it, then look again.
        await running.catch(() => undefined);
        continue;
      }
      const read = this.readOnce(partitions);
      this.reading = read;
      // A caller that gave up waiting (catchUpMs) leaves the read running: nobody may be left to see its failure.
      read.catch((err: unknown) => this.log.warn({ err }, 'reading the dead-letter topics failed')).finally(() => {
        if (this.reading === read) this.reading = undefined;
      });
      const before = partitions.map(([topic, partition]) => this.positions.get(tpKey(topic, partition)));
      await read;
      // Ends only grow, so every read moves: one that did not must not make this loop spin.
      if (partitions.every(([topic, partition], i) => this.positions.get(tpKey(topic, partition)) === before[i])) return;
    }
  }

  private async readOnce(partitions: [string, number][]): Promise<void> {
    const reader = this.opts.client.changelogReader();
    const { signal } = this.closing;
    await Promise.all(
      partitions.map(async ([topic, partition]) => {
        const key = tpKey(topic, partition);
        const position = this.positions.get(key) ?? 0n;
        const result = await reader.readPartition(topic, partition, position > 0n ? position - 1n : undefined, async (records) => this.apply(topic, records), { signal });
        // The end of a read that ran to it, markers included; an aborted read got only as far as its last record.
        const next = signal.aborted ? (result.lastOffset === undefined ? position : result.lastOffset + 1n) : result.end;
        if (next > (this.positions.get(key) ?? 0n)) this.positions.set(key, next);
      }),
    );
  }

  private async apply(topic: string, records: readonly InputRecord[]): Promise<void> {
    for (const r of records) {
      if (topic === this.handledTopic) {
        const id = r.key?.toString('utf8');
        const marker = this.parseMarker(r.value);
        if (id && marker !== undefined) this.index.mark(id, marker);
        continue;
      }
      this.index.add({ partition: r.partition, offset: r.offset.toString(), timestamp: new Date(r.timestamp).toISOString(), key: r.key, value: r.value, headers: headersToStrings(r.headers) });
    }
  }

  /** The marker, null for a tombstone, undefined for something unreadable (left alone). */
  private parseMarker(value: Buffer | null): HandledMarker | null | undefined {
    if (value === null) return null;
    try {
      const parsed = JSON.parse(value.toString('utf8')) as Partial<HandledMarker>;
      if ((parsed.action === 'handled' || parsed.action === 'redriven') && typeof parsed.by === 'string' && typeof parsed.at === 'string') {
        const marker: HandledMarker = { action: parsed.action, by: parsed.by, at: parsed.at };
        if (typeof parsed.note === 'string') marker.note = parsed.note;
        return marker;
      }
    } catch {
      // not JSON: ignored below
    }
    this.log.warn('ignoring an unreadable marker in the dead-letter handled topic');
    return undefined;
  }
}
