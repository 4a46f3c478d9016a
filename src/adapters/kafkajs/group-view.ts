import type { Admin } from 'kafkajs';
import type { GroupMember, GroupView, PartitionOffsets } from '../../http/console/ports.ts';
import { decodeMember } from './group-member.ts';

/**
 * The processor's consumer group through kafkajs' admin client: members with their advertised
 * URL (the sticky assigner's userData) and assignment, and the committed offset and log end of
 * every partition of the events topic.
 */
export class KafkajsGroupView implements GroupView {
  private readonly admin: Admin;
  private readonly groupId: string;
  private readonly topic: string;

  constructor(opts: { admin: Admin; groupId: string; topic: string }) {
    this.admin = opts.admin;
    this.groupId = opts.groupId;
    this.topic = opts.topic;
  }

  async members(): Promise<GroupMember[]> {
    const { groups } = await this.admin.describeGroups([this.groupId]);
    const members: GroupMember[] = [];
    for (const member of groups[0]?.members ?? []) {
      const decoded = decodeMember(member.memberMetadata, member.memberAssignment);
      if (!decoded) continue;
      members.push({ memberId: member.memberId, url: decoded.info.url, partitions: [...(decoded.assignment.assignment[this.topic] ?? [])].sort((a, b) => a - b) });
    }
    return members.sort((a, b) => a.url.localeCompare(b.url));
  }

  async offsets(): Promise<PartitionOffsets[]> {
    const [ends, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(this.topic),
      this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
    ]);
    const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
    return ends
      .map((e): PartitionOffsets => {
        const raw = byPartition.get(e.partition);
        const has = raw !== undefined && raw !== '-1' && raw !== '';
        // Nothing committed yet: everything still in the log is to do.
        const from = BigInt(has ? raw : e.low);
        const end = BigInt(e.high);
        return { partition: e.partition, committed: has ? raw : null, end: e.high, lag: Number(end > from ? end - from : 0n) };
      })
      .sort((a, b) => a.partition - b.partition);
  }
}
