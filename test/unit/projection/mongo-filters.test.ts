import { describe, expect, it } from 'vitest';
import { olderThan, sameRevision } from '../../../src/projection/mongo-sink.ts';

/** What a MongoDB query filter on `revision` matches, for the few shapes the sink uses. */
function matches(condition: unknown, revision: number | undefined): boolean {
  if (condition === null) return revision === undefined;
  if (typeof condition === 'number') return revision === condition;
  const c = condition as { $not?: { $gte: number } };
  if (c.$not) return !(revision !== undefined && revision >= c.$not.$gte);
  throw new Error(`unexpected condition ${JSON.stringify(condition)}`);
}

describe('revision guards', () => {
  it('olderThan matches a lower revision or none, never the same or a higher one, without a top-level $or', () => {
    const filter = olderThan('s1', 5) as Record<string, unknown>;
    expect(filter.sagaId).toBe('s1');
    expect(Object.keys(filter).some((k) => k.startsWith('$'))).toBe(false);
    expect([undefined, 1, 4, 5, 6].map((r) => matches(filter.revision, r))).toEqual([true, true, true, false, false]);
  });

  it('sameRevision matches only the revision read, and null stands for a copy without one', () => {
    expect(sameRevision('s1', 3)).toEqual({ sagaId: 's1', revision: 3 });
    const none = sameRevision('s1', undefined) as Record<string, unknown>;
    expect([undefined, 1].map((r) => matches(none.revision, r))).toEqual([true, false]);
  });
});
