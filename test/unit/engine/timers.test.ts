import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../src/broker/errors.ts';
import type { Envelope } from '../../../src/kafka/codec.ts';
import type { MemoryStore } from '../../../src/store/memory-store.ts';
import { PartitionStore } from '../../../src/store/partition-store.ts';
import { MemoryBroker } from './memory-broker.ts';
import { harness, reservation, sagaOf, until } from './harness.ts';

/** The reservation saga with a 30 s timeout on its first state (into reservationFailed) and 3 sends of its command, 5 s apart. */
const definition = await reservation((raw) => {
  const states = (raw.machineDefinition as { states: Record<string, unknown>[] }).states;
  const created = states.find((s) => s.id === 'reservationCreated') as Record<string, unknown>;
  created.timeout = { after: '30s', event: 'validationKO' };
  (created.outputCommand as Record<string, unknown>).retry = { maxAttempts: 3, initialDelay: '5s', multiplier: 1 };
});

function clockAt(start: number) {
  const clock = { at: start, now: () => clock.at };
  return clock;
}

describe('timers in the engine', () => {
  it('sends the command again on each retry (same revision, next attempt), then fires the timeout, each in a transaction no record caused', async () => {
    const broker = new MemoryBroker();
    const clock = clockAt(broker.now);
    const h = await harness({ broker, definition, clock });
    await h.assignAll();
    h.create('r1');
    await h.drain();
    for (const seconds of [5, 10, 20, 31]) {
      clock.at = broker.now + seconds * 1_000;
      await h.processor.fireDueTimers();
      await h.processor.commit();
    }
    const sends = broker.committedRecords('commands').map((r) => [String((JSON.parse(String(r.value)) as Envelope).messageLabel), r.headers['sagaflow-revision']?.toString(), r.headers['sagaflow-attempt']?.toString()]);
    expect(sends).toEqual([
      ['validateReservation', '1', '1'],
      ['validateReservation', '1', '2'],
      ['validateReservation', '1', '3'],
    ]);
    const saga = await sagaOf(h, 'r1');
    expect(saga?.currentState).toBe('reservationFailed');
    expect(saga?.history.events.at(-1)).toMatchObject({ event: 'validationKO', timer: { kind: 'timeout' } });
    expect(saga?.timers).toBeUndefined();
    // Timer firings committed their own transactions: the events topic offset did not move.
    const committed = await h.member.committed([{ topic: 'events', partition: 0 }, { topic: 'events', partition: 1 }]);
    expect(committed.filter((o) => o !== undefined)).toEqual([1n]);
    expect(h.processor.metrics.timersFired).toBe(3);
    await h.processor.stop();
  });

  it('fires a timer once: a firing whose commit fails fires again, and a firing that committed never does', async () => {
    const broker = new MemoryBroker();
    const clock = clockAt(broker.now);
    const h = await harness({ broker, definition, clock });
    await h.assignAll();
    h.create('r1');
    await h.drain();
    clock.at = broker.now + 6_000;
    await h.processor.fireDueTimers();
    broker.faults.push({ op: 'commit', error: new BrokerError('retryable', 'other', 'coordinator moved', { client: 'memory' }) });
    await h.processor.commit();
    expect(broker.committedRecords('commands')).toHaveLength(1);
    await until(() => h.processor.isReady());
    await h.processor.fireDueTimers();
    await h.processor.commit();
    await h.processor.fireDueTimers();
    await h.processor.commit();
    const attempts = broker.committedRecords('commands').map((r) => r.headers['sagaflow-attempt']?.toString());
    expect(attempts).toEqual(['1', '2']);
    await h.processor.stop();
  });

  it('rebuilds the pending timers of a fresh store from the changelog, and drops index hints the sagas moved past', async () => {
    const broker = new MemoryBroker();
    const clock = clockAt(broker.now);
    const first = await harness({ broker, definition, clock });
    await first.assignAll();
    first.create('r1');
    first.create('r2');
    await first.drain();
    // r2 moves on: its timeout is stale from now on (its hint stays in r2's store until due).
    first.event('r2', 'validationOK');
    await first.drain();
    await first.processor.stop();
    // A new instance with empty stores: the timers come back with the documents.
    const stores = new Map<number, MemoryStore>();
    const second = await harness({ broker, definition, clock, stores });
    await second.assignAll();
    const hints = async () => {
      let n = 0;
      for (const kv of stores.values()) n += (await new PartitionStore(kv).dueTimers(Number.MAX_SAFE_INTEGER, 100)).length;
      return n;
    };
    // r1: the timeout and the next retry; r2 (validated): none.
    expect(await hints()).toBe(2);
    clock.at = broker.now + 31_000;
    await second.processor.fireDueTimers();
    await second.processor.commit();
    expect((await sagaOf(second, 'r1'))?.currentState).toBe('reservationFailed');
    expect((await sagaOf(second, 'r2'))?.currentState).toBe('reservationValidated');
    expect(await hints()).toBe(0);
    await second.processor.stop();
  });
});
