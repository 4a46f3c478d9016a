/**
 * librdkafka's view of its consumer group, from its statistics (`statistics.interval.ms`):
 * `cgrp.state` is `up` while the member has a coordinator; `stateage` is how long (ms) it has
 * been in its state. After a broker restart a consumer was seen to stay in `query-coord` for
 * good (no coordinator ever found, the group `Empty`, the consume loop running), which only a
 * new consumer ends.
 */
export interface GroupStats {
  state: string;
  joinState: string;
  stateAgeMs: number;
}

/** The group part of one statistics event (its JSON text), or undefined when it has none. */
export function parseGroupStats(json: string): GroupStats | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return undefined;
  }
  const cgrp = (doc as { cgrp?: { state?: unknown; join_state?: unknown; stateage?: unknown } } | null)?.cgrp;
  if (!cgrp || typeof cgrp.state !== 'string' || typeof cgrp.stateage !== 'number') return undefined;
  return { state: cgrp.state, joinState: typeof cgrp.join_state === 'string' ? cgrp.join_state : '', stateAgeMs: cgrp.stateage };
}

/** Whether a subscribed member has been without a coordinator for at least `limitMs`. */
export function stuckOutsideGroup(stats: GroupStats, limitMs: number): boolean {
  return stats.state !== 'up' && stats.stateAgeMs >= limitMs;
}

/** How long a member may be without a coordinator before its consumer is recreated: a few session timeouts, at least a minute. */
export function stuckLimitMs(sessionTimeoutMs: number): number {
  return Math.max(60_000, 3 * sessionTimeoutMs);
}
