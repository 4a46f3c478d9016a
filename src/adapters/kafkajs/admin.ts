// kafkajs is CommonJS: Node's named-export detection misses ConfigResourceTypes, so it is
// read from the default export (a named import works under vitest only).
import kafkajs from 'kafkajs';
import type { Admin, ITopicConfig } from 'kafkajs';
import type { TopicAdmin, TopicSpec } from '../../broker/ports.ts';
import { kafkajsCall } from './errors.ts';

export class KafkajsTopicAdmin implements TopicAdmin {
  readonly admin: Admin;

  constructor(admin: Admin) {
    this.admin = admin;
  }

  partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    return kafkajsCall(async () => {
      const existing = new Set(await this.admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      const counts = new Map<string, number>();
      if (present.length === 0) return counts;
      const { topics: meta } = await this.admin.fetchTopicMetadata({ topics: present });
      for (const t of meta) counts.set(t.name, t.partitions.length);
      return counts;
    });
  }

  createTopics(specs: readonly TopicSpec[]): Promise<void> {
    return kafkajsCall(async () => {
      if (specs.length === 0) return;
      const topics: ITopicConfig[] = specs.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor ?? -1,
        configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
      }));
      // createTopics answers false when a topic already exists (another instance won the race).
      await this.admin.createTopics({ topics, waitForLeaders: true });
    });
  }

  deleteTopics(topics: readonly string[]): Promise<void> {
    return kafkajsCall(() => this.admin.deleteTopics({ topics: [...topics], timeout: 10_000 }));
  }

  watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    // kafkajs lists offsets read_committed: `high` is the last stable offset.
    return kafkajsCall(async () => new Map((await this.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }])));
  }

  offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    // kafkajs answers the (read_committed) end itself where no record is that late.
    return kafkajsCall(async () => new Map((await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)).map((o) => [o.partition, BigInt(o.offset)])));
  }

  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    return kafkajsCall(async () => {
      const out = new Map<number, bigint>();
      for (const t of await this.admin.fetchOffsets({ groupId, topics: [topic] })) {
        for (const p of t.partitions) if (p.offset !== '-1' && p.offset !== '') out.set(p.partition, BigInt(p.offset));
      }
      return out;
    });
  }

  groupMembers(groupId: string): Promise<{ memberId: string; clientId: string; host: string }[]> {
    return kafkajsCall(async () => {
      const { groups } = await this.admin.describeGroups([groupId]);
      return (groups[0]?.members ?? []).map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.clientHost }));
    });
  }

  maxMessageBytes(topics: readonly string[]): Promise<Map<string, number>> {
    return kafkajsCall(async () => {
      const out = new Map<string, number>();
      if (topics.length === 0) return out;
      const { resources } = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })),
      });
      for (const r of resources) {
        const value = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
        if (r.errorCode === 0 && Number.isFinite(value) && value > 0) out.set(r.resourceName, value);
      }
      return out;
    });
  }

  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return kafkajsCall(async () => {
      await this.admin.deleteGroups([...groupIds]);
    });
  }

  async close(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }
}
