import type { Admin } from 'kafkajs';

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
 * past markers, so a caught-up projection has lag 0. kafkajs lists offsets read_committed by
 * default, so `end` is the last stable offset and an open transaction does not count as lag.
 */
export async function projectionLag(admin: Admin, topic: string, groupId: string): Promise<ProjectionLag> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map<number, number>();
  for (const t of committed) {
    for (const p of t.partitions) byPartition.set(p.partition, Number(p.offset));
  }
  const partitions = ends
    .map((e) => {
      const end = Number(e.high);
      const low = Number(e.low);
      const committedOffset = byPartition.get(e.partition) ?? -1;
      // -1: nothing committed yet; the projector starts from the beginning of the log.
      const position = committedOffset < 0 ? low : Math.max(committedOffset, low);
      return { partition: e.partition, end, position, lag: Math.max(0, end - position) };
    })
    .sort((a, b) => a.partition - b.partition);
  return { topic, groupId, total: partitions.reduce((n, p) => n + p.lag, 0), partitions, at: new Date().toISOString() };
}
