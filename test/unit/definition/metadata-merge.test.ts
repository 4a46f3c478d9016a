import mergeWith from 'lodash.mergewith';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/cli/prng.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { MetadataMerge } from '../../../src/definition/compile.ts';
import { lodashDeepMerge } from '../../../src/definition/metadata-merge.ts';
import { set, validConfig } from './fixtures.ts';

type Json = Record<string, unknown>;
const CLOCK = { timestamp: '2024-03-04T05:06:07.000Z', seed: 'saga-1\u00002\u0000go' };

async function mergeWithHook(content: string): Promise<MetadataMerge> {
  const def = await compileDefinition(validConfig((raw) => set(raw, 'settings', { deepMergeMetadata: { enabled: true, hook: { type: 'file', content } } })));
  expect(def.settings.deepMergeMetadata.hook).toBe('settings.deepMergeMetadata.hook');
  return def.settings.deepMergeMetadata.merge;
}

function merged(merge: MetadataMerge, metadata: Json, payload: Json): unknown {
  const out = merge(metadata, payload, CLOCK);
  if (!out.ok) throw new Error(out.reason);
  return out.value;
}

// What lodash's mergeWith gives, case by case: the behaviour Flow Manager's users rely on.
const LODASH_CASES: [string, Json, Json, Json][] = [
  ['arrays merge index by index', { list: [1, 2] }, { list: [3] }, { list: [3, 2] }],
  ['a longer array extends the shorter', { list: [1] }, { list: [7, 8, 9] }, { list: [7, 8, 9] }],
  ['an empty array changes nothing', { list: [1, 2] }, { list: [] }, { list: [1, 2] }],
  ['objects in arrays merge by position', { items: [{ id: 1, qty: 1 }, { id: 2 }] }, { items: [{ qty: 5 }] }, { items: [{ id: 1, qty: 5 }, { id: 2 }] }],
  ['nested objects merge key by key', { a: { x: 1, y: { z: 1 } } }, { a: { y: { w: 2 } } }, { a: { x: 1, y: { z: 1, w: 2 } } }],
  ['an empty object changes nothing', { a: { x: 1 } }, { a: {} }, { a: { x: 1 } }],
  ['scalars replace', { a: 1, b: 'x' }, { a: 2, c: true }, { a: 2, b: 'x', c: true }],
  ['null replaces', { a: { x: 1 } }, { a: null }, { a: null }],
  ['an object replaces a scalar', { a: 1 }, { a: { x: 1 } }, { a: { x: 1 } }],
  ['an array replaces an object', { a: { x: 1 } }, { a: [5] }, { a: [5] }],
  // lodash merges the object's keys into the array; JSON, as stored, keeps only the array.
  ['an object merged into an array leaves the array', { a: [1, 2] }, { a: { x: 1 } }, { a: [1, 2] }],
  ['a constructor key is data', { a: 1 }, { constructor: { name: 'x' } }, { a: 1, constructor: { name: 'x' } }],
];

describe('deep merge of metadata (settings.deepMergeMetadata), lodash mergeWith', () => {
  it.each(LODASH_CASES)('%s', (_name, metadata, payload, expected) => {
    expect(lodashDeepMerge(metadata, payload)).toEqual(expected);
  });

  it('modifies neither input and shares nothing with them', () => {
    const metadata = { nested: { x: 1 }, list: [{ a: 1 }] };
    const payload = { nested: { y: [1] }, list: [{ b: 2 }], other: { k: 1 } };
    const before = structuredClone({ metadata, payload });
    const result = lodashDeepMerge(metadata, payload) as { other: { k: number }; nested: { y: number[] } };
    expect({ metadata, payload }).toEqual(before);
    result.other.k = 2;
    result.nested.y.push(2);
    expect(payload.other.k).toBe(1);
    expect(payload.nested.y).toEqual([1]);
  });

  it('drops "__proto__" keys as lodash does, and never changes a prototype', () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": true}, "ok": 1}}') as Json;
    const result = lodashDeepMerge({ nested: {} }, payload);
    expect(result).toEqual({ nested: { ok: 1 } });
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as Json).polluted).toBeUndefined();
  });

  it('is lodash itself: the same answer as mergeWith on random JSON, then stored as JSON', () => {
    const random = seededRandom(99);
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) return [1, 'a', null, true, 2.5][Math.floor(random() * 5)];
      if (r < 0.65) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [['a', 'b', 'c', 'd'][i] as string, value(depth + 1)]));
    };
    const object = (): Json => Object.fromEntries(['a', 'b', 'c'].map((k) => [k, value(0)]));
    for (let i = 0; i < 500; i += 1) {
      const metadata = object();
      const payload = object();
      const expected: unknown = JSON.parse(JSON.stringify(mergeWith(structuredClone(metadata), payload)));
      expect(lodashDeepMerge(metadata, payload)).toEqual(expected);
    }
  });
});

describe('deep merge with the customizer hook, in the sandbox', () => {
  it('gives lodash\'s answer when the customizer leaves every pair to it, exactly as on the host', async () => {
    const merge = await mergeWithHook('export default () => undefined');
    for (const [, metadata, payload, expected] of LODASH_CASES) expect(merged(merge, metadata, payload)).toEqual(expected);
    const random = seededRandom(7);
    for (let i = 0; i < 100; i += 1) {
      const metadata = { a: [random(), { b: [1, 2, 3].slice(0, Math.floor(random() * 3)) }], c: { d: random() < 0.5 ? null : { e: 1 } } };
      const payload = { a: [{ x: 1 }], c: { d: random() < 0.5 ? [1] : { f: 2 } }, g: 'new' };
      expect(merged(merge, metadata, payload)).toEqual(lodashDeepMerge(metadata, payload));
    }
  });

  it('applies the customizer (lodash\'s own example: arrays appended to)', async () => {
    const merge = await mergeWithHook('export default (objValue, srcValue) => (Array.isArray(objValue) ? objValue.concat(srcValue) : undefined);');
    expect(merged(merge, { attempts: [{ n: 1 }], nested: { tags: ['a'] } }, { attempts: [{ n: 2 }], nested: { tags: ['b'] } })).toEqual({
      attempts: [{ n: 1 }, { n: 2 }],
      nested: { tags: ['a', 'b'] },
    });
  });

  it('passes the customizer lodash\'s arguments: key, the object being merged into (b is in already) and the source', async () => {
    const merge = await mergeWithHook(
      'export default (objValue, srcValue, key, object, source) => key === "id" ? objValue : key === "seen" ? Object.keys(object).concat(Object.keys(source)).join(",") : undefined',
    );
    expect(merged(merge, { id: 'keep', a: 1, seen: '' }, { id: 'other', b: 2, seen: 'x' })).toEqual({ id: 'keep', a: 1, seen: 'id,a,seen,b,id,b,seen', b: 2 });
  });

  it('runs with the transition\'s clock and never sees the host', async () => {
    const merge = await mergeWithHook('export default (o, s, key) => key === "stamp" ? new Date().toISOString() : key === "env" ? typeof process : undefined');
    expect(merged(merge, { a: 1 }, { stamp: 'client value', env: 'x' })).toEqual({ a: 1, stamp: CLOCK.timestamp, env: 'undefined' });
  });

  it('fails the merge, with the reason, when the customizer throws or never ends', async () => {
    const merge = await mergeWithHook('export default (o, s, key) => { if (key === "bad") throw new Error("refused " + s); if (key === "spin") for (;;) {} }');
    expect(merge({ a: 1 }, { bad: 'x' }, CLOCK)).toEqual({ ok: false, reason: expect.stringMatching(/^hook settings\.deepMergeMetadata\.hook threw Error: refused x \(line 1, column \d+\)$/) });
    const slow = await compileDefinition(
      validConfig((raw) => set(raw, 'settings', { hookLimits: { timeoutMs: 20 }, deepMergeMetadata: { enabled: true, hook: { type: 'file', content: 'export default (o, s, key) => { if (key === "spin") for (;;) {} }' } } })),
    );
    expect(slow.settings.deepMergeMetadata.merge({ a: 1 }, { spin: 1 }, CLOCK)).toEqual({ ok: false, reason: 'hook settings.deepMergeMetadata.hook did not finish within 20 ms' });
    expect(merge({ a: 1 }, { b: 2 }, CLOCK)).toEqual({ ok: true, value: { a: 1, b: 2 } });
  });
});
