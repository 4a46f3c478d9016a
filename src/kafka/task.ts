import { Partitioners } from 'kafkajs';
import type { Admin, Batch, Consumer, IHeaders, Kafka, Message, Producer, Transaction } from 'kafkajs';
import type { Logger } from 'pino';
import type { CompiledDefinition } from '../definition/compile.ts';
import { transition } from '../saga/transition.ts';
import type { Command, SagaDocument, SagaInput, TransitionResult } from '../saga/types.ts';
import { SagaflowError, isSagaflowError } from '../errors.ts';
import type { Envelope, ProcessorCodec } from './codec.ts';
import type { ChangelogReader } from './restore.ts';
import { TransactionOverlay } from '../store/transaction-overlay.ts';
import type { Metrics } from './metrics.ts';

/** The part of the per-partition state store the task needs (see src/store). */
export interface TaskStore {
  getSaga(sagaId: string): Promise<SagaDocument | undefined>;
  getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>>;
  readChangelogMarker(): Promise<bigint | undefined>;
  applyCommitted(sagas: SagaDocument[], changelogOffset: bigint): Promise<void>;
  applyRestored(records: { key: string; value: SagaDocument | null }[], lastOffset: bigint): Promise<void>;
  wipe(): Promise<void>;
  close(): Promise<void>;
}

export type TaskState = 'created' | 'starting' | 'ready' | 'recovering' | 'closed';

export interface TaskDeps {
  applicationId: string;
  partition: number;
  eventsTopic: string;
  changelogTopic: string;
  deadLetterTopic: string;
  /** Topic per command channel id. */
  commandTopics: ReadonlyMap<string, string>;
  definition: CompiledDefinition;
  codec: ProcessorCodec;
  kafka: Kafka;
  admin: Admin;
  consumer: Consumer;
  openStore: (partition: number) => Promise<TaskStore>;
  changelogReader: ChangelogReader;
  logger: Logger;
  metrics: Metrics;
  /** Whether this instance still owns the partition according to the group (after a fence). */
  stillOwned: (partition: number) => Promise<boolean>;
  /** Fault injection for tests: runs inside the open transaction, right before commit. */
  beforeCommit?: (partition: number) => Promise<void> | void;
  /** Largest record the task writes (default MAX_RECORD_BYTES). */
  maxRecordBytes?: number;
  /** Output bytes after which a batch is split into one more transaction (default MAX_TRANSACTION_BYTES). */
  maxTransactionBytes?: number;
}

interface Pending {
  commands: { topic: string; messages: Message[] }[];
  changelog: Message[];
  deadLetters: Message[];
  /** The batch's saga changes; the store sees them only after the transaction commits. */
  overlay: TransactionOverlay;
  /** Key and value bytes of everything above. */
  bytes: number;
  /** The last event whose outputs are included. */
  last: Batch['messages'][number] | undefined;
}

/** What one event adds to the transaction. */
interface EventOutputs {
  saga?: SagaDocument;
  changelog?: Message;
  commands: { topic: string; message: Message }[];
  deadLetters: Message[];
  bytes: number;
}

/**
 * A broker refuses a record batch above `message.max.bytes` (default 1048588) for the whole
 * produce request, so one oversized record, or the changelog records of a long backlog sent in
 * one transaction, failed every retry and stalled the partition for good. A change that would
 * write a record above this is dead-lettered instead, and a batch whose outputs pass
 * MAX_TRANSACTION_BYTES is committed in several transactions.
 */
export const MAX_RECORD_BYTES = 1_000_000;
export const MAX_TRANSACTION_BYTES = 512 * 1024;

function messageBytes(message: Message): number {
  const size = (v: Message['key'] | Message['value']) => (v === null || v === undefined ? 0 : Buffer.byteLength(v));
  return size(message.key) + size(message.value);
}

/** Header names on dead-letter records. */
export const DLQ_HEADERS = {
  reason: 'sagaflow-reason',
  code: 'sagaflow-error-code',
  topic: 'sagaflow-source-topic',
  partition: 'sagaflow-source-partition',
  offset: 'sagaflow-source-offset',
} as const;

function isFencingError(err: unknown): boolean {
  const type = (err as { type?: string } | null)?.type;
  const name = (err as { name?: string } | null)?.name;
  return (
    type === 'INVALID_PRODUCER_EPOCH' ||
    type === 'PRODUCER_FENCED' ||
    type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' ||
    name === 'KafkaJSProducerFencedError'
  );
}

/**
 * One owned partition of the events topic: its state store, its transactional producer
 * (transactional.id = <applicationId>-<topic>-<partition>, the Kafka Streams EOS-v1 scheme,
 * because kafkajs cannot send the group generation with its offsets, KIP-447) and its
 * processing loop. The store only ever holds committed data: changes of a batch live in
 * `Pending` until the transaction commits, then go to the store in one write with the
 * changelog offset they reach.
 */
export class PartitionTask {
  state: TaskState = 'created';
  /** Offset of the next event to process; authoritative, only this task commits it. */
  nextOffset: bigint | undefined;
  private readonly deps: TaskDeps;
  private readonly log: Logger;
  private producer: Producer | undefined;
  private store: TaskStore | undefined;
  private busy = false;
  private reseekAfterBatch = false;
  private startPromise: Promise<void> | undefined;

  constructor(deps: TaskDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ partition: deps.partition });
  }

  get partition(): number {
    return this.deps.partition;
  }

  get transactionalId(): string {
    return `${this.deps.applicationId}-${this.deps.eventsTopic}-${this.deps.partition}`;
  }

  /** Local read for interactive queries: only meaningful when `state === 'ready'`. */
  async getSaga(sagaId: string): Promise<SagaDocument | undefined> {
    return this.store?.getSaga(sagaId);
  }

  /**
   * Gain protocol: fence the previous owner, then read the (now stable) committed offset,
   * restore the store from the changelog, seek and resume. The partition stays paused
   * until this completes.
   */
  start(): Promise<void> {
    if (this.startPromise) return this.startPromise;
    this.startPromise = this.runStart().finally(() => {
      this.startPromise = undefined;
    });
    return this.startPromise;
  }

  private async runStart(): Promise<void> {
    const { partition, eventsTopic } = this.deps;
    if (this.isClosed()) return;
    this.pause();
    this.state = this.state === 'ready' ? 'recovering' : 'starting';
    const began = Date.now();
    await this.closeProducer();
    if (this.isClosed()) return;
    const producer = this.deps.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2: sagaId -> partition matches Java clients and Kafka Streams.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    // kafkajs sends InitProducerId (which fences the previous owner and aborts its open
    // transaction) on the first transaction() call; start and abort an empty one now.
    const fence = await producer.transaction();
    await fence.abort();
    this.producer = producer;
    if (this.isClosed()) return this.closeProducer();

    this.store ??= await this.deps.openStore(partition);
    let marker = await this.store.readChangelogMarker();
    if (marker === undefined) {
      // Data without a marker cannot be trusted to match any changelog position.
      await this.store.wipe();
    }
    const restored = await this.deps.changelogReader.readPartition(partition, marker, async (records) => {
      const decoded: { key: string; value: SagaDocument | null }[] = [];
      for (const r of records) {
        decoded.push({ key: r.key, value: r.value === null ? null : await this.deps.codec.decodeSaga(this.deps.changelogTopic, r.value) });
      }
      const last = BigInt(records[records.length - 1]?.offset ?? '0');
      await this.store?.applyRestored(decoded, last);
      marker = last;
    });
    const seconds = Math.max(restored.durationMs, 1) / 1000;
    this.log.info(
      { records: restored.records, durationMs: restored.durationMs, recordsPerSecond: Math.round(restored.records / seconds) },
      'partition restored',
    );
    this.deps.metrics.restoredRecords += restored.records;

    const committed = await this.committedOffset();
    this.nextOffset = committed;
    if (this.isClosed()) return;
    this.deps.consumer.seek({ topic: eventsTopic, partition, offset: committed.toString() });
    this.state = 'ready';
    this.resume();
    this.log.info({ offset: committed.toString(), tookMs: Date.now() - began }, 'partition ready');
  }

  private async committedOffset(): Promise<bigint> {
    const { admin, applicationId, eventsTopic, partition } = this.deps;
    const [topicOffsets] = await admin.fetchOffsets({ groupId: applicationId, topics: [eventsTopic] });
    const entry = topicOffsets?.partitions.find((p) => p.partition === partition);
    if (entry && entry.offset !== '-1' && entry.offset !== '') return BigInt(entry.offset);
    // Nothing committed yet: start from the earliest event still in the log, so events
    // produced before the first start are not skipped.
    const ends = await admin.fetchTopicOffsets(eventsTopic);
    return BigInt(ends.find((p) => p.partition === partition)?.low ?? '0');
  }

  /** Called after every group join in which this task kept its partition. */
  onRejoin(): void {
    // kafkajs re-reads committed offsets after a join without KIP-447's require_stable;
    // our own offset is authoritative, so put the consumer back on it.
    if (this.state !== 'ready') return;
    if (this.busy) {
      this.reseekAfterBatch = true;
      return;
    }
    this.seekToNext();
  }

  private seekToNext(): void {
    if (this.nextOffset === undefined) return;
    this.deps.consumer.seek({ topic: this.deps.eventsTopic, partition: this.deps.partition, offset: this.nextOffset.toString() });
  }

  async processBatch(batch: Batch, resolveOffset: (offset: string) => void): Promise<void> {
    if (this.state !== 'ready' || !this.producer || !this.store) {
      // Not ready (restoring, recovering): the partition should be paused; make sure it is.
      this.pause();
      return;
    }
    if (batch.messages.length === 0) return;
    const first = BigInt(batch.messages[0]?.offset ?? '0');
    if (this.nextOffset !== undefined && first < this.nextOffset) {
      // A fetch that started before our seek landed: already processed, skip silently.
      const fresh = batch.messages.filter((m) => BigInt(m.offset) >= (this.nextOffset ?? 0n));
      if (fresh.length === 0) return;
      return this.processMessages(fresh, resolveOffset);
    }
    return this.processMessages(batch.messages, resolveOffset);
  }

  private async processMessages(messages: Batch['messages'], resolveOffset: (offset: string) => void): Promise<void> {
    if (!this.store) return;
    this.busy = true;
    try {
      const budget = this.deps.maxTransactionBytes ?? MAX_TRANSACTION_BYTES;
      let pending = this.newPending(this.store);
      await pending.overlay.prefetch(messages.flatMap((m) => (m.key && m.key.length > 0 ? [m.key.toString('utf8')] : [])));
      for (const message of messages) {
        const outputs = await this.processOne(message, pending.overlay);
        if (pending.last && pending.bytes + outputs.bytes > budget) {
          // The transition above read the overlay, which the store equals once this commits.
          if (!(await this.commit(pending, pending.last, resolveOffset))) return;
          if (this.state !== 'ready' || !this.store) return;
          pending = this.newPending(this.store);
        }
        this.include(pending, outputs, message);
      }
      if (pending.last && !(await this.commit(pending, pending.last, resolveOffset))) return;
      if (this.reseekAfterBatch) {
        this.reseekAfterBatch = false;
        this.seekToNext();
      }
    } catch (err) {
      // Raised while applying an event (a registry that is down): nothing of the current
      // transaction was sent; re-fence and restart from the committed offset.
      await this.recover(err);
    } finally {
      this.busy = false;
    }
  }

  private newPending(store: TaskStore): Pending {
    return { commands: [], changelog: [], deadLetters: [], overlay: new TransactionOverlay(store), bytes: 0, last: undefined };
  }

  private include(pending: Pending, outputs: EventOutputs, message: Batch['messages'][number]): void {
    if (outputs.saga) pending.overlay.set(outputs.saga);
    if (outputs.changelog) pending.changelog.push(outputs.changelog);
    for (const { topic, message: record } of outputs.commands) {
      let group = pending.commands.find((c) => c.topic === topic);
      if (!group) {
        group = { topic, messages: [] };
        pending.commands.push(group);
      }
      group.messages.push(record);
    }
    pending.deadLetters.push(...outputs.deadLetters);
    pending.bytes += outputs.bytes;
    pending.last = message;
  }

  /** Commits the outputs of the events up to `last` in one transaction; false when it failed (the task recovers). */
  private async commit(pending: Pending, last: Batch['messages'][number], resolveOffset: (offset: string) => void): Promise<boolean> {
    let transaction: Transaction | undefined;
    try {
      if (!this.producer) return false;
      const lastOffset = BigInt(last.offset);
      transaction = await this.producer.transaction();
      // One produce request for the whole batch: changelog, commands and dead letters.
      const topicMessages = [...pending.commands];
      if (pending.changelog.length > 0) topicMessages.push({ topic: this.deps.changelogTopic, messages: pending.changelog });
      if (pending.deadLetters.length > 0) topicMessages.push({ topic: this.deps.deadLetterTopic, messages: pending.deadLetters });
      let changelogEnd: bigint | undefined;
      if (topicMessages.length > 0) {
        const metadata = await transaction.sendBatch({ topicMessages });
        const meta = metadata.find((m) => m.topicName === this.deps.changelogTopic);
        // All changelog records of the batch go to partition p in one record batch, so the
        // last one is at baseOffset + n - 1: the marker the store records after commit.
        if (meta?.baseOffset !== undefined) changelogEnd = BigInt(meta.baseOffset) + BigInt(pending.changelog.length) - 1n;
      }
      await transaction.sendOffsets({
        consumerGroupId: this.deps.applicationId,
        topics: [{ topic: this.deps.eventsTopic, partitions: [{ partition: this.deps.partition, offset: (lastOffset + 1n).toString() }] }],
      });
      await this.deps.beforeCommit?.(this.deps.partition);
      try {
        await transaction.commit();
      } catch (err) {
        // The outcome of a failed EndTxn is unknown: the task is corrupted and must
        // re-fence and restore rather than guess.
        transaction = undefined;
        throw err;
      }
      transaction = undefined;
      if (changelogEnd !== undefined) await this.store?.applyCommitted(pending.overlay.entries(), changelogEnd);
      this.nextOffset = lastOffset + 1n;
      resolveOffset(last.offset);
      this.deps.metrics.transactions += 1;
      this.deps.metrics.commandsSent += pending.commands.reduce((n, c) => n + c.messages.length, 0);
      this.deps.metrics.deadLettered += pending.deadLetters.length;
      return true;
    } catch (err) {
      if (transaction) await transaction.abort().catch(() => undefined);
      await this.recover(err);
      return false;
    }
  }

  /** Decodes and applies one event against `overlay` (which it does not change); returns what to write. */
  private async processOne(message: Batch['messages'][number], overlay: TransactionOverlay): Promise<EventOutputs> {
    const { codec, eventsTopic, definition } = this.deps;
    const outputs: EventOutputs = { commands: [], deadLetters: [], bytes: 0 };
    const deadLetter = (code: string, reason: string): EventOutputs => {
      const record: Message = {
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers as IHeaders | undefined),
          [DLQ_HEADERS.reason]: reason,
          [DLQ_HEADERS.code]: code,
          [DLQ_HEADERS.topic]: eventsTopic,
          [DLQ_HEADERS.partition]: String(this.deps.partition),
          [DLQ_HEADERS.offset]: message.offset,
        },
      };
      this.deps.metrics.count(code);
      this.log.warn({ offset: message.offset, code, reason }, 'event sent to the dead-letter topic');
      return { commands: [], deadLetters: [record], bytes: messageBytes(record) };
    };
    this.deps.metrics.eventsProcessed += 1;
    if (!message.key || message.key.length === 0) {
      return deadLetter('SAGAFLOW_EVENT_MISSING_KEY', 'the record has no key; the key must be the sagaId');
    }
    const sagaId = message.key.toString('utf8');
    let envelope: Envelope;
    try {
      envelope = await codec.decodeEvent(eventsTopic, message.value);
    } catch (err) {
      // A registry that is down is not the record's fault: fail the batch and retry it.
      if (isSagaflowError(err) && err.retryable) throw err;
      return deadLetter(isSagaflowError(err) ? err.code : 'SAGAFLOW_DECODE_FAILED', (err as Error).message);
    }
    const timestamp = new Date(Number(message.timestamp)).toISOString();
    let input: SagaInput;
    if (envelope.messageLabel === definition.creationEvent) {
      const payload = envelope.messagePayload as { associatedEntityId?: unknown; metadata?: unknown } | null;
      if (
        !payload ||
        typeof payload !== 'object' ||
        typeof payload.associatedEntityId !== 'string' ||
        !payload.metadata ||
        typeof payload.metadata !== 'object' ||
        Array.isArray(payload.metadata)
      ) {
        return deadLetter('SAGAFLOW_INVALID_CREATION', `a "${definition.creationEvent}" event needs a payload {associatedEntityId: string, metadata: object}`);
      }
      input = { kind: 'create', sagaId, associatedEntityId: payload.associatedEntityId, metadata: payload.metadata as Record<string, unknown>, timestamp };
    } else {
      input = { kind: 'event', sagaId, label: envelope.messageLabel, payload: envelope.messagePayload, timestamp };
      if (envelope.eventId !== undefined) input.eventId = envelope.eventId;
    }
    const current = await overlay.getSaga(sagaId);
    let result: TransitionResult;
    try {
      result = transition(definition, current, input);
    } catch (err) {
      return deadLetter('SAGAFLOW_INTERNAL_ERROR', `transition failed: ${(err as Error).message}`);
    }
    this.deps.metrics.count(`outcome:${result.outcome}`);
    // A creation whose hook failed created nothing: the event is kept in the dead-letter topic.
    const hookFailedCreation = result.outcome === 'hook-failed' && !result.changed;
    if (result.outcome === 'duplicate' || result.outcome === 'unknown-saga' || result.outcome === 'already-exists' || hookFailedCreation) {
      const code = hookFailedCreation ? 'SAGAFLOW_HOOK_FAILED' : result.outcome === 'duplicate' ? 'SAGAFLOW_DUPLICATE_EVENT' : result.outcome === 'unknown-saga' ? 'SAGAFLOW_UNKNOWN_SAGA' : 'SAGAFLOW_SAGA_EXISTS';
      return deadLetter(code, result.reason ?? result.outcome);
    }
    if (result.outcome !== 'applied' && result.outcome !== 'created') {
      this.log.info({ sagaId, outcome: result.outcome, reason: result.reason, label: envelope.messageLabel }, 'event recorded in saga history');
    }
    // The changelog partition is the task's partition, whatever partitioner put the event
    // here: restore reads partition p only (Kafka Streams does the same).
    try {
      if (result.changed && result.saga) {
        outputs.saga = result.saga;
        outputs.changelog = { key: sagaId, partition: this.deps.partition, value: await codec.encodeSaga(this.deps.changelogTopic, result.saga) };
      }
      for (const command of result.commands) outputs.commands.push(await this.encodeCommand(command, result.saga));
    } catch (err) {
      // A document the event made unencodable (e.g. metadata nested thousands of levels deep
      // overflows JSON.stringify) fails the same way on every retry: retrying stalled the
      // partition for good. Only a failure that can pass (registry down) is retried.
      if (isSagaflowError(err) && err.retryable) throw err;
      return deadLetter(
        isSagaflowError(err) ? err.code : 'SAGAFLOW_ENCODE_FAILED',
        `the saga after "${envelope.messageLabel}" cannot be written; the event is not applied: ${(err as Error).message}`,
      );
    }
    const sizes = [...(outputs.changelog ? [outputs.changelog] : []), ...outputs.commands.map((c) => c.message)].map(messageBytes);
    const largest = Math.max(0, ...sizes);
    const limit = this.deps.maxRecordBytes ?? MAX_RECORD_BYTES;
    if (largest > limit) {
      return deadLetter(
        'SAGAFLOW_SAGA_TOO_LARGE',
        `applying "${envelope.messageLabel}" would write a saga document or command of ${largest} bytes, over the ${limit}-byte record limit; the event is not applied (send smaller payloads)`,
      );
    }
    outputs.bytes = sizes.reduce((a, b) => a + b, 0);
    return outputs;
  }

  private async encodeCommand(command: Command, saga: SagaDocument | undefined): Promise<{ topic: string; message: Message }> {
    const topic = this.deps.commandTopics.get(command.channel);
    if (!topic) throw new SagaflowError('SAGAFLOW_CHANNEL_UNSUPPORTED', { message: `no Kafka topic for channel "${command.channel}"` });
    const value = await this.deps.codec.encodeCommand(topic, { messageLabel: command.label, messagePayload: command.payload });
    return {
      topic,
      message: {
        key: command.sagaId,
        value,
        headers: { 'sagaflow-revision': String(saga?.revision ?? 0), 'sagaflow-command-kind': command.kind },
      },
    };
  }

  private async recover(err: unknown): Promise<void> {
    if (this.isClosed()) return;
    this.pause();
    if (isFencingError(err)) {
      this.log.warn({ err }, 'producer fenced');
      if (!(await this.deps.stillOwned(this.deps.partition).catch(() => false))) {
        // Another instance owns the partition now; the coming rebalance removes this task.
        this.state = 'recovering';
        return;
      }
    } else {
      this.log.error({ err }, 'transaction failed; the task re-fences and restores');
    }
    this.deps.metrics.recoveries += 1;
    this.state = 'recovering';
    // Run outside the kafkajs batch callback: restore can take longer than a heartbeat.
    setTimeout(() => {
      this.start().catch((e: unknown) => this.onStartFailure(e));
    }, 500);
  }

  onStartFailure(err: unknown): void {
    if (this.isClosed()) return;
    this.log.error({ err }, 'task start failed; retrying');
    setTimeout(() => {
      this.start().catch((e: unknown) => this.onStartFailure(e));
    }, 1000);
  }

  private pause(): void {
    if (this.isClosed()) return;
    this.deps.consumer.pause([{ topic: this.deps.eventsTopic, partitions: [this.deps.partition] }]);
  }

  private resume(): void {
    this.deps.consumer.resume([{ topic: this.deps.eventsTopic, partitions: [this.deps.partition] }]);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async closeProducer(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p) await p.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.startPromise) await this.startPromise.catch(() => undefined);
    await this.closeProducer();
    const s = this.store;
    this.store = undefined;
    if (s) await s.close().catch(() => undefined);
  }
}
