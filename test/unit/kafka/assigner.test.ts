import { describe, expect, it } from 'vitest';
import { assignSticky, decodeMemberInfo, encodeMemberInfo } from '../../../src/adapters/kafkajs/assigner.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function sizes(plan: Map<string, number[]>): number[] {
  return [...plan.values()].map((p) => p.length).sort((a, b) => a - b);
}

function all(plan: Map<string, number[]>): number[] {
  return [...plan.values()].flat().sort((a, b) => a - b);
}

describe('assignSticky', () => {
  it('assigns every partition exactly once, balanced within one', () => {
    for (const members of [1, 2, 3, 5, 12, 13]) {
      const plan = assignSticky(range(12), range(members).map((i) => ({ memberId: `m${i}`, owned: [] })));
      expect(all(plan)).toEqual(range(12));
      const s = sizes(plan);
      expect((s.at(-1) ?? 0) - (s[0] ?? 0)).toBeLessThanOrEqual(1);
      expect(plan.size).toBe(members);
    }
  });

  it('keeps owned partitions where they are when balance allows', () => {
    const plan = assignSticky(range(6), [
      { memberId: 'b', owned: [0, 2, 4] },
      { memberId: 'a', owned: [1, 3, 5] },
    ]);
    expect(plan.get('b')).toEqual([0, 2, 4]);
    expect(plan.get('a')).toEqual([1, 3, 5]);
  });

  it('moves only the partitions a new member needs', () => {
    const plan = assignSticky(range(6), [
      { memberId: 'a', owned: range(6) },
      { memberId: 'new', owned: [] },
    ]);
    expect(plan.get('a')).toEqual([0, 1, 2]);
    expect(plan.get('new')).toEqual([3, 4, 5]);
  });

  it('gives a partition claimed by two members to one only, and ignores unknown partitions', () => {
    const plan = assignSticky(range(4), [
      { memberId: 'a', owned: [0, 1, 9] },
      { memberId: 'b', owned: [1, 2] },
    ]);
    expect(all(plan)).toEqual(range(4));
    expect(plan.get('a')).toContain(0);
  });

  it('is deterministic whatever the member order', () => {
    const members = [
      { memberId: 'c', owned: [1] },
      { memberId: 'a', owned: [] },
      { memberId: 'b', owned: [3, 4] },
    ];
    const one = assignSticky(range(8), members);
    const two = assignSticky(range(8), [...members].reverse());
    expect([...one].sort()).toEqual([...two].sort());
  });

  it('returns nothing for no members', () => {
    expect(assignSticky(range(3), []).size).toBe(0);
  });
});

describe('member info', () => {
  it('round-trips and rejects garbage', () => {
    const info = { url: 'http://127.0.0.1:3000', owned: { events: [1, 2] } };
    expect(decodeMemberInfo(encodeMemberInfo(info))).toEqual(info);
    expect(decodeMemberInfo(Buffer.from('not json'))).toBeUndefined();
    expect(decodeMemberInfo(Buffer.from('{"owned":{}}'))).toBeUndefined();
    expect(decodeMemberInfo(Buffer.alloc(0))).toBeUndefined();
    expect(decodeMemberInfo(null)).toBeUndefined();
  });
});
