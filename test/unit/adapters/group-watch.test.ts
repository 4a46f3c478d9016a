import { describe, expect, it } from 'vitest';
import { parseGroupStats, stuckLimitMs, stuckOutsideGroup } from '../../../src/adapters/librdkafka/group-watch.ts';

describe('librdkafka group watch', () => {
  it('reads the group state and its age from a statistics event', () => {
    const json = JSON.stringify({ name: 'c', cgrp: { state: 'query-coord', stateage: 612_000, join_state: 'init', rebalance_cnt: 3 } });
    expect(parseGroupStats(json)).toEqual({ state: 'query-coord', joinState: 'init', stateAgeMs: 612_000 });
  });

  it('has nothing to say about statistics without a group, or that are not JSON', () => {
    expect(parseGroupStats(JSON.stringify({ name: 'producer' }))).toBeUndefined();
    expect(parseGroupStats('{"cgrp": {"state": 1}}')).toBeUndefined();
    expect(parseGroupStats('not json')).toBeUndefined();
    expect(parseGroupStats('null')).toBeUndefined();
  });

  it('calls a member stuck only outside `up` and only once the limit is reached', () => {
    expect(stuckOutsideGroup({ state: 'up', joinState: 'steady', stateAgeMs: 10_000_000 }, 60_000)).toBe(false);
    expect(stuckOutsideGroup({ state: 'query-coord', joinState: 'init', stateAgeMs: 59_999 }, 60_000)).toBe(false);
    expect(stuckOutsideGroup({ state: 'query-coord', joinState: 'init', stateAgeMs: 60_000 }, 60_000)).toBe(true);
    expect(stuckOutsideGroup({ state: 'wait-coord', joinState: 'init', stateAgeMs: 90_000 }, 60_000)).toBe(true);
  });

  it('waits a few session timeouts, at least a minute', () => {
    expect(stuckLimitMs(6_000)).toBe(60_000);
    expect(stuckLimitMs(30_000)).toBe(90_000);
  });
});
