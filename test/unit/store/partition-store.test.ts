import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import type { IterateOptions, KeyValueStore, WriteBatch } from '../../../src/store/key-value-store.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { openPartitionStore } from '../../../src/store/open.ts';
import { PartitionStore } from '../../../src/store/partition-store.ts';
import { TransactionOverlay } from '../../../src/store/transaction-overlay.ts';

function saga(sagaId: string, revision = 1, currentState = 'PENDING'): SagaDocument {
  return {
    sagaId,
    associatedEntityId: `entity-${sagaId}`,
    currentState,
    businessStateId: 1,
    isFinal: false,
    metadata: { amount: 10, nested: { list: [1, 'two', null] } },
    latestEvent: '__created__',
    history: {
      states: [{ state: currentState, timestamp: '2025-01-01T00:00:00.000Z', businessStateId: 1 }],
      events: [{ event: '__created__', timestamp: '2025-01-01T00:00:00.000Z' }],
    },
    revision,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
  };
}

/** A MemoryStore that records batches and can be told to fail the next write. */
class RecordingStore extends MemoryStore {
  readonly batches: WriteBatch[] = [];
  failNextWrite = false;

  override async write(batch: WriteBatch): Promise<void> {
    this.batches.push(batch);
    if (this.failNextWrite) {
      this.failNextWrite = false;
      throw new Error('disk full');
    }
    await super.write(batch);
  }
}

async function allKeys(kv: KeyValueStore, options?: IterateOptions): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of kv.iterate(options)) keys.push(key);
  return keys;
}

describe('PartitionStore', () => {
  it('reads back committed sagas and the marker', async () => {
    const store = new PartitionStore(new MemoryStore());
    expect(await store.readChangelogMarker()).toBeUndefined();
    expect(await store.getSaga('a')).toBeUndefined();
    await store.applyCommitted([saga('a'), saga('b')], 41n);
    expect(await store.getSaga('a')).toEqual(saga('a'));
    expect(await store.readChangelogMarker()).toBe(41n);
    await store.applyCommitted([saga('a', 2, 'DONE')], 42n);
    expect(await store.getSaga('a')).toEqual(saga('a', 2, 'DONE'));
    expect(await store.readChangelogMarker()).toBe(42n);
  });

  it('writes the documents and the marker in one batch', async () => {
    const kv = new RecordingStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('a'), saga('b')], 7n);
    expect(kv.batches).toHaveLength(1);
    expect(kv.batches[0]?.puts.map(([key]) => key).sort()).toEqual(['m:changelog-offset', 's:a', 's:b']);
  });

  it('leaves neither documents nor marker behind when the batch fails', async () => {
    const kv = new RecordingStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('a')], 1n);
    kv.failNextWrite = true;
    await expect(store.applyCommitted([saga('a', 2), saga('b')], 2n)).rejects.toThrow('disk full');
    expect(await store.getSaga('a')).toEqual(saga('a'));
    expect(await store.getSaga('b')).toBeUndefined();
    expect(await store.readChangelogMarker()).toBe(1n);
  });

  it('keeps offsets beyond 2^53 exact', async () => {
    const store = new PartitionStore(new MemoryStore());
    await store.applyCommitted([], 9_007_199_254_740_993n);
    expect(await store.readChangelogMarker()).toBe(9_007_199_254_740_993n);
  });

  it('never lets a saga id collide with the marker', async () => {
    const kv = new MemoryStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('m:changelog-offset'), saga('changelog-offset')], 5n);
    expect(await store.readChangelogMarker()).toBe(5n);
    expect((await store.getSaga('m:changelog-offset'))?.sagaId).toBe('m:changelog-offset');
    expect(await allKeys(kv)).toEqual(['m:changelog-offset', 's:changelog-offset', 's:m:changelog-offset']);
  });

  it('ignores a marker written in another store format', async () => {
    const kv = new MemoryStore();
    await kv.write({ puts: [['m:changelog-offset', Buffer.from('{"format":0,"offset":"12"}')]], deletes: [] });
    expect(await new PartitionStore(kv).readChangelogMarker()).toBeUndefined();
    await kv.write({ puts: [['m:changelog-offset', Buffer.from('garbage')]], deletes: [] });
    expect(await new PartitionStore(kv).readChangelogMarker()).toBeUndefined();
  });

  it('reports an unreadable document as SAGAFLOW_STORE_CORRUPT', async () => {
    const kv = new MemoryStore();
    await kv.write({ puts: [['s:x', Buffer.from('{not json')]], deletes: [] });
    await expect(new PartitionStore(kv).getSaga('x')).rejects.toMatchObject({ code: 'SAGAFLOW_STORE_CORRUPT' });
  });

  it('wipes documents and marker', async () => {
    const kv = new MemoryStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('a'), saga('b')], 3n);
    await store.wipe();
    expect(await store.readChangelogMarker()).toBeUndefined();
    expect(await store.getSaga('a')).toBeUndefined();
    expect(await allKeys(kv)).toEqual([]);
  });

  it('applies restored records in order: tombstones delete, the last record of a key wins', async () => {
    const kv = new RecordingStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('gone'), saga('kept')], 10n);
    await store.applyRestored(
      [
        { key: 'gone', value: null },
        { key: 'new', value: saga('new', 1) },
        { key: 'new', value: saga('new', 2) },
        { key: 'back', value: null },
        { key: 'back', value: saga('back', 3) },
        { key: 'late-tombstone', value: saga('late-tombstone') },
        { key: 'late-tombstone', value: null },
      ],
      17n,
    );
    expect(kv.batches).toHaveLength(2);
    expect(await store.getSaga('gone')).toBeUndefined();
    expect(await store.getSaga('kept')).toEqual(saga('kept'));
    expect((await store.getSaga('new'))?.revision).toBe(2);
    expect((await store.getSaga('back'))?.revision).toBe(3);
    expect(await store.getSaga('late-tombstone')).toBeUndefined();
    expect(await store.readChangelogMarker()).toBe(17n);
    const ids: string[] = [];
    for await (const s of store.sagas()) ids.push(s.sagaId);
    expect(ids).toEqual(['back', 'kept', 'new']);
  });

  describe('over RocksDB', () => {
    const root = mkdtemp(join(tmpdir(), 'sagaflow-partition-'));
    afterAll(async () => rm(await root, { recursive: true, force: true }));

    it('keeps documents and marker across close and reopen; a wipe too', async () => {
      const dir = join(await root, 'events-0');
      const first = await openPartitionStore(dir);
      await first.applyCommitted([saga('a'), saga('b')], 99n);
      await first.applyRestored([{ key: 'b', value: null }], 100n);
      await first.close();

      const second = await openPartitionStore(dir);
      expect(await second.readChangelogMarker()).toBe(100n);
      expect(await second.getSaga('a')).toEqual(saga('a'));
      expect(await second.getSaga('b')).toBeUndefined();
      await second.wipe();
      await second.close();

      const third = await openPartitionStore(dir);
      expect(await third.readChangelogMarker()).toBeUndefined();
      expect(await third.getSaga('a')).toBeUndefined();
      await third.close();
    });
  });
});

describe('TransactionOverlay', () => {
  it('reads its own writes first, then the store, and leaves the store untouched', async () => {
    const store = new PartitionStore(new MemoryStore());
    await store.applyCommitted([saga('a'), saga('b')], 1n);
    const overlay = new TransactionOverlay(store);
    overlay.set(saga('a', 2));
    overlay.set(saga('c', 1));
    overlay.set(saga('a', 3));
    expect((await overlay.getSaga('a'))?.revision).toBe(3);
    expect((await overlay.getSaga('b'))?.revision).toBe(1);
    expect((await overlay.getSaga('c'))?.revision).toBe(1);
    expect(await overlay.getSaga('d')).toBeUndefined();
    expect(overlay.size).toBe(2);
    expect(overlay.entries().map((s) => [s.sagaId, s.revision])).toEqual([
      ['a', 3],
      ['c', 1],
    ]);
    expect((await store.getSaga('a'))?.revision).toBe(1);
    expect(await store.getSaga('c')).toBeUndefined();
  });

  it('prefetches committed documents in one read; its own writes still come first', async () => {
    const kv = new MemoryStore();
    const store = new PartitionStore(kv);
    await store.applyCommitted([saga('a'), saga('b', 5)], 1n);
    const overlay = new TransactionOverlay(store);
    overlay.set(saga('a', 2));
    let singleReads = 0;
    let batchReads = 0;
    const counting = new PartitionStore(
      Object.assign(Object.create(kv) as MemoryStore, {
        get: (key: string) => ((singleReads += 1), kv.get(key)),
        getMany: (keys: readonly string[]) => ((batchReads += 1), kv.getMany(keys)),
      }),
    );
    const counted = new TransactionOverlay(counting);
    counted.set(saga('a', 2));
    await counted.prefetch(['a', 'b', 'missing', 'b']);
    expect(batchReads).toBe(1);
    expect((await counted.getSaga('a'))?.revision).toBe(2);
    expect((await counted.getSaga('b'))?.revision).toBe(5);
    expect(await counted.getSaga('missing')).toBeUndefined();
    expect(await counted.getSaga('not-prefetched')).toBeUndefined();
    // Only the saga that was not prefetched went to the store on its own.
    expect(singleReads).toBe(1);
    // A write after the prefetch wins over the prefetched copy.
    counted.set(saga('b', 6));
    expect((await counted.getSaga('b'))?.revision).toBe(6);
    // Prefetching again reads nothing already known.
    await counted.prefetch(['a', 'b', 'missing']);
    expect(batchReads).toBe(1);
    expect((await overlay.getSaga('a'))?.revision).toBe(2);
  });

  it('forgets prefetched documents on clear, reading the store again', async () => {
    const store = new PartitionStore(new MemoryStore());
    await store.applyCommitted([saga('a', 1)], 1n);
    const overlay = new TransactionOverlay(store);
    await overlay.prefetch(['a']);
    await store.applyCommitted([saga('a', 2)], 2n);
    overlay.clear();
    expect((await overlay.getSaga('a'))?.revision).toBe(2);
  });

  it('hands its entries to applyCommitted, then clears', async () => {
    const store = new PartitionStore(new MemoryStore());
    const overlay = new TransactionOverlay(store);
    overlay.set(saga('a', 4));
    await store.applyCommitted(overlay.entries(), 8n);
    overlay.clear();
    expect(overlay.size).toBe(0);
    expect(overlay.entries()).toEqual([]);
    expect((await overlay.getSaga('a'))?.revision).toBe(4);
  });
});
