import type { IAdminClient, KafkaConsumer, OffsetSpec } from '@confluentinc/kafka-javascript';
import type { BrokerClientConfig, TopicAdmin, TopicSpec } from '../../broker/ports.ts';
import { clusterConfig, routeLogs } from './config.ts';
import type { RdLogSource } from './config.ts';
import type { BrokerError } from '../../broker/errors.ts';
import { classifyRdkafkaError, classifyRdkafkaEvent, rdCall } from './errors.ts';
import { rdkafka } from './native.ts';

const TIMEOUT_MS = 30_000;

interface AdminHandle extends IAdminClient {
  disconnect(): void;
}

/** TopicAdmin over librdkafka's AdminClient. Offsets are listed read_committed (the last stable offset). */
export class LibrdkafkaTopicAdmin implements TopicAdmin {
  private readonly admin: AdminHandle;
  private readonly config: BrokerClientConfig;
  /** Per group: a consumer that never joins it, to read its committed positions (see committedOffsets). */
  private readonly offsetReaders = new Map<string, Promise<KafkaConsumer>>();

  private constructor(admin: AdminHandle, config: BrokerClientConfig) {
    this.admin = admin;
    this.config = config;
  }

  /** Connects and checks the cluster answers (AdminClient.create alone reaches nothing). */
  static async create(config: BrokerClientConfig): Promise<LibrdkafkaTopicAdmin> {
    let admin: AdminHandle;
    // A refused SASL handshake shows only as an error event; the request itself then fails
    // as a transport failure, which would read as "unreachable".
    let refused: BrokerError | undefined;
    try {
      admin = rdkafka().AdminClient.create(clusterConfig({ ...config, clientId: `${config.clientId}-admin` }), {
        'event.error': (err: unknown) => {
          const e = classifyRdkafkaEvent(err);
          if (e.reason === 'authentication') refused ??= e;
        },
      }) as AdminHandle;
      routeLogs(admin as unknown as RdLogSource, config);
    } catch (err) {
      throw classifyRdkafkaError(err);
    }
    const wrapped = new LibrdkafkaTopicAdmin(admin, config);
    try {
      await rdCall<string[]>((cb) => admin.listTopics({ timeout: 10_000 }, cb));
    } catch (err) {
      await wrapped.close();
      throw refused ?? err;
    }
    return wrapped;
  }

  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const existing = new Set(await rdCall<string[]>((cb) => this.admin.listTopics({ timeout: TIMEOUT_MS }, cb)));
    const present = topics.filter((t) => existing.has(t));
    const counts = new Map<string, number>();
    if (present.length === 0) return counts;
    const described = await rdCall<{ name: string; partitions: unknown[]; error?: unknown }[]>((cb) => this.admin.describeTopics(present, { timeout: TIMEOUT_MS }, cb));
    for (const t of described) if (!t.error) counts.set(t.name, t.partitions.length);
    return counts;
  }

  async createTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const s of specs) {
      try {
        await rdCall((cb) =>
          this.admin.createTopic(
            { topic: s.topic, num_partitions: s.partitions, replication_factor: s.replicationFactor ?? -1, config: s.config ?? {} },
            TIMEOUT_MS,
            cb,
          ),
        );
      } catch (err) {
        // Another instance created it first: the partition check that follows still applies.
        if (classifyRdkafkaError(err).reason !== 'topic-exists') throw err;
      }
    }
    // CreateTopics returns before every broker knows the topic: wait until metadata has it.
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const counts = await this.partitionCounts(specs.map((s) => s.topic));
      if (specs.every((s) => counts.has(s.topic)) || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const t of topics) await rdCall((cb) => this.admin.deleteTopic(t, TIMEOUT_MS, cb));
  }

  async watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const n = (await this.partitionCounts([topic])).get(topic) ?? 0;
    if (n === 0) return new Map();
    const { OffsetSpec } = rdkafka();
    const [lows, highs] = await Promise.all([this.listOffsets(topic, n, OffsetSpec.EARLIEST), this.listOffsets(topic, n, OffsetSpec.LATEST)]);
    const out = new Map<number, { low: bigint; high: bigint }>();
    for (const [partition, low] of lows) out.set(partition, { low, high: 0n });
    for (const [partition, high] of highs) out.set(partition, { low: out.get(partition)?.low ?? 0n, high });
    return out;
  }

  async offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    const n = (await this.partitionCounts([topic])).get(topic) ?? 0;
    if (n === 0) return new Map();
    const { OffsetSpec } = rdkafka();
    const [found, ends] = await Promise.all([this.listOffsets(topic, n, new OffsetSpec(timestampMs)), this.listOffsets(topic, n, OffsetSpec.LATEST)]);
    // The broker answers -1 for a partition with no record that late: nothing to read there.
    return new Map([...ends].map(([partition, end]) => {
      const offset = found.get(partition);
      return [partition, offset === undefined || offset < 0n ? end : offset];
    }));
  }

  async logEndOffsets(topic: string): Promise<Map<number, bigint>> {
    const n = (await this.partitionCounts([topic])).get(topic) ?? 0;
    if (n === 0) return new Map();
    const { OffsetSpec } = rdkafka();
    return this.listOffsets(topic, n, OffsetSpec.LATEST, 'uncommitted');
  }

  /** ListOffsets of every partition of `topic` (sent to the partition leaders), read_committed unless asked. */
  private async listOffsets(topic: string, partitions: number, spec: OffsetSpec, isolation: 'committed' | 'uncommitted' = 'committed'): Promise<Map<number, bigint>> {
    const { IsolationLevel } = rdkafka();
    const list = await rdCall<{ partition: number; offset: number }[]>((cb) =>
      this.admin.listOffsets(
        Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: spec })),
        { timeout: TIMEOUT_MS, isolationLevel: isolation === 'committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED },
        cb,
      ),
    );
    return new Map(list.map((l) => [l.partition, BigInt(l.offset)]));
  }

  /**
   * Read with a consumer of that group that never subscribes (so never joins it), not with
   * ListConsumerGroupOffsets: librdkafka 2.15's coordinator-routed admin requests can abort the
   * process when a connection drops mid-request (see directory.ts). read_committed makes the
   * OffsetFetch require stable offsets.
   */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const n = (await this.partitionCounts([topic])).get(topic) ?? 0;
    const out = new Map<number, bigint>();
    if (n === 0) return out;
    const consumer = await this.offsetReader(groupId);
    const list = await rdCall<{ partition: number; offset: number }[]>((cb) =>
      consumer.committed(
        Array.from({ length: n }, (_, partition) => ({ topic, partition })),
        TIMEOUT_MS,
        cb,
      ),
    );
    for (const p of list) if (p.offset >= 0) out.set(p.partition, BigInt(p.offset));
    return out;
  }

  private offsetReader(groupId: string): Promise<KafkaConsumer> {
    let reader = this.offsetReaders.get(groupId);
    if (!reader) {
      reader = (async () => {
        const consumer = new (rdkafka().KafkaConsumer)({
          ...clusterConfig({ ...this.config, clientId: `${this.config.clientId}-offsets` }),
          'group.id': groupId,
          'enable.auto.commit': false,
          'isolation.level': 'read_committed',
        });
        routeLogs(consumer, this.config);
        await rdCall((cb) => consumer.connect({ timeout: TIMEOUT_MS }, (err) => cb(err)));
        return consumer;
      })();
      reader.catch(() => this.offsetReaders.delete(groupId));
      this.offsetReaders.set(groupId, reader);
    }
    return reader;
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await rdCall((cb) => this.admin.deleteGroups([...groupIds], { timeout: TIMEOUT_MS }, (err) => cb(err)));
  }

  async close(): Promise<void> {
    const readers = [...this.offsetReaders.values()];
    this.offsetReaders.clear();
    for (const r of readers) {
      const consumer = await r.catch(() => undefined);
      if (consumer) await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
    try {
      this.admin.disconnect();
    } catch {
      // already disconnected
    }
  }
}
