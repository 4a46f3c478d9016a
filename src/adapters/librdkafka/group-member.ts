import { randomUUID } from 'node:crypto';
import type { KafkaConsumer, LibrdKafkaError, Message } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { BrokerClientConfig, GroupListener, GroupMember, GroupMemberOptions, TopicPartition } from '../../broker/ports.ts';
import type { InputRecord, RecordHeaders, TopicPartitionOffset } from '../../broker/records.ts';
import { RepeatedWarnings } from '../../broker/repeated-warnings.ts';
import type { LibrdkafkaTopicAdmin } from './admin.ts';
import { clusterConfig, routeLogs } from './config.ts';
import { RD, classifyRdkafkaError, classifyRdkafkaEvent, rdCall } from './errors.ts';
import { InstanceDirectory } from './directory.ts';
import { parseGroupStats, stuckLimitMs, stuckOutsideGroup } from './group-watch.ts';
import { rdkafka } from './native.ts';

/** What the typings of the binding leave out (lib/kafka-consumer.js has them). */
export interface CooperativeConsumer {
  /** `offset`: where to start reading (a consumer outside any group, which has no committed position). */
  incrementalAssign(assignments: (TopicPartition & { offset?: number })[]): void;
  incrementalUnassign(assignments: TopicPartition[]): void;
  assignmentLost(): boolean;
  commitCb(toppars: { topic: string; partition: number; offset: number }[], cb: (err: LibrdKafkaError | null) => void): void;
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
}

export function rdHeaders(headers: Message['headers']): RecordHeaders {
  const out: RecordHeaders = {};
  for (const h of headers ?? []) {
    for (const [k, v] of Object.entries(h)) out[k] = typeof v === 'string' ? Buffer.from(v) : v;
  }
  return out;
}

export function toInputRecord(m: Message): InputRecord {
  const key = m.key === undefined || m.key === null ? null : typeof m.key === 'string' ? Buffer.from(m.key) : (m.key as Buffer);
  return { topic: m.topic, partition: m.partition, offset: BigInt(m.offset), key, value: m.value, headers: rdHeaders(m.headers), timestamp: m.timestamp ?? 0 };
}

const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/** How often librdkafka reports its statistics, which carry the group state the watchdog reads. */
const STATS_INTERVAL_MS = 5_000;

/** The consumers whose connect was called: only those may be disconnected (see `disconnect`). */
const connectCalled = new WeakSet<KafkaConsumer>();

/**
 * Disconnects a consumer; one that was never connected only calls back. The binding's
 * disconnect of a consumer that never connected removes a rebalance callback it never
 * registered through a null pointer (config.cc: `if (rebalance == NULL)
 * rebalance->dispatcher.RemoveCallback(cb)`), and the process dies by SIGSEGV: seen when an
 * instance's start failed before the member's consumer connected (the instance directory
 * could not start during network faults) and the cleanup of the failed start stopped the member.
 */
function disconnect(consumer: KafkaConsumer, done: () => void): void {
  if (!connectCalled.has(consumer)) {
    done();
    return;
  }
  try {
    consumer.disconnect(() => done());
  } catch {
    // not connected any more
    done();
  }
}

function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.min(1_000, Math.floor(sessionTimeoutMs / 3));
}

/** Disconnects a consumer being replaced, without waiting for it (it may be wedged). */
function closeInBackground(consumer: KafkaConsumer): void {
  disconnect(consumer, () => undefined);
}

/**
 * A librdkafka consumer-group member: cooperative-sticky rebalancing (KIP-429) with a
 * rebalance callback whose work the rebalance waits for: assigned partitions are added (and,
 * for the engine, paused) before the listener hears of them; revoked ones are handed to the
 * listener, which commits or drops its work, before they are given up. read_committed, which
 * in librdkafka also makes OffsetFetch `require_stable` (KIP-447), so a committed position is
 * never read while a transaction that moves it is still open.
 */
export class LibrdkafkaGroupMember implements GroupMember {
  readonly groupId: string;
  /** Replaced when librdkafka's group state is stuck (see `recreate`): read it each time. */
  consumer: KafkaConsumer;
  private readonly config: BrokerClientConfig;
  private readonly opts: GroupMemberOptions;
  private readonly log: Logger;
  private readonly repeated: RepeatedWarnings;
  private readonly admin: () => Promise<LibrdkafkaTopicAdmin>;
  private readonly token = randomUUID().slice(0, 8);
  private listener: GroupListener | undefined;
  private readonly owned = new Map<string, TopicPartition>();
  private joined = false;
  private rebalancing: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private fatal = false;
  /** Where members publish their HTTP address and partitions (members that advertise one). */
  private readonly directory: InstanceDirectory | undefined;
  /** End-of-partition events of the consume call in progress (emitted before its records are returned). */
  private ends: { topic: string; partition: number; position: bigint }[] = [];
  /** A consumer replacement in progress (see `recreate`), and the consumer it replaces. */
  private recreating: Promise<void> | undefined;
  private retired: KafkaConsumer | undefined;
  /** How many times the consumer was recreated (tests and logs). */
  recreations = 0;
  /** Whether a consume call is under way, and when the last one ended (see assignmentUnconfirmed). */
  private consuming = false;
  private consumedAt = Date.now();
  /** Lost revocations librdkafka delivered that the listener has not finished hearing. */
  private lossesPending = 0;

  constructor(config: BrokerClientConfig, opts: GroupMemberOptions, admin: () => Promise<LibrdkafkaTopicAdmin>) {
    this.opts = opts;
    this.groupId = opts.groupId;
    this.admin = admin;
    this.log = config.logger.child({ component: 'group-member', client: 'librdkafka' });
    this.repeated = new RepeatedWarnings((fields, msg) => this.log.warn(fields, msg));
    if (opts.advertisedUrl) this.directory = new InstanceDirectory(config, opts.groupId, admin);
    this.config = config;
    this.consumer = this.makeConsumer();
  }

  private makeConsumer(): KafkaConsumer {
    const { config, opts } = this;
    const { KafkaConsumer } = rdkafka();
    const consumer: KafkaConsumer = new KafkaConsumer(
      {
        ...clusterConfig({ ...config, clientId: `${config.clientId}-${this.token}` }),
        'group.id': opts.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        'partition.assignment.strategy': 'cooperative-sticky',
        'session.timeout.ms': opts.sessionTimeoutMs ?? 30_000,
        // Members learn of a rebalance from a heartbeat answer, and a cooperative rebalance
        // takes two rounds: a shorter interval than librdkafka's 3 s hands partitions over faster.
        'heartbeat.interval.ms': heartbeatIntervalMs(opts.sessionTimeoutMs ?? 30_000),
        'fetch.wait.max.ms': opts.maxWaitMs ?? 100,
        // Bound librdkafka's prefetch (its default queue is 64 MB per partition group): RSS.
        'queued.max.messages.kbytes': 16_384,
        'fetch.max.bytes': 16 * 1024 * 1024,
        'max.poll.interval.ms': opts.maxProcessingMs ?? 300_000,
        // End-of-partition events: a relay commits the read_committed end (markers included).
        'enable.partition.eof': true,
        // The group state for the watchdog (see group-watch.ts).
        'statistics.interval.ms': STATS_INTERVAL_MS,
        rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => this.onRebalance(consumer, err, assignment),
      },
      { 'auto.offset.reset': opts.fromBeginning ? 'earliest' : 'latest' },
    );
    routeLogs(consumer, config);
    return consumer;
  }

  async start(listener: GroupListener): Promise<void> {
    this.listener = listener;
    await this.directory?.start();
    await this.open(this.consumer);
  }

  /** Connects and subscribes a (new) consumer and starts its consume loop. */
  private async open(consumer: KafkaConsumer): Promise<void> {
    consumer.on('event.error', (err) => {
      const e = classifyRdkafkaEvent(err);
      // librdkafka retries connections by itself; refused credentials or permissions will
      // not pass by retrying, so the member stops for good.
      if (e.kind === 'permanent' && (e.reason === 'authentication' || e.reason === 'authorization')) this.fail(e);
      else this.repeated.warn(e.message, { err: e.message }, 'librdkafka reported an error; it retries');
    });
    const limitMs = stuckLimitMs(this.opts.sessionTimeoutMs ?? 30_000);
    consumer.on('event.stats', (event: unknown) => {
      if (consumer !== this.consumer || consumer === this.retired || this.stopping || this.recreating) return;
      const text = typeof event === 'string' ? event : String((event as { message?: unknown } | null)?.message ?? '');
      const stats = parseGroupStats(text);
      if (stats && stuckOutsideGroup(stats, limitMs)) void this.recreate(`librdkafka's group state is ${stats.state}/${stats.joinState} for ${stats.stateAgeMs} ms`);
    });
    connectCalled.add(consumer);
    await rdCall((cb) => consumer.connect({ timeout: 30_000 }, (err) => cb(err)));
    consumer.setDefaultConsumeTimeout(this.opts.maxWaitMs ?? 100);
    (consumer as unknown as CooperativeConsumer).setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.on('partition.eof', (e) => {
      if (consumer !== this.retired) this.ends.push({ topic: e.topic, partition: e.partition, position: BigInt(e.offset) });
    });
    consumer.subscribe([...this.opts.topics]);
    this.loop = this.consumeLoop(consumer);
  }

  /**
   * Replaces a consumer that librdkafka left outside its group (see group-watch.ts): its
   * partitions are handed to the listener as lost (their work is dropped; another member, or
   * this one again, restores them), the old consumer is closed without waiting for it, and a
   * new one joins with the same settings.
   */
  recreate(reason: string): Promise<void> {
    this.recreating ??= (async () => {
      this.log.warn({ reason, recreations: this.recreations + 1 }, 'librdkafka consumer outside its group; recreating it');
      const old = this.consumer;
      // Its loop ends after the consume call in progress; pause, resume and commits keep going
      // to it until its partitions are given up below.
      this.retired = old;
      await this.loop?.catch(() => undefined);
      await this.rebalancing;
      const owned = [...this.owned.values()];
      this.owned.clear();
      if (owned.length > 0) await this.listener?.onRevoked(owned, true).catch((err: unknown) => this.log.warn({ err }, 'revocation before recreating the consumer failed'));
      this.publish();
      closeInBackground(old);
      this.consumer = this.makeConsumer();
      this.recreations += 1;
      if (!this.stopping) await this.open(this.consumer);
    })()
      .catch((err: unknown) => this.log.error({ err }, 'recreating the consumer failed'))
      .finally(() => {
        this.recreating = undefined;
      });
    return this.recreating;
  }

  private fail(err: ReturnType<typeof classifyRdkafkaError>): void {
    if (this.fatal || this.stopping) return;
    this.fatal = true;
    this.listener?.onFatal(err);
  }

  /** One consume call at a time, each batch handed to the listener before the next is read. */
  private async consumeLoop(consumer: KafkaConsumer): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.fatal && consumer !== this.retired) {
      let messages: Message[];
      this.ends = [];
      try {
        this.consuming = true;
        messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(1_000, (err, m) => (err ? reject(err) : resolve(m ?? [])))).finally(() => {
          this.consuming = false;
          this.consumedAt = Date.now();
        });
        failures = 0;
      } catch (err) {
        const e = classifyRdkafkaError(err);
        if (e.kind === 'permanent' && (e.reason === 'authentication' || e.reason === 'authorization')) return this.fail(e);
        failures += 1;
        if (failures === 1 || failures % 50 === 0) this.log.warn({ err: e.message, failures }, 'consume failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * failures)));
        continue;
      }
      const ends = this.ends;
      const listener = this.listener;
      if (!listener || consumer === this.retired) continue;
      const records: InputRecord[] = [];
      for (const m of messages) if (this.owned.has(tpKey(m))) records.push(toInputRecord(m));
      if (records.length > 0) {
        await listener.onRecords(records).catch((err: unknown) => this.log.error({ err }, 'record handling failed'));
      }
      if (listener.onCaughtUp) {
        for (const end of ends) {
          if (this.owned.has(tpKey(end))) await listener.onCaughtUp(end, end.position).catch((err: unknown) => this.log.error({ err }, 'end-of-partition handling failed'));
        }
      }
    }
  }

  /**
   * The partitions given or taken, with their co-partitioned followers. The followers are not
   * subscribed to (no other member is given them), only assigned beside their leader, which
   * the group's offsets allow: an offset commit is checked against the member and its
   * generation, not against the partitions it was assigned.
   */
  private withFollowers(assignment: readonly TopicPartition[]): TopicPartition[] {
    const all = new Map<string, TopicPartition>();
    const leader = this.opts.topics[0];
    for (const a of assignment) {
      all.set(tpKey(a), { topic: a.topic, partition: a.partition });
      if (a.topic !== leader) continue;
      for (const topic of this.opts.coPartitioned ?? []) all.set(tpKey({ topic, partition: a.partition }), { topic, partition: a.partition });
    }
    return [...all.values()];
  }

  private onRebalance(of: KafkaConsumer, err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const partitions = this.withFollowers(assignment);
    const consumer = of as unknown as CooperativeConsumer;
    if (of !== this.consumer) {
      // A replaced consumer (see `recreate`), being closed: only what librdkafka waits for.
      try {
        if (err.code === RD.REVOKE_PARTITIONS) consumer.incrementalUnassign(partitions);
      } catch {
        // not connected any more
      }
      return;
    }
    const lost = consumer.assignmentLost();
    // Counted at once, not when the chain below gets to it: until the listener has dropped
    // these partitions, reads of them must not pass for the owner's.
    const pendingLoss = lost && err.code === RD.REVOKE_PARTITIONS;
    if (pendingLoss) this.lossesPending += 1;
    this.rebalancing = this.rebalancing
      .then(async () => {
        if (err.code === RD.ASSIGN_PARTITIONS) {
          consumer.incrementalAssign(partitions);
          if (this.opts.holdAssigned && partitions.length > 0) this.consumer.pause(partitions);
          for (const tp of partitions) this.owned.set(tpKey(tp), tp);
          this.joined = true;
          this.publish();
          if (partitions.length > 0) await this.listener?.onAssigned(partitions);
        } else if (err.code === RD.REVOKE_PARTITIONS) {
          // The rebalance waits for this: the listener commits (or, lost, drops) the work of
          // these partitions before they are given up.
          const mine = partitions.filter((tp) => this.owned.has(tpKey(tp)));
          for (const tp of partitions) this.owned.delete(tpKey(tp));
          if (mine.length > 0) await this.listener?.onRevoked(mine, lost);
          consumer.incrementalUnassign(partitions);
          this.publish();
        } else {
          this.log.error({ code: err.code, message: err.message }, 'rebalance failed');
        }
      })
      .finally(() => {
        if (pendingLoss) this.lossesPending -= 1;
      })
      .catch((e: unknown) => {
        this.log.error({ err: e }, 'rebalance handling failed');
        try {
          if (err.code === RD.REVOKE_PARTITIONS) consumer.incrementalUnassign(partitions);
        } catch {
          // not connected any more
        }
      });
  }

  /** This member's partitions, as the directory should show them now. */
  private publish(): void {
    // Once stopping, stop() writes the leave claim itself; the revocation that disconnecting
    // triggers must not write a claim after it (with the directory's producer already gone).
    if (this.stopping) return;
    void this.directory?.claim(this.token, this.opts.advertisedUrl, [...this.owned.values()]);
  }

  pause(partitions: readonly TopicPartition[]): void {
    const mine = partitions.filter((tp) => this.owned.has(tpKey(tp)));
    if (mine.length > 0) this.consumer.pause(mine.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
  }

  resume(partitions: readonly TopicPartition[]): void {
    const mine = partitions.filter((tp) => this.owned.has(tpKey(tp)));
    if (mine.length > 0) this.consumer.resume(mine.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
  }

  async seek(position: TopicPartitionOffset): Promise<void> {
    await rdCall((cb) => this.consumer.seek({ topic: position.topic, partition: position.partition, offset: Number(position.offset) }, 10_000, (err) => cb(err)));
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(bigint | undefined)[]> {
    const list = await rdCall<{ topic: string; partition: number; offset: number }[]>((cb) =>
      this.consumer.committed(
        partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
        30_000,
        cb,
      ),
    );
    const found = new Map(list.map((tp) => [tpKey(tp), tp.offset]));
    return partitions.map((tp) => {
      const offset = found.get(tpKey(tp));
      // librdkafka answers -1001 (OFFSET_INVALID) where nothing is committed.
      return offset === undefined || offset < 0 ? undefined : BigInt(offset);
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await rdCall((cb) => (this.consumer as unknown as CooperativeConsumer).commitCb(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })), (err) => cb(err)));
  }

  /**
   * librdkafka notices a lost session by itself (no successful heartbeat for the session
   * timeout) but hands the revocation over only from a consume call: while the listener holds
   * a batch longer than a heartbeat interval (a commit waiting for a broker it cannot reach),
   * a loss may be waiting undelivered, and the task would go on answering reads from a store
   * the new owner has moved past. A lost revocation delivered and not yet through the
   * listener counts too.
   */
  assignmentUnconfirmed(): boolean {
    if (this.owned.size === 0) return false;
    if (this.lossesPending > 0) return true;
    return !this.consuming && Date.now() - this.consumedAt > heartbeatIntervalMs(this.opts.sessionTimeoutMs ?? 30_000);
  }

  /** This member's token in the instance directory; librdkafka's own member id is not exposed. */
  memberId(): string | undefined {
    return this.joined ? this.token : undefined;
  }

  /** From the instance directory (see directory.ts for why not DescribeGroups). */
  async owners(topic: string): Promise<Map<number, { memberId: string; url: string }>> {
    if (!this.directory) return new Map();
    await this.directory.caughtUp();
    return this.directory.owners(topic);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.recreating;
    await this.loop?.catch(() => undefined);
    await this.rebalancing;
    // Commit and close while still a member of the generation, then leave: the partitions
    // move at once, without waiting for the session timeout.
    const owned = [...this.owned.values()];
    this.owned.clear();
    if (owned.length > 0) await this.listener?.onRevoked(owned, false).catch((err: unknown) => this.log.warn({ err }, 'revocation on stop failed'));
    await this.directory?.claim(this.token, this.opts.advertisedUrl, null);
    await this.directory?.stop();
    await new Promise<void>((resolve) => disconnect(this.consumer, resolve));
  }
}
