import { describe, expect, it } from 'vitest';
import { randomHex, seededRandom } from '../../../src/cli/prng.ts';

describe('seededRandom', () => {
  it('repeats for a seed, differs between seeds, stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws hex strings of the requested length', () => {
    expect(randomHex(seededRandom(1), 16)).toMatch(/^[0-9a-f]{16}$/);
    expect(randomHex(seededRandom(1), 16)).toBe(randomHex(seededRandom(1), 16));
  });
});
