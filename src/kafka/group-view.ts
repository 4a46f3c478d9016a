import type { TopicAdmin } from '../broker/ports.ts';
import type { GroupMember, GroupView, PartitionOffsets } from '../http/console/ports.ts';

export interface KafkaGroupViewOptions {
  admin: TopicAdmin;
  /**
   * partition -> owner of the events topic, as the processor's member of the group knows it
   * (empty before it joined): the console asks it instead of joining the group a second time.
   */
  owners: () => Promise<Map<number, { memberId: string; url: string }>>;
  groupId: string;
  topic: string;
}

/**
 * The processor's consumer group through the broker ports: who owns which partition of the
 * events topic (the processor's member answers, as it does for interactive queries: the
 * instance directory on librdkafka, DescribeGroups on kafkajs), and every partition's
 * committed offset and read_committed end. No coordinator-routed admin request is sent from
 * here (see the librdkafka adapter's directory.ts, librdkafka#4605): committed offsets come
 * through TopicAdmin.committedOffsets.
 *
 * Members that own no partition are not seen: the owners are what the group publishes.
 */
export class KafkaGroupView implements GroupView {
  private readonly opts: KafkaGroupViewOptions;

  constructor(opts: KafkaGroupViewOptions) {
    this.opts = opts;
  }

  async members(): Promise<GroupMember[]> {
    const byMember = new Map<string, GroupMember>();
    for (const [partition, owner] of await this.opts.owners()) {
      let entry = byMember.get(owner.memberId);
      if (!entry) byMember.set(owner.memberId, (entry = { memberId: owner.memberId, url: owner.url, partitions: [] }));
      entry.partitions.push(partition);
    }
    for (const entry of byMember.values()) entry.partitions.sort((a, b) => a - b);
    return [...byMember.values()].sort((a, b) => a.url.localeCompare(b.url));
  }

  async offsets(): Promise<PartitionOffsets[]> {
    const [ends, committed] = await Promise.all([this.opts.admin.watermarks(this.opts.topic), this.opts.admin.committedOffsets(this.opts.groupId, this.opts.topic)]);
    return [...ends]
      .map(([partition, { low, high }]): PartitionOffsets => {
        const at = committed.get(partition);
        // Nothing committed yet: everything still in the log is to do.
        const from = at ?? low;
        return { partition, committed: at === undefined ? null : at.toString(), end: high.toString(), lag: Number(high > from ? high - from : 0n) };
      })
      .sort((a, b) => a.partition - b.partition);
  }
}
