import { describe, expect, it } from 'vitest';
import { cloneJson, isPlainObject, shallowMergeMetadata } from '../../../src/saga/merge.ts';

// The deep merge (settings.deepMergeMetadata) is lodash's: test/unit/definition/metadata-merge.test.ts.
describe('shallowMergeMetadata', () => {
  const base = { a: 1, nested: { x: 1, y: { z: 1 } }, list: [1, 2] };

  it('replaces the first-level keys of the metadata with the payload ones', () => {
    expect(shallowMergeMetadata(base, { nested: { y: 2 }, b: 2 })).toEqual({ a: 1, nested: { y: 2 }, list: [1, 2], b: 2 });
    expect(shallowMergeMetadata(base, { list: [3], a: null })).toEqual({ a: null, nested: { x: 1, y: { z: 1 } }, list: [3] });
  });

  it('modifies neither input and shares nothing with the payload', () => {
    const metadata = { nested: { x: 1 } };
    const payload = { nested: { y: [1] }, other: { k: 1 } };
    const merged = shallowMergeMetadata(metadata, payload);
    expect(metadata).toEqual({ nested: { x: 1 } });
    expect(payload).toEqual({ nested: { y: [1] }, other: { k: 1 } });
    (merged.other as { k: number }).k = 2;
    expect(payload.other.k).toBe(1);
    expect(merged.nested).not.toBe(payload.nested);
    expect(merged).not.toBe(metadata);
  });

  it('shares the metadata values the payload does not replace (documents are never changed in place)', () => {
    const kept = { deep: { list: [1, 2] } };
    const metadata = { kept, replaced: { old: true } };
    const merged = shallowMergeMetadata(metadata, { replaced: { new: true } });
    expect(merged.kept).toBe(kept);
    expect(merged.replaced).toEqual({ new: true });
    expect(metadata.replaced).toEqual({ old: true });
  });

  it('keeps a "__proto__" key of the metadata as data when copying it', () => {
    const metadata = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const merged = shallowMergeMetadata(metadata, { b: 2 });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__', 'a', 'b']);
    expect(JSON.stringify(merged)).toBe('{"__proto__":{"polluted":true},"a":1,"b":2}');
  });

  it('stores a "__proto__" key as data and never changes a prototype', () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": true}}}') as Record<string, unknown>;
    const merged = shallowMergeMetadata({ nested: {} }, payload);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(merged)).toContain('__proto__');
    expect(JSON.parse(JSON.stringify(merged))).toEqual(merged);
  });
});

describe('cloneJson and isPlainObject', () => {
  it('deep-copies JSON values', () => {
    const value = { a: [1, { b: 'c' }], d: null };
    const copy = cloneJson(value);
    expect(copy).toEqual(value);
    expect(copy.a).not.toBe(value.a);
  });

  it('copies a "__proto__" key as data, at any depth', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "n": [{"__proto__": 1}]}') as Record<string, unknown>;
    const copy = cloneJson(value);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('recognises plain objects only', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    for (const value of [null, [], 'x', 1, new Date(0), undefined]) expect(isPlainObject(value)).toBe(false);
  });
});
