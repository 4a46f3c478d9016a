import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { dueText, firedTimerText, pendingTimerText, relativeTime } from '../../../src/http/console/assets/timers.js';
import { sagaTimeline } from '../../../src/http/console/saga-timeline.ts';
import type { TimelineEntry } from '../../../src/http/console/saga-timeline.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { PendingTimer, SagaDocument, SagaInput } from '../../../src/saga/types.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** examples/payment: a retried charge (10 s, then 20 s), a 2 min timeout, a 1 day deadline. */
async function payment() {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/payment/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

async function run(inputs: (saga: SagaDocument | undefined) => SagaInput | undefined): Promise<SagaDocument> {
  const def = await payment();
  let saga: SagaDocument | undefined;
  for (let input = inputs(saga); input; input = inputs(saga)) saga = transition(def, saga, input).saga;
  if (!saga) throw new Error('no saga');
  return saga;
}

const timerOf = (saga: SagaDocument | undefined, kind: PendingTimer['kind']): PendingTimer => {
  const t = saga?.timers?.find((x) => x.kind === kind);
  if (!t) throw new Error(`no ${kind} timer`);
  return t;
};

describe('timers on the saga timeline', () => {
  it('lists the timers the saga waits on after its history, soonest first, and the retry it fired as attempt 2', async () => {
    let step = 0;
    const saga = await run((s) => {
      step += 1;
      if (step === 1) return { kind: 'create', sagaId: 'pay-1', associatedEntityId: 'order-1', metadata: {}, timestamp: at(0) };
      // The first retry of chargeCard fires 10 s later.
      if (step === 2) return { kind: 'timer', sagaId: 'pay-1', timer: timerOf(s, 'retry'), timestamp: at(10_050) };
      return undefined;
    });
    const timeline = sagaTimeline(saga);
    expect(timeline.map((e) => [e.kind, e.at])).toEqual([
      ['state', at(0)],
      ['command', at(0)],
      ['command', at(10_050)],
      ['timer', at(30_050)],
      ['timer', at(120_000)],
      ['timer', at(86_400_000)],
    ]);
    expect(timeline[2]).toMatchObject({ kind: 'command', label: 'chargeCard', revision: 1, attempt: 2 });
    expect(timeline.slice(3)).toEqual([
      { kind: 'timer', at: at(30_050), timerKind: 'retry', label: 'chargeCard', channel: 'payments', attempt: 3, state: 'paymentRequested' },
      { kind: 'timer', at: at(120_000), timerKind: 'timeout', event: 'paymentTimedOut', state: 'paymentRequested' },
      { kind: 'timer', at: at(86_400_000), timerKind: 'deadline', event: 'orderExpired' },
    ]);

    const [, first, retried, retry, timeout, deadline] = timeline as [TimelineEntry, TimelineEntry, TimelineEntry, Extract<TimelineEntry, { kind: 'timer' }>, Extract<TimelineEntry, { kind: 'timer' }>, Extract<TimelineEntry, { kind: 'timer' }>];
    expect(pendingTimerText(retry)).toEqual({ pill: 'retry pending', subject: 'chargeCard', detail: 'on payments · attempt 3 · sent if the saga is still in paymentRequested' });
    expect(pendingTimerText(timeout)).toEqual({ pill: 'timeout pending', subject: 'paymentTimedOut', detail: 'delivered if the saga is still in paymentRequested' });
    expect(pendingTimerText(deadline)).toEqual({ pill: 'deadline pending', subject: 'orderExpired', detail: 'delivered to whatever state the saga is in, unless it is final' });
    expect(firedTimerText(first)).toBeUndefined();
    expect(firedTimerText(retried)).toEqual({ pill: 'retry', detail: 'sent again by its retry timer (attempt 2)' });
  });

  it('shows an event a timer delivered as fired, with its due time and how late it fired', async () => {
    let step = 0;
    const saga = await run((s) => {
      step += 1;
      if (step === 1) return { kind: 'create', sagaId: 'pay-2', associatedEntityId: 'order-2', metadata: {}, timestamp: at(0) };
      if (step === 2) return { kind: 'timer', sagaId: 'pay-2', timer: timerOf(s, 'timeout'), timestamp: at(120_250) };
      return undefined;
    });
    expect(saga.currentState).toBe('paymentFailed');
    const timeline = sagaTimeline(saga);
    const timedOut = timeline.find((e) => e.kind === 'state' && e.step === 1);
    expect(timedOut).toMatchObject({ event: 'paymentTimedOut', state: 'paymentFailed', timer: { kind: 'timeout', dueAt: at(120_000) } });
    // Final: nothing pending any more.
    expect(timeline.filter((e) => e.kind === 'timer')).toEqual([]);
    const text = firedTimerText(timedOut as TimelineEntry);
    expect(text?.pill).toBe('timeout fired');
    // The due time in the browser's zone (formatTime), then the lag.
    expect(text?.detail).toMatch(/^by the timeout due \d{4}-\d\d-\d\d \d\d:\d\d:00\.000, fired 250 ms after$/);
    expect(firedTimerText({ ...(timedOut as Extract<TimelineEntry, { kind: 'state' }>), at: at(123_500) })?.detail).toMatch(/, fired 3\.5 s after$/);
  });

  it('says when a pending timer is due, relative to now', () => {
    const now = T0;
    expect(relativeTime(at(45_000), now)).toBe('in 45 s');
    expect(relativeTime(at(119_000), now)).toBe('in 2 min');
    expect(relativeTime(at(5 * 3_600_000), now)).toBe('in 5 h');
    expect(relativeTime(at(86_400_000), now)).toBe('in 1 d');
    expect(relativeTime(at(200), now)).toBe('now');
    expect(relativeTime(at(-3_000), now)).toBe('3 s ago');
    expect(relativeTime('not a time', now)).toBe('');
    expect(dueText(at(120_000), now)).toBe('due in 2 min');
    // Overdue: its owner fires it within a tick, or is down.
    expect(dueText(at(-3_000), now)).toBe('overdue by 3 s');
  });
});

describe('the timeline of a choreography', () => {
  it('marks the move an onUnexpected made, with the state it left and why', async () => {
    const parsed = parseSagaConfig(JSON.parse(readFileSync(new URL('../../../examples/marketplace-order/saga.json', import.meta.url), 'utf8')), { env: {}, readFile: () => '' });
    if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
    const def = await compileDefinition(parsed.config);
    let saga = transition(def, undefined, { kind: 'event', sagaId: 'mp-1', label: 'orderPlaced', payload: { orderId: 'mp-1' }, timestamp: at(0) }).saga;
    saga = transition(def, saga, { kind: 'event', sagaId: 'mp-1', label: 'orderShipped', payload: { orderId: 'mp-1' }, timestamp: at(1_000) }).saga;
    if (!saga) throw new Error('no saga');
    const states = sagaTimeline(saga).filter((e) => e.kind === 'state');
    expect(states.map((e) => [e.event, e.state, 'unexpected' in e ? e.unexpected : undefined])).toEqual([
      ['orderPlaced', 'awaitingPayment', undefined],
      ['orderShipped', 'unexpectedTransition', { state: 'awaitingPayment', reason: 'state "awaitingPayment" has no transition for event "orderShipped" (it accepts "paymentAuthorized", "paymentDeclined")' }],
    ]);
  });
});
