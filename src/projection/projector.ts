import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { SagaflowError, isSagaflowError } from '../errors.ts';
import type { ProcessorCodec } from '../kafka/codec.ts';
import { changelogTopicName } from '../kafka/topics.ts';
import type { SagaDocument } from '../saga/types.ts';
import { DEFAULT_BACKOFF, backoffDelay, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { projectionLag } from './lag.ts';
import type { ProjectionLag } from './lag.ts';
import { latestRevisions } from './sink.ts';
import type { SagaSink } from './sink.ts';

export interface ProjectorOptions {
  kafka: Kafka;
  applicationId: string;
  codec: ProcessorCodec;
  sink: SagaSink;
  logger: Logger;
  /** Default `<applicationId>-sagas-changelog`. */
  changelogTopic?: string;
  /** Default `<applicationId>-projection`. */
  groupId?: string;
  /** Most changelog records per sink write; the offset is committed after each write. */
  chunkSize?: number;
  /** Backoff between failed sink writes (and retryable decode failures). */
  backoff?: BackoffOptions;
  /** How often the lag is measured and kept for metrics; 0 = never (call `lag()`). */
  lagIntervalMs?: number;
  /**
   * A changelog record that cannot be decoded and will not decode on retry: `pause` stops
   * projecting its partition (reported in status and metrics, the lag grows), `skip` logs it
   * and moves on. The changelog is written by sagaflow itself, so this means a codec mismatch.
   */
  onPoisonRecord?: 'pause' | 'skip';
  maxBytesPerPartition?: number;
  partitionsConsumedConcurrently?: number;
  /** Consumer group session timeout: how long a projector that died holds its partitions. */
  sessionTimeout?: number;
  /** Called when the consumer crashed and will not restart by itself. */
  onFatal?: (err: Error) => void;
  /** Test hook: runs after a chunk was written, before its offset is committed. */
  afterWrite?: (info: { partition: number; lastOffset: string; sagas: number }) => Promise<void> | void;
}

export interface ProjectorStatus {
  state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';
  /** True while the sink (or the codec) is failing and the projector is retrying. */
  failing: boolean;
  consecutiveFailures: number;
  lastError?: { code: string; message: string; at: string };
  pausedPartitions: number[];
  recordsRead: number;
  sagasWritten: number;
  sagasStale: number;
  writeFailures: number;
  poisonRecords: number;
  /** Last measured lag (see `lagIntervalMs`). */
  lastLag?: ProjectionLag;
}

const ABORTED = Symbol('aborted');
const POISON = Symbol('poison');

function describe(err: unknown): { code: string; message: string } {
  if (isSagaflowError(err)) return { code: err.code, message: err.message };
  return { code: 'SAGAFLOW_PROJECTION_WRITE_FAILED', message: (err as Error)?.message ?? String(err) };
}

/**
 * Projects the saga changelog into a SagaSink. A kafkajs consumer in its own group reads the
 * changelog read_committed (only sagas of committed processor transactions), decodes each
 * record, keeps the last revision of each saga per chunk and writes the chunk; only then is
 * the chunk's offset committed. A crash between write and commit replays the chunk, which
 * the sink's revision guard makes harmless. A failing sink is retried with exponential
 * backoff for as long as it fails: the projection falls behind (lag) but never skips a saga.
 */
export class Projector {
  readonly topic: string;
  readonly groupId: string;
  /** Called when the consumer crashed and will not restart by itself (also settable after construction). */
  onFatal: ((err: Error) => void) | undefined;
  private readonly opts: ProjectorOptions;
  private readonly log: Logger;
  private readonly chunkSize: number;
  private readonly backoff: BackoffOptions;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private stopping = new AbortController();
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly paused = new Set<number>();
  private readonly stats: Omit<ProjectorStatus, 'pausedPartitions' | 'lastLag' | 'lastError'> & Pick<ProjectorStatus, 'lastError' | 'lastLag'> = {
    state: 'new',
    failing: false,
    consecutiveFailures: 0,
    recordsRead: 0,
    sagasWritten: 0,
    sagasStale: 0,
    writeFailures: 0,
    poisonRecords: 0,
  };

  constructor(opts: ProjectorOptions) {
    this.opts = opts;
    this.onFatal = opts.onFatal;
    this.topic = opts.changelogTopic ?? changelogTopicName(opts.applicationId);
    this.groupId = opts.groupId ?? `${opts.applicationId}-projection`;
    // Large chunks: a saga's revisions usually fall in one chunk, so it is written once.
    this.chunkSize = opts.chunkSize ?? 2_000;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.log = opts.logger.child({ component: 'projection', sink: opts.sink.kind, topic: this.topic });
  }

  /**
   * Prepares the sink, waits for the changelog topic to exist (the projection may start
   * before the first processor has created it) and starts consuming.
   */
  async start(): Promise<void> {
    if (this.stats.state !== 'new' && this.stats.state !== 'stopped') throw new Error(`projector is ${this.stats.state}`);
    this.stats.state = 'starting';
    this.stopping = new AbortController();
    const signal = this.stopping.signal;
    await this.retryUntilDone('preparing the sink', () => this.opts.sink.init(), signal);
    const admin = this.opts.kafka.admin();
    this.admin = admin;
    await this.retryUntilDone('connecting to Kafka', () => admin.connect(), signal);
    await this.retryUntilDone(
      `waiting for the changelog topic`,
      async () => {
        if (!(await admin.listTopics()).includes(this.topic)) {
          throw new SagaflowError('SAGAFLOW_PROJECTION_TOPIC_MISSING', {
            message: `changelog topic "${this.topic}" does not exist yet; it is created by the first sagaflow start`,
            retryable: true,
          });
        }
      },
      signal,
    );
    if (signal.aborted) return;
    const consumer = this.opts.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 4 * 1024 * 1024,
      sessionTimeout: this.opts.sessionTimeout ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((this.opts.sessionTimeout ?? 30_000) / 3)),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        this.log.warn({ err: payload.error }, 'projection consumer restarting after an error');
        return;
      }
      this.stats.state = 'crashed';
      this.recordFailure(payload.error);
      this.log.error({ err: payload.error }, 'projection consumer crashed');
      this.onFatal?.(payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.log.info({ partitions: payload.memberAssignment[this.topic] ?? [] }, 'projection partitions assigned');
    });
    await consumer.connect();
    // A new group has no committed offsets: project the whole changelog from its start.
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      // Offsets are resolved by hand, only after the sink write; committing each resolved
      // offset at once (threshold 1) keeps a replay after a crash as short as one chunk.
      autoCommit: true,
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      // Every partition at once (a changelog has as many as the events topic, 12 by default):
      // their writes meet in the sink, which merges them into one round of statements.
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 12,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    if (signal.aborted) return;
    this.stats.state = 'running';
    const interval = this.opts.lagIntervalMs ?? 5_000;
    if (interval > 0) {
      this.lagTimer = setInterval(() => void this.lag().catch(() => undefined), interval);
      this.lagTimer.unref();
    }
    this.log.info({ groupId: this.groupId }, 'projection started');
  }

  /** Stops consuming. What was written but not committed is written again on the next start. */
  async stop(): Promise<void> {
    if (this.stats.state === 'stopped' || this.stats.state === 'new') {
      this.stats.state = 'stopped';
      return;
    }
    this.stats.state = 'stopping';
    this.stopping.abort();
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = undefined;
    await this.consumer?.disconnect().catch((err: unknown) => this.log.warn({ err }, 'projection consumer disconnect failed'));
    await this.admin?.disconnect().catch(() => undefined);
    this.consumer = undefined;
    this.admin = undefined;
    this.paused.clear();
    this.stats.state = 'stopped';
    this.log.info('projection stopped');
  }

  status(): ProjectorStatus {
    return { ...this.stats, pausedPartitions: [...this.paused].sort((a, b) => a - b) };
  }

  /** Changelog end minus committed position, measured now (and kept for `status`/`metrics`). */
  async lag(): Promise<ProjectionLag> {
    const admin = this.admin;
    if (!admin) throw new SagaflowError('SAGAFLOW_PROJECTION_NOT_RUNNING', { message: 'the projection is not running', retryable: true });
    const lag = await projectionLag(admin, this.topic, this.groupId);
    this.stats.lastLag = lag;
    return lag;
  }

  /** Counters and gauges for the Prometheus endpoint (names without labels). */
  metrics(): Record<string, number> {
    const s = this.stats;
    return {
      sagaflow_projection_records_read_total: s.recordsRead,
      sagaflow_projection_sagas_written_total: s.sagasWritten,
      sagaflow_projection_sagas_stale_total: s.sagasStale,
      sagaflow_projection_write_failures_total: s.writeFailures,
      sagaflow_projection_poison_records_total: s.poisonRecords,
      sagaflow_projection_failing: s.failing ? 1 : 0,
      sagaflow_projection_paused_partitions: this.paused.size,
      sagaflow_projection_lag_records: s.lastLag?.total ?? -1,
    };
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    if (this.paused.has(partition)) return;
    let chunk: SagaDocument[] = [];
    let chunkEnd: string | undefined;
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale() || this.stopping.signal.aborted) return;
      this.stats.recordsRead += 1;
      const saga = await this.decode(partition, message, payload);
      if (saga === ABORTED) return;
      if (saga === POISON) {
        // Keep what came before the poison record, then stop this partition on it.
        if (chunk.length > 0 && chunkEnd !== undefined && !(await this.flush(partition, chunk, chunkEnd, payload))) return;
        payload.pause();
        this.paused.add(partition);
        return;
      }
      chunkEnd = message.offset;
      if (saga) chunk.push(saga);
      if (chunk.length >= this.chunkSize) {
        if (!(await this.flush(partition, chunk, chunkEnd, payload))) return;
        chunk = [];
      }
    }
    // lastOffset() also covers trailing commit markers and filtered records, so a
    // caught-up projection commits the changelog's end position and shows lag 0.
    await this.flush(partition, chunk, batch.lastOffset(), payload);
  }

  /** undefined = nothing to project (tombstone or skipped poison record). */
  private async decode(
    partition: number,
    message: KafkaMessage,
    payload: EachBatchPayload,
  ): Promise<SagaDocument | undefined | typeof ABORTED | typeof POISON> {
    // The processor never deletes a saga; a tombstone (e.g. written by hand) has nothing to project.
    if (message.value === null) return undefined;
    const value = message.value;
    let poison: unknown;
    const result = await this.retrying(
      'decoding a changelog record',
      async () => {
        try {
          return await this.opts.codec.decodeSaga(this.topic, value);
        } catch (err) {
          // A schema registry that is down is worth waiting for; a record that does not
          // decode is not.
          if (isSagaflowError(err) && err.retryable) throw err;
          poison = err;
          return undefined;
        }
      },
      payload,
    );
    if (result === ABORTED) return ABORTED;
    if (poison === undefined) return result;
    this.stats.poisonRecords += 1;
    this.recordFailure(poison);
    const where = { partition, offset: message.offset, key: message.key?.toString() };
    if (this.opts.onPoisonRecord === 'skip') {
      this.log.error({ ...where, err: poison }, 'changelog record does not decode; skipped');
      return undefined;
    }
    this.log.error({ ...where, err: poison }, 'changelog record does not decode; projection of this partition paused until restart');
    return POISON;
  }

  /** Writes the chunk (retrying until it succeeds), then commits up to `lastOffset`. */
  private async flush(partition: number, chunk: SagaDocument[], lastOffset: string, payload: EachBatchPayload): Promise<boolean> {
    if (chunk.length > 0) {
      const sagas = latestRevisions(chunk);
      const result = await this.retrying(
        `writing ${sagas.length} sagas to ${this.opts.sink.kind}`,
        () => this.opts.sink.write(sagas, { signal: this.stopping.signal }),
        payload,
        true,
      );
      if (result === ABORTED) return false;
      this.stats.sagasWritten += result.written;
      this.stats.sagasStale += result.stale;
      await this.opts.afterWrite?.({ partition, lastOffset, sagas: sagas.length });
    }
    // Stopping or reassigned: leave the offset where it is; the next owner replays the chunk.
    if (this.stopping.signal.aborted || !payload.isRunning() || payload.isStale()) return false;
    payload.resolveOffset(lastOffset);
    await payload.commitOffsetsIfNecessary();
    await payload.heartbeat();
    return true;
  }

  /**
   * Runs `fn` until it succeeds, backing off exponentially between failures and sending
   * heartbeats meanwhile so the group keeps this member. Gives up (ABORTED) when the
   * projector stops or the partition was reassigned; nothing is committed then.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>, payload: EachBatchPayload, isWrite = false): Promise<T | typeof ABORTED> {
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await fn();
        if (this.stats.failing) this.log.info({ attempts: attempt }, `projection recovered: ${what} succeeded`);
        this.stats.failing = false;
        this.stats.consecutiveFailures = 0;
        return value;
      } catch (err) {
        if (this.stopping.signal.aborted) return ABORTED;
        if (isWrite) this.stats.writeFailures += 1;
        this.stats.failing = true;
        this.stats.consecutiveFailures += 1;
        this.recordFailure(err);
        const delay = backoffDelay(attempt, this.backoff);
        this.log.error(
          { err, attempt, retryInMs: delay, lag: this.stats.lastLag?.total },
          `projection ${what} failed; retrying (the projection waits, no saga is skipped)`,
        );
        const deadline = Date.now() + delay;
        while (Date.now() < deadline) {
          await sleep(Math.min(1_000, deadline - Date.now()), this.stopping.signal);
          if (this.stopping.signal.aborted || !payload.isRunning() || payload.isStale()) return ABORTED;
          await payload.heartbeat();
        }
      }
    }
  }

  /** Start-up steps: retried with backoff until they succeed or the projector stops. */
  private async retryUntilDone(what: string, fn: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        this.recordFailure(err);
        // Start-up waits (a topic not created yet, a database still booting) are capped
        // lower than write retries: the projection should begin soon after they clear.
        const delay = backoffDelay(attempt, { ...this.backoff, maxMs: Math.min(this.backoff.maxMs, 5_000) });
        const level = isSagaflowError(err, 'SAGAFLOW_PROJECTION_TOPIC_MISSING') ? 'info' : 'error';
        this.log[level]({ err, attempt, retryInMs: delay }, `projection ${what} failed; retrying`);
        await sleep(delay, signal);
      }
    }
  }

  private recordFailure(err: unknown): void {
    this.stats.lastError = { ...describe(err), at: new Date().toISOString() };
  }
}
