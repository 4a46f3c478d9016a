import type { TopicAdmin } from '../broker/ports.ts';

export interface PartitionLag {
  partition: number;
  /** Changelog end for a read_committed reader (last stable offset). */
  end: number;
  /** Next offset the projection will read (its committed offset, or the log start). */
  position: number;
  lag: number;
}

export interface ProjectionLag {
  topic: string;
  groupId: string;
  /** Records of the changelog not yet projected, summed over partitions. */
  total: number;
  partitions: PartitionLag[];
  at: string;
}

/**
 * Changelog end minus the projection's committed position, per partition. Both are
 * positions, not record offsets: the changelog is written in transactions, so its last
 * entry is usually a commit marker that no reader sees as a record; the projector commits
 * past markers (onCaughtUp), so a caught-up projection has lag 0. Ends are read_committed
 * (the last stable offset), so an open transaction does not count as lag.
 */
export async function projectionLag(admin: TopicAdmin, topic: string, groupId: string): Promise<ProjectionLag> {
  const [ends, committed] = await Promise.all([admin.watermarks(topic), admin.committedOffsets(groupId, topic)]);
  const partitions = [...ends]
    .map(([partition, { low, high }]) => {
      const end = Number(high);
      const committedOffset = committed.get(partition);
      // Nothing committed yet: the projector starts from the beginning of the log.
      const position = committedOffset === undefined ? Number(low) : Math.max(Number(committedOffset), Number(low));
      return { partition, end, position, lag: Math.max(0, end - position) };
    })
    .sort((a, b) => a.partition - b.partition);
  return { topic, groupId, total: partitions.reduce((n, p) => n + p.lag, 0), partitions, at: new Date().toISOString() };
}
