import type { Logger } from 'pino';
import type { CompiledDefinition } from '../definition/compile.ts';
import type { BrokerError } from '../broker/errors.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, GroupMember, TopicAdmin, TopicPartition, TxWriter } from '../broker/ports.ts';
import type { InputRecord } from '../broker/records.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { ProcessorCodec } from '../kafka/codec.ts';
import { systemClock } from './clock.ts';
import type { Clock } from './clock.ts';
import { CommitGroup } from './committer.ts';
import { Metrics } from './metrics.ts';
import type { OutboxTarget } from './outbox-records.ts';
import { PartitionTask } from './task.ts';
import type { OutputTopic, TaskStore } from './task.ts';

export interface ProcessorOptions {
  applicationId: string;
  eventsTopic: string;
  /**
   * The saga.json's other input topics, each with the events topic's partition count: the
   * task of partition p reads partition p of each, and forwards their events to the events
   * topic (see PartitionTask.forward).
   */
  coPartitioned?: readonly string[];
  changelogTopic: string;
  deadLetterTopic: OutputTopic;
  commandTopics: ReadonlyMap<string, OutputTopic>;
  /** Where commands of rest channels go, for the outbox dispatcher (absent: none are sent). */
  outbox?: OutboxTarget;
  partitions: number;
  definition: CompiledDefinition;
  codec: ProcessorCodec;
  client: BrokerClient;
  admin: TopicAdmin;
  /** This instance's HTTP address, published to the group (known once the API listens). */
  advertisedUrl: () => string;
  /** Stable id of this instance (kept in its state directory): its v2 transactional id. */
  instanceId: string;
  openStore: (partition: number) => Promise<TaskStore>;
  logger: Logger;
  /**
   * Longest time between two commits while there is work (Kafka Streams' commit.interval.ms).
   * 0: commit as soon as the previous commit is done.
   */
  commitIntervalMs?: number;
  /** The consumer-group session (default 30 s): a member silent that long loses its partitions. */
  sessionTimeoutMs?: number;
  /** Pending output bytes after which processing waits for a commit. */
  maxPendingBytes?: number;
  /** Largest record a task writes (see task.ts MAX_RECORD_BYTES). */
  maxRecordBytes?: number;
  /** Per output topic, the largest one-record batch it takes (see TaskDeps.recordLimits). */
  recordLimits?: ReadonlyMap<string, number>;
  /** How often due timers are looked for (they are also looked for after every batch). */
  timerIntervalMs?: number;
  clock?: Clock;
  /** Fault injection for tests: runs inside each open transaction, right before commit. */
  beforeCommit?: (partitions: number[]) => Promise<void> | void;
}

/** Where a saga lives, for interactive queries. */
export type SagaLocation =
  | { kind: 'local'; saga: SagaDocument | undefined }
  | { kind: 'restoring'; partition: number; saga: SagaDocument | undefined }
  /** Ready, but the group member cannot vouch that the partition is still ours (see GroupMember.assignmentUnconfirmed). */
  | { kind: 'unconfirmed'; partition: number; saga: SagaDocument | undefined }
  | { kind: 'remote'; url: string; partition: number }
  | { kind: 'no-owner'; partition: number };

export const DEFAULT_COMMIT_INTERVAL_MS = 100;
export const DEFAULT_TIMER_INTERVAL_MS = 100;
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * The saga processor of one instance, Kafka Streams' StreamThread: a consumer-group member
 * over the events topic, one PartitionTask per owned partition, and the committers that
 * write the tasks' work in transactions. It reaches Kafka only through the broker ports.
 *
 * Exactly-once v2 (KIP-447, librdkafka): one transactional writer for the whole instance
 * (`<applicationId>-<instanceId>`), one transaction for all owned partitions per commit; a
 * zombie's offsets are refused by the group generation. Exactly-once v1 (kafkajs): one writer
 * and one transaction per partition, transactional id `<applicationId>-<topic>-<partition>`,
 * which fences the partition's previous owner.
 */
export class Processor {
  readonly metrics = new Metrics();
  private readonly opts: ProcessorOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly tasks = new Map<number, PartitionTask>();
  /** Tasks being closed: a regained partition waits for its old store to be released. */
  private readonly closing = new Map<number, Promise<void>>();
  /** v2: one group over every task; v1: one per task. */
  private readonly groups = new Map<number, CommitGroup>();
  private shared: CommitGroup | undefined;
  private writer: TxWriter | undefined;
  private member: GroupMember | undefined;
  private joined = false;
  private owners: { at: number; byPartition: Map<number, { memberId: string; url: string }> } | undefined;
  private ownersRefresh: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private timerTicker: NodeJS.Timeout | undefined;
  private stopping = false;
  fatal: ((err: Error) => void) | undefined;

  constructor(opts: ProcessorOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'processor', client: opts.client.name });
    this.clock = opts.clock ?? systemClock;
  }

  get partitions(): number {
    return this.opts.partitions;
  }

  get client(): string {
    return this.opts.client.name;
  }

  private get v2(): boolean {
    return this.opts.client.exactlyOnce === 'v2';
  }

  private get commitIntervalMs(): number {
    return this.opts.commitIntervalMs ?? (this.v2 ? DEFAULT_COMMIT_INTERVAL_MS : 0);
  }

  async start(): Promise<void> {
    const { opts } = this;
    const member = opts.client.groupMember({
      groupId: opts.applicationId,
      topics: [opts.eventsTopic],
      ...(opts.coPartitioned?.length ? { coPartitioned: opts.coPartitioned } : {}),
      advertisedUrl: opts.advertisedUrl(),
      fromBeginning: true,
      holdAssigned: true,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 30_000,
      maxWaitMs: 100,
    });
    this.member = member;
    if (this.v2) {
      this.writer = await opts.client.txWriter(`${opts.applicationId}-${opts.instanceId}`);
      this.shared = this.commitGroup(member, () => this.writer, () => this.tasks.values());
    }
    await member.start({
      onAssigned: async (partitions) => this.onAssigned(member, partitions),
      onRevoked: async (partitions, lost) => this.onRevoked(partitions, lost),
      onRecords: async (records) => this.onRecords(records),
      onFatal: (err: BrokerError) => this.fatal?.(err),
    });
    if (this.commitIntervalMs > 0) this.scheduleTick();
    this.scheduleTimers();
  }

  /** Looks for due timers every timerIntervalMs (Kafka Streams' wall-clock punctuation). */
  private scheduleTimers(): void {
    if (this.stopping) return;
    this.timerTicker = setTimeout(() => {
      void this.fireDueTimers().finally(() => this.scheduleTimers());
    }, this.opts.timerIntervalMs ?? DEFAULT_TIMER_INTERVAL_MS);
    this.timerTicker.unref?.();
  }

  /** Fires the timers due now in every task; the work they add is committed as records' work is. */
  async fireDueTimers(): Promise<void> {
    const now = this.clock.now();
    const groups = new Set<CommitGroup>();
    await Promise.all(
      [...this.tasks.values()].map(async (task) => {
        if (await task.tick(now)) {
          const group = this.groupOf(task.partition);
          if (group) groups.add(group);
        }
      }),
    );
    if (this.commitIntervalMs === 0) await Promise.all([...groups].map((g) => g.commit()));
  }

  private commitGroup(member: GroupMember, writer: () => TxWriter | undefined, tasks: () => Iterable<PartitionTask>): CommitGroup {
    return new CommitGroup({
      writer,
      tasks,
      member,
      logger: this.log,
      clock: this.clock,
      metrics: this.metrics,
      ...(this.opts.beforeCommit ? { beforeCommit: this.opts.beforeCommit } : {}),
    });
  }

  private groupOf(partition: number): CommitGroup | undefined {
    return this.shared ?? this.groups.get(partition);
  }

  /** Commits on the interval: a commit starts when the last one is done and the interval passed. */
  private scheduleTick(): void {
    if (this.stopping) return;
    this.ticker = setTimeout(() => {
      void this.commit().finally(() => this.scheduleTick());
    }, this.commitIntervalMs);
    this.ticker.unref?.();
  }

  /** Commits what every task has processed so far (failures make the tasks concerned recover). */
  commit(): Promise<void> {
    const groups = this.shared ? [this.shared] : [...this.groups.values()];
    return Promise.all(groups.map((g) => g.commit())).then(() => undefined);
  }

  private onAssigned(member: GroupMember, partitions: readonly TopicPartition[]): void {
    this.joined = true;
    this.owners = undefined;
    for (const { topic, partition: p } of partitions) {
      if (topic !== this.opts.eventsTopic || this.tasks.has(p)) continue;
      const task = this.newTask(member, p);
      this.tasks.set(p, task);
      if (!this.v2) this.groups.set(p, this.commitGroup(member, () => task.writer, () => [task]));
      this.log.info({ partition: p }, 'partition assigned');
      void task.start();
    }
  }

  private newTask(member: GroupMember, partition: number): PartitionTask {
    const { opts } = this;
    return new PartitionTask({
      partition,
      eventsTopic: opts.eventsTopic,
      partitions: opts.partitions,
      ...(opts.coPartitioned?.length ? { coPartitioned: opts.coPartitioned } : {}),
      changelogTopic: opts.changelogTopic,
      deadLetterTopic: opts.deadLetterTopic,
      commandTopics: opts.commandTopics,
      ...(opts.outbox ? { outbox: opts.outbox } : {}),
      definition: opts.definition,
      codec: opts.codec,
      member,
      admin: opts.admin,
      changelogReader: opts.client.changelogReader(),
      openStore: async (p) => {
        await this.closing.get(p);
        return opts.openStore(p);
      },
      ...(this.v2 ? {} : { fence: () => opts.client.txWriter(`${opts.applicationId}-${opts.eventsTopic}-${partition}`) }),
      logger: opts.logger,
      metrics: this.metrics,
      clock: this.clock,
      stillOwned: (p) => this.stillOwned(p),
      ...(opts.maxRecordBytes === undefined ? {} : { maxRecordBytes: opts.maxRecordBytes }),
      ...(opts.recordLimits ? { recordLimits: opts.recordLimits } : {}),
    });
  }

  private async onRevoked(partitions: readonly TopicPartition[], lost: boolean): Promise<void> {
    this.owners = undefined;
    const revoked = partitions.filter((tp) => tp.topic === this.opts.eventsTopic && this.tasks.has(tp.partition)).map((tp) => tp.partition);
    if (revoked.length === 0) return;
    if (!lost) {
      // Still a member of this generation: what the tasks processed is committed before the
      // partitions go, so the next owner starts where this one stopped (nothing redone).
      const groups = new Set(revoked.map((p) => this.groupOf(p)).filter((g): g is CommitGroup => g !== undefined));
      await Promise.all([...groups].map((g) => g.commit()));
    }
    for (const p of revoked) {
      const task = this.tasks.get(p);
      if (!task) continue;
      this.tasks.delete(p);
      this.groups.delete(p);
      this.log.info({ partition: p, lost }, 'partition revoked');
      const closed = task.close().finally(() => {
        if (this.closing.get(p) === closed) this.closing.delete(p);
      });
      this.closing.set(p, closed);
    }
    await Promise.all(revoked.map((p) => this.closing.get(p)));
  }

  private async onRecords(records: readonly InputRecord[]): Promise<void> {
    const byPartition = new Map<number, InputRecord[]>();
    const inputs = new Set([this.opts.eventsTopic, ...(this.opts.coPartitioned ?? [])]);
    for (const r of records) {
      if (!inputs.has(r.topic)) continue;
      let list = byPartition.get(r.partition);
      if (!list) byPartition.set(r.partition, (list = []));
      list.push(r);
    }
    const touched = new Set<CommitGroup>();
    await Promise.all(
      [...byPartition].map(async ([p, list]) => {
        const task = this.tasks.get(p);
        if (!task) return;
        await task.deliver(list);
        // Timers are due checked after every batch too, not only on the interval.
        await task.tick(this.clock.now());
        const group = this.groupOf(p);
        if (group) touched.add(group);
      }),
    );
    const waits: Promise<void>[] = [];
    for (const group of touched) {
      if (this.commitIntervalMs === 0) {
        const done = group.commit();
        // v1 keeps its per-batch rhythm (a batch is committed before the next is fetched).
        if (!this.v2) waits.push(done);
      }
      // Backpressure: too much uncommitted output waits for a commit before more is fetched.
      if (group.pendingBytes() > (this.opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES)) waits.push(group.commit());
    }
    await Promise.all(waits);
  }

  /** True once the instance has joined the group and every owned partition is restored. */
  isReady(): boolean {
    if (!this.joined || this.stopping) return false;
    for (const task of this.tasks.values()) if (task.state !== 'ready') return false;
    return true;
  }

  ownedPartitions(): { partition: number; state: string }[] {
    return [...this.tasks.values()].map((t) => ({ partition: t.partition, state: t.state })).sort((a, b) => a.partition - b.partition);
  }

  async locate(sagaId: string): Promise<SagaLocation> {
    const partition = partitionForKey(sagaId, this.opts.partitions);
    const task = this.tasks.get(partition);
    if (task) {
      if (task.state !== 'ready') return { kind: 'restoring', partition, saga: await task.getRestoringSaga(sagaId) };
      // The store holds committed sagas only: if another member has the partition now, its
      // copy may be behind, never ahead of what was committed.
      if (this.member?.assignmentUnconfirmed()) return { kind: 'unconfirmed', partition, saga: await task.getSaga(sagaId) };
      return { kind: 'local', saga: await task.getSaga(sagaId) };
    }
    const self = this.member?.memberId();
    let owner: { memberId: string; url: string } | undefined;
    try {
      owner = (await this.ownerMap(false)).get(partition);
      if (!owner || owner.memberId === self) owner = (await this.ownerMap(true)).get(partition);
    } catch (err) {
      // The group cannot be described (broker unreachable): no owner is known, which the
      // API answers with 503 and Retry-After rather than an internal error.
      this.log.debug({ err, partition }, 'owner lookup failed');
      return { kind: 'no-owner', partition };
    }
    if (!owner || owner.memberId === self) return { kind: 'no-owner', partition };
    return { kind: 'remote', url: owner.url, partition };
  }

  /**
   * Who owns each partition of the events topic, as the group publishes it (the owner map the
   * interactive queries use, at most a second old); empty before the processor has joined.
   */
  async partitionOwners(): Promise<Map<number, { memberId: string; url: string }>> {
    if (!this.member) return new Map();
    return this.ownerMap(true);
  }

  private async stillOwned(partition: number): Promise<boolean> {
    const owner = (await this.ownerMap(true)).get(partition);
    return owner !== undefined && owner.memberId === this.member?.memberId();
  }

  /** partition -> owner, from the group's description (cached: 1 s when fresh is asked, else 30 s). */
  private async ownerMap(fresh: boolean): Promise<Map<number, { memberId: string; url: string }>> {
    const maxAge = fresh ? 1_000 : 30_000;
    if (this.owners && this.clock.now() - this.owners.at < maxAge) return this.owners.byPartition;
    this.ownersRefresh ??= (async () => {
      const member = this.member;
      if (!member) throw new Error('not started');
      const byPartition = await member.owners(this.opts.eventsTopic);
      this.owners = { at: this.clock.now(), byPartition };
    })().finally(() => {
      this.ownersRefresh = undefined;
    });
    await this.ownersRefresh;
    return this.owners?.byPartition ?? new Map();
  }

  /** Commits what was processed, leaves the group, closes every task and the writer. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.ticker) clearTimeout(this.ticker);
    if (this.timerTicker) clearTimeout(this.timerTicker);
    // Leaving revokes every partition through onRevoked, which commits first.
    await this.member?.stop().catch((err: unknown) => this.log.warn({ err }, 'leaving the group failed'));
    for (const [p, task] of this.tasks) {
      this.tasks.delete(p);
      this.closing.set(p, task.close());
    }
    await Promise.all(this.closing.values());
    this.groups.clear();
    await this.writer?.close().catch(() => undefined);
    this.writer = undefined;
  }
}
