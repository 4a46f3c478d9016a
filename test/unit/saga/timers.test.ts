import { describe, expect, it } from 'vitest';
import { durationMs } from '../../../src/definition/timers.ts';
import { addMs, isoFromMs, retryDelayMs } from '../../../src/saga/timers.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { PendingTimer, SagaDocument, SagaInput, TransitionResult } from '../../../src/saga/types.ts';
import { create, definition, event, ts } from './fixtures.ts';

/**
 * The fixture flow with every timer: `start` times out after 30 s into `failed` (via
 * "expired"), its command `begin` is retried (4 sends, 1 s then x2, capped at 3 s), `working`
 * times out on an event it has no transition for ("late"), and every saga has a 1 h deadline.
 */
const def = await definition({}, (raw) => {
  const md = raw.machineDefinition as { states: Record<string, unknown>[]; deadline?: unknown };
  const [start, working] = md.states as [Record<string, unknown>, Record<string, unknown>];
  start.timeout = { after: '30s', event: 'expired' };
  (start.outgoingTransitions as unknown[]).push({ inputEvent: 'expired', targetState: 'failed' }, { inputEvent: 'deadline', targetState: 'failed' });
  (start.outputCommand as Record<string, unknown>).retry = { maxAttempts: 4, initialDelay: '1s', multiplier: 2, maxDelay: 3000 };
  working.timeout = { after: 60_000, event: 'late' };
  md.deadline = { after: '1h', event: 'deadline' };
});

const fire = (saga: SagaDocument | undefined, timer: PendingTimer, at = timer.dueAt): TransitionResult => transition(def, saga, { kind: 'timer', sagaId: 'saga-1', timer, timestamp: at });
const must = (r: TransitionResult): SagaDocument => {
  if (!r.saga) throw new Error(`no saga: ${r.outcome} ${r.reason ?? ''}`);
  return r.saga;
};
const timer = (saga: SagaDocument, kind: PendingTimer['kind']): PendingTimer => {
  const t = saga.timers?.find((x) => x.kind === kind);
  if (!t) throw new Error(`no ${kind} timer in ${JSON.stringify(saga.timers)}`);
  return t;
};

describe('timers in the saga core', () => {
  it('schedules, on creation, the state timeout, the first retry of each command and the deadline, soonest first, counted from the input timestamp', () => {
    const saga = must(transition(def, undefined, create('saga-1', { order: 1 }, ts(0))));
    expect(saga.timers).toEqual([
      { kind: 'retry', dueAt: ts(1), label: 'begin', channel: 'bus', attempt: 2, revision: 1, state: 'start', entry: 0 },
      { kind: 'timeout', dueAt: ts(30), event: 'expired', state: 'start', entry: 0 },
      { kind: 'deadline', dueAt: addMs(ts(0), 3_600_000), event: 'deadline' },
    ]);
    // A document with timers stays plain JSON.
    expect(JSON.parse(JSON.stringify(saga))).toEqual(saga);
  });

  it('delivers a due timeout as its event, with the timer in the payload and the history, and the target state takes over the timers', () => {
    const created = must(transition(def, undefined, create()));
    const timeout = timer(created, 'timeout');
    const r = fire(created, timeout);
    expect(r.outcome).toBe('applied');
    const saga = must(r);
    expect(saga.currentState).toBe('failed');
    expect(saga.latestEvent).toBe('expired');
    expect(saga.history.events.at(-1)).toEqual({ event: 'expired', timestamp: ts(30), timer: { kind: 'timeout', dueAt: ts(30) } });
    // A final state ends every timer, the deadline included.
    expect(saga.timers).toBeUndefined();
    expect(saga.revision).toBe(created.revision + 1);
  });

  it('gives the timeout event its {timeout: {state, after, dueAt}} payload, which reaches the metadata like any payload', () => {
    const created = must(transition(def, undefined, create()));
    const moved = must(transition(def, created, event('go', { n: 1 }, ts(2))));
    const late = timer(moved, 'timeout');
    expect(late).toEqual({ kind: 'timeout', dueAt: addMs(ts(2), 60_000), event: 'late', state: 'working', entry: 1 });
    // "working" has no transition for "late": recorded as unexpected, the timer gone, the state kept.
    const r = fire(moved, late);
    expect(r.outcome).toBe('unexpected');
    const saga = must(r);
    expect(saga.currentState).toBe('working');
    expect(saga.ignoredEvents.at(-1)).toMatchObject({ event: 'late', outcome: 'unexpected', state: 'working' });
    expect(saga.timers?.map((t) => t.kind)).toEqual(['deadline']);
  });

  it('resends a command on each retry with the revision of its first send and the attempt, with growing capped delays, maxAttempts sends in all', () => {
    let saga = must(transition(def, undefined, create('saga-1', { order: 1 }, ts(0))));
    const sends: { attempt: number; revision: number; at: string }[] = [];
    for (;;) {
      const retry = saga.timers?.find((t) => t.kind === 'retry');
      if (!retry) break;
      const r = fire(saga, retry);
      expect(r.outcome).toBe('retried');
      expect(r.commands).toHaveLength(1);
      const [command] = r.commands;
      sends.push({ attempt: command?.attempt ?? 0, revision: command?.revision ?? 0, at: retry.dueAt });
      saga = must(r);
    }
    // First send at 0 s (attempt 1); then after 1 s, 2 s, 3 s (capped from 4 s).
    expect(sends).toEqual([
      { attempt: 2, revision: 1, at: ts(1) },
      { attempt: 3, revision: 1, at: ts(3) },
      { attempt: 4, revision: 1, at: ts(6) },
    ]);
    expect(saga.commands.filter((c) => c.label === 'begin').map((c) => c.attempt ?? 1)).toEqual([1, 2, 3, 4]);
    expect(saga.currentState).toBe('start');
    // The state's timeout still applies after the last attempt.
    expect(saga.timers?.map((t) => t.kind)).toEqual(['timeout', 'deadline']);
  });

  it('does nothing for a timer the saga left behind or that fired already: each fires once', () => {
    const created = must(transition(def, undefined, create()));
    const timeout = timer(created, 'timeout');
    const retry = timer(created, 'retry');
    const moved = must(transition(def, created, event('go', { n: 1 }, ts(2))));
    for (const stale of [timeout, retry]) {
      const r = fire(moved, stale);
      expect(r.outcome).toBe('stale-timer');
      expect(r.changed).toBe(false);
      expect(r.saga).toBe(moved);
      expect(r.commands).toEqual([]);
    }
    const once = must(fire(created, timeout));
    expect(fire(once, timeout)).toMatchObject({ outcome: 'stale-timer', changed: false });
    expect(fire(undefined, timeout)).toMatchObject({ outcome: 'stale-timer', changed: false, saga: undefined });
  });

  it('delivers the deadline to whatever non-final state the saga is in; a state without a transition for it records it as unexpected', () => {
    const created = must(transition(def, undefined, create()));
    const deadline = timer(created, 'deadline');
    const inStart = fire(created, deadline);
    expect(inStart.outcome).toBe('applied');
    expect(must(inStart).currentState).toBe('failed');
    expect(must(inStart).history.events.at(-1)?.timer).toEqual({ kind: 'deadline', dueAt: deadline.dueAt });
    const working = must(transition(def, created, event('go', { n: 1 }, ts(2))));
    const inWorking = fire(working, timer(working, 'deadline'));
    expect(inWorking.outcome).toBe('unexpected');
    expect(must(inWorking).timers?.map((t) => t.kind)).toEqual(['timeout']);
  });

  it('keeps the timers when an event is only recorded (unexpected, rejected), and re-schedules the state timers on a self loop', () => {
    const created = must(transition(def, undefined, create()));
    const ignored = must(transition(def, created, event('nope', {}, ts(5))));
    expect(ignored.timers).toEqual(created.timers);
    const working = must(transition(def, created, event('go', { n: 1 }, ts(2))));
    const again = must(transition(def, working, event('again', {}, ts(10))));
    expect(timer(again, 'timeout')).toEqual({ kind: 'timeout', dueAt: addMs(ts(10), 60_000), event: 'late', state: 'working', entry: 2 });
    // The first entry's timeout is stale now.
    expect(fire(again, timer(working, 'timeout'))).toMatchObject({ outcome: 'stale-timer', changed: false });
  });

  it('is deterministic: the same inputs at the same timestamps give the same documents', () => {
    const inputs: SagaInput[] = [create(), event('go', { n: 1 }, ts(2)), event('again', {}, ts(3))];
    const runOnce = () => inputs.reduce<SagaDocument | undefined>((s, i) => transition(def, s, i).saga, undefined);
    expect(runOnce()).toEqual(runOnce());
  });
});

describe('durations and dates', () => {
  it('reads milliseconds and unit strings', () => {
    expect([0, 250, '250ms', '30s', '1.5m', '2h', '1d', ' 5 s '].map((d) => durationMs(d))).toEqual([0, 250, 250, 30_000, 90_000, 7_200_000, 86_400_000, 5_000]);
    for (const bad of ['', '5', '5 weeks', '-1s', '1e3s', -5]) expect(durationMs(bad), String(bad)).toBeUndefined();
  });

  it('computes retry delays: initial, times the multiplier, capped', () => {
    const r = { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 5_000 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(r, a))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(retryDelayMs({ ...r, maxDelayMs: undefined }, 5)).toBe(16_000);
  });

  it('formats epoch milliseconds as ISO-8601 exactly as Date does, over centuries and leap days', () => {
    const samples = [0, 951_782_400_000, 1_709_164_800_000, 4_102_444_799_999, 253_402_300_799_999];
    for (let i = 0; i < 2_000; i++) samples.push(Math.floor(((i * 2_654_435_761) % 4_000_000) * 1_000_003));
    for (const ms of samples) expect(isoFromMs(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
