import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { SagaflowError } from '../../../src/errors.ts';
import type { KeyValueStore } from '../../../src/store/key-value-store.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { PARTITIONS, harness, sagaOf, until } from './harness.ts';

/**
 * A disk that can fill up, under stores that behave as RocksDB does after an I/O error: once a
 * write of a handle failed, that handle refuses every later write, space or not, until the
 * store is closed and opened again.
 */
class Disk {
  full = false;
  opens = 0;

  handle(kv: KeyValueStore): KeyValueStore {
    this.opens += 1;
    let broken = false;
    const refuse = () =>
      new SagaflowError('SAGAFLOW_STORE_NO_SPACE', { message: 'RocksDB write failed in /state: the file system is full (IO error: No space left on device)', retryable: true });
    return {
      get: (k) => kv.get(k),
      getMany: (ks) => kv.getMany(ks),
      iterate: (o) => kv.iterate(o),
      close: async () => undefined,
      clear: async () => {
        if (broken || this.full) throw refuse();
        await kv.clear();
      },
      write: async (b) => {
        if (broken || this.full) {
          broken = true;
          throw refuse();
        }
        await kv.write(b);
      },
    };
  }
}

describe('a state store on a disk that fills up', () => {
  it('stops the partition while writes fail and, once space returns, reopens the store and goes on from the changelog: nothing lost, the store equal to the changelog', { timeout: 30_000 }, async () => {
    const disk = new Disk();
    const h = await harness({ wrapStore: (_p, kv) => disk.handle(kv) });
    await h.assignAll();
    h.create('r1');
    h.create('r2');
    await h.drain();
    const opensBefore = disk.opens;

    disk.full = true;
    h.event('r1', 'validationOK');
    h.event('r2', 'validationOK');
    await h.drain();
    // The transaction committed on the broker; applying it to the store failed, so the
    // partitions are not served while the disk is full.
    await until(() => !h.processor.isReady());
    expect(h.processor.metrics.recoveries).toBeGreaterThan(0);

    disk.full = false;
    await until(() => h.processor.isReady(), 15_000);
    expect(disk.opens).toBeGreaterThan(opensBefore);
    await h.drain();
    for (const id of ['r1', 'r2']) expect((await sagaOf(h, id))?.currentState).toBe('reservationValidated');

    // The store holds exactly the changelog's latest document of each saga.
    const latest = new Map<string, SagaDocument>();
    for (const r of h.broker.committedRecords('app-sagas-changelog')) if (r.key && r.value) latest.set(r.key.toString(), JSON.parse(r.value.toString()) as SagaDocument);
    for (const [id, doc] of latest) expect(await sagaOf(h, id), `${id} on partition ${partitionForKey(id, PARTITIONS)}`).toEqual(doc);
    // Each command once, though the commit that sent them was followed by a failed store write.
    expect(h.commands().filter((c) => c.messageLabel === 'checkReservation')).toHaveLength(2);
  });
});
