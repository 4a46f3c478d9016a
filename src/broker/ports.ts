import type { Logger } from 'pino';
import type { BrokerError } from './errors.ts';
import type { InputRecord, OutputRecord, TopicPartitionOffset } from './records.ts';

// The engine's view of Kafka: what it needs from a client, nothing of how a client does it.
// Each adapter (src/adapters/<client>/) implements these ports; one conformance suite
// (test/integration/broker/) runs them all against the real broker. Every failure an adapter
// lets out is a BrokerError (errors.ts), classified where it left the client.

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** What a group member tells the engine. Every callback is awaited before the member goes on. */
export interface GroupListener {
  /**
   * Partitions given to this member. With `holdAssigned` they stay paused until the listener
   * resumes them, so the engine can fence, read the committed position and restore first;
   * without, they are read from their committed position (or the start, see `fromBeginning`).
   * The listener must register the partitions before its first `await` (records may follow).
   */
  onAssigned(partitions: readonly TopicPartition[]): Promise<void>;
  /**
   * Partitions taken away. Not lost: the member still belongs to the generation, so the
   * engine may commit what it holds for them before returning. Lost (the member was expelled,
   * e.g. it missed its session timeout): another member may own them already; anything
   * committed now would be fenced, so the engine drops its work.
   */
  onRevoked(partitions: readonly TopicPartition[], lost: boolean): Promise<void>;
  /** Records fetched, possibly of several partitions, each partition's in offset order. */
  onRecords(records: readonly InputRecord[]): Promise<void>;
  /**
   * The member has delivered everything of the partition before `position`, a read_committed
   * end: commit markers and aborted records included, which no record stands for. Called
   * after the `onRecords` that delivered the last of them. A relay commits it so that a
   * caught-up group shows no lag.
   */
  onCaughtUp?(partition: TopicPartition, position: bigint): Promise<void>;
  /** The member stopped for good (refused credentials, authorization); it will not recover. */
  onFatal(err: BrokerError): void;
}

export interface GroupMemberOptions {
  groupId: string;
  topics: readonly string[];
  /**
   * Topics with as many partitions as `topics[0]`, read along with it: partition p of each
   * goes to the member that owns partition p of `topics[0]`, and is assigned, paused, resumed
   * and revoked with it (Kafka Streams' co-partitioned sources of one task). The engine reads
   * every input topic of a saga.json this way.
   */
  coPartitioned?: readonly string[];
  /** This instance's HTTP address, published to the group for interactive queries. */
  advertisedUrl: string;
  /** Where a partition with no committed offset starts. */
  fromBeginning: boolean;
  /** Keep assigned partitions paused until the listener resumes them (the engine does). */
  holdAssigned?: boolean;
  sessionTimeoutMs?: number;
  /** Largest wait for records before `onRecords` is called with what has arrived. */
  maxWaitMs?: number;
  /** Longest a listener call may take before the member is considered stuck and leaves (default 5 min). */
  maxProcessingMs?: number;
}

/** A consumer-group member reading committed records (read_committed). */
export interface GroupMember {
  readonly groupId: string;
  start(listener: GroupListener): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** The next record of the partition will be `offset`. */
  seek(position: TopicPartitionOffset): Promise<void>;
  /**
   * The group's committed positions, stable: no transaction that commits offsets for them is
   * still open (KIP-447 `require_stable`, or a v1 fence done before). undefined: none committed.
   */
  committed(partitions: readonly TopicPartition[]): Promise<(bigint | undefined)[]>;
  /** Commits positions outside any transaction (relays: projection, outbox). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** This member's id in the current generation; undefined until it joined. */
  memberId(): string | undefined;
  /**
   * True while the member cannot vouch that the partitions it holds are still its own: it may
   * have lost them (its session expired, cut off from the coordinator) without the listener
   * having heard of it yet. librdkafka hands a loss over from its consume call only, so one
   * listener call that takes long (a commit waiting for an unreachable broker) hides it;
   * kafkajs learns of the coordinator through heartbeats, which stop when it is cut off. The
   * engine answers reads of such partitions from its store marked possibly stale: another
   * member may be moving them on.
   */
  assignmentUnconfirmed(): boolean;
  /** Who owns each partition of `topic` now, and the HTTP address that member published. */
  owners(topic: string): Promise<Map<number, { memberId: string; url: string }>>;
  /** Leaves the group (revoking its partitions through the listener first when it can). */
  stop(): Promise<void>;
}

/**
 * A transactional producer. One transaction at a time: `begin`, any number of `send` and
 * `sendOffsets`, then `commit` or `abort`. Nothing of a transaction is visible to
 * read_committed readers before its commit, nothing of an aborted one ever.
 */
export interface TxWriter {
  readonly transactionalId: string;
  begin(): Promise<void>;
  /**
   * Adds records to the open transaction. Resolves with the offset each record got, in the
   * order given, once the broker acknowledged them (at the latest when `commit` resolves).
   */
  send(records: readonly OutputRecord[]): Promise<bigint[]>;
  /**
   * Commits consumer positions with the transaction. Where the client can (v2), the member's
   * group metadata travels along (KIP-447), so a member fenced by a newer generation cannot
   * commit. Positions need not follow new input: a transaction that no record caused (a timer
   * firing) re-commits the positions it holds.
   */
  sendOffsets(offsets: readonly TopicPartitionOffset[], member: GroupMember): Promise<void>;
  /** Waits for every record sent to be acknowledged, then commits. */
  commit(): Promise<void>;
  abort(): Promise<void>;
  close(): Promise<void>;
}

export interface RestoreResult {
  records: number;
  /** Offset of the last record read, undefined when none was. */
  lastOffset: bigint | undefined;
  /** The read_committed end of the partition when the read began (a position, not a record). */
  end: bigint;
  /** The first offset still in the log. */
  low: bigint;
  durationMs: number;
}

/** Reads one partition of a (changelog) topic from an offset to its end, read_committed. */
export interface ChangelogReader {
  /**
   * `after`: the offset of the last record already applied, undefined to read from the start.
   * The end is a position: a transactional log ends with commit markers, which a
   * read_committed reader never receives as records.
   *
   * `signal` ends the read early (a bounded scan: the console's reads of a saga's events):
   * once it aborts, `onRecords` is not called again and the read resolves with what it
   * delivered until then (`lastOffset` says how far), the end as taken when it began.
   */
  readPartition(
    topic: string,
    partition: number,
    after: bigint | undefined,
    onRecords: (records: readonly InputRecord[]) => Promise<void>,
    opts?: { signal?: AbortSignal },
  ): Promise<RestoreResult>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Undefined: the broker's default. */
  replicationFactor?: number;
  config?: Record<string, string>;
}

export interface TopicAdmin {
  /** Partition counts of the topics that exist; missing topics are absent from the map. */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  /** Creates the topics; one that exists already (another instance won the race) is fine. */
  createTopics(specs: readonly TopicSpec[]): Promise<void>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** First offset and read_committed end (last stable offset) of each partition. */
  watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>>;
  /**
   * Per partition, the first offset whose record's timestamp is at or after `timestampMs`
   * (ListOffsets by timestamp, KIP-79), or the read_committed end where no record is that
   * late. Answered by the partition leaders, not the group coordinator.
   */
  offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>>;
  /**
   * The log end of each partition (read_uncommitted high watermark), past records of open
   * transactions. Only the librdkafka adapter has it (kafkajs lists read_committed only), and
   * only exactly-once v2 needs it: another instance's open transaction can hold the stable end
   * behind what this one committed. Under v1 the fence ends the previous owner's transaction
   * before a task restores, so the stable end is the log end.
   */
  logEndOffsets?(topic: string): Promise<Map<number, bigint>>;
  /** A group's committed positions on a topic (partitions without one are absent). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  /**
   * The members a consumer group has now (none: nobody consumes with it). Only the kafkajs
   * adapter has it: librdkafka's DescribeConsumerGroups can abort the process when a
   * connection drops (confluentinc/librdkafka#4605), so callers that need it use kafkajs.
   */
  groupMembers?(groupId: string): Promise<{ memberId: string; clientId: string; host: string }[]>;
  /**
   * Each topic's effective `max.message.bytes` (its own, else the broker's default): the
   * largest record batch the broker accepts there. Only the kafkajs adapter has it
   * (librdkafka's binding has no DescribeConfigs); callers on librdkafka ask a kafkajs admin.
   */
  maxMessageBytes?(topics: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** An idempotent, non-transactional producer (HTTP ingress, workers), batching what arrives together. */
export interface RecordProducer {
  send(records: readonly OutputRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerClientConfig {
  brokers: readonly string[];
  clientId: string;
  ssl?: boolean | Record<string, unknown>;
  sasl?: { mechanism: string; username: string; password: string };
  logger: Logger;
  /** librdkafka debug contexts (SAGAFLOW_LIBRDKAFKA_DEBUG); other clients ignore them. */
  librdkafkaDebug?: readonly string[];
}

export type ClientName = 'librdkafka' | 'kafkajs';

/**
 * One Kafka client behind the ports, Kafka Streams' KafkaClientSupplier. `exactlyOnce` says
 * how the engine fences: `v2` (KIP-447: offsets carry the group generation) lets one
 * transactional writer serve every partition of an instance; `v1` needs a writer per input
 * partition, whose transactional id fences the partition's previous owner.
 */
export interface BrokerClient {
  readonly name: ClientName;
  readonly exactlyOnce: 'v1' | 'v2';
  /**
   * The largest one-record batch (see recordBatchBytes) the client's producers send; a larger
   * one is refused before the broker sees it. Absent: only the broker limits records.
   */
  readonly maxRecordBytes?: number;
  admin(): Promise<TopicAdmin>;
  groupMember(opts: GroupMemberOptions): GroupMember;
  /** A transactional writer, initialized: earlier writers with this id are fenced and their open transaction ended. */
  txWriter(transactionalId: string, opts?: { transactionTimeoutMs?: number }): Promise<TxWriter>;
  changelogReader(): ChangelogReader;
  producer(): Promise<RecordProducer>;
  /** Closes what the client shares between its members (admin connections). */
  close(): Promise<void>;
}
