import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { businessIdCandidates, cursorAfter, decodeCursor, encodeCursor, mongoFilter, normalizeInstant, pageQuery } from '../../../src/projection/query.ts';
import { sagaDoc } from './fixtures.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isSagaflowError(err) ? err.code : 'not a SagaflowError';
  }
  return undefined;
}

describe('mongoFilter', () => {
  it('is empty without filters', () => {
    expect(mongoFilter({})).toEqual({});
  });

  it('matches one value directly and several with $in', () => {
    expect(mongoFilter({ currentState: ['a'], associatedEntityId: ['x', 'y'] })).toEqual({
      currentState: 'a',
      associatedEntityId: { $in: ['x', 'y'] },
    });
  });

  it('matches a numeric business state id as number and as string', () => {
    expect(mongoFilter({ businessStateId: ['1'] })).toEqual({ businessStateId: { $in: [1, '1'] } });
    expect(mongoFilter({ businessStateId: ['open'] })).toEqual({ businessStateId: 'open' });
  });

  it('treats a missing isFinal as false', () => {
    expect(mongoFilter({ isFinal: true })).toEqual({ isFinal: true });
    expect(mongoFilter({ isFinal: false })).toEqual({ isFinal: { $ne: true } });
  });

  it('makes time ranges inclusive at the start and exclusive at the end', () => {
    expect(mongoFilter({ createdFrom: 'A', createdTo: 'B', updatedTo: 'C' })).toEqual({
      createdAt: { $gte: 'A', $lt: 'B' },
      updatedAt: { $lt: 'C' },
    });
  });
});

describe('pageQuery', () => {
  const cursor = { sort: 'createdAt' as const, order: 'desc' as const, value: '2024-01-02T00:00:00.000Z', sagaId: 's5' };

  it('sorts by the field then sagaId in the same direction', () => {
    expect(pageQuery({ filter: {}, limit: 10, sort: 'updatedAt', order: 'asc' }).sort).toEqual({ updatedAt: 1, sagaId: 1 });
    expect(pageQuery({ filter: {}, limit: 10, sort: 'sagaId', order: 'desc' }).sort).toEqual({ sagaId: -1 });
  });

  it('continues strictly after the cursor, breaking ties on sagaId', () => {
    const { filter } = pageQuery({ filter: { currentState: ['a'] }, limit: 10, sort: 'createdAt', order: 'desc', after: cursor });
    expect(filter).toEqual({
      $and: [
        { currentState: 'a' },
        { $or: [{ createdAt: { $lt: cursor.value } }, { createdAt: cursor.value, sagaId: { $lt: 's5' } }] },
      ],
    });
  });

  it('uses sagaId alone when sorting by it', () => {
    const { filter } = pageQuery({ filter: {}, limit: 10, sort: 'sagaId', order: 'asc', after: { ...cursor, sort: 'sagaId', order: 'asc' } });
    expect(filter).toEqual({ sagaId: { $gt: 's5' } });
  });
});

describe('cursors', () => {
  it('round-trip', () => {
    const saga = sagaDoc({ sagaId: 'x/1', updatedAt: '2024-05-05T00:00:00.000Z' });
    const cursor = cursorAfter(saga, 'updatedAt', 'asc');
    expect(decodeCursor(encodeCursor(cursor), 'updatedAt', 'asc')).toEqual(cursor);
  });

  it('refuse garbage and cursors of another sort order', () => {
    expect(codeOf(() => decodeCursor('%%%', 'createdAt', 'desc'))).toBe('SAGAFLOW_CURSOR_INVALID');
    expect(codeOf(() => decodeCursor(Buffer.from('{"a":1}').toString('base64url'), 'createdAt', 'desc'))).toBe('SAGAFLOW_CURSOR_INVALID');
    const cursor = encodeCursor({ sort: 'createdAt', order: 'desc', value: 'v', sagaId: 's' });
    expect(codeOf(() => decodeCursor(cursor, 'createdAt', 'asc'))).toBe('SAGAFLOW_CURSOR_INVALID');
  });
});

describe('normalizeInstant / businessIdCandidates', () => {
  it('normalizes to the stored ISO form', () => {
    expect(normalizeInstant('2024-01-01T01:00:00+01:00', 'createdFrom')).toBe('2024-01-01T00:00:00.000Z');
    expect(normalizeInstant('2024-03-04', 'createdFrom')).toBe('2024-03-04T00:00:00.000Z');
    expect(codeOf(() => normalizeInstant('yesterday', 'createdFrom'))).toBe('SAGAFLOW_BAD_QUERY');
  });

  it('offers the number and the string for numeric ids', () => {
    expect(businessIdCandidates('0')).toEqual([0, '0']);
    expect(businessIdCandidates('-3')).toEqual([-3, '-3']);
    expect(businessIdCandidates('B1')).toEqual(['B1']);
  });
});
