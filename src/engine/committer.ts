import type { Logger } from 'pino';
import { kindOf } from '../broker/errors.ts';
import type { GroupMember, TxWriter } from '../broker/ports.ts';
import type { OutputRecord, TopicPartitionOffset } from '../broker/records.ts';
import type { Clock } from './clock.ts';
import { engineChannels } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import type { PartitionTask } from './task.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/**
 * Commits the work of a set of tasks that share one transactional writer: every task of the
 * instance under exactly-once v2, one task under v1. A commit seals each task's current
 * unit (through its mailbox, so between two inputs), writes all their records and input
 * positions in one transaction, and only after the commit resolves lets each task apply its
 * unit to its store. Tasks go on processing into new units while a commit is in flight.
 * One commit at a time per writer; requests made during one are served by the next.
 */
export class CommitGroup {
  private readonly writer: () => TxWriter | undefined;
  private readonly tasks: () => Iterable<PartitionTask>;
  private readonly member: GroupMember;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly beforeCommit: ((partitions: number[]) => Promise<void> | void) | undefined;
  private readonly metrics: Metrics | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  /** When the last commit began (for the commit interval). */
  lastStarted = 0;

  constructor(opts: {
    writer: () => TxWriter | undefined;
    tasks: () => Iterable<PartitionTask>;
    member: GroupMember;
    logger: Logger;
    clock: Clock;
    beforeCommit?: (partitions: number[]) => Promise<void> | void;
    metrics?: Metrics;
  }) {
    this.writer = opts.writer;
    this.tasks = opts.tasks;
    this.member = opts.member;
    this.log = opts.logger;
    this.clock = opts.clock;
    this.beforeCommit = opts.beforeCommit;
    this.metrics = opts.metrics;
  }

  /** Bytes waiting in the group's tasks. */
  pendingBytes(): number {
    let n = 0;
    for (const t of this.tasks()) n += t.pendingBytes();
    return n;
  }

  get inFlight(): boolean {
    return this.queued !== undefined || this.running;
  }

  private running = false;

  /**
   * Commits everything the group's tasks processed before this call (a commit already queued
   * serves the call too). Never rejects: a failed commit makes its tasks recover.
   */
  commit(): Promise<void> {
    if (this.queued) return this.queued;
    const queued: Promise<void> = this.tail.then(() => {
      if (this.queued === queued) this.queued = undefined;
      return this.commitOnce();
    });
    this.queued = queued;
    this.tail = queued;
    return queued;
  }

  private async commitOnce(): Promise<void> {
    const writer = this.writer();
    if (!writer) return;
    this.running = true;
    this.lastStarted = this.clock.now();
    const units: { task: PartitionTask; unit: UnitOfWork }[] = [];
    try {
      for (const task of [...this.tasks()]) {
        if (task.state !== 'ready') continue;
        const unit = await task.seal();
        if (unit) units.push({ task, unit });
      }
      if (units.length === 0) return;
      await this.write(writer, units);
    } finally {
      this.running = false;
    }
  }

  private async write(writer: TxWriter, units: { task: PartitionTask; unit: UnitOfWork }[]): Promise<void> {
    const records: OutputRecord[] = [];
    const positions: TopicPartitionOffset[] = [];
    for (const { task, unit } of units) {
      for (const r of unit.records) records.push(r);
      for (const p of task.commitPositions(unit)) positions.push(p);
    }
    let begun = false;
    const began = performance.now();
    try {
      await writer.begin();
      begun = true;
      const acked = writer.send(records);
      // Rejections surface through commit(); keep this one from being reported as unhandled.
      acked.catch(() => undefined);
      await writer.sendOffsets(positions, this.member);
      await this.beforeCommit?.(units.map((u) => u.task.partition));
      await writer.commit();
      begun = false;
      if (engineChannels.commit.hasSubscribers) engineChannels.commit.publish({ scope: this.metrics, durationMs: performance.now() - began, inputs: units.reduce((n, u) => n + u.unit.inputs, 0), records: records.length });
      const offsets = await acked;
      let at = 0;
      for (const { task, unit } of units) {
        await task.committed(unit, offsets.slice(at, at + unit.records.length));
        at += unit.records.length;
      }
    } catch (err) {
      // Unknown outcome included (a commit that timed out): every unit of this transaction,
      // and whatever was built on them since, is dropped; each task re-reads its committed
      // position and restores from its store's marker, which the transaction did not move.
      if (begun) await writer.abort().catch((e: unknown) => this.log.warn({ err: e }, 'abort after a failed commit failed; the writer starts over'));
      // A task closed meanwhile (its partition revoked or lost while the commit ran, as when
      // a paused instance wakes up) has nothing to recover: say here what became of its work.
      const gone = units.filter(({ task }) => task.state === 'closed').map(({ task }) => task.partition);
      if (gone.length > 0) this.log.warn({ err, kind: kindOf(err), partitions: gone }, 'commit failed after its partitions were taken away; its work is dropped');
      for (const { task } of units) task.fail(err);
    }
  }
}
