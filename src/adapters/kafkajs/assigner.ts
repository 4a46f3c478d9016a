import { AssignerProtocol } from 'kafkajs';
import type { GroupMemberAssignment, PartitionAssigner } from 'kafkajs';

/**
 * What each member tells the group leader when it joins, carried in the member metadata's
 * userData: its HTTP address (Kafka Streams' `application.server`) and the partitions it owns
 * now, so the leader can keep them where they are and spare a restore.
 */
export interface MemberInfo {
  url: string;
  owned: Record<string, number[]>;
}

export const ASSIGNER_NAME = 'SagaflowStickyAssigner';

export function encodeMemberInfo(info: MemberInfo): Buffer {
  return Buffer.from(JSON.stringify(info));
}

export function decodeMemberInfo(userData: Buffer | null | undefined): MemberInfo | undefined {
  if (!userData || userData.length === 0) return undefined;
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as Partial<MemberInfo>;
    if (typeof parsed.url !== 'string') return undefined;
    return { url: parsed.url, owned: parsed.owned ?? {} };
  } catch {
    return undefined;
  }
}

/**
 * Balanced sticky assignment of one topic's partitions.
 * Every member gets floor(P/M) or ceil(P/M) partitions; a member keeps the partitions it
 * already owns up to its quota, and the rest go to members below quota. Members with more
 * owned partitions get the larger quotas, which minimises movement. Deterministic for a
 * given input (members sorted by id), so every leader computes the same plan.
 */
export function assignSticky(
  partitions: number[],
  members: { memberId: string; owned: number[] }[],
): Map<string, number[]> {
  const result = new Map<string, number[]>();
  if (members.length === 0) return result;
  const sorted = [...members].sort(
    (a, b) => b.owned.length - a.owned.length || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0),
  );
  const base = Math.floor(partitions.length / sorted.length);
  const extra = partitions.length % sorted.length;
  const quota = new Map(sorted.map((m, i) => [m.memberId, base + (i < extra ? 1 : 0)]));
  const valid = new Set(partitions);
  const taken = new Set<number>();
  for (const m of sorted) {
    const mine: number[] = [];
    for (const p of [...m.owned].sort((a, b) => a - b)) {
      if (mine.length >= (quota.get(m.memberId) ?? 0)) break;
      if (valid.has(p) && !taken.has(p)) {
        taken.add(p);
        mine.push(p);
      }
    }
    result.set(m.memberId, mine);
  }
  const free = partitions.filter((p) => !taken.has(p)).sort((a, b) => a - b);
  for (const m of sorted) {
    const mine = result.get(m.memberId) ?? [];
    while (mine.length < (quota.get(m.memberId) ?? 0) && free.length > 0) {
      mine.push(free.shift() as number);
    }
    mine.sort((a, b) => a - b);
  }
  return result;
}

/**
 * A kafkajs partition assigner that advertises this instance's HTTP address and owned
 * partitions in its metadata, and assigns stickily. `info()` is read at every join, so the
 * owned set is current.
 */
export function stickyAdvertisingAssigner(info: () => MemberInfo, coPartitioned: { leader: string; followers: readonly string[] } | undefined = undefined): PartitionAssigner {
  const followers = new Set(coPartitioned?.followers ?? []);
  return ({ cluster }) => ({
    name: ASSIGNER_NAME,
    version: 1,
    async assign({ members, topics }): Promise<GroupMemberAssignment[]> {
      const perMember = new Map<string, Record<string, number[]>>();
      for (const m of members) perMember.set(m.memberId, {});
      // Co-partitioned topics follow their leader: partition p of each goes where p of the leader goes.
      for (const topic of topics.filter((t) => !followers.has(t))) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        const plan = assignSticky(
          partitions,
          members.map((m) => {
            const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
            return { memberId: m.memberId, owned: decodeMemberInfo(meta?.userData)?.owned[topic] ?? [] };
          }),
        );
        for (const [memberId, assigned] of plan) {
          const entry = perMember.get(memberId);
          if (!entry) continue;
          entry[topic] = assigned;
          if (topic === coPartitioned?.leader) for (const follower of followers) if (topics.includes(follower)) entry[follower] = [...assigned];
        }
      }
      return [...perMember].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return {
        name: ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: encodeMemberInfo(info()) }),
      };
    },
  });
}
