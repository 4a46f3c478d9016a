import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../src/broker/errors.ts';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { DLQ_HEADERS } from '../../../src/engine/task.ts';
import { SagaflowError } from '../../../src/errors.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { PARTITIONS, harness, jsonCodec, sagaOf, until } from './harness.ts';
import type { MemoryMember } from './memory-broker.ts';

describe('Processor on the broker ports', () => {
  for (const eos of ['v2', 'v1'] as const) {
    it(`runs the tutorial saga to its final state, each command once (exactly-once ${eos})`, async () => {
      const h = await harness({ v1: eos === 'v1' });
      await h.assignAll();
      h.create('r1');
      h.create('r2', { fail: 'validation' });
      await h.drain();
      h.event('r1', 'validationOK');
      h.event('r2', 'validationKO');
      await h.drain();
      h.event('r1', 'checkOK');
      await h.drain();
      expect((await sagaOf(h, 'r1'))?.currentState).toBe('reservationConfirmed');
      expect((await sagaOf(h, 'r2'))?.currentState).toBe('reservationFailed');
      expect(h.commands().map((c) => c.messageLabel).sort()).toEqual(['checkReservation', 'validateReservation', 'validateReservation']);
      // The group's committed positions are past every event.
      const committed = await h.member.committed([0, 1].map((partition) => ({ topic: 'events', partition })));
      expect(committed).toEqual([0, 1].map((p) => (h.broker.log('events', p).length > 0 ? BigInt(h.broker.log('events', p).length) : undefined)));
      // v2: one writer for the instance; v1: one per partition, named after it.
      expect(h.client.writers.map((w) => w.transactionalId).sort()).toEqual(eos === 'v2' ? ['app-instance-1'] : ['app-events-0', 'app-events-1']);
      await h.processor.stop();
    });
  }

  it('puts every partition of a commit in one transaction under v2, and the store only sees committed work', async () => {
    const h = await harness();
    await h.assignAll();
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (const id of ids) h.create(id);
    await h.member.poll();
    // Processed, not committed: the store has nothing, the changelog has nothing visible.
    const stored = await Promise.all([0, 1].map(async (p) => [...(await h.stores.get(p)?.getMany(ids.map((id) => `s:${id}`)) ?? [])].filter(Boolean).length));
    expect(stored).toEqual([0, 0]);
    expect(h.broker.committedRecords('app-sagas-changelog')).toHaveLength(0);
    await h.drain();
    expect(h.broker.transactions).toHaveLength(1);
    expect(new Set(h.broker.transactions[0]?.offsets.map((o) => o.partition))).toEqual(new Set([0, 1]));
    expect(h.broker.committedRecords('app-sagas-changelog')).toHaveLength(20);
    await h.processor.stop();
  });

  it('drops the work of a failed commit, re-reads its position and processes the events once', async () => {
    const h = await harness();
    await h.assignAll();
    h.create('a');
    h.create('b');
    await h.member.poll();
    h.broker.faults.push({ op: 'commit', error: new BrokerError('retryable', 'other', 'coordinator moved', { client: 'memory' }) });
    await h.processor.commit();
    expect(h.broker.committedRecords('commands')).toHaveLength(0);
    // The tasks recover: paused, positions re-read from the group (nothing committed: the start).
    await until(() => h.processor.isReady());
    await h.drain();
    expect(h.commands().map((c) => c.messageLabel)).toEqual(['validateReservation', 'validateReservation']);
    expect((await sagaOf(h, 'a'))?.revision).toBe(1);
    expect(h.processor.metrics.recoveries).toBeGreaterThan(0);
    await h.processor.stop();
  });

  it('dead-letters records it cannot apply, with code and reason, and commits the events around them', async () => {
    const codec = jsonCodec((saga) => {
      if (saga.metadata.poison) throw new SagaflowError('SAGAFLOW_ENCODE_FAILED', { message: 'saga cannot be written as JSON: Maximum call stack size exceeded' });
      return Buffer.from(JSON.stringify(saga));
    });
    const h = await harness({ codec });
    await h.assignAll();
    h.create('before');
    h.create('poison', { poison: true });
    h.produce('garbled', '{not json');
    h.produce(null, { messageLabel: 'validationOK', messagePayload: {} });
    h.event('nobody', 'validationOK');
    h.produce('bad-creation', { messageLabel: '__created__', messagePayload: { associatedEntityId: 'x' } });
    h.create('after');
    await h.drain();
    const codes = h.deadLetters().map((r) => [r.key?.toString() ?? null, r.headers[DLQ_HEADERS.code]?.toString()]);
    expect(codes.sort()).toEqual(
      [
        ['bad-creation', 'SAGAFLOW_INVALID_CREATION'],
        ['garbled', 'SAGAFLOW_DECODE_FAILED'],
        ['nobody', 'SAGAFLOW_UNKNOWN_SAGA'],
        ['poison', 'SAGAFLOW_ENCODE_FAILED'],
        [null, 'SAGAFLOW_EVENT_MISSING_KEY'],
      ].sort(),
    );
    const poison = h.deadLetters().find((r) => r.key?.toString() === 'poison');
    expect(poison?.headers[DLQ_HEADERS.reason]?.toString()).toMatch(/cannot be written; the event is not applied/);
    expect(poison?.headers[DLQ_HEADERS.topic]?.toString()).toBe('events');
    expect((await sagaOf(h, 'before'))?.currentState).toBe('reservationCreated');
    expect((await sagaOf(h, 'after'))?.currentState).toBe('reservationCreated');
    await h.processor.stop();
  });

  it('retries, rather than dead-letters, a failure that can pass (registry down), then applies the event', async () => {
    let down = true;
    const codec = jsonCodec((saga) => {
      if (down) throw new SagaflowError('SAGAFLOW_SCHEMA_REGISTRY_FAILED', { retryable: true });
      return Buffer.from(JSON.stringify(saga));
    });
    const h = await harness({ codec });
    await h.assignAll();
    h.create('a');
    await h.drain();
    expect(h.deadLetters()).toHaveLength(0);
    expect(h.broker.committedRecords('app-sagas-changelog')).toHaveLength(0);
    down = false;
    await until(() => h.processor.isReady());
    await h.drain();
    expect((await sagaOf(h, 'a'))?.revision).toBe(1);
    expect(h.deadLetters()).toHaveLength(0);
    await h.processor.stop();
  });

  // A dead-letter record copies the event plus ~300 bytes of headers: an event near the limit
  // made a dead letter the broker refuses, and the partition stalled on retries.
  it('keeps a dead-letter record under the record limit by cutting its value, and says so', async () => {
    const h = await harness({ maxRecordBytes: 2_000 });
    await h.assignAll();
    h.produce('big', `{not json ${'x'.repeat(1_990)}`);
    await h.drain();
    const [letter] = h.deadLetters();
    expect(letter?.headers[DLQ_HEADERS.truncated]?.toString()).toBe(String(2_000));
    const bytes = (letter?.value?.length ?? 0) + (letter?.key?.length ?? 0) + Object.entries(letter?.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(bytes).toBeLessThanOrEqual(2_000);
    await h.processor.stop();
  });

  it('commits what a revoked partition processed before letting it go, and a new owner continues from there', async () => {
    const stores = new Map<number, MemoryStore>();
    const h = await harness({ stores });
    await h.assignAll();
    h.create('a');
    await h.member.poll();
    await h.member.revoke([0, 1].map((partition) => ({ topic: 'events', partition })));
    expect(h.commands().map((c) => c.messageLabel)).toEqual(['validateReservation']);
    await h.processor.stop();
    // A second processor on the same broker (and the same stores) takes over.
    const next = await harness({ stores, broker: h.broker });
    await next.assignAll();
    next.event('a', 'validationOK');
    await next.drain();
    expect((await sagaOf(next, 'a'))?.currentState).toBe('reservationValidated');
    expect(next.commands().map((c) => c.messageLabel)).toEqual(['validateReservation', 'checkReservation']);
    await next.processor.stop();
  });

  it('writes one changelog record per saga per transaction, its last document, and every command', async () => {
    const h = await harness();
    await h.assignAll();
    h.create('a');
    h.event('a', 'validationOK');
    h.create('b');
    await h.drain();
    expect(h.broker.transactions).toHaveLength(1);
    const changelog = h.broker.committedRecords('app-sagas-changelog');
    expect(changelog.map((r) => [String(r.key), (JSON.parse(String(r.value)) as { revision: number }).revision]).sort()).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(h.commands().map((c) => c.messageLabel).sort()).toEqual(['checkReservation', 'validateReservation', 'validateReservation']);
    expect((await sagaOf(h, 'a'))?.currentState).toBe('reservationValidated');
    await h.processor.stop();
    // The marker names the last record written: the same stores restore nothing, fresh ones the two records.
    const again = await harness({ broker: h.broker, stores: h.stores });
    await again.assignAll();
    expect(again.processor.metrics.restoredRecords).toBe(0);
    expect((await sagaOf(again, 'a'))?.revision).toBe(2);
    await again.processor.stop();
    const fresh = await harness({ broker: h.broker });
    await fresh.assignAll();
    expect(fresh.processor.metrics.restoredRecords).toBe(2);
    expect((await sagaOf(fresh, 'a'))?.revision).toBe(2);
    await fresh.processor.stop();
  });

  it('stores the changelog bytes as they are when the codec writes sagas as the store does (JSON), and restores them the same way', async () => {
    // Indented JSON: still the document, but bytes the store's own encoding would never produce.
    const codec = { ...jsonCodec((saga) => Buffer.from(JSON.stringify(saga, null, 1))), sagaJson: true };
    const h = await harness({ codec });
    await h.assignAll();
    h.create('a');
    await h.drain();
    const [record] = h.broker.committedRecords('app-sagas-changelog');
    const home = partitionForKey('a', PARTITIONS);
    expect(String(await h.stores.get(home)?.get('s:a'))).toBe(String(record?.value));
    await h.processor.stop();
    const fresh = await harness({ broker: h.broker, codec });
    await fresh.assignAll();
    expect(String(await fresh.stores.get(home)?.get('s:a'))).toBe(String(record?.value));
    expect((await sagaOf(fresh, 'a'))?.revision).toBe(1);
    await fresh.processor.stop();
  });

  it('restores from the changelog into a new store, and wipes a store whose marker is past the changelog end', async () => {
    const h = await harness();
    await h.assignAll();
    h.create('a');
    h.create('b');
    await h.drain();
    await h.processor.stop();
    // A fresh store: restored from the changelog.
    const fresh = await harness({ broker: h.broker });
    await fresh.assignAll();
    expect((await sagaOf(fresh, 'a'))?.revision).toBe(1);
    expect(fresh.processor.metrics.restoredRecords).toBe(2);
    await fresh.processor.stop();
    // A store whose marker names an offset the changelog no longer has (topic recreated).
    const stale = new Map<number, MemoryStore>();
    for (const p of [0, 1]) {
      const kv = new MemoryStore();
      await kv.write({ puts: [['s:ghost', Buffer.from(JSON.stringify({ sagaId: 'ghost' }))], ['m:changelog-offset', Buffer.from(JSON.stringify({ format: 1, offset: '999' }))]], deletes: [] });
      stale.set(p, kv);
    }
    const wiped = await harness({ broker: h.broker, stores: stale });
    await wiped.assignAll();
    expect(await sagaOf(wiped, 'ghost')).toBeUndefined();
    expect((await sagaOf(wiped, 'b'))?.revision).toBe(1);
    await wiped.processor.stop();
  });

  /** Saga 'a' created, its commit failed while the group answers `owners`; the member's own answer, to give back later. */
  async function commitFailedWhileOwners(owners: MemoryMember['owners']) {
    const h = await harness();
    await h.assignAll();
    h.create('a');
    await h.member.poll();
    const mine = h.member.owners;
    h.member.owners = owners;
    h.broker.faults.push({ op: 'commit', error: new BrokerError('retryable', 'other', 'transaction timed out', { client: 'memory' }) });
    await h.processor.commit();
    await new Promise((r) => setTimeout(r, 1_200));
    return { h, mine };
  }

  it('is not ready again after a failed commit while the group gives the partition to another member, and is once it is ours', async () => {
    // The recovery outlasted the session: the group gave both partitions to another member.
    const { h, mine } = await commitFailedWhileOwners(async () => new Map([[0, { memberId: 'other', url: 'http://other:1' }], [1, { memberId: 'other', url: 'http://other:1' }]]));
    // The partition whose commit failed (the other one had nothing to commit).
    expect(h.processor.ownedPartitions().find((p) => p.partition === partitionForKey('a', PARTITIONS))?.state).toBe('recovering');
    expect(h.processor.isReady()).toBe(false);
    // The group answers again that they are ours (the rebalance gave them back): ready, and the event is processed once.
    h.member.owners = mine;
    await until(() => h.processor.isReady());
    await h.drain();
    expect(h.commands().map((c) => c.messageLabel)).toEqual(['validateReservation']);
    await h.processor.stop();
  });

  it('answers reads of a ready partition as unconfirmed while the member cannot vouch for it, with the committed copy', async () => {
    const h = await harness({});
    await h.assignAll();
    h.create('u1');
    await h.drain();
    const committed = await sagaOf(h, 'u1');
    expect(committed?.revision).toBeGreaterThan(0);
    h.member.unconfirmed = true;
    await expect(h.processor.locate('u1')).resolves.toEqual({ kind: 'unconfirmed', partition: partitionForKey('u1', PARTITIONS), saga: committed });
    await expect(h.processor.locate('absent')).resolves.toEqual({ kind: 'unconfirmed', partition: partitionForKey('absent', PARTITIONS), saga: undefined });
    h.member.unconfirmed = false;
    await expect(h.processor.locate('u1')).resolves.toEqual({ kind: 'local', saga: committed });
    await h.processor.stop();
  });

  it('stays recovering while it cannot learn who owns the partition, then becomes ready', async () => {
    const { h, mine } = await commitFailedWhileOwners(() => Promise.reject(new BrokerError('retryable', 'unreachable', 'coordinator not available', { client: 'memory' })));
    expect(h.processor.isReady()).toBe(false);
    h.member.owners = mine;
    await until(() => h.processor.isReady());
    await h.processor.stop();
  });

  it('waits for the rebalance, instead of restarting, when fenced and the group gave the partition away', async () => {
    const h = await harness({ v1: true });
    await h.assignAll();
    h.create('a');
    await h.member.poll();
    // Another owner's writer for the same partitions fences ours (v1: same transactional ids).
    for (const w of h.client.writers) w.fenced = true;
    h.broker.faults.push({ op: 'begin', error: new BrokerError('fenced', 'other', 'producer fenced', { client: 'memory' }) });
    h.member.owners = async () => new Map([[0, { memberId: 'other', url: 'http://other:1' }], [1, { memberId: 'other', url: 'http://other:1' }]]);
    await h.processor.commit();
    await new Promise((r) => setTimeout(r, 700));
    expect(h.processor.ownedPartitions().find((p) => p.partition === partitionForKey('a', PARTITIONS))?.state).toBe('recovering');
    expect(h.commands()).toHaveLength(0);
    await h.member.revoke([0, 1].map((partition) => ({ topic: 'events', partition })), true);
    expect(h.processor.ownedPartitions()).toEqual([]);
    await h.processor.stop();
  });
});
