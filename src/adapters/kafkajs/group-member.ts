import { AssignerProtocol } from 'kafkajs';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { GroupListener, GroupMember, GroupMemberOptions, TopicPartition } from '../../broker/ports.ts';
import type { InputRecord, TopicPartitionOffset } from '../../broker/records.ts';
import { decodeMemberInfo, stickyAdvertisingAssigner } from './assigner.ts';
import type { MemberInfo } from './assigner.ts';
import { kafkajsHeaders } from './changelog-reader.ts';
import { withDeadline } from '../../deadline.ts';
import { classifyKafkajsError, kafkajsCall } from './errors.ts';

/**
 * A member's advertised address and assignment as DescribeGroups reports them. While the group
 * rebalances the broker sends both empty (it reports them only for a Stable group), and a
 * member of another client may send anything: such members own nothing we can use.
 */
function decodeMember(
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

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/** kafkajs' default rebalance timeout (the consumer is created without one). */
const KAFKAJS_REBALANCE_TIMEOUT_MS = 60_000;
/** How long a restart waits for the old consumer to disconnect before going on. */
const DISCONNECT_WAIT_MS = 15_000;

function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.min(3_000, Math.floor(sessionTimeoutMs / 3));
}

/**
 * A kafkajs consumer-group member. kafkajs has no rebalance callbacks: gains and losses are
 * the difference between the assignments of two GROUP_JOIN events, reported after the join
 * (the engine's v1 fencing makes that safe: a partition's new owner fences the old one's
 * transactional id). Its sticky assignor advertises the HTTP address and the owned partitions
 * in the member metadata, so a rebalance moves only what it must. Partitions gained are
 * paused at once; the engine resumes them once restored.
 */
export class KafkajsGroupMember implements GroupMember {
  readonly groupId: string;
  private readonly admin: () => Promise<Admin>;
  private readonly opts: GroupMemberOptions;
  private readonly log: Logger;
  private readonly consumer: Consumer;
  private listener: GroupListener | undefined;
  private owned = new Map<string, TopicPartition>();
  private id: string | undefined;
  /** Revocations and assignments are delivered in join order, one after the other. */
  private changes: Promise<void> = Promise.resolve();
  private stopping = false;
  /** How many times the consumer was restarted (a crash kafkajs gave up on, or a session it lost without noticing). */
  restarts = 0;
  private restarting = false;
  /** When the group coordinator last answered this member (heartbeat, join), and whether a join is under way. */
  private heardAt = Date.now();
  private joining = false;
  private sessionWatch: NodeJS.Timeout | undefined;

  constructor(kafka: Kafka, admin: () => Promise<Admin>, opts: GroupMemberOptions, logger: Logger) {
    this.admin = admin;
    this.opts = opts;
    this.groupId = opts.groupId;
    this.log = logger.child({ component: 'group-member', client: 'kafkajs' });
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      partitionAssigners: [
        stickyAdvertisingAssigner(() => {
          const owned: Record<string, number[]> = {};
          for (const tp of this.owned.values()) (owned[tp.topic] ??= []).push(tp.partition);
          return { url: opts.advertisedUrl, owned };
        }, opts.coPartitioned?.length ? { leader: opts.topics[0] ?? '', followers: opts.coPartitioned } : undefined),
      ],
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: heartbeatIntervalMs(opts.sessionTimeoutMs ?? 30_000),
      maxWaitTimeInMs: opts.maxWaitMs ?? 100,
    });
  }

  async start(listener: GroupListener): Promise<void> {
    this.listener = listener;
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.heard();
      this.onJoin(e.payload.memberId, e.payload.memberAssignment);
    });
    consumer.on(consumer.events.HEARTBEAT, () => this.heard());
    consumer.on(consumer.events.REBALANCING, () => {
      this.heardAt = Date.now();
      this.joining = true;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (e.payload.restart || this.stopping) return;
      // kafkajs restarts the consumer after retriable failures only, and counts some that a
      // broker restart causes as final (KafkaJSGroupCoordinatorNotFound, tulios/kafkajs#1630):
      // anything but refused credentials or permissions is retried here.
      const err = classifyKafkajsError(e.payload.error);
      if (err.kind === 'permanent') listener.onFatal(err);
      else void this.restart();
    });
    await kafkajsCall(async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: [...this.opts.topics, ...(this.opts.coPartitioned ?? [])], fromBeginning: this.opts.fromBeginning });
    });
    await this.run();
    this.watchSession();
  }

  /**
   * The coordinator has not answered for all but one heartbeat interval of the time it waits
   * before giving the partitions away (the session timeout; in a join, its rebalance timeout):
   * they may be gone before the next answer. The watch below reports them lost once they are.
   */
  assignmentUnconfirmed(): boolean {
    const sessionMs = this.opts.sessionTimeoutMs ?? 30_000;
    const waitsMs = this.joining ? KAFKAJS_REBALANCE_TIMEOUT_MS : sessionMs;
    return this.owned.size > 0 && Date.now() - this.heardAt > waitsMs - heartbeatIntervalMs(sessionMs);
  }

  private heard(): void {
    this.heardAt = Date.now();
    this.joining = false;
  }

  /**
   * kafkajs learns that its session expired only from the coordinator's next answer: a member
   * cut off from it (or whose consumer loop stopped heartbeating) keeps believing it owns its
   * partitions, and the instance kept serving reads of them from a store that no longer moved
   * while another member processed them (network-fault test: revision 9 served after revision
   * 73). Past the session timeout without an answer the coordinator has, or may have, given
   * them away: they are reported lost and the consumer restarted, which rejoins. A join under
   * way waits for the coordinator up to its rebalance timeout, so it gets that much longer.
   */
  private watchSession(): void {
    const sessionMs = this.opts.sessionTimeoutMs ?? 30_000;
    const tickMs = Math.min(1_000, Math.max(50, Math.floor(sessionMs / 4)));
    let lastTick = Date.now();
    let graceUntil = 0;
    this.sessionWatch = setInterval(() => {
      const now = Date.now();
      // A late tick: the process itself was not running (paused, or its event loop blocked),
      // and so neither were kafkajs' heartbeats. kafkajs gets one heartbeat interval to hear
      // from the coordinator itself (a zombie's fenced commit is then handled as such).
      if (now - lastTick > 3 * tickMs) graceUntil = now + heartbeatIntervalMs(sessionMs);
      lastTick = now;
      if (this.stopping || this.restarting || this.owned.size === 0 || now < graceUntil) return;
      const silentMs = now - this.heardAt;
      const limitMs = this.joining ? KAFKAJS_REBALANCE_TIMEOUT_MS + sessionMs : sessionMs;
      if (silentMs <= limitMs) return;
      this.log.warn({ silentMs, sessionTimeoutMs: sessionMs, joining: this.joining, partitions: this.owned.size }, 'no answer from the group coordinator past the session timeout; the partitions are treated as lost and the consumer restarted');
      void this.restart();
    }, tickMs);
    this.sessionWatch.unref();
  }

  private run(): Promise<void> {
    return kafkajsCall(() =>
      this.consumer.run({
        autoCommit: false,
        // Positions advance past each delivered batch; what is committed is the engine's business.
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 64,
        eachBatch: async ({ batch, isStale, heartbeat }) => {
          if (isStale() || batch.messages.length === 0) return;
          const { topic, partition } = batch;
          if (!this.owned.has(key({ topic, partition }))) return;
          // kafkajs heartbeats only between batches: a listener that takes long (a sink being
          // retried) would otherwise lose the group's partitions to the session timeout.
          const beat = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
          const records: InputRecord[] = batch.messages.map((m) => ({
            topic,
            partition,
            offset: BigInt(m.offset),
            key: m.key,
            value: m.value,
            headers: kafkajsHeaders(m.headers),
            timestamp: Number(m.timestamp),
          }));
          try {
            await this.listener?.onRecords(records);
            // lastOffset() counts a trailing commit marker too: the read_committed end reached.
            if (!isStale() && this.owned.has(key({ topic, partition }))) await this.listener?.onCaughtUp?.({ topic, partition }, BigInt(batch.lastOffset()) + 1n);
          } finally {
            clearInterval(beat);
          }
        },
      }),
    );
  }

  private onJoin(memberId: string, assignment: Record<string, number[] | undefined>): void {
    // A new member id: the coordinator forgot this member (its session expired while the
    // process was paused or cut off), so every partition it held may have been processed by
    // another member since. They are lost, not revoked: nothing of them is committed on the
    // way out, and the ones assigned again start over from what is committed.
    const expired = this.id !== undefined && this.id !== memberId;
    this.id = memberId;
    const now = new Map<string, TopicPartition>();
    for (const topic of [...this.opts.topics, ...(this.opts.coPartitioned ?? [])]) for (const partition of assignment[topic] ?? []) now.set(key({ topic, partition }), { topic, partition });
    const removed = [...this.owned].filter(([k]) => expired || !now.has(k)).map(([, tp]) => tp);
    const added = [...now].filter(([k]) => expired || !this.owned.has(k)).map(([, tp]) => tp);
    this.owned = now;
    if (expired) this.log.warn({ memberId, partitions: removed.length }, 'the group forgot this member (session expired); its partitions are lost');
    // Paused before the consumer's first fetch after the join: nothing of them is delivered
    // until the engine has restored and resumes them.
    if (added.length > 0 && this.opts.holdAssigned) this.pause(added);
    const listener = this.listener;
    if (!listener) return;
    this.changes = this.changes
      .then(async () => {
        if (removed.length > 0) await listener.onRevoked(removed, expired);
        if (added.length > 0) await listener.onAssigned(added);
      })
      .catch((err: unknown) => this.log.error({ err }, 'rebalance handling failed'));
  }

  /**
   * After a crash kafkajs does not recover from: the partitions may move while this member is
   * away, so they are reported lost (the engine stops processing them and reads nothing more
   * from their stores) and are regained through the next join. Retries with backoff.
   */
  private async restart(): Promise<void> {
    if (this.restarting) return;
    this.restarting = true;
    try {
      await this.restartConsumer();
    } finally {
      this.restarting = false;
      this.heardAt = Date.now();
      this.joining = false;
    }
  }

  private async restartConsumer(): Promise<void> {
    this.restarts += 1;
    const lost = [...this.owned.values()];
    this.owned = new Map();
    this.id = undefined;
    const listener = this.listener;
    if (listener && lost.length > 0) {
      this.changes = this.changes.then(() => listener.onRevoked(lost, true)).catch((err: unknown) => this.log.error({ err }, 'revocation after a crash failed'));
    }
    for (let attempt = 0; !this.stopping; attempt += 1) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * 2 ** attempt)));
      if (this.stopping) return;
      try {
        // kafkajs has disconnected it; a failed run leaves it half started, so stop it first.
        // A consumer whose loop stopped may never finish disconnecting: bounded.
        await withDeadline(this.consumer.disconnect(), DISCONNECT_WAIT_MS, () => new Error('disconnect did not finish')).catch(() => undefined);
        await kafkajsCall(() => this.consumer.connect());
        await this.run();
        this.log.warn({ attempt }, 'consumer restarted');
        return;
      } catch (err) {
        this.log.warn({ err, attempt }, 'consumer restart failed; retrying');
      }
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const [topic, list] of byTopic(partitions)) this.consumer.pause([{ topic, partitions: list }]);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const [topic, list] of byTopic(partitions)) this.consumer.resume([{ topic, partitions: list }]);
  }

  async seek(position: TopicPartitionOffset): Promise<void> {
    this.consumer.seek({ topic: position.topic, partition: position.partition, offset: position.offset.toString() });
  }

  /**
   * kafkajs' OffsetFetch has no require_stable: the positions are stable only because the
   * engine fenced the partition's transactional id first (v1).
   */
  committed(partitions: readonly TopicPartition[]): Promise<(bigint | undefined)[]> {
    return kafkajsCall(async () => {
      const topics = [...new Set(partitions.map((p) => p.topic))];
      const fetched = await (await this.admin()).fetchOffsets({ groupId: this.groupId, topics });
      const found = new Map<string, bigint>();
      for (const t of fetched) for (const p of t.partitions) if (p.offset !== '-1' && p.offset !== '') found.set(key({ topic: t.topic, partition: p.partition }), BigInt(p.offset));
      return partitions.map((tp) => found.get(key(tp)));
    });
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return kafkajsCall(() => this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() }))));
  }

  memberId(): string | undefined {
    return this.id;
  }

  owners(topic: string): Promise<Map<number, { memberId: string; url: string }>> {
    return kafkajsCall(async () => {
      const { groups } = await (await this.admin()).describeGroups([this.groupId]);
      const byPartition = new Map<number, { memberId: string; url: string }>();
      for (const member of groups[0]?.members ?? []) {
        const decoded = decodeMember(member.memberMetadata, member.memberAssignment);
        if (!decoded) continue;
        for (const p of decoded.assignment.assignment[topic] ?? []) byPartition.set(p, { memberId: member.memberId, url: decoded.info.url });
      }
      return byPartition;
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sessionWatch);
    // Stop fetching (the batch in progress finishes), let the engine commit and close what it
    // holds, then leave the group so the partitions move at once.
    await this.consumer.stop().catch(() => undefined);
    await this.changes;
    const owned = [...this.owned.values()];
    this.owned = new Map();
    if (owned.length > 0) await this.listener?.onRevoked(owned, false).catch((err: unknown) => this.log.warn({ err }, 'revocation on stop failed'));
    await this.consumer.disconnect().catch(() => undefined);
  }
}

function byTopic(partitions: readonly TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    let list = out.get(topic);
    if (!list) out.set(topic, (list = []));
    list.push(partition);
  }
  return out;
}
