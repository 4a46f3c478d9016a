import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { FORWARDED_HEADER } from '../../../src/engine/task.ts';
import type { Envelope } from '../../../src/kafka/codec.ts';
import type { MemoryStore } from '../../../src/store/memory-store.ts';
import { MemoryBroker } from './memory-broker.ts';
import { PARTITIONS, harness, reservation, sagaOf } from './harness.ts';

const away = (key: string) => (partitionForKey(key, PARTITIONS) + 1) % PARTITIONS;
const bytes = (e: Envelope) => Buffer.from(JSON.stringify(e));
const created = (key: string): Envelope => ({ messageLabel: '__created__', messagePayload: { associatedEntityId: key, metadata: { n: 1 } } });

describe('events read away from their saga\'s home partition', () => {
  it('are forwarded to the home partition in the transaction that commits their offset, bytes, headers and timestamp intact, and applied there', async () => {
    const broker = new MemoryBroker();
    const h = await harness({ broker });
    await h.assignAll();
    const home = partitionForKey('r1', PARTITIONS);
    broker.append({ topic: 'events', partition: away('r1'), key: 'r1', value: bytes(created('r1')), headers: { trace: 't-1' }, timestamp: 1_700_000_000_000 }, true);
    await h.drain();
    // Forwarded in the first transaction, applied from the home partition in the next.
    const copies = broker.committedRecords('events').filter((r) => r.partition === home);
    expect(copies).toHaveLength(1);
    const copy = copies[0];
    expect(copy?.key?.toString()).toBe('r1');
    expect(copy?.value?.toString()).toBe(JSON.stringify(created('r1')));
    expect(copy?.headers.trace?.toString()).toBe('t-1');
    expect(copy?.headers[FORWARDED_HEADER]?.toString()).toBe(`events/${away('r1')}/0`);
    expect(copy?.timestamp).toBe(1_700_000_000_000);
    expect((await h.member.committed([{ topic: 'events', partition: away('r1') }]))[0]).toBe(1n);
    await h.drain();
    const saga = await sagaOf(h, 'r1');
    expect(saga?.currentState).toBe('reservationCreated');
    // The creation time is the original record's, not the forwarding's.
    expect(saga?.createdAt).toBe(new Date(1_700_000_000_000).toISOString());
    expect(h.commands().map((c) => c.messageLabel)).toEqual(['validateReservation']);
    expect(h.deadLetters()).toEqual([]);
    expect(h.processor.metrics.byCode.get('forwarded')).toBe(1);
    await h.processor.stop();
  });

  it('never dead-letters an event for its partition: a saga created on one partition and answered on another finishes', async () => {
    const h = await harness();
    await h.assignAll();
    const wrong = (key: string, e: Envelope) => h.broker.append({ topic: 'events', partition: away(key), key, value: bytes(e) }, true);
    wrong('r2', created('r2'));
    await h.drain();
    await h.drain();
    wrong('r2', { messageLabel: 'validationOK', messagePayload: {} });
    for (let i = 0; i < 3; i++) await h.drain();
    h.event('r2', 'checkOK');
    await h.drain();
    expect((await sagaOf(h, 'r2'))?.currentState).toBe('reservationConfirmed');
    expect(h.deadLetters()).toEqual([]);
    await h.processor.stop();
  });

  it('a record with no key cannot be forwarded: it is dead-lettered as before', async () => {
    const h = await harness();
    await h.assignAll();
    h.broker.append({ topic: 'events', partition: 1, key: null, value: bytes(created('x')) }, true);
    await h.drain();
    expect(h.deadLetters().map((r) => r.headers['sagaflow-error-code']?.toString())).toEqual(['SAGAFLOW_EVENT_MISSING_KEY']);
    expect(h.broker.committedRecords('events')).toHaveLength(1);
    await h.processor.stop();
  });
});

describe('other input topics', () => {
  it('are read with the events topic, partition by partition: their events are forwarded to the events topic and applied, their positions committed and resumed', async () => {
    const broker = new MemoryBroker();
    const stores = new Map<number, MemoryStore>();
    const h = await harness({ broker, stores, otherInputs: ['payments'] });
    await h.assignAll();
    h.create('r3');
    await h.drain();
    const home = partitionForKey('r3', PARTITIONS);
    // On its home partition number and on the other: both end up on the events topic.
    broker.append({ topic: 'payments', partition: home, key: 'r3', value: bytes({ messageLabel: 'validationOK', messagePayload: { by: 'payments' } }) }, true);
    for (let i = 0; i < 3; i++) await h.drain();
    expect((await sagaOf(h, 'r3'))?.currentState).toBe('reservationValidated');
    broker.append({ topic: 'payments', partition: away('r3'), key: 'r3', value: bytes({ messageLabel: 'checkOK', messagePayload: {} }) }, true);
    for (let i = 0; i < 3; i++) await h.drain();
    const saga = await sagaOf(h, 'r3');
    expect(saga?.currentState).toBe('reservationConfirmed');
    expect(saga?.metadata).toMatchObject({ by: 'payments' });
    expect(broker.committedRecords('events').filter((r) => r.headers[FORWARDED_HEADER]?.toString().startsWith('payments/')).map((r) => r.partition)).toEqual([home, home]);
    const positions = await h.member.committed([{ topic: 'payments', partition: home }, { topic: 'payments', partition: away('r3') }]);
    expect(positions).toEqual([1n, 1n]);
    expect(h.deadLetters()).toEqual([]);
    await h.processor.stop();

    // A new processor (same stores, like a restart) resumes every input topic at its committed position.
    const again = await harness({ broker, stores, otherInputs: ['payments'] });
    await again.assignAll();
    await again.drain();
    expect(broker.committedRecords('events').filter((r) => r.headers[FORWARDED_HEADER] !== undefined)).toHaveLength(2);
    expect(again.processor.metrics.byCode.get('forwarded') ?? 0).toBe(0);
    await again.processor.stop();
  });
});

describe('observed topics (a channel with correlation)', () => {
  it('forward each record, keyed by anything or nothing, to the home partition of the saga its value names, keyed by that id; bad records are dead-lettered', async () => {
    const broker = new MemoryBroker();
    const definition: CompiledDefinition = { ...(await reservation()), observed: new Map([['domain', { pointer: '/messagePayload/ref', segments: ['messagePayload', 'ref'], channel: 'domainEvents' }]]) };
    const h = await harness({ broker, otherInputs: ['domain'], definition });
    await h.assignAll();
    const home = partitionForKey('r9', PARTITIONS);
    broker.append({ topic: 'domain', partition: (home + 1) % PARTITIONS, key: 'customer-4', value: bytes({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'e-9', metadata: { n: 1 }, ref: 'r9' } }) }, true);
    for (let i = 0; i < 3; i++) await h.drain();
    broker.append({ topic: 'domain', partition: home, key: null, value: bytes({ messageLabel: 'validationOK', messagePayload: { ref: 'r9' } }) }, true);
    for (let i = 0; i < 3; i++) await h.drain();
    expect((await sagaOf(h, 'r9'))?.currentState).toBe('reservationValidated');
    const copies = broker.committedRecords('events');
    expect(copies.map((r) => [r.partition, r.key?.toString(), r.headers[FORWARDED_HEADER]?.toString()])).toEqual([
      [home, 'r9', `domain/${(home + 1) % PARTITIONS}/0`],
      [home, 'r9', `domain/${home}/0`],
    ]);
    // No id at the pointer, an id that is not a string, a value that does not decode (a missing key is no fault here).
    broker.append({ topic: 'domain', partition: 0, key: 'k', value: bytes({ messageLabel: 'checkOK', messagePayload: {} }) }, true);
    broker.append({ topic: 'domain', partition: 1 % PARTITIONS, key: 'k', value: bytes({ messageLabel: 'checkOK', messagePayload: { ref: 9 } }) }, true);
    broker.append({ topic: 'domain', partition: 0, key: null, value: Buffer.from('not json') }, true);
    for (let i = 0; i < 3; i++) await h.drain();
    const dead = h.deadLetters().map((r) => [r.headers['sagaflow-error-code']?.toString(), r.headers['sagaflow-reason']?.toString().split(' (')[0]]);
    // Partitions are processed in any order: compared sorted.
    expect(dead.map(([code]) => code).sort()).toEqual(['SAGAFLOW_CORRELATION_MISSING', 'SAGAFLOW_CORRELATION_MISSING', 'SAGAFLOW_DECODE_FAILED']);
    expect(dead.filter(([code]) => code === 'SAGAFLOW_CORRELATION_MISSING').map(([, reason]) => reason).sort()).toEqual([
      'the event "checkOK" of observed topic "domain" has a number at "/messagePayload/ref"',
      'the event "checkOK" of observed topic "domain" has nothing at "/messagePayload/ref"',
    ]);
    expect(broker.committedRecords('events')).toHaveLength(2);
    await h.processor.stop();
  });
});
