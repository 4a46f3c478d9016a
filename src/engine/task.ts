import type { Logger } from 'pino';
import type { CompiledDefinition } from '../definition/compile.ts';
import { SagaflowError, isSagaflowError } from '../errors.ts';
import { isBrokerError } from '../broker/errors.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { ChangelogReader, GroupMember, TopicAdmin, TxWriter } from '../broker/ports.ts';
import type { InputRecord, OutputRecord } from '../broker/records.ts';
import { recordBatchBytes, recordBytes } from '../broker/records.ts';
import type { Envelope, ProcessorCodec } from '../kafka/codec.ts';
import { transition } from '../saga/transition.ts';
import type { Command, PendingTimer, SagaDocument } from '../saga/types.ts';
import type { Clock } from './clock.ts';
import { applyInput, correlate, toSagaInput, undecodableVerdict } from './ingress.ts';
import type { DeadLetterVerdict } from './ingress.ts';
import { Mailbox } from './mailbox.ts';
import { engineChannels } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { outboxRecord } from './outbox-records.ts';
import type { OutboxTarget } from './outbox-records.ts';
import type { EncodedSagas, RestoredRecord } from '../store/partition-store.ts';
import { UnitOfWork } from './unit-of-work.ts';
import type { InputOutputs } from './unit-of-work.ts';

/** The part of the per-partition state store the task needs (see src/store). */
export interface TaskStore {
  getSaga(sagaId: string): Promise<SagaDocument | undefined>;
  getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>>;
  readChangelogMarker(): Promise<bigint | undefined>;
  applyCommitted(sagas: SagaDocument[], changelogOffset: bigint, firedHints?: readonly string[], encoded?: EncodedSagas): Promise<void>;
  applyRestored(records: RestoredRecord[], lastOffset: bigint): Promise<void>;
  /** The timer index (see src/store/partition-store.ts). */
  dueTimers(beforeMs: number, limit: number): Promise<{ key: string; dueMs: number; sagaId: string }[]>;
  nextTimerDueMs(): Promise<number | undefined>;
  dropTimerHints(keys: readonly string[]): Promise<void>;
  wipe(): Promise<void>;
  close(): Promise<void>;
}

export type TaskState = 'created' | 'starting' | 'ready' | 'recovering' | 'closed';

/** A topic the task writes to, with its partition count (records are routed with murmur2). */
export interface OutputTopic {
  topic: string;
  partitions: number;
}

export interface TaskDeps {
  partition: number;
  /** The saga's events topic: its partition p is this task's, and sagas live on their key's partition of it. */
  eventsTopic: string;
  /** Its partition count: an event's home partition is murmur2(sagaId) over it. */
  partitions: number;
  /** Other input topics, co-partitioned with the events topic: partition p of each is read by this task too. */
  coPartitioned?: readonly string[];
  changelogTopic: string;
  deadLetterTopic: OutputTopic;
  /** Topic per command channel id. */
  commandTopics: ReadonlyMap<string, OutputTopic>;
  /** Where commands of rest channels go (absent when no state sends on one). */
  outbox?: OutboxTarget;
  definition: CompiledDefinition;
  codec: ProcessorCodec;
  member: GroupMember;
  admin: TopicAdmin;
  changelogReader: ChangelogReader;
  openStore: (partition: number) => Promise<TaskStore>;
  /**
   * Exactly-once v1 only: creates this partition's own transactional writer, which fences the
   * previous owner's (same transactional id) and ends its open transaction. Under v2 the
   * processor's one writer serves every task and the group generation fences (KIP-447).
   */
  fence?: () => Promise<TxWriter>;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Whether this instance still owns the partition according to the group. */
  stillOwned: (partition: number) => Promise<boolean>;
  /** Largest record the task writes (default MAX_RECORD_BYTES). */
  maxRecordBytes?: number;
  /**
   * Per output topic, the largest one-record batch (recordBatchBytes) it takes: the smaller of
   * the topic's `max.message.bytes` and the producer's own cap. Dead letters are cut to fit
   * theirs, and an event too large for the events topic is not forwarded there.
   */
  recordLimits?: ReadonlyMap<string, number>;
}

/**
 * A broker refuses a record above `message.max.bytes` (default 1048588): a change that would
 * write one is dead-lettered instead of failing every retry and stalling the partition. A
 * dead-letter record itself is kept under it by truncating the copied value.
 */
export const MAX_RECORD_BYTES = 1_000_000;

/** Header names on dead-letter records. */
export const DLQ_HEADERS = {
  reason: 'sagaflow-reason',
  code: 'sagaflow-error-code',
  topic: 'sagaflow-source-topic',
  partition: 'sagaflow-source-partition',
  offset: 'sagaflow-source-offset',
  /** Set when the copied value was cut to fit the broker's limit: the original size in bytes. */
  truncated: 'sagaflow-value-truncated-from',
  /** Set when even an empty value did not fit: how many of the original headers were left out. */
  headersDropped: 'sagaflow-headers-dropped',
} as const;

/** Header of a forwarded event: where it was read first (`topic/partition/offset`). */
export const FORWARDED_HEADER = 'sagaflow-forwarded-from';

/** Timer-index hints read per tick: a burst of due timers is worked through over several ticks. */
const TIMERS_PER_TICK = 1_000;

/** Delay before a task re-runs its gain protocol after a failure; doubles up to the cap. */
const RECOVERY_DELAY_MS = { first: 500, max: 10_000 };

/**
 * One owned partition of the events topic: its state store, its mailbox and the units of
 * work it hands to the processor's committer. The store only ever holds committed data: a
 * unit's changes live in its overlay until the transaction holding its records commits
 * (`committed`), and a failed commit drops every unit (`fail`) and re-runs the gain protocol.
 */
export class PartitionTask {
  state: TaskState = 'created';
  private readonly deps: TaskDeps;
  private readonly log: Logger;
  private readonly mailbox = new Mailbox();
  private store: TaskStore | undefined;
  /** The store's marker was checked against the changelog (and the store wiped if it had to be). */
  private storeChecked = false;
  /** v1: this partition's transactional writer. */
  private ownWriter: TxWriter | undefined;
  /** Units sealed for a commit in flight, oldest first; `current` chains on the last. */
  private sealed: UnitOfWork[] = [];
  private current: UnitOfWork | undefined;
  /** Positions reached by processing (the next record to read), and by the last commit. */
  private readonly next = new Map<string, bigint>();
  private readonly committedPositions = new Map<string, bigint>();
  /** Bumped whenever the in-memory work is dropped: processing begun before stops at its next step. */
  private epoch = 0;
  private startRun: Promise<void> | undefined;
  private failures = 0;
  /** Due time of the soonest timer the store's index knows (or a unit added): ticks before it do nothing. */
  private nextDueMs: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(deps: TaskDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ partition: deps.partition });
  }

  get partition(): number {
    return this.deps.partition;
  }

  /** v1: the writer of this task's own transactions; undefined under v2. */
  get writer(): TxWriter | undefined {
    return this.ownWriter;
  }

  /** Local read for interactive queries: only meaningful when `state === 'ready'`. */
  async getSaga(sagaId: string): Promise<SagaDocument | undefined> {
    return this.store?.getSaga(sagaId);
  }

  /**
   * Read for interactive queries while the task is not ready: the store only ever holds
   * committed data, so what it has is a saga's committed copy, possibly behind the changelog
   * while the restore catches up. Nothing until the restore has checked the store's marker
   * against the changelog (a store left from a recreated topic holds sagas that are gone).
   */
  async getRestoringSaga(sagaId: string): Promise<SagaDocument | undefined> {
    if (!this.storeChecked) return undefined;
    // Best effort: a store being closed and reopened after a failure is simply not asked.
    return this.store?.getSaga(sagaId).catch(() => undefined);
  }

  /** Bytes of records waiting for a commit (sealed and current units). */
  pendingBytes(): number {
    return this.sealed.reduce((n, u) => n + u.bytes, 0) + (this.current?.bytes ?? 0);
  }

  /** Positions to commit with `unit`: the ones it reached, else those of the last commit. */
  commitPositions(unit: UnitOfWork): { topic: string; partition: number; offset: bigint }[] {
    const merged = new Map(this.committedPositions);
    for (const [topic, offset] of unit.positions) merged.set(topic, offset);
    return [...merged].map(([topic, offset]) => ({ topic, partition: this.deps.partition, offset }));
  }

  /**
   * Gain protocol, run when the partition is assigned and after every failure: fence the
   * previous owner (v1), read the committed position (stable: fenced or KIP-447), restore the
   * store from the changelog, seek and resume. The partition stays paused until then.
   * Failures are retried with backoff until the task is closed.
   */
  start(): Promise<void> {
    this.startRun ??= this.runStartWithRetry().finally(() => {
      this.startRun = undefined;
    });
    return this.startRun;
  }

  private async runStartWithRetry(): Promise<void> {
    while (!this.isClosed()) {
      try {
        await this.runStart();
        this.failures = 0;
        return;
      } catch (err) {
        if (this.isClosed()) return;
        await this.releaseFailedStore(err);
        this.failures += 1;
        const delay = Math.min(RECOVERY_DELAY_MS.max, RECOVERY_DELAY_MS.first * 2 ** (this.failures - 1));
        this.log.error({ err, attempt: this.failures, retryInMs: delay }, 'task start failed; retrying');
        await this.pause(delay);
      }
    }
  }

  private async runStart(): Promise<void> {
    const { partition, member } = this.deps;
    const tp = this.inputPartitions();
    member.pause(tp);
    this.state = this.state === 'ready' || this.state === 'recovering' ? 'recovering' : 'starting';
    const recovering = this.state === 'recovering';
    this.dropWork();
    // Work posted before the drop finishes (and stops at its next step) before we go on.
    await this.mailbox.post(async () => undefined);
    const began = this.deps.clock.now();
    if (this.deps.fence) {
      const previous = this.ownWriter;
      this.ownWriter = undefined;
      await previous?.close().catch(() => undefined);
      if (this.isClosed()) return;
      this.ownWriter = await this.deps.fence();
      if (this.isClosed()) return this.closeWriter();
    }
    const stored = await member.committed(tp);
    if (this.isClosed()) return;
    const committed = new Map<string, bigint>();
    for (const [i, { topic }] of tp.entries()) committed.set(topic, stored[i] ?? (await this.deps.admin.watermarks(topic)).get(partition)?.low ?? 0n);
    if (this.isClosed()) return;
    this.store ??= await this.deps.openStore(partition);
    if (this.isClosed()) return;
    await this.restore(this.store);
    if (this.isClosed()) return;
    this.nextDueMs = await this.store.nextTimerDueMs();
    this.next.clear();
    this.committedPositions.clear();
    for (const [topic, offset] of committed) {
      this.next.set(topic, offset);
      this.committedPositions.set(topic, offset);
    }
    this.current = new UnitOfWork(this.store);
    for (const [topic, offset] of committed) {
      await member.seek({ topic, partition, offset });
      if (this.isClosed()) return;
    }
    if (recovering && !(await this.untilOwned())) return;
    this.state = 'ready';
    member.resume(tp);
    const offsets = Object.fromEntries([...committed].map(([topic, offset]) => [topic, offset.toString()]));
    this.log.info({ offset: committed.get(this.deps.eventsTopic)?.toString(), ...(tp.length > 1 ? { offsets } : {}), tookMs: this.deps.clock.now() - began }, 'partition ready');
  }

  /**
   * After a failure, the task is ready again only while the group still gives it the
   * partition. A recovery can outlast the session timeout (a broker that does not answer),
   * the group then gives the partition to another member, and a member outside the group
   * learns of it only at its next commit or heartbeat: until then it would answer reads as
   * the owner from a store the new owner has moved past (seen in a soak under network
   * faults: a member ready for 200 ms on partitions handed over 6 s before, reads older than
   * the new owner's). Waits (reads get the store's copy marked restoring) until the group's
   * answer says the partition is ours (true) or the task is closed by the revocation (false).
   */
  private async untilOwned(): Promise<boolean> {
    let told = false;
    while (!this.isClosed()) {
      const owned = await this.deps.stillOwned(this.deps.partition).catch(() => undefined);
      if (this.isClosed()) break;
      if (owned === true) return true;
      if (!told) {
        this.log.warn(owned === false ? 'partition owned by another member now; waiting for the rebalance to revoke it' : 'cannot learn who owns the partition; asking again before it is ready');
        told = true;
      }
      await this.pause(RECOVERY_DELAY_MS.first);
    }
    return false;
  }

  /** Waits `ms`, or less if the task is closed meanwhile (close wakes it). */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.retryTimer = setTimeout(resolve, ms);
    });
    this.wake = undefined;
  }

  /**
   * Brings the store up to the changelog's end. Marker present: replay from marker + 1. No
   * marker (new store, or one of another format): wipe and replay everything. A marker at or
   * past the log's end (the topic was recreated or truncated) names a position that no longer
   * exists, and one before the log's start leaves a gap whose records (tombstones included)
   * are gone: wipe and replay everything too, or stale sagas would stay. A marker between the
   * stable end and the log end is kept: another instance's open transaction holds the stable
   * end back, and the store already reflects what was committed after it. Either way the
   * replay goes on to the log end seen at the start, once no open transaction hides it.
   */
  private async restore(store: TaskStore): Promise<void> {
    const { changelogTopic, partition, admin } = this.deps;
    let marker = await store.readChangelogMarker();
    const ends = (await admin.watermarks(changelogTopic)).get(partition) ?? { low: 0n, high: 0n };
    const logEnd = admin.logEndOffsets ? ((await admin.logEndOffsets(changelogTopic)).get(partition) ?? ends.high) : ends.high;
    if (marker !== undefined) {
      const at = { marker: marker.toString(), start: ends.low.toString(), end: logEnd.toString() };
      if (marker >= logEnd) {
        this.log.warn(at, 'store marker beyond the changelog end (topic recreated or truncated); wiping and restoring from the start');
        marker = undefined;
      } else if (marker + 1n < ends.low) {
        this.log.warn(at, 'store marker before the changelog start (records deleted); wiping and restoring from the start');
        marker = undefined;
      }
    } else {
      this.log.info('no store marker of this format; restoring from the start');
    }
    if (marker === undefined) await store.wipe();
    this.storeChecked = true;
    const began = this.deps.clock.now();
    let records = 0;
    let after = marker;
    let warnedAt: number | undefined;
    // Read to the log end seen now, not to the stable end: an open transaction (a former
    // owner's, not aborted yet) hides what was committed after it, and a store restored
    // without it would go on from older sagas. Its end is waited for (it commits, aborts or
    // times out); the partition stays paused meanwhile.
    for (;;) {
      const restored = await this.deps.changelogReader.readPartition(changelogTopic, partition, after, async (batch) => {
        const decoded: RestoredRecord[] = [];
        const json = this.deps.codec.sagaJson === true;
        for (const r of batch) {
          if (r.key === null) continue;
          const key = r.key.toString('utf8');
          if (r.value === null) decoded.push({ key, value: null });
          else {
            const value = await this.deps.codec.decodeSaga(changelogTopic, r.value);
            decoded.push(json ? { key, value, json: r.value } : { key, value });
          }
        }
        const last = batch[batch.length - 1]?.offset;
        if (last !== undefined) await store.applyRestored(decoded, last);
      });
      records += restored.records;
      after = restored.lastOffset ?? after;
      if (restored.end >= logEnd || this.isClosed()) break;
      if (warnedAt === undefined || this.deps.clock.now() - warnedAt >= 10_000) {
        this.log.warn({ stableEnd: restored.end.toString(), logEnd: logEnd.toString() }, 'an open transaction on the changelog hides what follows it; waiting for it to end before the partition is ready');
        warnedAt = this.deps.clock.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const durationMs = this.deps.clock.now() - began;
    const seconds = Math.max(durationMs, 1) / 1000;
    this.log.info({ records, durationMs, recordsPerSecond: Math.round(records / seconds) }, 'partition restored');
    this.deps.metrics.restoredRecords += records;
    this.deps.metrics.observeRestore(durationMs, marker === undefined ? 'start' : 'marker');
  }

  /** Processes fetched records of this partition (records of another epoch or already seen are skipped). */
  deliver(records: readonly InputRecord[]): Promise<void> {
    if (this.state !== 'ready') return Promise.resolve();
    const epoch = this.epoch;
    return this.mailbox.post(() => this.process(records, epoch));
  }

  /** Takes the current unit for a commit (undefined when it holds nothing); later input goes to a new unit on top of it. */
  seal(): Promise<UnitOfWork | undefined> {
    return this.mailbox.post(async () => {
      const unit = this.current;
      if (this.state !== 'ready' || !unit || unit.empty) return undefined;
      this.sealed.push(unit);
      this.current = new UnitOfWork(unit.overlay);
      return unit;
    });
  }

  /**
   * The transaction holding `unit` committed; `offsets` are those its records got. Writes the
   * unit's sagas to the store with the marker of its last changelog record, in one batch.
   */
  async committed(unit: UnitOfWork, offsets: readonly bigint[]): Promise<void> {
    const index = this.sealed.indexOf(unit);
    if (index !== 0 || !this.store) return;
    if (unit.lastChangelogIndex >= 0) {
      const marker = offsets[unit.lastChangelogIndex];
      if (marker === undefined) throw new Error(`no offset for changelog record ${unit.lastChangelogIndex} of ${offsets.length}`);
      // A JSON changelog record holds the very bytes the store keeps: encoded once, written twice.
      const encoded: EncodedSagas | undefined = this.deps.codec.sagaJson === true ? (saga) => unit.changelogValue(saga.sagaId) : undefined;
      await this.store.applyCommitted(unit.overlay.entries(), marker, unit.firedHints, encoded);
    } else if (unit.firedHints.length > 0) {
      await this.store.dropTimerHints(unit.firedHints);
    }
    this.sealed.shift();
    for (const [topic, offset] of unit.positions) this.committedPositions.set(topic, offset);
    (this.sealed[0] ?? this.current)?.overlay.rebase(this.store);
    this.deps.metrics.transactions += 1;
    this.deps.metrics.commandsSent += unit.commands;
    this.deps.metrics.deadLettered += unit.deadLetters;
  }

  /**
   * A commit holding one of this task's units failed (or its outcome is unknown): every unit
   * built since the last commit is dropped and the gain protocol runs again. Fenced, and the
   * group gave the partition to another member: wait for the rebalance to take the task away.
   */
  fail(err: unknown): void {
    if (this.isClosed() || this.state === 'recovering' || this.state === 'starting') return;
    this.state = 'recovering';
    this.dropWork();
    this.deps.member.pause(this.inputPartitions());
    this.deps.metrics.recoveries += 1;
    void (async () => {
      if (isBrokerError(err, 'fenced')) {
        this.log.warn({ err }, 'fenced; checking ownership');
        if (!(await this.deps.stillOwned(this.deps.partition).catch(() => false))) {
          this.log.warn('partition owned by another member now; waiting for the rebalance to revoke it');
          return;
        }
      } else {
        this.log.error({ err }, 'transaction failed; the task re-reads its position and restores');
        await this.releaseFailedStore(err);
      }
      await new Promise((r) => setTimeout(r, RECOVERY_DELAY_MS.first));
      if (!this.isClosed()) await this.start();
    })();
  }

  /** Partition p of every input topic: the events topic first. */
  private inputPartitions(): { topic: string; partition: number }[] {
    const { eventsTopic, coPartitioned, partition } = this.deps;
    return [eventsTopic, ...(coPartitioned ?? [])].map((topic) => ({ topic, partition }));
  }

  private dropWork(): void {
    this.epoch += 1;
    this.sealed = [];
    this.current = undefined;
  }

  /**
   * Fires the timers due by `nowMs` (a mailbox input like a record batch, Kafka Streams'
   * punctuation): each becomes an input of the transition, in the current unit, so its
   * firing, the changelog record without it and the commands it sends commit together. A
   * timer fires once: until its unit commits, the saga in the overlay no longer holds it; if
   * the unit is dropped, the committed document and its index hint still do, and it fires
   * again. Resolves with whether the unit gained work.
   */
  tick(nowMs: number): Promise<boolean> {
    if (this.state !== 'ready' || this.nextDueMs === undefined || this.nextDueMs > nowMs) return Promise.resolve(false);
    const epoch = this.epoch;
    return this.mailbox.post(() => this.fireDue(nowMs, epoch));
  }

  private async fireDue(nowMs: number, epoch: number): Promise<boolean> {
    const unit = this.current;
    const store = this.store;
    if (epoch !== this.epoch || this.state !== 'ready' || !unit || !store) return false;
    let worked = false;
    try {
      // Hints of timers fired in units not committed yet stay in the index until their commit:
      // read past them, so a burst larger than one tick keeps moving.
      const inFlight = new Set<string>();
      for (const u of [...this.sealed, unit]) for (const k of u.firedHints) inFlight.add(k);
      const hints = (await store.dueTimers(nowMs + 1, TIMERS_PER_TICK + inFlight.size)).filter((h) => !inFlight.has(h.key));
      const bySaga = new Map<string, { key: string; dueMs: number }[]>();
      for (const h of hints) {
        let list = bySaga.get(h.sagaId);
        if (!list) bySaga.set(h.sagaId, (list = []));
        list.push(h);
      }
      await unit.overlay.prefetch(bySaga.keys());
      const now = new Date(nowMs).toISOString();
      const stale: string[] = [];
      for (const [sagaId, sagaHints] of bySaga) {
        if (epoch !== this.epoch) return worked;
        let saga = await unit.overlay.getSaga(sagaId);
        const due = (saga?.timers ?? []).filter((t) => Date.parse(t.dueAt) <= nowMs);
        if (due.length === 0) {
          // Nothing due in the saga as it is now. A hint goes only when the committed document
          // does not wait on a timer due then either: if a unit not committed yet moved the saga
          // on and is dropped, the committed timer must still fire.
          const committed = await store.getSaga(sagaId);
          for (const h of sagaHints) if (!(committed?.timers ?? []).some((t) => Date.parse(t.dueAt) === h.dueMs)) stale.push(h.key);
          continue;
        }
        for (const timer of due) {
          const outputs = await this.applyTimer(sagaId, saga, timer, now, nowMs);
          if (epoch !== this.epoch) return worked;
          unit.includeOutputs(outputs);
          if (outputs.saga) saga = outputs.saga;
        }
        for (const h of sagaHints) unit.firedHints.push(h.key);
        worked = true;
      }
      if (stale.length > 0) {
        this.deps.metrics.timersStale += stale.length;
        await store.dropTimerHints(stale);
      }
      await this.refreshNextDue(store);
      return worked;
    } catch (err) {
      if (epoch === this.epoch) this.fail(err);
      return false;
    }
  }

  /**
   * The soonest due time worth a tick: the index's soonest hint, or a timer of a saga changed in
   * a unit not committed yet. Early is harmless (a tick finds nothing due); late would delay.
   */
  private async refreshNextDue(store: TaskStore): Promise<void> {
    const indexed = await store.nextTimerDueMs();
    let soonest = indexed;
    for (const u of [...this.sealed, ...(this.current ? [this.current] : [])]) {
      for (const saga of u.overlay.entries()) {
        const first = saga.timers?.[0];
        if (first) soonest = Math.min(soonest ?? Infinity, Date.parse(first.dueAt));
      }
    }
    this.nextDueMs = soonest;
  }

  private noteTimers(saga: SagaDocument | undefined): void {
    const first = saga?.timers?.[0];
    if (!first) return;
    const due = Date.parse(first.dueAt);
    if (this.nextDueMs === undefined || due < this.nextDueMs) this.nextDueMs = due;
  }

  private async applyTimer(sagaId: string, saga: SagaDocument | undefined, timer: PendingTimer, now: string, nowMs: number): Promise<InputOutputs> {
    const began = performance.now();
    const result = transition(this.deps.definition, saga, { kind: 'timer', sagaId, timer, timestamp: now });
    this.deps.metrics.count(`outcome:${result.outcome}`);
    if (engineChannels.transition.hasSubscribers) {
      const label = timer.kind === 'retry' ? timer.label : timer.event;
      engineChannels.transition.publish({ scope: this.deps.metrics, partition: this.deps.partition, label, outcome: result.outcome, state: result.saga?.currentState, durationMs: performance.now() - began });
    }
    if (result.outcome === 'stale-timer') this.deps.metrics.timersStale += 1;
    else {
      this.deps.metrics.timersFired += 1;
      this.deps.metrics.observeTimerLag(nowMs - Date.parse(timer.dueAt));
    }
    this.countScheduled(saga, result.saga);
    const outputs: InputOutputs = { commands: [], deadLetters: [] };
    if (result.changed && result.saga) {
      outputs.saga = result.saga;
      outputs.changelog = { topic: this.deps.changelogTopic, partition: this.deps.partition, key: sagaId, value: await this.deps.codec.encodeSaga(this.deps.changelogTopic, result.saga) };
    }
    for (const command of result.commands) outputs.commands.push(await this.encodeCommand(command));
    return outputs;
  }

  /** Timers the saga gained with a transition, for the scheduled counter. */
  private countScheduled(before: SagaDocument | undefined, after: SagaDocument | undefined): void {
    const had = before?.timers ?? [];
    for (const t of after?.timers ?? []) if (!had.some((h) => h.dueAt === t.dueAt && h.kind === t.kind)) this.deps.metrics.timersScheduled += 1;
  }

  private async process(records: readonly InputRecord[], epoch: number): Promise<void> {
    const unit = this.current;
    if (epoch !== this.epoch || this.state !== 'ready' || !unit) return;
    const fresh = records.filter((r) => r.offset >= (this.next.get(r.topic) ?? 0n));
    if (fresh.length === 0) return;
    try {
      // One read of the store for the whole batch instead of one per record.
      await unit.overlay.prefetch(fresh.flatMap((r) => (r.key && r.key.length > 0 ? [r.key.toString('utf8')] : [])));
      for (const record of fresh) {
        if (epoch !== this.epoch) return;
        const outputs = await this.processOne(record, unit);
        if (epoch !== this.epoch) return;
        unit.include(outputs, record.topic, record.offset);
        this.noteTimers(outputs.saga);
        this.next.set(record.topic, record.offset + 1n);
      }
    } catch (err) {
      // Raised while applying an event (a registry that is down): the unit cannot be trusted;
      // drop it and start over from the committed position.
      if (epoch === this.epoch) this.fail(err);
    }
  }

  /** Decodes and applies one record against the unit's overlay (which it does not change); returns what to write. */
  private async processOne(record: InputRecord, unit: UnitOfWork): Promise<InputOutputs> {
    const { codec, definition } = this.deps;
    const began = performance.now();
    this.deps.metrics.eventsProcessed += 1;
    const key = record.key && record.key.length > 0 ? record.key.toString('utf8') : null;
    if (definition.observed.has(record.topic)) return this.observe(record, key);
    if (key !== null) {
      const home = partitionForKey(key, this.deps.partitions);
      if (home !== this.deps.partition || record.topic !== this.deps.eventsTopic) return this.forward(record, home);
    }
    let envelope: Envelope;
    try {
      envelope = await codec.decodeEvent(record.topic, record.value);
    } catch (err) {
      // A registry that is down is not the record's fault: fail the unit and retry it.
      if (isSagaflowError(err) && err.retryable) throw err;
      return this.deadLetter(record, undecodableVerdict(key, err));
    }
    const ingress = toSagaInput(definition, key, envelope, record.timestamp);
    if ('deadLetter' in ingress) return this.deadLetter(record, ingress.deadLetter);
    const { input } = ingress;
    const current = await unit.overlay.getSaga(input.sagaId);
    const applied = applyInput(definition, current, input);
    if (applied.result === undefined) return this.deadLetter(record, applied.deadLetter);
    const { result } = applied;
    this.deps.metrics.count(`outcome:${result.outcome}`);
    if (engineChannels.transition.hasSubscribers) engineChannels.transition.publish({ scope: this.deps.metrics, partition: this.deps.partition, label: envelope.messageLabel, outcome: result.outcome, state: result.saga?.currentState, durationMs: performance.now() - began });
    this.countScheduled(current, result.saga);
    if (applied.deadLetter) return this.deadLetter(record, applied.deadLetter);
    if (result.outcome !== 'applied' && result.outcome !== 'created') {
      this.log.info({ sagaId: input.sagaId, outcome: result.outcome, reason: result.reason, label: envelope.messageLabel }, 'event recorded in saga history');
    }
    const outputs: InputOutputs = { commands: [], deadLetters: [] };
    try {
      // The changelog partition is the task's partition, whatever partitioner put the event
      // here: restore reads partition p only (Kafka Streams does the same).
      if (result.changed && result.saga) {
        outputs.saga = result.saga;
        outputs.changelog = {
          topic: this.deps.changelogTopic,
          partition: this.deps.partition,
          key: input.sagaId,
          value: await codec.encodeSaga(this.deps.changelogTopic, result.saga),
        };
      }
      for (const command of result.commands) outputs.commands.push(await this.encodeCommand(command));
    } catch (err) {
      // A document the event made unencodable (e.g. metadata nested thousands of levels deep
      // overflows JSON.stringify) fails the same way on every retry: retrying stalled the
      // partition for good. Only a failure that can pass (registry down) is retried.
      if (isSagaflowError(err) && err.retryable) throw err;
      return this.deadLetter(record, {
        code: isSagaflowError(err) ? (err.code as DeadLetterVerdict['code']) : 'SAGAFLOW_ENCODE_FAILED',
        reason: `the saga after "${envelope.messageLabel}" cannot be written; the event is not applied: ${(err as Error).message}`,
      });
    }
    const largest = Math.max(0, ...[...(outputs.changelog ? [outputs.changelog] : []), ...outputs.commands].map(recordBytes));
    const limit = this.deps.maxRecordBytes ?? MAX_RECORD_BYTES;
    if (largest > limit) {
      return this.deadLetter(record, {
        code: 'SAGAFLOW_SAGA_TOO_LARGE',
        reason: `applying "${envelope.messageLabel}" would write a saga document or command of ${largest} bytes, over the ${limit}-byte record limit; the event is not applied (send smaller payloads)`,
      });
    }
    return outputs;
  }

  /**
   * Choreography: a record of an observed topic, keyed by anything, goes to the home partition
   * of the saga its value names (correlation.sagaId), keyed by that sagaId.
   */
  private async observe(record: InputRecord, key: string | null): Promise<InputOutputs> {
    let envelope: Envelope;
    try {
      envelope = await this.deps.codec.decodeEvent(record.topic, record.value);
    } catch (err) {
      if (isSagaflowError(err) && err.retryable) throw err;
      return this.deadLetter(record, undecodableVerdict(key, err, false));
    }
    const correlated = correlate(this.deps.definition, record.topic, envelope);
    if (correlated === undefined) throw new Error(`topic "${record.topic}" is not observed`);
    if ('deadLetter' in correlated) return this.deadLetter(record, correlated.deadLetter);
    return this.forward(record, partitionForKey(correlated.sagaId, this.deps.partitions), Buffer.from(correlated.sagaId, 'utf8'));
  }

  /**
   * An event read away from its saga's home partition (a producer with another partitioner,
   * or another input topic): copied, bytes, headers and timestamp intact, to the home
   * partition of the events topic in this transaction, and processed there. Flow Manager
   * accepts an event on any partition; sagaflow keeps a saga's events on one partition, in the
   * order they reach it. An observed event gets its sagaId as key (`key`).
   */
  private forward(record: InputRecord, home: number, key: Buffer | null = record.key): InputOutputs {
    const forwarded: OutputRecord = {
      topic: this.deps.eventsTopic,
      partition: home,
      key,
      value: record.value,
      headers: { ...record.headers, [FORWARDED_HEADER]: `${record.topic}/${record.partition}/${record.offset}` },
      timestamp: record.timestamp,
    };
    // An input topic may take larger records than the events topic: a copy the broker refuses
    // would fail the transaction on every retry and stall the partition.
    const limit = this.deps.recordLimits?.get(this.deps.eventsTopic);
    const bytes = recordBatchBytes(forwarded);
    if (limit !== undefined && bytes > limit) {
      return this.deadLetter(record, {
        code: 'SAGAFLOW_EVENT_TOO_LARGE',
        reason: `the event (${bytes} bytes as a record) is larger than the events topic "${this.deps.eventsTopic}" accepts (${limit} bytes), so it cannot be moved to its saga's partition; it is not applied (send smaller events, or raise the events topic's max.message.bytes)`,
      });
    }
    this.deps.metrics.count('forwarded');
    return { commands: [], deadLetters: [], forwarded };
  }

  /**
   * The original record, bytes and headers intact, plus the reason. A value that would take
   * the dead-letter record over the broker's limit is cut (and a header says from what size):
   * a dead letter the broker refuses would stall the partition on retries.
   */
  private deadLetter(record: InputRecord, verdict: DeadLetterVerdict): InputOutputs {
    const { code, reason } = verdict;
    const headers: Record<string, Buffer | string> = {
      ...record.headers,
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.code]: code,
      [DLQ_HEADERS.topic]: record.topic,
      [DLQ_HEADERS.partition]: String(record.partition),
      [DLQ_HEADERS.offset]: record.offset.toString(),
    };
    const { topic, partitions } = this.deps.deadLetterTopic;
    const fitted = fitDeadLetter({ key: record.key, value: record.value, headers }, this.deps.recordLimits?.get(topic) ?? this.deps.maxRecordBytes ?? MAX_RECORD_BYTES);
    const partition = record.key && record.key.length > 0 ? partitionForKey(record.key, partitions) : this.deps.partition % partitions;
    this.deps.metrics.count(code);
    this.log.warn({ offset: record.offset.toString(), code, reason }, 'event sent to the dead-letter topic');
    return { commands: [], deadLetters: [{ topic, partition, key: record.key, value: fitted.value, headers: fitted.headers }] };
  }

  private async encodeCommand(command: Command): Promise<OutputRecord> {
    // The revision of the command's first send, the same on every retry, and which send this
    // is: (sagaId, revision, label, attempt) names one send.
    const headers = { 'sagaflow-revision': String(command.revision), 'sagaflow-command-kind': command.kind, 'sagaflow-attempt': String(command.attempt) };
    const outbox = this.deps.outbox;
    if (outbox?.channels.has(command.channel)) return outboxRecord(outbox, this.deps.partition, command, headers);
    const target = this.deps.commandTopics.get(command.channel);
    if (!target) throw new SagaflowError('SAGAFLOW_CHANNEL_UNSUPPORTED', { message: `no Kafka topic for channel "${command.channel}"` });
    const value = await this.deps.codec.encodeCommand(target.topic, { messageLabel: command.label, messagePayload: command.payload });
    return {
      topic: target.topic,
      partition: partitionForKey(command.sagaId, target.partitions),
      key: command.sagaId,
      value,
      headers,
    };
  }

  /**
   * After a failed store operation the store is closed and opened again by the next attempt:
   * RocksDB keeps refusing writes after an I/O error (a full disk) until it is reopened, so
   * retrying on the same handle would never recover once space returns. Its data is safe: a
   * write batch is all or nothing, and restore replays the changelog from the marker.
   */
  private async releaseFailedStore(err: unknown): Promise<void> {
    if (!isSagaflowError(err, 'SAGAFLOW_STORE_FAILED') && !isSagaflowError(err, 'SAGAFLOW_STORE_NO_SPACE')) return;
    const s = this.store;
    this.store = undefined;
    await s?.close().catch(() => undefined);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async closeWriter(): Promise<void> {
    const w = this.ownWriter;
    this.ownWriter = undefined;
    await w?.close().catch(() => undefined);
  }

  /** Stops the task; its uncommitted work is dropped (the caller committed what it wanted to keep). */
  async close(): Promise<void> {
    this.state = 'closed';
    this.dropWork();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.wake?.();
    if (this.startRun) await this.startRun.catch(() => undefined);
    await this.mailbox.post(async () => undefined);
    await this.closeWriter();
    const s = this.store;
    this.store = undefined;
    await s?.close().catch(() => undefined);
  }
}

/**
 * Cuts a dead letter to `limit` bytes as a one-record batch: the value first (the header
 * says from what size), then, when even an empty value is too large, the copied original
 * headers (another header says how many). sagaflow's own headers and the key are kept: they
 * say what the record was and where to find the original.
 */
export function fitDeadLetter(
  record: { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | string> },
  limit: number,
): { value: Buffer | null; headers: Record<string, Buffer | string> } {
  let { value, headers } = record;
  const over = () => recordBatchBytes({ key: record.key, value, headers }) - limit;
  if (value === null || over() <= 0) return { value, headers };
  headers = { ...headers, [DLQ_HEADERS.truncated]: String(value.length) };
  value = value.subarray(0, Math.max(0, value.length - over()));
  if (over() <= 0) return { value, headers };
  const own = new Set<string>(Object.values(DLQ_HEADERS));
  const kept = Object.fromEntries(Object.entries(headers).filter(([k]) => own.has(k)));
  kept[DLQ_HEADERS.headersDropped] = String(Object.keys(headers).length - Object.keys(kept).length);
  headers = kept;
  return { value, headers };
}
