import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LATENCY_FIRST_INDEX, StepTracker, commandsCausedByEvents, latencyStats, percentile } from '../../../benchmarks/latency.ts';
import { DEFAULT_WORKLOAD, loadSagaConfig, planSaga, type PlannedEvent, type WorkloadOptions } from '../../../benchmarks/workload.ts';

const flow = (name: string) => loadSagaConfig(fileURLToPath(new URL(`../../../benchmarks/flows/${name}.saga.json`, import.meta.url)));
const reservation = flow('reservation');
const orders = flow('order-fulfillment');
const events = (...labels: string[]): PlannedEvent[] => labels.map((label) => ({ label, payload: {} }));

describe('percentile', () => {
  const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('is the nearest rank: a sample that was measured, with at least p % at or below it', () => {
    expect(percentile(oneToTen, 50)).toBe(5);
    expect(percentile(oneToTen, 51)).toBe(6);
    expect(percentile(oneToTen, 95)).toBe(10);
    expect(percentile(oneToTen, 0)).toBe(1);
    expect(percentile(oneToTen, 100)).toBe(10);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([50, 95, 99].map((p) => percentile(hundred, p))).toEqual([50, 95, 99]);
    expect(percentile([7.5], 99)).toBe(7.5);
  });

  it('is NaN without samples and refuses p outside [0, 100]', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(oneToTen, 101)).toThrow(RangeError);
    expect(() => percentile(oneToTen, -1)).toThrow(RangeError);
    expect(() => percentile(oneToTen, Number.NaN)).toThrow(RangeError);
  });
});

describe('latencyStats', () => {
  it('sorts the samples itself and summarises them', () => {
    expect(latencyStats([30, 10, 20, 40])).toEqual({ minMs: 10, p50Ms: 20, p95Ms: 40, p99Ms: 40, maxMs: 40, meanMs: 25 });
  });

  it('is NaN everywhere without samples', () => {
    expect(Object.values(latencyStats([])).every(Number.isNaN)).toBe(true);
  });
});

describe('commandsCausedByEvents', () => {
  it('gives each event the commands of the state it enters, the creation entering the initial state', () => {
    const md = reservation.machineDefinition;
    expect(commandsCausedByEvents(md, events('__created__', 'validationOK', 'checkOK'))).toEqual([['validateReservation'], ['checkReservation'], []]);
    expect(commandsCausedByEvents(md, events('__created__', 'validationKO'))).toEqual([['validateReservation'], []]);
  });

  it('lists the main command before the side effects, and commands of final states', () => {
    const md = orders.machineDefinition;
    expect(commandsCausedByEvents(md, events('__created__', 'stockReserved', 'paymentAuthorized', 'shipmentCreated', 'dispatched', 'lost', 'refunded'))).toEqual([
      ['reserveStock'],
      ['authorizePayment'],
      ['createShipment'],
      ['dispatchShipment'],
      ['trackShipment', 'notifyCustomer'],
      ['refundPayment', 'releaseStock'],
      [],
    ]);
    expect(commandsCausedByEvents(md, events('__created__', 'stockUnavailable'))).toEqual([['reserveStock'], ['notifyRejection']]);
  });

  it('agrees with planSaga on every planned saga of both flows', () => {
    for (const config of [reservation, orders]) {
      const opts: WorkloadOptions = { ...DEFAULT_WORKLOAD, config, sagas: 0, happyRatio: 0.5 };
      for (let i = 0; i < 300; i++) {
        const plan = planSaga(opts, LATENCY_FIRST_INDEX + i);
        const caused = commandsCausedByEvents(config.machineDefinition, plan.events);
        expect(caused).toHaveLength(plan.events.length);
        expect(caused.flat()).toEqual(plan.commands);
      }
    }
  });

  it('starts from initialState and the configured creationEvent, wherever the state is declared', () => {
    const md = {
      initialState: 'open',
      creationEvent: 'opened',
      states: [
        { id: 'closed', isFinal: true, outputCommand: { label: 'archive', channel: 'k' } },
        { id: 'open', isFinal: false, sideEffects: [{ label: 'audit', channel: 'k' }], outgoingTransitions: [{ inputEvent: 'close', targetState: 'closed' }] },
      ],
    };
    expect(commandsCausedByEvents(md, events('opened', 'close'))).toEqual([['audit'], ['archive']]);
    expect(() => commandsCausedByEvents(md, events('__created__'))).toThrow(/not the creation event "opened"/);
  });

  it('refuses events that are not a path of the machine', () => {
    const md = reservation.machineDefinition;
    expect(() => commandsCausedByEvents(md, events('validationOK'))).toThrow(/not the creation event "__created__"/);
    expect(() => commandsCausedByEvents(md, events('__created__', 'checkOK'))).toThrow(/"checkOK" is not a transition of state "reservationCreated"/);
    expect(() => commandsCausedByEvents(md, events('__created__', 'validationKO', 'checkOK'))).toThrow(/after the final state "reservationFailed"/);
  });
});

describe('StepTracker', () => {
  const tracker = () =>
    new StepTracker([
      { sagaId: 'a', events: events('__created__', 'x', 'y'), caused: [['c1', 'c2'], [], ['c3']] },
      { sagaId: 'b', events: events('__created__'), caused: [['c1']] },
    ]);

  it('completes a step once each of its commands is seen, in any order, and records send-to-last-command time', () => {
    const t = tracker();
    expect(t.next('a')).toEqual({ event: { label: '__created__', payload: {} }, causesCommands: true });
    t.sent('a', 100);
    expect(t.seen('a', 'c2', 130)).toBe('waiting');
    expect(t.seen('a', 'c1', 145)).toBe('step-complete');
    expect(t.samples).toEqual([{ sentAt: 100, latencyMs: 45 }]);
    expect(t.next('a')?.event.label).toBe('x');
  });

  it('moves a step without commands on when acknowledged, without a sample', () => {
    const t = tracker();
    t.sent('a', 0);
    t.seen('a', 'c1', 1);
    t.seen('a', 'c2', 2);
    expect(t.next('a')?.causesCommands).toBe(false);
    t.sent('a', 10);
    t.acknowledged('a');
    expect(t.samples).toHaveLength(1);
    t.sent('a', 20);
    expect(t.seen('a', 'c3', 27)).toBe('step-complete');
    expect(t.samples.map((s) => s.latencyMs)).toEqual([2, 7]);
    expect(t.next('a')).toBeUndefined();
    expect(t.completed).toBe(1);
    expect(t.allComplete).toBe(false);
  });

  it('refuses an acknowledgement for a step that waits for commands', () => {
    const t = tracker();
    t.sent('a', 0);
    expect(() => t.acknowledged('a')).toThrow(/waits for commands/);
  });

  it('counts as unexpected a command of an unknown saga, of another step, or seen twice', () => {
    const t = tracker();
    t.sent('a', 0);
    expect(t.seen('nobody', 'c1', 1)).toBe('unexpected');
    expect(t.seen('a', 'c3', 1)).toBe('unexpected');
    expect(t.seen('a', 'c1', 2)).toBe('waiting');
    expect(t.seen('a', 'c1', 3)).toBe('unexpected');
    // Saga b's step is not sent yet: nothing of it is in flight.
    expect(t.seen('b', 'c1', 3)).toBe('unexpected');
    expect(t.unexpected).toBe(4);
  });

  it('counts every expected command not seen as missing, including steps never sent', () => {
    const t = tracker();
    expect(t.missing).toBe(4);
    t.sent('b', 0);
    t.seen('b', 'c1', 5);
    t.sent('a', 0);
    t.seen('a', 'c1', 5);
    t.seen('a', 'c1', 6);
    expect(t.missing).toBe(2);
    expect(t.completed).toBe(1);
    t.seen('a', 'c2', 7);
    t.sent('a', 8);
    t.acknowledged('a');
    t.sent('a', 9);
    t.seen('a', 'c3', 10);
    expect(t.missing).toBe(0);
    expect(t.allComplete).toBe(true);
  });
});
