import { afterEach, describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import type { IterateOptions, KeyValueStore } from '../../../src/store/key-value-store.ts';

export interface StoreFactory {
  /** A new, empty store. The suite closes every store it opens. */
  open(): Promise<KeyValueStore>;
  /** Closes `store` and opens the same data again; absent for stores that do not persist. */
  reopen?: (store: KeyValueStore) => Promise<KeyValueStore>;
}

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

async function collect(store: KeyValueStore, options?: IterateOptions): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [key, value] of store.iterate(options)) out.push([key, value.toString('utf8')]);
  return out;
}

async function keys(store: KeyValueStore, options?: IterateOptions): Promise<string[]> {
  return (await collect(store, options)).map(([key]) => key);
}

async function expectClosed(promise: Promise<unknown>): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isSagaflowError(error, 'SAGAFLOW_STORE_CLOSED')).toBe(true);
}

/** The `KeyValueStore` contract, run against every adapter. */
export function keyValueStoreConformance(name: string, factory: StoreFactory): void {
  describe(`${name}: KeyValueStore conformance`, () => {
    const opened: KeyValueStore[] = [];
    const open = async (): Promise<KeyValueStore> => {
      const store = await factory.open();
      opened.push(store);
      return store;
    };

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('returns undefined for a missing key', async () => {
      const store = await open();
      expect(await store.get('missing')).toBeUndefined();
    });

    it('puts, overwrites and deletes', async () => {
      const store = await open();
      await store.write({ puts: [['a', b('1')]], deletes: [] });
      expect(await store.get('a')).toEqual(b('1'));
      await store.write({ puts: [['a', b('2')]], deletes: [] });
      expect(await store.get('a')).toEqual(b('2'));
      await store.write({ puts: [], deletes: ['a'] });
      expect(await store.get('a')).toBeUndefined();
    });

    it('reads several keys at once, in the order asked, missing ones undefined', async () => {
      const store = await open();
      await store.write({ puts: [['a', b('1')], ['c', b('3')], ['empty', Buffer.alloc(0)]], deletes: [] });
      expect(await store.getMany(['c', 'missing', 'a', 'empty', 'a'])).toEqual([b('3'), undefined, b('1'), Buffer.alloc(0), b('1')]);
      expect(await store.getMany([])).toEqual([]);
      await store.write({ puts: [['a', b('9')]], deletes: ['c'] });
      expect(await store.getMany(['a', 'c'])).toEqual([b('9'), undefined]);
    });

    it('tells an empty value from a missing key', async () => {
      const store = await open();
      await store.write({ puts: [['empty', Buffer.alloc(0)]], deletes: [] });
      expect(await store.get('empty')).toEqual(Buffer.alloc(0));
      expect(await keys(store)).toEqual(['empty']);
    });

    it('ignores deletes of missing keys and empty batches', async () => {
      const store = await open();
      await store.write({ puts: [], deletes: ['nothing'] });
      await store.write({ puts: [], deletes: [] });
      expect(await keys(store)).toEqual([]);
    });

    it('applies a batch as a whole, deletes before puts', async () => {
      const store = await open();
      await store.write({ puts: [['x', b('old')], ['y', b('old')]], deletes: [] });
      await store.write({
        puts: [['x', b('new')], ['z', b('new')], ['w', b('new')]],
        deletes: ['x', 'y'],
      });
      expect(await collect(store)).toEqual([
        ['w', 'new'],
        ['x', 'new'],
        ['z', 'new'],
      ]);
    });

    it('keeps the last put of a key within one batch', async () => {
      const store = await open();
      await store.write({ puts: [['k', b('1')], ['k', b('2')]], deletes: [] });
      expect(await store.get('k')).toEqual(b('2'));
    });

    it('does not share buffers with the caller', async () => {
      const store = await open();
      const value = b('abc');
      await store.write({ puts: [['k', value]], deletes: [] });
      value.fill(0);
      const read = await store.get('k');
      expect(read).toEqual(b('abc'));
      read?.fill(0);
      expect(await store.get('k')).toEqual(b('abc'));
    });

    it('iterates in UTF-8 byte order', async () => {
      const store = await open();
      // '\u{1F600}' (UTF-16 surrogates 0xD83D...) sorts before '\uFFFD' in JavaScript but after it in UTF-8.
      const all = ['b', 'a', 'ab', 'A', '', '\u00e9', '\uFFFD', '\u{1F600}', 'a\u0000'];
      await store.write({ puts: all.map((k) => [k, b(`v${k}`)]), deletes: [] });
      expect(await keys(store)).toEqual(['', 'A', 'a', 'a\u0000', 'ab', 'b', '\u00e9', '\uFFFD', '\u{1F600}']);
    });

    it('honours gte (inclusive) and lt (exclusive) bounds', async () => {
      const store = await open();
      await store.write({ puts: ['a', 'b', 'c', 'd', 'e'].map((k) => [k, b(k)]), deletes: [] });
      expect(await keys(store, { gte: 'b', lt: 'd' })).toEqual(['b', 'c']);
      expect(await keys(store, { gte: 'bb' })).toEqual(['c', 'd', 'e']);
      expect(await keys(store, { lt: 'c' })).toEqual(['a', 'b']);
      expect(await keys(store, { gte: 'd', lt: 'b' })).toEqual([]);
      expect(await keys(store, { gte: 'c', lt: 'c' })).toEqual([]);
      expect(await keys(store, { lt: '' })).toEqual([]);
      expect(await keys(store, { gte: '' })).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('iterates a prefix, alone and with bounds', async () => {
      const store = await open();
      const all = ['m:marker', 's:', 's:1', 's:2', 's:20', 's;', 'sa', 't'];
      await store.write({ puts: all.map((k) => [k, b(k)]), deletes: [] });
      expect(await keys(store, { prefix: 's:' })).toEqual(['s:', 's:1', 's:2', 's:20']);
      expect(await keys(store, { prefix: 's:', gte: 's:2' })).toEqual(['s:2', 's:20']);
      expect(await keys(store, { prefix: 's:', lt: 's:2' })).toEqual(['s:', 's:1']);
      expect(await keys(store, { prefix: 'zzz' })).toEqual([]);
      expect(await keys(store, { prefix: '' })).toEqual(all);
    });

    it('iterates a prefix ending in the highest code point', async () => {
      const store = await open();
      const all = ['p\u{10FFFF}', 'p\u{10FFFF}x', 'q'];
      await store.write({ puts: all.map((k) => [k, b(k)]), deletes: [] });
      expect(await keys(store, { prefix: 'p\u{10FFFF}' })).toEqual(['p\u{10FFFF}', 'p\u{10FFFF}x']);
    });

    it('reads a snapshot: writes made while iterating are not seen', async () => {
      const store = await open();
      await store.write({ puts: [['a', b('1')], ['c', b('1')]], deletes: [] });
      const seen: [string, string][] = [];
      for await (const [key, value] of store.iterate()) {
        seen.push([key, value.toString('utf8')]);
        if (key === 'a') await store.write({ puts: [['b', b('2')], ['c', b('2')]], deletes: [] });
      }
      expect(seen).toEqual([
        ['a', '1'],
        ['c', '1'],
      ]);
      expect(await collect(store)).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', '2'],
      ]);
    });

    it('can stop an iteration early and go on using the store', async () => {
      const store = await open();
      await store.write({ puts: ['a', 'b', 'c'].map((k) => [k, b(k)]), deletes: [] });
      for await (const [key] of store.iterate()) if (key === 'a') break;
      expect(await keys(store)).toEqual(['a', 'b', 'c']);
    });

    it('clears every key', async () => {
      const store = await open();
      await store.write({ puts: ['a', '\u{10FFFF}', 'm:x', 's:y'].map((k) => [k, b(k)]), deletes: [] });
      await store.clear();
      expect(await keys(store)).toEqual([]);
      expect(await store.get('a')).toBeUndefined();
      await store.write({ puts: [['a', b('again')]], deletes: [] });
      expect(await collect(store)).toEqual([['a', 'again']]);
    });

    it('stores large values', async () => {
      const store = await open();
      const large = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < large.length; i += 4096) large[i] = i % 251;
      await store.write({ puts: [['large', large]], deletes: [] });
      const read = await store.get('large');
      expect(read?.length).toBe(large.length);
      expect(read?.equals(large)).toBe(true);
    });

    it('handles 20k keys in one batch and reads them back in order', async () => {
      const store = await open();
      const count = 20_000;
      const puts: [string, Buffer][] = [];
      for (let i = 0; i < count; i += 1) puts.push([`s:${String(i).padStart(6, '0')}`, b(JSON.stringify({ i }))]);
      // Shuffled on purpose: order must come from the store, not from insertion.
      puts.reverse();
      await store.write({ puts, deletes: [] });
      let n = 0;
      let previous = '';
      for await (const [key] of store.iterate({ prefix: 's:' })) {
        expect(key > previous).toBe(true);
        previous = key;
        n += 1;
      }
      expect(n).toBe(count);
      expect(await store.get('s:012345')).toEqual(b('{"i":12345}'));
      const deletes = puts.filter((_, i) => i % 2 === 0).map(([key]) => key);
      await store.write({ puts: [], deletes });
      expect((await keys(store, { prefix: 's:' })).length).toBe(count / 2);
    });

    it('rejects every call after close; close is idempotent', async () => {
      const store = await factory.open();
      await store.write({ puts: [['a', b('1')]], deletes: [] });
      await store.close();
      await store.close();
      await expectClosed(store.get('a'));
      await expectClosed(store.getMany(['a']));
      await expectClosed(store.write({ puts: [['b', b('1')]], deletes: [] }));
      await expectClosed(store.clear());
      await expectClosed(store.iterate().next());
    });

    it('ends an iteration left open when the store closes', async () => {
      const store = await factory.open();
      await store.write({ puts: ['a', 'b', 'c'].map((k) => [k, b(k)]), deletes: [] });
      const iteration = store.iterate();
      expect((await iteration.next()).value?.[0]).toBe('a');
      await store.close();
      await expectClosed(iteration.next());
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('keeps data across close and reopen', async () => {
        const store = await factory.open();
        await store.write({ puts: [['a', b('1')], ['b', b('2')]], deletes: [] });
        await store.write({ puts: [], deletes: ['b'] });
        const again = await reopen(store);
        opened.push(again);
        expect(await collect(again)).toEqual([['a', '1']]);
      });

      it('keeps a clear across close and reopen', async () => {
        const store = await factory.open();
        await store.write({ puts: [['a', b('1')]], deletes: [] });
        await store.clear();
        const again = await reopen(store);
        opened.push(again);
        expect(await keys(again)).toEqual([]);
      });
    }
  });
}
