import type { Logger } from 'pino';
import type { BrokerClient, GroupMember, TopicAdmin, TopicPartition } from '../broker/ports.ts';
import type { InputRecord } from '../broker/records.ts';
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
  client: BrokerClient;
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
  /**
   * Bytes of changelog records read ahead while writes are in flight, over all partitions:
   * what arrives during a write goes into the partition's next write, where a saga's
   * revisions make one document. 0 = each batch read is written before the next is read.
   */
  readAheadBytes?: number;
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
  /** Records read from the changelog and not yet written (see `readAheadBytes`). */
  recordsBuffered: number;
  sagasWritten: number;
  sagasStale: number;
  writeFailures: number;
  poisonRecords: number;
  /** Last measured lag (see `lagIntervalMs`). */
  lastLag?: ProjectionLag;
}

/** Records of one partition waiting for their write; replaced when the partition changes hands. */
interface Backlog {
  records: InputRecord[];
  queued: boolean;
}

/**
 * About 55,000 records of the benchmark's sagas (1.7 KB each): measured against 20,000 and
 * none, the larger the read-ahead the fewer documents a backlog costs (benchmarks/README.md).
 */
export const DEFAULT_READ_AHEAD_BYTES = 96 * 1024 * 1024;

function recordBytes(r: InputRecord): number {
  return (r.value?.length ?? 0) + (r.key?.length ?? 0);
}

const ABORTED = Symbol('aborted');
const POISON = Symbol('poison');

function describe(err: unknown): { code: string; message: string } {
  if (isSagaflowError(err)) return { code: err.code, message: err.message };
  return { code: 'SAGAFLOW_PROJECTION_WRITE_FAILED', message: (err as Error)?.message ?? String(err) };
}

/**
 * Projects the saga changelog into a SagaSink. A group member of its own (broker port) reads the
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
  private member: GroupMember | undefined;
  private admin: TopicAdmin | undefined;
  /** Per partition: bumped when it is assigned or revoked, so work begun before stops short of committing. */
  private readonly epochs = new Map<number, number>();
  private readonly owned = new Set<number>();
  /** Per partition: its batches one after the other. */
  private readonly queues = new Map<number, Promise<void>>();
  /** Per partition: records read and not yet taken by a write, and whether a write for them is queued. */
  private readonly backlogs = new Map<number, Backlog>();
  /** Records (and their bytes) read and not yet written (or dropped), over all partitions. */
  private buffered = 0;
  private bufferedBytes = 0;
  private readonly waitingForRoom: (() => void)[] = [];
  private readonly readAheadBytes: number;
  /** Per partition: the position committed last. */
  private readonly committedAt = new Map<number, bigint>();
  private stopping = new AbortController();
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly paused = new Set<number>();
  private readonly stats: Omit<ProjectorStatus, 'pausedPartitions' | 'lastLag' | 'lastError' | 'recordsBuffered'> & Pick<ProjectorStatus, 'lastError' | 'lastLag'> = {
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
    this.chunkSize = opts.chunkSize ?? 20_000;
    this.readAheadBytes = opts.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES;
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
    const admin = await this.retryUntilDone('connecting to Kafka', () => this.opts.client.admin(), signal);
    if (!admin) return;
    this.admin = admin;
    await this.retryUntilDone(
      `waiting for the changelog topic`,
      async () => {
        if (!(await admin.partitionCounts([this.topic])).has(this.topic)) {
          throw new SagaflowError('SAGAFLOW_PROJECTION_TOPIC_MISSING', {
            message: `changelog topic "${this.topic}" does not exist yet; it is created by the first sagaflow start`,
            retryable: true,
          });
        }
      },
      signal,
    );
    if (signal.aborted) return;
    const member = this.opts.client.groupMember({
      groupId: this.groupId,
      topics: [this.topic],
      advertisedUrl: '',
      // A new group has no committed offsets: project the whole changelog from its start.
      fromBeginning: true,
      sessionTimeoutMs: this.opts.sessionTimeout ?? 30_000,
      maxWaitMs: 250,
      // A sink that stays down holds a batch for as long as it is retried.
      maxProcessingMs: 30 * 60_000,
    });
    this.member = member;
    await member.start({
      onAssigned: async (partitions) => {
        for (const { partition } of partitions) {
          this.owned.add(partition);
          this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
          this.dropBacklog(partition);
        }
        this.log.info({ partitions: partitions.map((p) => p.partition) }, 'projection partitions assigned');
      },
      onRevoked: async (partitions) => {
        for (const { partition } of partitions) {
          this.owned.delete(partition);
          this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
          this.committedAt.delete(partition);
          this.dropBacklog(partition);
        }
        // Work in progress for them stops before committing; the next owner replays it.
        await Promise.all(partitions.map((p) => this.queues.get(p.partition)));
      },
      onRecords: (records) => this.onRecords(records),
      // Queued behind the partition's writes, not waited for: the member reads on meanwhile.
      onCaughtUp: async (tp, position) => void this.enqueue(tp.partition, (epoch) => this.commitEnd(tp, position, epoch)),
      onFatal: (err) => {
        this.stats.state = 'crashed';
        this.recordFailure(err);
        this.log.error({ err }, 'projection consumer failed for good');
        this.onFatal?.(err);
      },
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
    await this.member?.stop().catch((err: unknown) => this.log.warn({ err }, 'projection consumer stop failed'));
    await this.admin?.close().catch(() => undefined);
    for (const partition of [...this.backlogs.keys()]) this.dropBacklog(partition);
    this.member = undefined;
    this.admin = undefined;
    this.paused.clear();
    this.stats.state = 'stopped';
    this.log.info('projection stopped');
  }

  status(): ProjectorStatus {
    return { ...this.stats, recordsBuffered: this.buffered, pausedPartitions: [...this.paused].sort((a, b) => a - b) };
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
      sagaflow_projection_records_buffered: this.buffered,
      sagaflow_projection_sagas_written_total: s.sagasWritten,
      sagaflow_projection_sagas_stale_total: s.sagasStale,
      sagaflow_projection_write_failures_total: s.writeFailures,
      sagaflow_projection_poison_records_total: s.poisonRecords,
      sagaflow_projection_failing: s.failing ? 1 : 0,
      sagaflow_projection_paused_partitions: this.paused.size,
      sagaflow_projection_lag_records: s.lastLag?.total ?? -1,
    };
  }

  /**
   * Adds the records to their partitions' backlogs and queues one write per partition that
   * has none queued; a write takes the whole backlog when it starts, so under load writes
   * grow and a saga's revisions read meanwhile are written once. Resolves once the records
   * read ahead are within `readAheadBytes` (the member reads nothing until then).
   */
  private onRecords(records: readonly InputRecord[]): Promise<void> {
    for (const r of records) {
      let backlog = this.backlogs.get(r.partition);
      if (!backlog) this.backlogs.set(r.partition, (backlog = { records: [], queued: false }));
      backlog.records.push(r);
      this.buffered += 1;
      this.bufferedBytes += recordBytes(r);
      if (backlog.queued) continue;
      backlog.queued = true;
      const queued = backlog;
      // Partitions in parallel (their writes meet in the sink, which merges them), each in order.
      void this.enqueue(r.partition, async (epoch) => {
        queued.queued = false;
        const taken = queued.records.splice(0);
        try {
          await this.project(r.partition, taken, epoch);
        } finally {
          this.release(taken);
        }
      });
    }
    if (this.bufferedBytes <= this.readAheadBytes) return Promise.resolve();
    return new Promise((resolve) => this.waitingForRoom.push(resolve));
  }

  private release(records: readonly InputRecord[]): void {
    this.buffered -= records.length;
    for (const r of records) this.bufferedBytes -= recordBytes(r);
    if (this.bufferedBytes > this.readAheadBytes) return;
    for (const resolve of this.waitingForRoom.splice(0)) resolve();
  }

  /** A partition given or taken: what was read for it is read again from its committed offset. */
  private dropBacklog(partition: number): void {
    const backlog = this.backlogs.get(partition);
    if (!backlog) return;
    this.backlogs.delete(partition);
    // A write already queued for it finds an empty backlog (and a stale epoch).
    this.release(backlog.records.splice(0));
  }

  private enqueue(partition: number, work: (epoch: number) => Promise<unknown>): Promise<void> {
    const epoch = this.epochs.get(partition) ?? 0;
    const run = (this.queues.get(partition) ?? Promise.resolve()).then(() => work(epoch)).then(
      () => undefined,
      (err: unknown) => this.log.error({ err, partition }, 'projection of a batch failed'),
    );
    this.queues.set(partition, run);
    return run;
  }

  /** Whether work begun in `epoch` may still commit for the partition. */
  private current(partition: number, epoch: number): boolean {
    return !this.stopping.signal.aborted && this.owned.has(partition) && this.epochs.get(partition) === epoch;
  }

  private async project(partition: number, records: readonly InputRecord[], epoch: number): Promise<void> {
    if (this.paused.has(partition)) return;
    let chunk: SagaDocument[] = [];
    let chunkEnd: bigint | undefined;
    for (const record of records) {
      if (!this.current(partition, epoch)) return;
      // Redelivered after a rebalance within this member: already projected and committed.
      if (record.offset < (this.committedAt.get(partition) ?? -1n)) continue;
      this.stats.recordsRead += 1;
      const saga = await this.decode(partition, record, epoch);
      if (saga === ABORTED) return;
      if (saga === POISON) {
        // Keep what came before the poison record, then stop this partition on it.
        if (chunk.length > 0 && chunkEnd !== undefined && !(await this.flush(partition, chunk, chunkEnd, epoch))) return;
        this.member?.pause([{ topic: this.topic, partition }]);
        this.paused.add(partition);
        return;
      }
      chunkEnd = record.offset;
      if (saga) chunk.push(saga);
      if (chunk.length >= this.chunkSize) {
        if (!(await this.flush(partition, chunk, chunkEnd, epoch))) return;
        chunk = [];
      }
    }
    if (chunkEnd !== undefined) await this.flush(partition, chunk, chunkEnd, epoch);
  }

  /** The member read to the partition's end (past commit markers): commit that position, so a caught-up projection shows lag 0. */
  private async commitEnd(tp: TopicPartition, position: bigint, epoch: number): Promise<void> {
    if (this.paused.has(tp.partition) || !this.current(tp.partition, epoch)) return;
    if ((this.committedAt.get(tp.partition) ?? -1n) >= position) return;
    await this.member?.commit([{ topic: this.topic, partition: tp.partition, offset: position }]);
    this.committedAt.set(tp.partition, position);
  }

  /** undefined = nothing to project (tombstone or skipped poison record). */
  private async decode(partition: number, record: InputRecord, epoch: number): Promise<SagaDocument | undefined | typeof ABORTED | typeof POISON> {
    // The processor never deletes a saga; a tombstone (e.g. written by hand) has nothing to project.
    if (record.value === null) return undefined;
    const value = record.value;
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
      partition,
      epoch,
    );
    if (result === ABORTED) return ABORTED;
    if (poison === undefined) return result;
    this.stats.poisonRecords += 1;
    this.recordFailure(poison);
    const where = { partition, offset: record.offset.toString(), key: record.key?.toString() };
    if (this.opts.onPoisonRecord === 'skip') {
      this.log.error({ ...where, err: poison }, 'changelog record does not decode; skipped');
      return undefined;
    }
    this.log.error({ ...where, err: poison }, 'changelog record does not decode; projection of this partition paused until restart');
    return POISON;
  }

  /** Writes the chunk (retrying until it succeeds), then commits past `lastOffset`. */
  private async flush(partition: number, chunk: SagaDocument[], lastOffset: bigint, epoch: number): Promise<boolean> {
    if (chunk.length > 0) {
      const sagas = latestRevisions(chunk);
      const result = await this.retrying(
        `writing ${sagas.length} sagas to ${this.opts.sink.kind}`,
        () => this.opts.sink.write(sagas, { signal: this.stopping.signal }),
        partition,
        epoch,
        true,
      );
      if (result === ABORTED) return false;
      this.stats.sagasWritten += result.written;
      this.stats.sagasStale += result.stale;
      await this.opts.afterWrite?.({ partition, lastOffset: lastOffset.toString(), sagas: sagas.length });
    }
    // Stopping or reassigned: leave the offset where it is; the next owner replays the chunk.
    if (!this.current(partition, epoch)) return false;
    await this.member?.commit([{ topic: this.topic, partition, offset: lastOffset + 1n }]);
    this.committedAt.set(partition, lastOffset + 1n);
    return true;
  }

  /**
   * Runs `fn` until it succeeds, backing off exponentially between failures. Gives up
   * (ABORTED) when the projector stops or the partition was reassigned; nothing is committed then.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>, partition: number, epoch: number, isWrite = false): Promise<T | typeof ABORTED> {
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
          if (!this.current(partition, epoch)) return ABORTED;
        }
      }
    }
  }

  /** Start-up steps: retried with backoff until they succeed or the projector stops. */
  private async retryUntilDone<T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T | undefined> {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await fn();
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
    return undefined;
  }

  private recordFailure(err: unknown): void {
    this.stats.lastError = { ...describe(err), at: new Date().toISOString() };
  }
}
