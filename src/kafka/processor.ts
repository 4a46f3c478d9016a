import { AssignerProtocol, Partitioners } from 'kafkajs';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CompiledDefinition } from '../definition/compile.ts';
import type { SagaDocument } from '../saga/types.ts';
import { decodeMemberInfo, stickyAdvertisingAssigner } from './assigner.ts';
import type { MemberInfo } from './assigner.ts';
import type { ProcessorCodec } from './codec.ts';
import { Metrics } from './metrics.ts';
import { KafkajsChangelogReader } from './restore.ts';
import type { ChangelogReader } from './restore.ts';
import { PartitionTask } from './task.ts';
import type { TaskStore } from './task.ts';

export interface ProcessorOptions {
  applicationId: string;
  eventsTopic: string;
  changelogTopic: string;
  deadLetterTopic: string;
  commandTopics: ReadonlyMap<string, string>;
  partitions: number;
  definition: CompiledDefinition;
  codec: ProcessorCodec;
  kafka: Kafka;
  admin: Admin;
  /** This instance's HTTP address, read at every group join (it may be known only after listen). */
  advertisedUrl: () => string;
  openStore: (partition: number) => Promise<TaskStore>;
  logger: Logger;
  changelogReader?: ChangelogReader;
  /** How many partitions are processed at once by this instance. */
  concurrency?: number;
  /** Fault injection for tests: runs inside each open transaction, right before commit. */
  beforeCommit?: (partition: number) => Promise<void> | void;
}

/** Where a saga lives, for interactive queries. */
export type SagaLocation =
  | { kind: 'local'; saga: SagaDocument | undefined }
  | { kind: 'restoring'; partition: number }
  | { kind: 'remote'; url: string; partition: number }
  | { kind: 'no-owner'; partition: number };

const partitioner = Partitioners.DefaultPartitioner();

/** The partition Kafka's default (murmur2) partitioner gives a key, as Java clients do. */
export function partitionForKey(key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

/**
 * Whether a consumer crash cannot pass by retrying: refused credentials or permissions (the
 * configuration must change). Everything else a consumer crashes on (connections, a
 * coordinator not found while the broker restarts, timeouts) passes once Kafka is back.
 */
export function isPermanentKafkaFailure(err: unknown): boolean {
  for (let e = err as { name?: string; type?: string; cause?: unknown } | undefined, depth = 0; e && depth < 10; e = e.cause as typeof e, depth += 1) {
    if (e.name === 'KafkaJSSASLAuthenticationError') return true;
    if (typeof e.type === 'string' && /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED|UNSUPPORTED_SASL_MECHANISM|ILLEGAL_SASL_STATE/.test(e.type)) return true;
  }
  return false;
}

/**
 * A member's advertised address and assignment as DescribeGroups reports them. While the group
 * rebalances the broker sends both empty (it reports them only for a Stable group), and a
 * member of another client may send anything: such members own nothing we can use.
 */
export function decodeMember(
  metadata: Buffer | null | undefined,
  assignment: Buffer | null | undefined,
): { info: MemberInfo; assignment: { assignment: Record<string, number[]> } } | undefined {
  if (!metadata || metadata.length === 0 || !assignment || assignment.length === 0) return undefined;
  try {
    const info = decodeMemberInfo(AssignerProtocol.MemberMetadata.decode(metadata)?.userData);
    const decoded = AssignerProtocol.MemberAssignment.decode(assignment);
    return info && decoded ? { info, assignment: decoded } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The saga processor of one instance: a consumer-group member over the events topic that
 * runs one PartitionTask per owned partition (see task.ts for the exactly-once protocol).
 * kafkajs has no onPartitionsAssigned callback, so gains and losses are derived from the
 * assignment carried by each GROUP_JOIN event.
 */
export class Processor {
  readonly metrics = new Metrics();
  private readonly opts: ProcessorOptions;
  private readonly log: Logger;
  private readonly tasks = new Map<number, PartitionTask>();
  /** Tasks being closed: a regained partition waits for its old store to be released. */
  private readonly closing = new Map<number, Promise<void>>();
  private readonly consumer: Consumer;
  private readonly changelogReader: ChangelogReader;
  private memberId: string | undefined;
  private joined = false;
  private owners: { at: number; byPartition: Map<number, { memberId: string; url: string }> } | undefined;
  private ownersRefresh: Promise<void> | undefined;
  private stopping = false;
  fatal: ((err: Error) => void) | undefined;
  /** How many times the consumer was restarted after a crash kafkajs gave up on. */
  restarts = 0;

  constructor(opts: ProcessorOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'processor' });
    this.changelogReader =
      opts.changelogReader ??
      new KafkajsChangelogReader({ kafka: opts.kafka, admin: opts.admin, topic: opts.changelogTopic, groupPrefix: opts.applicationId });
    this.consumer = opts.kafka.consumer({
      groupId: opts.applicationId,
      partitionAssigners: [
        stickyAdvertisingAssigner(() => ({
          url: opts.advertisedUrl(),
          owned: { [opts.eventsTopic]: [...this.tasks.keys()] },
        })),
      ],
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 100,
    });
  }

  get partitions(): number {
    return this.opts.partitions;
  }

  async start(): Promise<void> {
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.onJoin(e.payload.memberId, e.payload.memberAssignment[this.opts.eventsTopic] ?? []);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (e.payload.restart || this.stopping) return;
      // kafkajs restarts the consumer after retriable failures only, and counts some that a
      // broker restart causes as final (KafkaJSGroupCoordinatorNotFound, tulios/kafkajs#1630):
      // the instance then exited. Anything but refused credentials or permissions is retried.
      if (isPermanentKafkaFailure(e.payload.error)) this.fatal?.(e.payload.error);
      else void this.restartConsumer();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.opts.eventsTopic], fromBeginning: true });
    await this.runConsumer();
  }

  private runConsumer(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.concurrency ?? Math.max(1, this.opts.partitions),
      eachBatch: async ({ batch, resolveOffset, isStale }) => {
        if (isStale()) return;
        const task = this.tasks.get(batch.partition);
        if (!task) return;
        await task.processBatch(batch, resolveOffset);
      },
    });
  }

  /**
   * After a crash kafkajs does not recover from: the partitions may move while this member is
   * away, so its tasks stop (no processing, no reads from their stores) and are fenced and
   * restored again when the group gives them back. Retries with backoff until it runs.
   */
  private async restartConsumer(): Promise<void> {
    this.joined = false;
    this.owners = undefined;
    for (const [p, task] of this.tasks) {
      this.tasks.delete(p);
      const closed = task.close().finally(() => {
        if (this.closing.get(p) === closed) this.closing.delete(p);
      });
      this.closing.set(p, closed);
    }
    this.restarts += 1;
    for (let attempt = 0; !this.stopping; attempt += 1) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * 2 ** attempt)));
      if (this.stopping) return;
      try {
        // kafkajs has disconnected it; a failed run leaves it half started, so stop it first.
        await this.consumer.disconnect().catch(() => undefined);
        await this.consumer.connect();
        await this.runConsumer();
        this.log.warn({ attempt }, 'consumer restarted');
        return;
      } catch (err) {
        this.log.warn({ err, attempt }, 'consumer restart failed; retrying');
      }
    }
  }

  private onJoin(memberId: string, assigned: number[]): void {
    this.memberId = memberId;
    this.joined = true;
    this.owners = undefined;
    const now = new Set(assigned);
    for (const [p, task] of this.tasks) {
      if (!now.has(p)) {
        this.tasks.delete(p);
        this.log.info({ partition: p }, 'partition revoked');
        const closed = task.close().finally(() => {
          if (this.closing.get(p) === closed) this.closing.delete(p);
        });
        this.closing.set(p, closed);
      } else {
        task.onRejoin();
      }
    }
    for (const p of assigned) {
      if (this.tasks.has(p)) continue;
      const task = new PartitionTask({
        applicationId: this.opts.applicationId,
        partition: p,
        eventsTopic: this.opts.eventsTopic,
        changelogTopic: this.opts.changelogTopic,
        deadLetterTopic: this.opts.deadLetterTopic,
        commandTopics: this.opts.commandTopics,
        definition: this.opts.definition,
        codec: this.opts.codec,
        kafka: this.opts.kafka,
        admin: this.opts.admin,
        consumer: this.consumer,
        openStore: async (partition) => {
          await this.closing.get(partition);
          return this.opts.openStore(partition);
        },
        changelogReader: this.changelogReader,
        logger: this.opts.logger,
        metrics: this.metrics,
        stillOwned: (partition) => this.stillOwned(partition),
        ...(this.opts.beforeCommit ? { beforeCommit: this.opts.beforeCommit } : {}),
      });
      this.tasks.set(p, task);
      this.log.info({ partition: p }, 'partition assigned');
      task.start().catch((err: unknown) => task.onStartFailure(err));
    }
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
      if (task.state !== 'ready') return { kind: 'restoring', partition };
      return { kind: 'local', saga: await task.getSaga(sagaId) };
    }
    let owner: { memberId: string; url: string } | undefined;
    try {
      owner = (await this.ownerMap(false)).get(partition);
      if (!owner || owner.memberId === this.memberId) owner = (await this.ownerMap(true)).get(partition);
    } catch (err) {
      // The group cannot be described (broker unreachable): no owner is known, which the
      // API answers with 503 and Retry-After rather than an internal error.
      this.log.debug({ err, partition }, 'owner lookup failed');
      return { kind: 'no-owner', partition };
    }
    if (!owner || owner.memberId === this.memberId) return { kind: 'no-owner', partition };
    return { kind: 'remote', url: owner.url, partition };
  }

  private async stillOwned(partition: number): Promise<boolean> {
    const owner = (await this.ownerMap(true)).get(partition);
    return owner !== undefined && owner.memberId === this.memberId;
  }

  /** partition -> owner, read from the group's member metadata and assignments. */
  private async ownerMap(fresh: boolean): Promise<Map<number, { memberId: string; url: string }>> {
    const maxAge = fresh ? 1_000 : 30_000;
    if (this.owners && Date.now() - this.owners.at < maxAge) return this.owners.byPartition;
    this.ownersRefresh ??= this.refreshOwners().finally(() => {
      this.ownersRefresh = undefined;
    });
    await this.ownersRefresh;
    return this.owners?.byPartition ?? new Map();
  }

  private async refreshOwners(): Promise<void> {
    const { groups } = await this.opts.admin.describeGroups([this.opts.applicationId]);
    const byPartition = new Map<number, { memberId: string; url: string }>();
    for (const member of groups[0]?.members ?? []) {
      const decoded = decodeMember(member.memberMetadata, member.memberAssignment);
      if (!decoded) continue;
      const { info, assignment } = decoded;
      for (const p of assignment.assignment[this.opts.eventsTopic] ?? []) {
        byPartition.set(p, { memberId: member.memberId, url: info.url });
      }
    }
    this.owners = { at: Date.now(), byPartition };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch(() => undefined);
    await Promise.all([...this.tasks.values()].map((t) => t.close()));
    this.tasks.clear();
  }
}
