import { describe, expect, it } from 'vitest';
import { clusterSnapshot } from '../../../src/http/console/cluster.ts';
import type { LocalView } from '../../../src/http/console/cluster.ts';
import type { GroupView, ProcessorCounters } from '../../../src/http/console/ports.ts';
import { RateSampler, sumSeries } from '../../../src/http/console/rates.ts';
import { attachPayloads, sagaTimeline } from '../../../src/http/console/saga-timeline.ts';
import { CANCEL_EVENT } from '../../../src/saga/cancel.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';
import { reservation } from './console-fixtures.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('sagaTimeline', () => {
  it('merges states, commands (revision and attempt) and ignored events in time order, cause before effect', async () => {
    const { compiled } = await reservation();
    const inputs: SagaInput[] = [
      { kind: 'create', sagaId: 's', associatedEntityId: 'e', metadata: {}, timestamp: at(0) },
      { kind: 'event', sagaId: 's', label: 'checkOK', payload: {}, timestamp: at(1), eventId: 'x-1' },
      { kind: 'event', sagaId: 's', label: 'validationOK', payload: {}, timestamp: at(2) },
      { kind: 'cancel', sagaId: 's', by: 'alice', reason: 'customer left', targetState: 'reservationCreated', timestamp: at(3) },
    ];
    let saga: SagaDocument | undefined;
    for (const input of inputs) saga = transition(compiled, saga, input).saga;
    const timeline = sagaTimeline(saga as SagaDocument);
    expect(timeline.map((e) => (e.kind === 'state' ? `state ${e.event}->${e.state}` : e.kind === 'command' ? `command ${e.label} r${e.revision} a${e.attempt}` : `${e.kind} ${e.event}`))).toEqual([
      'state __created__->reservationCreated',
      'command validateReservation r1 a1',
      'ignored checkOK',
      'state validationOK->reservationValidated',
      'command checkReservation r3 a1',
      `state ${CANCEL_EVENT}->reservationCreated`,
      // Entered again: a new command (a new revision), its first send.
      'command validateReservation r4 a1',
    ]);
    expect(timeline[2]).toMatchObject({ kind: 'ignored', outcome: 'unexpected', eventId: 'x-1', state: 'reservationCreated' });
    expect(timeline[5]).toMatchObject({ kind: 'state', step: 2, by: 'alice', reason: 'customer left', businessStateId: 0 });
  });
});

describe('attachPayloads', () => {
  it('puts each event read back from the topic on the entry it caused, by label, timestamp and eventId', async () => {
    const { compiled } = await reservation();
    let saga: SagaDocument | undefined;
    for (const input of [
      { kind: 'create', sagaId: 's', associatedEntityId: 'e', metadata: { a: 1 }, timestamp: at(0) },
      { kind: 'event', sagaId: 's', label: 'checkOK', payload: { early: true }, timestamp: at(1), eventId: 'x-1' },
      { kind: 'event', sagaId: 's', label: 'validationOK', payload: { ok: 1 }, timestamp: at(2) },
    ] satisfies SagaInput[]) saga = transition(compiled, saga, input).saga;
    const record = (offset: string, label: string, t: number, payload: unknown, eventId?: string) => ({ partition: 0, offset, timestamp: at(t), label, payload, ...(eventId ? { eventId } : {}) });
    const events = [
      record('4', '__created__', 0, { associatedEntityId: 'e', metadata: { a: 1 } }),
      record('9', 'checkOK', 1, { early: true }, 'x-1'),
      record('12', 'validationOK', 2, { ok: 1 }),
      // A duplicate the processor dead-lettered: it caused no entry.
      record('13', 'validationOK', 3, { ok: 2 }),
    ];
    const { timeline, unmatched } = attachPayloads(sagaTimeline(saga as SagaDocument), events);
    expect(timeline.filter((e) => e.kind !== 'command').map((e) => ['payload' in e ? e.payload : undefined, 'offset' in e ? e.offset : undefined])).toEqual([
      [{ associatedEntityId: 'e', metadata: { a: 1 } }, '4'],
      [{ early: true }, '9'],
      [{ ok: 1 }, '12'],
    ]);
    expect(unmatched.map((e) => e.offset)).toEqual(['13']);
    expect(timeline.filter((e) => e.kind === 'command').every((e) => !('payload' in e))).toBe(true);
  });
});

describe('RateSampler', () => {
  const counters: ProcessorCounters = { events: 0, commands: 0, deadLetters: 0, transactions: 0 };
  const sampler = new RateSampler(() => counters, { intervalMs: 5_000, windowMs: 20_000 });

  it('turns counters sampled over time into per-second rates over a sliding window', () => {
    sampler.sample(0);
    expect(sampler.series().points).toEqual([]);
    counters.events = 50;
    counters.commands = 10;
    sampler.sample(5_000);
    counters.events = 60;
    sampler.sample(10_000);
    expect(sampler.series().points).toEqual([
      { t: 5_000, events: 10, commands: 2, deadLetters: 0 },
      { t: 10_000, events: 2, commands: 0, deadLetters: 0 },
    ]);
    for (const t of [15_000, 20_000, 25_000, 30_000]) sampler.sample(t);
    expect(sampler.series().points.map((p) => p.t)).toEqual([15_000, 20_000, 25_000, 30_000]);
  });

  it('starts again from a counter that went down instead of showing a negative rate', () => {
    counters.events = 5;
    sampler.sample(35_000);
    expect(sampler.series().points.at(-1)?.events).toBe(0);
  });

  it('sums the series of several instances on the interval grid', () => {
    const a = { intervalMs: 5_000, windowMs: 60_000, points: [{ t: 10_000, events: 1.5, commands: 1, deadLetters: 0 }] };
    const b = { intervalMs: 5_000, windowMs: 60_000, points: [{ t: 10_400, events: 2, commands: 0.5, deadLetters: 1 }, { t: 15_100, events: 1, commands: 0, deadLetters: 0 }] };
    expect(sumSeries([a, b], 5_000, 60_000).points).toEqual([
      { t: 10_000, events: 3.5, commands: 1.5, deadLetters: 1 },
      { t: 15_000, events: 1, commands: 0, deadLetters: 0 },
    ]);
  });
});

describe('clusterSnapshot', () => {
  const rates = { intervalMs: 5_000, windowMs: 60_000, points: [{ t: 5_000, events: 4, commands: 2, deadLetters: 0 }] };
  const self: LocalView = { url: 'http://a:3000', ready: true, partitions: [{ partition: 0, state: 'ready' }, { partition: 1, state: 'starting' }], rates };
  const group: GroupView = {
    members: async () => [
      { memberId: 'm-a', url: 'http://a:3000', partitions: [0, 1] },
      { memberId: 'm-b', url: 'http://b:3000', partitions: [2] },
      { memberId: 'm-c', url: 'http://c:3000', partitions: [3] },
    ],
    offsets: async () => [0, 1, 2, 3].map((p) => ({ partition: p, committed: p === 3 ? null : '10', end: '12', lag: p === 3 ? 12 : 2 })),
  };

  it('joins the group, each instance’s own view and the offsets; sums the rates of those that answer', async () => {
    const snapshot = await clusterSnapshot({
      self,
      group,
      fetchLocal: async (url) => {
        if (url === 'http://c:3000') throw new Error('connection refused');
        return { url, ready: true, partitions: [{ partition: 2, state: 'ready' }], rates };
      },
    });
    expect(snapshot.instances.map((i) => [i.url, i.self, i.reachable, i.ready])).toEqual([
      ['http://a:3000', true, true, true],
      ['http://b:3000', false, true, true],
      ['http://c:3000', false, false, null],
    ]);
    expect(snapshot.partitions).toEqual([
      { partition: 0, owner: 'http://a:3000', state: 'ready', committed: '10', end: '12', lag: 2 },
      { partition: 1, owner: 'http://a:3000', state: 'starting', committed: '10', end: '12', lag: 2 },
      { partition: 2, owner: 'http://b:3000', state: 'ready', committed: '10', end: '12', lag: 2 },
      { partition: 3, owner: 'http://c:3000', state: 'unknown', committed: null, end: '12', lag: 12 },
    ]);
    expect(snapshot.rates.points).toEqual([{ t: 5_000, events: 8, commands: 4, deadLetters: 0 }]);
    expect(snapshot.problems).toEqual(['http://c:3000 did not answer']);
  });

  it('shows this instance alone, and says why, when the broker cannot describe the group', async () => {
    const down: GroupView = { members: async () => Promise.reject(new Error('x')), offsets: async () => Promise.reject(new Error('x')) };
    const snapshot = await clusterSnapshot({ self, group: down, fetchLocal: async () => Promise.reject(new Error('not called')) });
    expect(snapshot.instances.map((i) => i.url)).toEqual(['http://a:3000']);
    expect(snapshot.partitions.map((p) => [p.partition, p.owner, p.state])).toEqual([
      [0, null, 'ready'],
      [1, null, 'starting'],
    ]);
    expect(snapshot.problems).toEqual(['the consumer group cannot be described now', 'the partition offsets cannot be read now']);
  });
});
