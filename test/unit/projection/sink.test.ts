import { describe, expect, it } from 'vitest';
import { latestRevisions } from '../../../src/projection/sink.ts';
import { sagaDoc } from './fixtures.ts';

describe('latestRevisions', () => {
  it('keeps the highest revision of each saga, whatever the arrival order', () => {
    const out = latestRevisions([
      sagaDoc({ sagaId: 'a', revision: 1 }),
      sagaDoc({ sagaId: 'b', revision: 4 }),
      sagaDoc({ sagaId: 'a', revision: 3 }),
      sagaDoc({ sagaId: 'b', revision: 2 }),
      sagaDoc({ sagaId: 'a', revision: 2 }),
    ]);
    expect(out.map((s) => [s.sagaId, s.revision])).toEqual([
      ['a', 3],
      ['b', 4],
    ]);
  });

  it('returns nothing for nothing', () => {
    expect(latestRevisions([])).toEqual([]);
  });
});
