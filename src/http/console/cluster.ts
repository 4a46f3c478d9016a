import type { GroupMember, GroupView, PartitionOffsets } from './ports.ts';
import { sumSeries } from './rates.ts';
import type { RateSeries } from './rates.ts';

/** What one instance says about itself (GET /console/api/local). */
export interface LocalView {
  url: string;
  ready: boolean;
  partitions: { partition: number; state: string }[];
  rates: RateSeries;
}

export interface InstanceView {
  url: string;
  memberId: string | null;
  self: boolean;
  /** Whether the instance answered; its state is unknown when it did not. */
  reachable: boolean;
  ready: boolean | null;
  partitions: { partition: number; state: string }[];
}

export interface PartitionView {
  partition: number;
  /** URL of the owning instance, null while nobody owns it (rebalancing). */
  owner: string | null;
  /** The owner's task state: starting, ready, recovering... null when unknown. */
  state: string | null;
  committed: string | null;
  end: string | null;
  lag: number | null;
}

export interface ClusterSnapshot {
  instances: InstanceView[];
  partitions: PartitionView[];
  /** Events/s, commands/s and dead letters/s of all instances that answered, summed. */
  rates: RateSeries;
  /** What could not be read, in words (the view shows what it has). */
  problems: string[];
}

export interface ClusterInputs {
  self: LocalView;
  group?: GroupView;
  /** Asks another instance for its LocalView. */
  fetchLocal: (url: string) => Promise<LocalView>;
}

/**
 * The instances of the processor's consumer group with the partitions each owns and their
 * state (ready, restoring...), the lag of every partition, and the summed throughput. The
 * group's description comes from the broker; each other instance is asked for its own state.
 */
export async function clusterSnapshot(inputs: ClusterInputs): Promise<ClusterSnapshot> {
  const problems: string[] = [];
  let members: GroupMember[] = [];
  let offsets: PartitionOffsets[] = [];
  if (inputs.group) {
    const [m, o] = await Promise.allSettled([inputs.group.members(), inputs.group.offsets()]);
    if (m.status === 'fulfilled') members = m.value;
    else problems.push('the consumer group cannot be described now');
    if (o.status === 'fulfilled') offsets = o.value;
    else problems.push('the partition offsets cannot be read now');
  }
  if (inputs.group && members.length === 0 && problems.length === 0) problems.push('the group is rebalancing: owners are not known yet');
  const self = inputs.self;
  const others = members.filter((m) => m.url !== self.url);
  const answers = await Promise.allSettled(others.map((m) => inputs.fetchLocal(m.url)));
  const instances: InstanceView[] = [
    { url: self.url, memberId: members.find((m) => m.url === self.url)?.memberId ?? null, self: true, reachable: true, ready: self.ready, partitions: self.partitions },
  ];
  const series: RateSeries[] = [self.rates];
  others.forEach((m, i) => {
    const answer = answers[i];
    if (answer?.status === 'fulfilled') {
      instances.push({ url: m.url, memberId: m.memberId, self: false, reachable: true, ready: answer.value.ready, partitions: answer.value.partitions });
      series.push(answer.value.rates);
    } else {
      instances.push({ url: m.url, memberId: m.memberId, self: false, reachable: false, ready: null, partitions: m.partitions.map((p) => ({ partition: p, state: 'unknown' })) });
      problems.push(`${m.url} did not answer`);
    }
  });
  const owner = new Map<number, string>();
  for (const m of members) for (const p of m.partitions) owner.set(p, m.url);
  const state = new Map<number, string>();
  for (const instance of instances) for (const p of instance.partitions) if (owner.get(p.partition) === instance.url || !owner.has(p.partition)) state.set(p.partition, p.state);
  const numbers = new Set<number>([...offsets.map((o) => o.partition), ...owner.keys(), ...self.partitions.map((p) => p.partition)]);
  const byPartition = new Map(offsets.map((o) => [o.partition, o]));
  const partitions = [...numbers]
    .sort((a, b) => a - b)
    .map((p): PartitionView => {
      const o = byPartition.get(p);
      return { partition: p, owner: owner.get(p) ?? null, state: state.get(p) ?? null, committed: o?.committed ?? null, end: o?.end ?? null, lag: o?.lag ?? null };
    });
  return { instances, partitions, rates: sumSeries(series, self.rates.intervalMs, self.rates.windowMs), problems };
}
