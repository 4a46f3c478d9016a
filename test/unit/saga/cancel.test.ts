import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { CANCELLED_STATE, CANCEL_EVENT, CANCEL_LIMITS, parseCancelPayload } from '../../../src/saga/cancel.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';
import { parse } from '../definition/fixtures.ts';
import { create, definition, event, run, ts } from './fixtures.ts';

const def = await definition();

type CancelInput = Extract<SagaInput, { kind: 'cancel' }>;

function cancel(fields: Partial<CancelInput> = {}): CancelInput {
  return { kind: 'cancel', sagaId: 'saga-1', by: 'alice', reason: 'customer called', timestamp: ts(9), ...fields };
}

/** The fixture's machine plus a `__cancel__` transition out of `working` and, optionally, a declared `__cancelled__` state. */
async function definitionWithCancelStates(declareCancelled: boolean): Promise<CompiledDefinition> {
  const states: Record<string, unknown>[] = [
    { id: 'start', isFinal: false, businessStateId: 0, outputCommand: { label: 'begin', channel: 'bus' }, outgoingTransitions: [{ inputEvent: 'go', targetState: 'working' }] },
    {
      id: 'working',
      isFinal: false,
      businessStateId: 0,
      outgoingTransitions: [
        { inputEvent: 'finish', targetState: 'done' },
        { inputEvent: CANCEL_EVENT, targetState: 'compensating', businessEventId: 'stopped' },
      ],
    },
    { id: 'compensating', isFinal: false, businessStateId: 2, outputCommand: { label: 'undoWork', channel: 'bus' }, outgoingTransitions: [{ inputEvent: 'undone', targetState: 'done' }] },
    { id: 'done', isFinal: true, businessStateId: 1 },
  ];
  if (declareCancelled) states.push({ id: CANCELLED_STATE, isFinal: true, businessStateId: 2, sideEffects: [{ label: 'notifyCancelled', channel: 'bus' }] });
  const result = parse({
    machineDefinition: {
      initialState: 'start',
      states,
      businessStates: [
        { id: 0, description: 'running' },
        { id: 1, description: 'succeeded' },
        { id: 2, description: 'stopped' },
      ],
      businessEvents: [{ id: 'stopped', description: 'stopped by an operator' }],
    },
    communicationProtocols: [{ id: 'bus', type: 'kafka', configurations: { brokers: 'k:9092', outputTopics: ['commands'] } }],
    persistencyManagement: {},
  });
  if (result.config === undefined) throw new Error(`fixture is invalid: ${JSON.stringify(result.errors)}`);
  return compileDefinition(result.config);
}

describe('parseCancelPayload (the wire form of a cancel)', () => {
  it('reads by, reason and an optional targetState', () => {
    expect(parseCancelPayload({ by: 'alice', reason: 'why' })).toEqual({ ok: true, request: { by: 'alice', reason: 'why' } });
    expect(parseCancelPayload({ by: 'alice', reason: 'why', targetState: 'failed' })).toEqual({
      ok: true,
      request: { by: 'alice', reason: 'why', targetState: 'failed' },
    });
  });

  it.each([
    [null, 'not null'],
    [[1], 'not an array'],
    ['text', 'not string'],
    [{ reason: 'why' }, 'by must be a non-empty string'],
    [{ by: 'a', reason: '  ' }, 'reason must be a non-empty string'],
    [{ by: 7, reason: 'why' }, 'by must be a non-empty string'],
    [{ by: 'a', reason: 'why', targetState: '' }, 'targetState must be a non-empty string'],
    [{ by: 'a', reason: 'why', note: 'x' }, 'unknown key(s) "note"'],
    [{ by: 'a'.repeat(CANCEL_LIMITS.by + 1), reason: 'why' }, `by has ${CANCEL_LIMITS.by + 1} characters, more than ${CANCEL_LIMITS.by}`],
  ])('refuses %j with a reason naming the problem', (payload, problem) => {
    const parsed = parseCancelPayload(payload);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.problem).toContain('needs the payload {by: string, reason: string, targetState?: string}');
      expect(parsed.problem).toContain(problem);
    }
  });
});

describe('cancel into the built-in __cancelled__ state', () => {
  it('moves a running saga to the final __cancelled__ state, records who and why, sends nothing, keeps the metadata', () => {
    const working = run(def, [create(), event('go', { n: 1 }, ts(1))]);
    const result = transition(def, working, cancel({ eventId: 'c-1' }));
    expect(result.outcome).toBe('cancelled');
    expect(result.changed).toBe(true);
    expect(result.commands).toEqual([]);
    expect(result.reason).toBeUndefined();
    const saga = result.saga as SagaDocument;
    const { businessStateId: _id, businessStateDescription: _description, ...rest } = working;
    expect(saga).toEqual({
      ...rest,
      currentState: CANCELLED_STATE,
      isFinal: true,
      latestEvent: CANCEL_EVENT,
      history: {
        states: [...working.history.states, { state: CANCELLED_STATE, timestamp: ts(9) }],
        events: [...working.history.events, { event: CANCEL_EVENT, timestamp: ts(9), eventId: 'c-1', by: 'alice', reason: 'customer called' }],
      },
      revision: working.revision + 1,
      updatedAt: ts(9),
      recentEventIds: ['c-1'],
    } satisfies SagaDocument);
    // The business state of the state it left does not linger.
    expect(working.businessStateId).toBe(0);
    expect('businessStateId' in saga).toBe(false);
    expect(saga.metadata).toEqual(working.metadata);
  });

  it('gives the same saga from the wire form (an event labelled __cancel__) as from a cancel input', () => {
    const created = run(def, [create()]);
    const fromInput = transition(def, created, cancel({ targetState: 'failed', eventId: 'c-2' }));
    const fromEvent = transition(def, created, event(CANCEL_EVENT, { by: 'alice', reason: 'customer called', targetState: 'failed' }, ts(9), 'c-2'));
    expect(fromEvent).toEqual(fromInput);
    expect(fromEvent.outcome).toBe('cancelled');
  });

  it('leaves the saga final: later events are recorded as already-final and move nothing', () => {
    const cancelled = run(def, [create(), cancel()]);
    const result = transition(def, cancelled, event('go', { n: 1 }, ts(10)));
    expect(result.outcome).toBe('already-final');
    expect(result.saga?.currentState).toBe(CANCELLED_STATE);
    expect(result.saga?.ignoredEvents.at(-1)).toMatchObject({ event: 'go', outcome: 'already-final', state: CANCELLED_STATE });
  });

  it('accepts targetState "__cancelled__" when the definition declares no such state', () => {
    const result = transition(def, run(def, [create()]), cancel({ targetState: CANCELLED_STATE }));
    expect(result.outcome).toBe('cancelled');
    expect(result.saga?.currentState).toBe(CANCELLED_STATE);
    expect(result.saga?.isFinal).toBe(true);
  });

  it('does not change its arguments', () => {
    const created = run(def, [create()]);
    const before = JSON.stringify(created);
    const input = cancel();
    transition(def, created, input);
    expect(JSON.stringify(created)).toBe(before);
    expect(input).toEqual(cancel());
  });

  it('round-trips the cancelled document through JSON', () => {
    const saga = run(def, [create(), cancel()]);
    expect(JSON.parse(JSON.stringify(saga))).toEqual(saga);
  });
});

describe('cancel into a declared state', () => {
  it('enters the targetState of the request with its business state and sends its commands, like any transition', () => {
    const created = run(def, [create()]);
    const result = transition(def, created, cancel({ targetState: 'working' }));
    expect(result.outcome).toBe('cancelled');
    expect(result.saga?.currentState).toBe('working');
    expect(result.saga?.isFinal).toBe(false);
    expect(result.saga?.businessStateId).toBe(0);
    expect(result.commands).toEqual([{ sagaId: 'saga-1', label: 'work', channel: 'bus', payload: { order: 1 }, kind: 'main', attempt: 1, revision: 2 }]);
    expect(result.saga?.commands.at(-1)).toEqual({ label: 'work', channel: 'bus', kind: 'main', state: 'working', timestamp: ts(9), revision: 2 });
    expect(result.saga?.history.events.at(-1)).toEqual({ event: CANCEL_EVENT, timestamp: ts(9), by: 'alice', reason: 'customer called' });
  });

  it("follows the current state's __cancel__ transition when the request names no target, with its business event", async () => {
    const withCancel = (await definitionWithCancelStates(false));
    const working = run(withCancel, [create(), event('go', {}, ts(1))]);
    const result = transition(withCancel, working, cancel());
    expect(result.saga?.currentState).toBe('compensating');
    expect(result.saga?.businessStateId).toBe(2);
    expect(result.commands.map((c) => c.label)).toEqual(['undoWork']);
    expect(result.saga?.history.events.at(-1)).toEqual({
      event: CANCEL_EVENT,
      timestamp: ts(9),
      businessEventId: 'stopped',
      businessEventDescription: 'stopped by an operator',
      by: 'alice',
      reason: 'customer called',
    });
  });

  it("prefers the request's targetState to the state's __cancel__ transition, without that transition's business event", async () => {
    const withCancel = (await definitionWithCancelStates(false));
    const working = run(withCancel, [create(), event('go', {}, ts(1))]);
    const result = transition(withCancel, working, cancel({ targetState: 'done' }));
    expect(result.saga?.currentState).toBe('done');
    expect(result.saga?.history.events.at(-1)?.businessEventId).toBeUndefined();
  });

  it('uses a declared __cancelled__ state (its business state and commands) where no transition says otherwise', async () => {
    const declared = (await definitionWithCancelStates(true));
    const started = run(declared, [create()]);
    const result = transition(declared, started, cancel());
    expect(result.saga?.currentState).toBe(CANCELLED_STATE);
    expect(result.saga?.businessStateId).toBe(2);
    expect(result.saga?.businessStateDescription).toBe('stopped');
    expect(result.commands.map((c) => c.label)).toEqual(['notifyCancelled']);
  });

  it('falls back to the built-in __cancelled__ state from a state without a __cancel__ transition', async () => {
    const withCancel = (await definitionWithCancelStates(false));
    const result = transition(withCancel, run(withCancel, [create()]), cancel());
    expect(result.saga?.currentState).toBe(CANCELLED_STATE);
    expect(result.commands).toEqual([]);
  });
});

describe('cancels that change nothing but the record', () => {
  it('records a targetState that is not a state as a rejected event and stays put', () => {
    const created = run(def, [create()]);
    const result = transition(def, created, cancel({ targetState: 'nowhere', eventId: 'c-3' }));
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toBe('cancel: targetState "nowhere" is not a state of the saga definition');
    expect(result.saga?.currentState).toBe('start');
    expect(result.saga?.revision).toBe(created.revision + 1);
    expect(result.saga?.ignoredEvents).toEqual([
      { event: CANCEL_EVENT, timestamp: ts(9), eventId: 'c-3', outcome: 'rejected', reason: result.reason, state: 'start' },
    ]);
    expect(result.saga?.recentEventIds).toEqual(['c-3']);
    expect(result.commands).toEqual([]);
  });

  it('records a malformed __cancel__ event as rejected with the wire form it needs', () => {
    const created = run(def, [create()]);
    const result = transition(def, created, event(CANCEL_EVENT, { reason: 'no operator named' }, ts(9)));
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('needs the payload {by: string, reason: string, targetState?: string}');
    expect(result.saga?.currentState).toBe('start');
  });

  it('records a cancel of a final saga as already-final', () => {
    const done = run(def, [create(), event('go', { n: 1 }, ts(1)), event('finish', {}, ts(2))]);
    const result = transition(def, done, cancel());
    expect(result.outcome).toBe('already-final');
    expect(result.saga?.currentState).toBe('done');
    expect(result.saga?.ignoredEvents.at(-1)).toMatchObject({ event: CANCEL_EVENT, outcome: 'already-final' });
  });

  it('answers unknown-saga for a saga that does not exist, from either form', () => {
    expect(transition(def, undefined, cancel())).toEqual({
      outcome: 'unknown-saga',
      saga: undefined,
      changed: false,
      commands: [],
      reason: 'saga "saga-1" does not exist',
    });
    expect(transition(def, undefined, event(CANCEL_EVENT, 'garbage')).outcome).toBe('unknown-saga');
  });

  it('drops a repeated cancel eventId as a duplicate', () => {
    const created = run(def, [create(), event('again', {}, ts(1), 'c-4')]);
    const result = transition(def, created, cancel({ eventId: 'c-4' }));
    expect(result.outcome).toBe('duplicate');
    expect(result.changed).toBe(false);
    expect(result.saga).toBe(created);
    expect(result.reason).toBe(`event "${CANCEL_EVENT}" with eventId "c-4" was already processed`);
  });

  it('treats a cancel of a final saga in malformed form as already-final before looking at the payload', () => {
    const cancelled = run(def, [create(), cancel()]);
    expect(transition(def, cancelled, event(CANCEL_EVENT, null, ts(10))).outcome).toBe('already-final');
  });
});

describe('cancel from every non-final state of the fixture', () => {
  it.each([
    ['start', [create()]],
    ['working', [create(), event('go', { n: 2 }, ts(1))]],
  ] as const)('cancels a saga in %s', (state, inputs) => {
    const saga = run(def, [...inputs]);
    expect(saga.currentState).toBe(state);
    const result = transition(def, saga, cancel());
    expect(result.saga?.history.states.map((s) => s.state)).toEqual([...saga.history.states.map((s) => s.state), CANCELLED_STATE]);
    expect(result.saga?.history.states.length).toBe(result.saga?.history.events.length);
  });
});
