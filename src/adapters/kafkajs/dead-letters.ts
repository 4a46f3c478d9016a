import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { Admin, Consumer, IHeaders, Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { SagaflowError } from '../../errors.ts';
import { DeadLetterIndex, DEFAULT_MAX_DEAD_LETTERS, isSagaflowHeader } from '../../http/console/dead-letter-index.ts';
import type {
  DeadLetter,
  DeadLetterActionResult,
  DeadLetterPage,
  DeadLetterQuery,
  DeadLetterRecord,
  DeadLetterStore,
  HandledMarker,
} from '../../http/console/ports.ts';
import { produceError } from '../../kafka/produce-errors.ts';

/** Compacted topic of operators' markers, key = dead-letter id, value = HandledMarker JSON (null takes it back). */
export function deadLetterHandledTopicName(applicationId: string): string {
  return `${applicationId}-dead-letter-handled`;
}

/** Header a re-driven event carries: where in the dead-letter topic it came from. */
export const REDRIVEN_FROM_HEADER = 'sagaflow-redriven-from';

export interface KafkajsDeadLetterStoreOptions {
  kafka: Kafka;
  admin: Admin;
  applicationId: string;
  deadLetterTopic: string;
  eventsTopic: string;
  logger: Logger;
  /** Replication factor of the handled topic when it is created (-1: the broker's default). */
  replicationFactor?: number;
  maxRecords?: number;
  /** How long a list waits for the topics to be read up to their end before answering. */
  catchUpMs?: number;
}

function headersAsText(headers: IHeaders | undefined): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    text[name] = Array.isArray(value) ? value.map((v) => v.toString()).join(',') : value.toString();
  }
  return text;
}

function unavailable(err: unknown, what: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { message: `${what}: Kafka is unavailable now; retry later`, retryable: true, cause: err });
}

/**
 * The dead-letter topic through kafkajs. Nothing runs until the first call: then one consumer
 * (a group of its own, so every instance sees every partition; deleted again on close) reads the
 * dead-letter topic and the handled topic from the beginning into a DeadLetterIndex and keeps
 * following them. Each list first waits until both are read up to the end offsets it fetched,
 * so an operator sees what was there when they asked, including their own markers.
 *
 * kafkajs consumers cannot assign() partitions, hence the throwaway group; positions are
 * compared with the end offsets, as in restore, because transactional logs end in commit
 * markers that a read_committed consumer never receives as records.
 */
export class KafkajsDeadLetterStore implements DeadLetterStore {
  private readonly opts: KafkajsDeadLetterStoreOptions;
  private readonly log: Logger;
  private readonly index: DeadLetterIndex;
  private readonly handledTopic: string;
  private readonly groupId: string;
  /** Next offset to read, per `topic/partition`. */
  private readonly positions = new Map<string, bigint>();
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private starting: Promise<void> | undefined;
  private producerStarting: Promise<Producer> | undefined;
  private closed = false;

  constructor(opts: KafkajsDeadLetterStoreOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'dead-letters' });
    this.index = new DeadLetterIndex(opts.maxRecords ?? DEFAULT_MAX_DEAD_LETTERS);
    this.handledTopic = deadLetterHandledTopicName(opts.applicationId);
    this.groupId = `${opts.applicationId}-dead-letter-view-${randomUUID()}`;
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
    const events: Message[] = [];
    const markers: Message[] = [];
    const at = new Date().toISOString();
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
      if (!letter.record.key || letter.record.key.length === 0) {
        result.skipped.push({ id, reason: 'it has no key (sagaId): re-driven it would be dead-lettered again' });
        continue;
      }
      const headers: IHeaders = {};
      for (const [name, value] of Object.entries(letter.record.headers)) if (!isSagaflowHeader(name)) headers[name] = value;
      headers[REDRIVEN_FROM_HEADER] = `${this.opts.deadLetterTopic}/${letter.record.partition}/${letter.record.offset}`;
      events.push({ key: letter.record.key, value: letter.record.value, headers });
      markers.push(this.marker(id, { action: 'redriven', by, at }));
      result.done.push(id);
    }
    if (events.length > 0) {
      await this.transact('re-drive', [
        { topic: this.opts.eventsTopic, messages: events },
        { topic: this.handledTopic, messages: markers },
      ]);
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
      await this.transact('mark as handled', [{ topic: this.handledTopic, messages: result.done.map((id) => this.marker(id, marker)) }]);
      for (const id of result.done) this.index.mark(id, marker);
    }
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    if (this.consumer) await this.opts.admin.deleteGroups([this.groupId]).catch(() => undefined);
    const producer = await this.producerStarting?.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
  }

  private marker(id: string, marker: HandledMarker): Message {
    return { key: id, value: JSON.stringify(marker), partition: 0 };
  }

  /** One transaction, so a re-driven event and its `redriven` marker are written together or not at all. */
  private async transact(what: string, topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    const producer = await this.transactionalProducer();
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({ topicMessages });
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      this.log.warn({ err }, `${what} failed`);
      throw produceError(err);
    }
  }

  private transactionalProducer(): Promise<Producer> {
    this.producerStarting ??= (async () => {
      const producer = this.opts.kafka.producer({
        // Unique per instance: two instances re-driving at once must not fence each other.
        transactionalId: `${this.opts.applicationId}-dead-letter-admin-${randomUUID()}`,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // murmur2, so a re-driven event lands on the partition its sagaId belongs to.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.producerStarting = undefined;
      throw unavailable(err, 'the dead-letter producer cannot start');
    });
    return this.producerStarting;
  }

  /** Starts reading (once), then waits until both topics are read up to their current end. */
  private async caughtUp(): Promise<boolean> {
    if (this.closed) throw new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { message: 'the dead-letter store is closed', retryable: true });
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
    const deadline = Date.now() + (this.opts.catchUpMs ?? 5_000);
    for (;;) {
      let behind = false;
      for (const [key, end] of ends) if ((this.positions.get(key) ?? 0n) < end) behind = true;
      if (!behind) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async endOffsets(): Promise<Map<string, bigint>> {
    const ends = new Map<string, bigint>();
    for (const topic of [this.opts.deadLetterTopic, this.handledTopic]) {
      for (const p of await this.opts.admin.fetchTopicOffsets(topic)) {
        const key = `${topic}/${p.partition}`;
        ends.set(key, BigInt(p.high));
        // An empty or fully deleted partition has nothing to read: start at its low mark.
        if (!this.positions.has(key)) this.positions.set(key, BigInt(p.low));
      }
    }
    return ends;
  }

  private advance(topic: string, partition: number, lastOffset: string | null | undefined): void {
    if (lastOffset === null || lastOffset === undefined) return;
    const key = `${topic}/${partition}`;
    const next = BigInt(lastOffset) + 1n;
    if (next > (this.positions.get(key) ?? 0n)) this.positions.set(key, next);
  }

  private async start(): Promise<void> {
    const existing = new Set(await this.opts.admin.listTopics());
    if (!existing.has(this.handledTopic)) {
      await this.opts.admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: this.handledTopic,
            numPartitions: 1,
            replicationFactor: this.opts.replicationFactor ?? -1,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      });
    }
    await this.endOffsets();
    const consumer = this.opts.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      sessionTimeout: 30_000,
    });
    this.consumer = consumer;
    // Batches of commit markers alone never reach eachBatch but still move the position.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => this.advance(e.payload.topic, e.payload.partition, e.payload.lastOffset));
    consumer.on(consumer.events.CRASH, (e) => this.log.warn({ err: e.payload.error, restart: e.payload.restart }, 'dead-letter reader crashed'));
    await consumer.connect();
    await consumer.subscribe({ topics: [this.opts.deadLetterTopic, this.handledTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (batch.topic === this.handledTopic) {
            const id = m.key?.toString('utf8');
            const marker = this.parseMarker(m.value);
            if (id && marker !== undefined) this.index.mark(id, marker);
            continue;
          }
          const record: DeadLetterRecord = {
            partition: batch.partition,
            offset: m.offset,
            timestamp: new Date(Number(m.timestamp)).toISOString(),
            key: m.key,
            value: m.value,
            headers: headersAsText(m.headers),
          };
          this.index.add(record);
        }
        this.advance(batch.topic, batch.partition, batch.lastOffset());
      },
    });
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
