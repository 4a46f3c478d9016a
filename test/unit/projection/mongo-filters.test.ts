import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { SAGA_INDEXES, checkIndexes } from '../../../src/projection/mongo.ts';
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

describe('the index list a sink is given', () => {
  function refusal(indexes: Parameters<typeof checkIndexes>[0]): unknown {
    try {
      checkIndexes(indexes);
      return undefined;
    } catch (err) {
      return err;
    }
  }

  it('takes the default list, and any list holding the unique sagaId index wherever it stands', () => {
    expect(refusal(SAGA_INDEXES)).toBeUndefined();
    expect(refusal([...SAGA_INDEXES].reverse())).toBeUndefined();
    expect(refusal(SAGA_INDEXES.slice(0, 1))).toBeUndefined();
  });

  it('refuses a list without it, with a non-unique one, or with sagaId only as a prefix, naming the indexes', () => {
    for (const indexes of [
      SAGA_INDEXES.slice(1),
      [],
      [{ key: { sagaId: 1 }, name: 'plain' }],
      [{ key: { sagaId: 1, revision: 1 }, name: 'pair', unique: true }],
      [{ key: { sagaId: -1 }, name: 'descending', unique: true }],
    ]) {
      const err = refusal(indexes);
      expect(isSagaflowError(err, 'SAGAFLOW_PROJECTION_INDEX_CONFLICT')).toBe(true);
      expect((err as Error).message).toContain(indexes.length === 0 ? '(none)' : String(indexes[0]?.name));
    }
  });
});
