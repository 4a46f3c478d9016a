import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { applyInput } from '../../../src/engine/ingress.ts';
import { acceptance, transition } from '../../../src/saga/transition.ts';
import { set } from '../definition/fixtures.ts';
import { create, definition, event, run, ts } from './fixtures.ts';

const BIG = { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 100 } } };
const MEDIUM = { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 10 } } };

/** The fixture machine with "placed" starting sagas, "go" routed on n (big, medium, else), and a catch-all in "working". */
function choreography(lastWhen?: Record<string, unknown>): Promise<CompiledDefinition> {
  return definition({}, (raw) => {
    set(raw, 'machineDefinition.startOn', ['placed', 'go']);
    set(raw, 'machineDefinition.states[0].outgoingTransitions', [
      { inputEvent: 'go', targetState: 'done', when: BIG },
      { inputEvent: 'go', targetState: 'failed', when: MEDIUM },
      { inputEvent: 'go', targetState: 'working', businessEventId: 'started', ...(lastWhen ? { when: lastWhen } : {}) },
    ]);
    set(raw, 'machineDefinition.states[1].onUnexpected', { targetState: 'failed' });
  });
}

describe('startOn', () => {
  it('creates the saga in initialState from the event: payload as metadata, sagaId as associatedEntityId, the event first in history', async () => {
    const def = await choreography();
    const result = transition(def, undefined, event('placed', { orderId: 'o-1', amount: 30 }, ts(4), 'ev-1', 'o-1'));
    expect(result.outcome).toBe('created');
    expect(result.saga).toMatchObject({
      sagaId: 'o-1',
      associatedEntityId: 'o-1',
      currentState: 'start',
      metadata: { orderId: 'o-1', amount: 30 },
      latestEvent: 'placed',
      revision: 1,
      createdAt: ts(4),
      recentEventIds: ['ev-1'],
      history: { states: [{ state: 'start', timestamp: ts(4), businessStateId: 0, businessStateDescription: 'running' }], events: [{ event: 'placed', timestamp: ts(4), eventId: 'ev-1' }] },
    });
    expect(result.commands.map((c) => c.label)).toEqual(['begin', 'log', 'notify']);
  });

  it('starts the saga only: a startOn label that is also a transition creates the saga, it does not take the transition', async () => {
    const def = await choreography();
    const result = transition(def, undefined, event('go', { n: 500 }));
    expect(result.outcome).toBe('created');
    expect(result.saga?.currentState).toBe('start');
    // Sent again, it takes the transition as any event does.
    const next = transition(def, result.saga, event('go', { n: 500 }, ts(2)));
    expect([next.outcome, next.saga?.currentState]).toEqual(['applied', 'done']);
  });

  it('refuses a payload that cannot be metadata, creating nothing, for the dead-letter topic with SAGAFLOW_INVALID_START', async () => {
    const def = await choreography();
    for (const payload of [null, 'text', 7, [1]]) {
      const applied = applyInput(def, undefined, event('placed', payload));
      expect(applied.result).toMatchObject({ outcome: 'invalid-start', saga: undefined, changed: false, commands: [] });
      expect(applied.deadLetter).toEqual({
        code: 'SAGAFLOW_INVALID_START',
        reason: 'saga "saga-1" does not exist and event "placed" would start it (machineDefinition.startOn), but its payload is not an object, so it cannot become the metadata',
      });
    }
  });

  it('leaves other labels for an unknown saga unknown, and a start label for an existing saga to its state', async () => {
    const def = await choreography();
    expect(transition(def, undefined, event('finish')).outcome).toBe('unknown-saga');
    const saga = run(def, [create(), event('go', { n: 1 })]);
    const again = transition(def, saga, event('placed', { x: 1 }, ts(3)));
    // "working" has a catch-all: the repeated start event is out of contract there.
    expect([again.outcome, again.saga?.currentState]).toEqual(['unexpected-transition', 'failed']);
  });

  it('treats a redelivered start event as a duplicate', async () => {
    const def = await choreography();
    const started = transition(def, undefined, event('placed', { a: 1 }, ts(1), 'ev-1'));
    expect(transition(def, started.saga, event('placed', { a: 1 }, ts(2), 'ev-1')).outcome).toBe('duplicate');
  });

  it('does not start sagas for a definition without startOn', async () => {
    const def = await definition();
    expect(transition(def, undefined, event('placed', { a: 1 })).outcome).toBe('unknown-saga');
  });
});

describe('routing on payload (when)', () => {
  it('takes the first transition whose when matches, in file order, else the last one', async () => {
    const def = await choreography();
    const to = (n: unknown) => transition(def, run(def, [create()]), event('go', { n })).saga?.currentState;
    expect(to(150)).toBe('done');
    expect(to(100)).toBe('done');
    expect(to(20)).toBe('failed');
    expect(to(3)).toBe('working');
    expect(to('x')).toBe('working');
  });

  it('records the chosen transition: its business event, the merged payload', async () => {
    const def = await choreography();
    const saga = transition(def, run(def, [create()]), event('go', { n: 3 })).saga;
    expect(saga?.history.events.at(-1)).toEqual({ event: 'go', timestamp: ts(1), businessEventId: 'started', businessEventDescription: 'work started' });
    expect(saga?.metadata).toEqual({ order: 1, n: 3 });
  });

  it('when even the last has a when and none matches, the event is unexpected, with every miss in the reason', async () => {
    const def = await choreography({ type: 'object', required: ['n'] });
    const result = transition(def, run(def, [create()]), event('go', { m: 1 }));
    expect(result.outcome).toBe('unexpected');
    expect(result.saga?.currentState).toBe('start');
    expect(result.reason).toBe(
      'the payload of event "go" matches the "when" of no transition of state "start" (to "done": payload is missing required property "n" | to "failed": payload is missing required property "n" | to "working": payload is missing required property "n")',
    );
    expect(result.saga?.ignoredEvents.at(-1)).toMatchObject({ event: 'go', outcome: 'unexpected', state: 'start' });
  });
});

describe('onUnexpected', () => {
  it('moves the saga to the catch-all state on an event its state has no transition for, recorded as unexpected, metadata unchanged', async () => {
    const def = await choreography();
    const working = run(def, [create(), event('go', { n: 1 }, ts(1))]);
    const result = transition(def, working, event('refundIssued', { amount: 5 }, ts(7), 'ev-9'));
    expect(result.outcome).toBe('unexpected-transition');
    expect(result.changed).toBe(true);
    expect(result.saga?.currentState).toBe('failed');
    expect(result.saga?.isFinal).toBe(true);
    expect(result.saga?.metadata).toEqual(working.metadata);
    expect(result.saga?.latestEvent).toBe('refundIssued');
    expect(result.saga?.recentEventIds).toEqual(['ev-9']);
    expect(result.saga?.ignoredEvents).toEqual([]);
    expect(result.saga?.history.events.at(-1)).toEqual({
      event: 'refundIssued',
      timestamp: ts(7),
      eventId: 'ev-9',
      unexpected: { state: 'working', reason: 'state "working" has no transition for event "refundIssued" (it accepts "finish", "again", "fail")' },
    });
    expect(result.saga?.history.states.at(-1)).toEqual({ state: 'failed', timestamp: ts(7) });
  });

  it('sends the commands of the catch-all state', async () => {
    const def = await definition({}, (raw) => set(raw, 'machineDefinition.states[1].onUnexpected', { targetState: 'done' }));
    const result = transition(def, run(def, [create(), event('go', { n: 1 })]), event('surprise'));
    expect(result.commands.map((c) => c.label)).toEqual(['celebrate']);
  });

  it('leaves states without onUnexpected ignoring the event, and rejected payloads rejected', async () => {
    const def = await choreography();
    const start = run(def, [create()]);
    expect(transition(def, start, event('surprise')).outcome).toBe('unexpected');
    const rejecting = await definition({}, (raw) => set(raw, 'machineDefinition.states[1].onUnexpected', { targetState: 'failed' }));
    const working = run(rejecting, [create(), event('go', { n: 1 })]);
    expect(transition(rejecting, working, event('go', { n: 2 })).saga?.currentState).toBe('failed');
  });

  it('answers POST /event acceptance as it applies: a catch-all state accepts any label, a startOn label starts an unknown saga', async () => {
    const def = await choreography();
    const working = run(def, [create(), event('go', { n: 1 })]);
    expect(acceptance(def, 'saga-1', working, 'anything')).toEqual({ accepted: true });
    expect(acceptance(def, 'saga-9', undefined, 'placed')).toEqual({ accepted: true });
    expect(acceptance(def, 'saga-9', undefined, 'finish')).toMatchObject({ accepted: false, outcome: 'unknown-saga' });
    expect(acceptance(def, 'saga-1', run(def, [create()]), 'surprise')).toMatchObject({ accepted: false, outcome: 'unexpected' });
  });
});
