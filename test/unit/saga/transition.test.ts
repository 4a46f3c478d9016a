import { describe, expect, it } from 'vitest';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { create, definition, event, run, ts } from './fixtures.ts';

const def = await definition();

describe('create', () => {
  it('creates the saga in the initial state with its first history entries and commands', () => {
    const result = transition(def, undefined, create('saga-1', { order: 1 }, ts(0)));
    expect(result.outcome).toBe('created');
    expect(result.changed).toBe(true);
    expect(result.reason).toBeUndefined();
    expect(result.saga).toEqual({
      sagaId: 'saga-1',
      associatedEntityId: 'entity-1',
      currentState: 'start',
      businessStateId: 0,
      businessStateDescription: 'running',
      isFinal: false,
      metadata: { order: 1 },
      latestEvent: '__created__',
      history: {
        states: [{ state: 'start', timestamp: ts(0), businessStateId: 0, businessStateDescription: 'running' }],
        events: [{ event: '__created__', timestamp: ts(0) }],
      },
      revision: 1,
      createdAt: ts(0),
      updatedAt: ts(0),
      commands: [
        { label: 'begin', channel: 'bus', kind: 'main', state: 'start', timestamp: ts(0), revision: 1 },
        { label: 'log', channel: 'bus', kind: 'sideEffect', state: 'start', timestamp: ts(0), revision: 1 },
        { label: 'notify', channel: 'http', kind: 'sideEffect', state: 'start', timestamp: ts(0), revision: 1 },
      ],
      ignoredEvents: [],
      recentEventIds: [],
    } satisfies SagaDocument);
    expect(result.commands).toEqual([
      { sagaId: 'saga-1', label: 'begin', channel: 'bus', payload: { order: 1 }, kind: 'main', attempt: 1, revision: 1 },
      { sagaId: 'saga-1', label: 'log', channel: 'bus', payload: { order: 1 }, kind: 'sideEffect', attempt: 1, revision: 1 },
      { sagaId: 'saga-1', label: 'notify', channel: 'http', payload: { order: 1 }, kind: 'sideEffect', attempt: 1, revision: 1 },
    ]);
  });

  it('uses the configured creation event', async () => {
    const custom = await definition();
    const withEvent = { ...custom, creationEvent: 'born' };
    expect(transition(withEvent, undefined, create()).saga?.history.events[0]?.event).toBe('born');
  });

  it('answers already-exists and changes nothing when the saga exists', () => {
    const saga = run(def, [create()]);
    const result = transition(def, saga, create('saga-1', { other: true }, ts(5)));
    expect(result).toEqual({
      outcome: 'already-exists',
      saga,
      changed: false,
      commands: [],
      reason: 'saga "saga-1" already exists (state "start")',
    });
  });

  it('copies the metadata: changing the input afterwards does not change the saga or the commands', () => {
    const metadata = { nested: { a: 1 } };
    const result = transition(def, undefined, create('saga-1', metadata));
    metadata.nested.a = 2;
    expect(result.saga?.metadata).toEqual({ nested: { a: 1 } });
    expect(result.commands[0]?.payload).toEqual({ nested: { a: 1 } });
  });
});

describe('events', () => {
  it('applies a transition: merges the payload, moves state, appends history and emits the target commands', () => {
    const created = run(def, [create()]);
    const result = transition(def, created, event('go', { n: 5 }, ts(1), 'e-1'));
    expect(result.outcome).toBe('applied');
    expect(result.changed).toBe(true);
    const saga = result.saga as SagaDocument;
    expect(saga.currentState).toBe('working');
    expect(saga.metadata).toEqual({ order: 1, n: 5 });
    expect(saga.latestEvent).toBe('go');
    expect(saga.revision).toBe(2);
    expect(saga.createdAt).toBe(ts(0));
    expect(saga.updatedAt).toBe(ts(1));
    expect(saga.history.states.at(-1)).toEqual({ state: 'working', timestamp: ts(1), businessStateId: 0, businessStateDescription: 'running' });
    expect(saga.history.events.at(-1)).toEqual({
      event: 'go',
      timestamp: ts(1),
      businessEventId: 'started',
      businessEventDescription: 'work started',
      eventId: 'e-1',
    });
    expect(saga.recentEventIds).toEqual(['e-1']);
    expect(result.commands).toEqual([{ sagaId: 'saga-1', label: 'work', channel: 'bus', payload: { order: 1, n: 5 }, kind: 'main', attempt: 1, revision: 2 }]);
    expect(saga.commands.at(-1)).toEqual({ label: 'work', channel: 'bus', kind: 'main', state: 'working', timestamp: ts(1), revision: 2 });
  });

  it('reaches a final state: isFinal, business state of the target, its side effects', () => {
    const saga = run(def, [create(), event('go', { n: 1 }), event('finish', {}, ts(2))]);
    expect(saga).toMatchObject({ currentState: 'done', isFinal: true, businessStateId: 1, businessStateDescription: 'succeeded', revision: 3 });
    expect(saga.commands.map((c) => c.label)).toEqual(['begin', 'log', 'notify', 'work', 'celebrate']);
  });

  it('drops the business state when the target state has none', () => {
    const saga = run(def, [create(), event('cancel')]);
    expect(saga.currentState).toBe('failed');
    expect('businessStateId' in saga).toBe(false);
    expect('businessStateDescription' in saga).toBe(false);
    expect(saga.history.states.at(-1)).toEqual({ state: 'failed', timestamp: ts(1) });
  });

  it('re-enters a state on a self transition and sends its command again', () => {
    const working = run(def, [create(), event('go', { n: 1 })]);
    const result = transition(def, working, event('again', {}, ts(2)));
    expect(result.outcome).toBe('applied');
    expect(result.saga?.currentState).toBe('working');
    expect(result.commands.map((c) => c.label)).toEqual(['work']);
    expect(result.saga?.history.states.map((s) => s.state)).toEqual(['start', 'working', 'working']);
  });

  it('answers unknown-saga when there is no saga', () => {
    expect(transition(def, undefined, event('go', { n: 1 }))).toEqual({
      outcome: 'unknown-saga',
      saga: undefined,
      changed: false,
      commands: [],
      reason: 'saga "saga-1" does not exist',
    });
  });

  it('records an unexpected event: state unchanged, ignoredEvents entry, revision +1', () => {
    const saga = run(def, [create()]);
    const result = transition(def, saga, event('finish', { x: 1 }, ts(3), 'e-9'));
    const reason = 'state "start" has no transition for event "finish" (it accepts "go", "cancel")';
    expect(result.outcome).toBe('unexpected');
    expect(result.changed).toBe(true);
    expect(result.reason).toBe(reason);
    expect(result.commands).toEqual([]);
    expect(result.saga).toEqual({
      ...saga,
      revision: 2,
      updatedAt: ts(3),
      ignoredEvents: [{ event: 'finish', timestamp: ts(3), eventId: 'e-9', outcome: 'unexpected', reason, state: 'start' }],
      recentEventIds: ['e-9'],
    });
  });

  it('rejects a payload that fails the payloadValidationSchema, listing the problems', () => {
    const saga = run(def, [create()]);
    const result = transition(def, saga, event('go', { n: 'five' }, ts(2)));
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toBe('payload of event "go" does not match the payloadValidationSchema of the transition "start" -> "working": payload.n must be integer');
    expect(result.saga?.currentState).toBe('start');
    expect(result.saga?.metadata).toEqual({ order: 1 });
    expect(result.saga?.ignoredEvents).toEqual([{ event: 'go', timestamp: ts(2), outcome: 'rejected', reason: result.reason, state: 'start' }]);
    expect(result.saga?.revision).toBe(2);
  });

  it('rejects a missing payload when the schema needs an object', () => {
    const result = transition(def, run(def, [create()]), { ...event('go'), payload: undefined });
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toContain('payload must be object');
  });

  it('records events sent to a saga in a final state as already-final', () => {
    const done = run(def, [create(), event('cancel')]);
    const result = transition(def, done, event('go', { n: 1 }, ts(4)));
    expect(result.outcome).toBe('already-final');
    expect(result.reason).toBe('saga is in final state "failed", which accepts no events');
    expect(result.saga?.ignoredEvents.at(-1)).toMatchObject({ event: 'go', outcome: 'already-final', state: 'failed' });
    expect(result.saga?.revision).toBe(done.revision + 1);
  });

  it('treats a state missing from the definition (changed definition) as unexpected', () => {
    const saga = { ...run(def, [create()]), currentState: 'removedState' };
    const result = transition(def, saga, event('go', { n: 1 }));
    expect(result.outcome).toBe('unexpected');
    expect(result.reason).toBe('state "removedState" is not in the saga definition');
  });

  it('does not merge payloads that are not plain objects', () => {
    const noSchema = run(def, [create(), event('go', { n: 1 })]);
    for (const payload of ['text', 42, null, [1, 2], undefined]) {
      const result = transition(def, noSchema, { ...event('again'), payload });
      expect(result.outcome).toBe('applied');
      expect(result.saga?.metadata).toEqual({ order: 1, n: 1 });
    }
  });

  it('never modifies the saga it is given', () => {
    const saga = run(def, [create()]);
    const snapshot = structuredClone(saga);
    transition(def, saga, event('go', { n: 1, order: { replaced: true } }));
    transition(def, saga, event('nope'));
    transition(def, saga, event('go', { n: 'bad' }));
    expect(saga).toEqual(snapshot);
  });
});

describe('duplicates', () => {
  it('answers duplicate for an eventId already applied, changing nothing', () => {
    const saga = run(def, [create(), event('go', { n: 1 }, ts(1), 'e-1')]);
    const result = transition(def, saga, event('finish', {}, ts(2), 'e-1'));
    expect(result).toEqual({
      outcome: 'duplicate',
      saga,
      changed: false,
      commands: [],
      reason: 'event "finish" with eventId "e-1" was already processed',
    });
  });

  it('also remembers eventIds of ignored events, so a redelivery is a no-op', () => {
    const saga = run(def, [create(), event('nope', {}, ts(1), 'e-1')]);
    expect(transition(def, saga, event('nope', {}, ts(2), 'e-1')).outcome).toBe('duplicate');
  });

  it('checks duplicates before finality', () => {
    const saga = run(def, [create(), event('cancel', {}, ts(1), 'e-1')]);
    expect(transition(def, saga, event('cancel', {}, ts(2), 'e-1')).outcome).toBe('duplicate');
  });

  it('forgets the oldest eventIds beyond the window', async () => {
    const small = await definition({ duplicateWindow: 2 });
    const saga = run(small, [create(), event('go', { n: 1 }, ts(1), 'e-1'), event('again', {}, ts(2), 'e-2'), event('again', {}, ts(3), 'e-3')]);
    expect(saga.recentEventIds).toEqual(['e-2', 'e-3']);
    expect(transition(small, saga, event('again', {}, ts(4), 'e-3')).outcome).toBe('duplicate');
    expect(transition(small, saga, event('again', {}, ts(4), 'e-2')).outcome).toBe('duplicate');
    // e-1 was evicted: it is processed again.
    expect(transition(small, saga, event('again', {}, ts(4), 'e-1')).outcome).toBe('applied');
  });

  it('does no duplicate detection with a window of 0 or without eventIds', async () => {
    const none = await definition({ duplicateWindow: 0 });
    const saga = run(none, [create(), event('go', { n: 1 }, ts(1), 'e-1')]);
    expect(saga.recentEventIds).toEqual([]);
    expect(transition(none, saga, event('again', {}, ts(2), 'e-1')).outcome).toBe('applied');
    const plain = run(def, [create(), event('go', { n: 1 })]);
    expect(transition(def, plain, event('again')).outcome).toBe('applied');
  });
});

describe('ignoredEvents window', () => {
  it('keeps only the most recent ignored events', async () => {
    const small = await definition({ ignoredEventsWindow: 3 });
    const inputs = [create(), ...[1, 2, 3, 4, 5].map((i) => event(`nope-${i}`, {}, ts(i)))];
    const saga = run(small, inputs);
    expect(saga.ignoredEvents.map((e) => e.event)).toEqual(['nope-3', 'nope-4', 'nope-5']);
    expect(saga.revision).toBe(6);
  });

  it('still changes the revision when the window is 0', async () => {
    const none = await definition({ ignoredEventsWindow: 0 });
    const saga = run(none, [create(), event('nope')]);
    expect(saga.ignoredEvents).toEqual([]);
    expect(saga.revision).toBe(2);
  });
});

describe('metadata merge', () => {
  const payload = { customer: { email: 'new@example.com' }, total: 10 };
  const metadata = { customer: { name: 'Ada', email: 'old@example.com' }, items: [1, 2] };

  it('is shallow by default: first-level keys are replaced', () => {
    const saga = run(def, [create('saga-1', metadata), event('go', { n: 1 }), event('again', payload, ts(2))]);
    expect(saga.metadata).toEqual({ customer: { email: 'new@example.com' }, items: [1, 2], n: 1, total: 10 });
  });

  it('is lodash mergeWith when settings.deepMergeMetadata.enabled: nested objects merge, arrays merge index by index', async () => {
    const deep = await definition({ deepMergeMetadata: { enabled: true } });
    const saga = run(deep, [create('saga-1', metadata), event('go', { n: 1 }), event('again', { ...payload, items: [3] }, ts(2))]);
    expect(saga.metadata).toEqual({ customer: { name: 'Ada', email: 'new@example.com' }, items: [3, 2], n: 1, total: 10 });
  });
});

describe('documents', () => {
  it('round-trip through JSON unchanged, and the core gives the same results from the parsed copy', () => {
    const inputs = [create(), event('go', { n: 1 }, ts(1), 'e-1'), event('nope', {}, ts(2)), event('again', { deep: { x: [1, { y: null }] } }, ts(3))];
    const saga = run(def, inputs);
    const copy = JSON.parse(JSON.stringify(saga)) as SagaDocument;
    expect(copy).toEqual(saga);
    const next = event('finish', {}, ts(4), 'e-2');
    expect(transition(def, copy, next)).toEqual(transition(def, saga, next));
  });

  it('is deterministic: the same inputs give identical documents and commands', async () => {
    const inputs = [create(), event('go', { n: 1 }, ts(1), 'e-1'), event('finish', {}, ts(2))];
    expect(JSON.stringify(run(def, inputs))).toBe(JSON.stringify(run(await definition(), inputs)));
  });
});
