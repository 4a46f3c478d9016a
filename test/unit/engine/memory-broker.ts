import { BrokerError } from '../../../src/broker/errors.ts';
import type {
  BrokerClient,
  ChangelogReader,
  GroupListener,
  GroupMember,
  GroupMemberOptions,
  RecordProducer,
  RestoreResult,
  TopicAdmin,
  TopicPartition,
  TopicSpec,
  TxWriter,
} from '../../../src/broker/ports.ts';
import type { InputRecord, OutputRecord, RecordHeaders, TopicPartitionOffset } from '../../../src/broker/records.ts';

/** A record as the in-memory log keeps it: visible to read_committed readers once committed. */
interface Stored extends InputRecord {
  committed: boolean;
  aborted: boolean;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function headersOf(h: OutputRecord['headers']): RecordHeaders {
  const out: RecordHeaders = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = typeof v === 'string' ? Buffer.from(v) : v;
  return out;
}

function toBuffer(v: Buffer | string | null): Buffer | null {
  return v === null ? null : typeof v === 'string' ? Buffer.from(v) : v;
}

/**
 * A broker in memory for the engine's unit tests: topics of partitions, transactions that
 * become visible to read_committed readers at commit, a consumer group whose assignment the
 * test decides, committed offsets, and fault injection. It follows the ports' contracts, not
 * Kafka's internals; the real adapters are held to the same contracts by the conformance
 * suite on the real broker.
 */
export class MemoryBroker {
  readonly logs = new Map<string, Stored[]>();
  readonly partitionCounts = new Map<string, number>();
  readonly groupOffsets = new Map<string, Map<string, bigint>>();
  /** Faults: the next calls of these names throw the given error, once each. */
  readonly faults: { op: 'send' | 'commit' | 'sendOffsets' | 'begin'; error: Error }[] = [];
  /** Transactions committed, in order: what each wrote and the offsets it committed. */
  readonly transactions: { records: OutputRecord[]; offsets: TopicPartitionOffset[] }[] = [];
  now = Date.parse('2026-01-01T00:00:00Z');

  createTopic(topic: string, partitions: number): void {
    this.partitionCounts.set(topic, partitions);
    for (let p = 0; p < partitions; p++) if (!this.logs.has(tpKey(topic, p))) this.logs.set(tpKey(topic, p), []);
  }

  log(topic: string, partition: number): Stored[] {
    const log = this.logs.get(tpKey(topic, partition));
    if (!log) throw new Error(`no partition ${topic}-${partition}`);
    return log;
  }

  append(r: OutputRecord, committed: boolean): Stored {
    const log = this.log(r.topic, r.partition);
    const stored: Stored = {
      topic: r.topic,
      partition: r.partition,
      offset: BigInt(log.length),
      key: toBuffer(r.key),
      value: r.value,
      headers: headersOf(r.headers),
      timestamp: r.timestamp ?? this.now,
      committed,
      aborted: false,
    };
    log.push(stored);
    return stored;
  }

  /** Committed records of a topic (every partition), as a read_committed reader sees them. */
  committedRecords(topic: string): Stored[] {
    const out: Stored[] = [];
    for (let p = 0; p < (this.partitionCounts.get(topic) ?? 0); p++) out.push(...this.log(topic, p).filter((r) => r.committed));
    return out;
  }

  /** The end a read_committed reader sees: the first offset of a transaction still open. */
  stableEnd(topic: string, partition: number): bigint {
    const log = this.log(topic, partition);
    const open = log.findIndex((r) => !r.committed && !r.aborted);
    return BigInt(open === -1 ? log.length : open);
  }

  takeFault(op: MemoryBroker['faults'][number]['op']): void {
    const i = this.faults.findIndex((f) => f.op === op);
    if (i === -1) return;
    const [fault] = this.faults.splice(i, 1);
    if (fault) throw fault.error;
  }

  client(): MemoryClient {
    return new MemoryClient(this);
  }
}

class MemoryTxWriter implements TxWriter {
  readonly transactionalId: string;
  private readonly broker: MemoryBroker;
  private open: { records: Stored[]; out: OutputRecord[]; offsets: TopicPartitionOffset[] } | undefined;
  fenced = false;

  constructor(broker: MemoryBroker, id: string) {
    this.broker = broker;
    this.transactionalId = id;
  }

  async begin(): Promise<void> {
    this.broker.takeFault('begin');
    if (this.fenced) throw new BrokerError('fenced', 'other', 'producer fenced', { client: 'memory' });
    this.open = { records: [], out: [], offsets: [] };
  }

  private tx() {
    if (!this.open) throw new Error('no open transaction');
    return this.open;
  }

  async send(records: readonly OutputRecord[]): Promise<bigint[]> {
    const tx = this.tx();
    this.broker.takeFault('send');
    return records.map((r) => {
      const stored = this.broker.append(r, false);
      tx.records.push(stored);
      tx.out.push(r);
      return stored.offset;
    });
  }

  async sendOffsets(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.broker.takeFault('sendOffsets');
    this.tx().offsets.push(...offsets);
  }

  async commit(): Promise<void> {
    const tx = this.tx();
    this.broker.takeFault('commit');
    for (const r of tx.records) r.committed = true;
    for (const o of tx.offsets) {
      let group = this.broker.groupOffsets.get('app');
      if (!group) this.broker.groupOffsets.set('app', (group = new Map()));
      group.set(tpKey(o.topic, o.partition), o.offset);
    }
    this.broker.transactions.push({ records: tx.out, offsets: tx.offsets });
    this.open = undefined;
  }

  async abort(): Promise<void> {
    for (const r of this.open?.records ?? []) r.aborted = true;
    this.open = undefined;
  }

  async close(): Promise<void> {
    await this.abort();
  }
}

/** One member of group "app"; the test assigns and revokes partitions and feeds records. */
export class MemoryMember implements GroupMember {
  readonly groupId = 'app';
  private readonly broker: MemoryBroker;
  listener: GroupListener | undefined;
  readonly paused = new Set<string>();
  readonly positions = new Map<string, bigint>();
  readonly assigned = new Set<string>();
  /** Who owns each partition as the group would say: this member, for what it was assigned (a test may replace it). */
  owners: GroupMember['owners'] = async (topic) =>
    new Map(
      [...this.assigned].flatMap((key) => {
        const [t, p] = key.split('\u0000') as [string, string];
        return t === topic ? [[Number(p), { memberId: 'member-1', url: 'http://member-1' }] as const] : [];
      }),
    );

  constructor(broker: MemoryBroker) {
    this.broker = broker;
  }

  async start(listener: GroupListener): Promise<void> {
    this.listener = listener;
  }

  async assign(partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) {
      this.assigned.add(tpKey(tp.topic, tp.partition));
      this.paused.add(tpKey(tp.topic, tp.partition));
    }
    await this.listener?.onAssigned(partitions);
  }

  async revoke(partitions: TopicPartition[], lost = false): Promise<void> {
    for (const tp of partitions) this.assigned.delete(tpKey(tp.topic, tp.partition));
    await this.listener?.onRevoked(partitions, lost);
  }

  /** Delivers every committed record at or after each unpaused partition's position, as one fetch. */
  async poll(max = 1000): Promise<number> {
    const batch: InputRecord[] = [];
    for (const key of this.assigned) {
      if (this.paused.has(key)) continue;
      const [topic, p] = key.split('\u0000') as [string, string];
      const position = this.positions.get(key) ?? 0n;
      const records = this.broker.log(topic, Number(p)).filter((r) => r.offset >= position && r.committed).slice(0, max);
      batch.push(...records);
      const last = records[records.length - 1];
      if (last) this.positions.set(key, last.offset + 1n);
    }
    if (batch.length > 0) await this.listener?.onRecords(batch);
    return batch.length;
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp.topic, tp.partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp.topic, tp.partition));
  }

  async seek(position: TopicPartitionOffset): Promise<void> {
    this.positions.set(tpKey(position.topic, position.partition), position.offset);
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(bigint | undefined)[]> {
    const group = this.broker.groupOffsets.get(this.groupId);
    return partitions.map((tp) => group?.get(tpKey(tp.topic, tp.partition)));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    let group = this.broker.groupOffsets.get(this.groupId);
    if (!group) this.broker.groupOffsets.set(this.groupId, (group = new Map()));
    for (const o of offsets) group.set(tpKey(o.topic, o.partition), o.offset);
  }

  memberId(): string | undefined {
    return 'member-1';
  }

  /** Set by tests: the member cannot vouch for its partitions (see GroupMember). */
  unconfirmed = false;

  assignmentUnconfirmed(): boolean {
    return this.unconfirmed;
  }

  async stop(): Promise<void> {
    const owned = [...this.assigned].map((k) => {
      const [topic, p] = k.split('\u0000') as [string, string];
      return { topic, partition: Number(p) };
    });
    this.assigned.clear();
    if (owned.length > 0) await this.listener?.onRevoked(owned, false);
  }
}

class MemoryAdmin implements TopicAdmin {
  private readonly broker: MemoryBroker;

  constructor(broker: MemoryBroker) {
    this.broker = broker;
  }

  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    return new Map(topics.flatMap((t) => (this.broker.partitionCounts.has(t) ? [[t, this.broker.partitionCounts.get(t) as number] as const] : [])));
  }

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const s of specs) if (!this.broker.partitionCounts.has(s.topic)) this.broker.createTopic(s.topic, s.partitions);
  }

  async deleteTopics(): Promise<void> {}

  async watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const out = new Map<number, { low: bigint; high: bigint }>();
    for (let p = 0; p < (this.broker.partitionCounts.get(topic) ?? 0); p++) out.set(p, { low: 0n, high: this.broker.stableEnd(topic, p) });
    return out;
  }

  async offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    for (let p = 0; p < (this.broker.partitionCounts.get(topic) ?? 0); p++) {
      const end = this.broker.stableEnd(topic, p);
      out.set(p, this.broker.log(topic, p).find((r) => r.offset < end && r.timestamp >= timestampMs)?.offset ?? end);
    }
    return out;
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    for (const [k, v] of this.broker.groupOffsets.get(groupId) ?? []) {
      const [t, p] = k.split('\u0000') as [string, string];
      if (t === topic) out.set(Number(p), v);
    }
    return out;
  }

  async deleteGroups(): Promise<void> {}
  async close(): Promise<void> {}
}

export class MemoryClient implements BrokerClient {
  readonly name = 'kafkajs' as const;
  exactlyOnce: 'v1' | 'v2' = 'v2';
  readonly broker: MemoryBroker;
  readonly writers: MemoryTxWriter[] = [];
  member: MemoryMember | undefined;

  constructor(broker: MemoryBroker) {
    this.broker = broker;
  }

  async admin(): Promise<TopicAdmin> {
    return new MemoryAdmin(this.broker);
  }

  groupMember(_opts: GroupMemberOptions): GroupMember {
    this.member = new MemoryMember(this.broker);
    return this.member;
  }

  async txWriter(transactionalId: string): Promise<TxWriter> {
    // A new writer with an id in use fences the old one, as InitProducerId does.
    for (const w of this.writers) if (w.transactionalId === transactionalId) w.fenced = true;
    const writer = new MemoryTxWriter(this.broker, transactionalId);
    this.writers.push(writer);
    return writer;
  }

  changelogReader(): ChangelogReader {
    const broker = this.broker;
    return {
      async readPartition(topic, partition, after, onRecords, opts): Promise<RestoreResult> {
        const end = broker.stableEnd(topic, partition);
        const start = after === undefined ? 0n : after + 1n;
        const records = broker.log(topic, partition).filter((r) => r.offset >= start && r.offset < end && r.committed);
        const signal = opts?.signal;
        if (!signal) {
          if (records.length > 0) await onRecords(records);
          return { records: records.length, lastOffset: records.at(-1)?.offset, end, low: 0n, durationMs: 0 };
        }
        // A bounded read gets one record per call, so that a signal aborted by the caller's onRecords stops it there.
        let delivered = 0;
        for (const r of records) {
          if (signal.aborted) break;
          await onRecords([r]);
          delivered += 1;
        }
        return { records: delivered, lastOffset: records[delivered - 1]?.offset, end, low: 0n, durationMs: 0 };
      },
    };
  }

  async producer(): Promise<RecordProducer> {
    const broker = this.broker;
    return {
      async send(records) {
        for (const r of records) broker.append(r, true);
      },
      async close() {},
    };
  }

  async close(): Promise<void> {}
}
