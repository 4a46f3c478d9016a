import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { seededRandom } from '../../../src/cli/prng.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { PendingTimer, SagaDocument, SagaInput, TransitionResult } from '../../../src/saga/types.ts';
import { set } from '../definition/fixtures.ts';
import { definition, parallelDefinition, ts } from './fixtures.ts';

const SEQUENCES = 3000;
const PARALLEL_SEQUENCES = 2000;
const LABELS = ['go', 'cancel', 'finish', 'again', 'fail', 'unknownEvent', 'kickoff'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function randomPayload(random: () => number): unknown {
  const r = random();
  if (r < 0.5) return { n: Math.floor(random() * 10), tag: pick(random, ['a', 'b']), nested: { k: Math.floor(random() * 3) } };
  if (r < 0.7) return { n: 'not-an-integer' };
  if (r < 0.8) return {};
  if (r < 0.9) return pick(random, [null, 'text', 7, [1, 2]]);
  return undefined;
}

function randomInput(random: () => number, step: number, forceCreate: boolean): SagaInput {
  if (forceCreate || random() < 0.1) return { kind: 'create', sagaId: 'saga-1', associatedEntityId: 'e', metadata: { step }, timestamp: ts(step) };
  const input: SagaInput = { kind: 'event', sagaId: 'saga-1', label: pick(random, LABELS), payload: randomPayload(random), timestamp: ts(step) };
  if (random() < 0.6) input.eventId = `e-${Math.floor(random() * 8)}`;
  return input;
}

// Plain checks instead of expect(): tens of thousands of steps would otherwise take seconds.
function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`invariant broken: ${what}`);
}

/** Everything that must hold for any saga the core returns. */
function checkSaga(def: CompiledDefinition, saga: SagaDocument, changes: number): void {
  const state = def.states.get(saga.currentState);
  check(state !== undefined, `currentState ${saga.currentState} is a state`);
  check(saga.isFinal === state?.isFinal, 'isFinal matches the state');
  check(saga.businessStateId === state?.businessStateId, 'businessStateId matches the state');
  check(saga.history.states.at(-1)?.state === saga.currentState, 'last history state is the current state');
  check(saga.history.states.length === saga.history.events.length, 'one history event per history state');
  const first = saga.history.events[0]?.event ?? '';
  check(first === def.creationEvent || def.startOn.has(first), 'history starts with the creation event or a startOn event');
  check(saga.latestEvent === saga.history.events.at(-1)?.event, 'latestEvent is the last history event');
  check(saga.revision === changes, 'revision counts the changes');
  check(saga.recentEventIds.length <= def.settings.duplicateWindow, 'duplicate window bounded');
  check(saga.ignoredEvents.length <= def.settings.ignoredEventsWindow, 'ignored events bounded');
  check(saga.commands.every((c) => c.revision <= saga.revision), 'command records are not from the future');
  for (let i = 1; i < saga.history.states.length; i += 1) {
    const from = def.states.get(saga.history.states[i - 1]?.state ?? '');
    const entry = saga.history.events[i];
    const event = entry?.event ?? '';
    const to = saga.history.states[i]?.state;
    const joined = from?.parallel?.byDone.has(event) === true && from.parallel.targetState === to;
    const edge = entry?.unexpected === undefined ? (from?.routes.get(event) ?? []).some((t) => t.targetState === to) : from?.onUnexpected === to && entry.unexpected.state === from?.id && from.routes.has(entry.event) === false;
    check(edge || joined, `history step ${i} is an edge of the machine (a transition, a join or a catch-all)`);
  }
  checkSummary(def, saga);
  check(isDeepStrictEqual(JSON.parse(JSON.stringify(saga)), saga), 'the document round-trips through JSON');
}

/** The service summary: one invocation per branch of each parallel state entry, answers consistent with the state. */
function checkSummary(def: CompiledDefinition, saga: SagaDocument): void {
  const summary = saga.serviceSummary ?? [];
  const expected = saga.history.states.flatMap((entry, i) => (def.states.get(entry.state)?.parallel?.branches ?? []).map((b, branch) => `${entry.state}/${i}/${branch}/${b.label}`));
  check(isDeepStrictEqual(summary.map((v) => `${v.state}/${v.entry}/${v.branch}/${v.label}`), expected), 'one invocation per branch of every parallel state entry, in order');
  const entry = saga.history.states.length - 1;
  for (const v of summary) {
    check(v.sentAt === saga.history.states[v.entry]?.timestamp, 'an invocation is sent when its state is entered');
    check((v.answeredAt === undefined) === (v.answer === undefined) && (v.answeredAt === undefined) === (v.durationMs === undefined), 'answer fields come together');
    if (v.answeredAt !== undefined) check(v.durationMs === Date.parse(v.answeredAt) - Date.parse(v.sentAt), 'duration is answeredAt - sentAt');
    if (v.late === true) check(v.entry < entry || saga.isFinal, 'a late answer is for an entry the saga left');
    check((v.ignoredAnswers ?? []).length <= def.settings.ignoredEventsWindow, 'ignored answers bounded');
  }
  const parallel = def.states.get(saga.currentState)?.parallel;
  if (parallel !== undefined && !saga.isFinal) {
    const complete = summary.filter((v) => v.entry === entry && v.answeredAt !== undefined).length;
    check(complete < parallel.needed, 'a saga still in its parallel state has not reached the join');
    check(summary.every((v) => v.entry !== entry || v.late !== true), 'no late answer in the current entry');
  }
}

function checkStep(def: CompiledDefinition, before: SagaDocument | undefined, input: SagaInput, result: TransitionResult): void {
  if (result.changed) {
    check(result.saga?.revision === (before?.revision ?? 0) + 1, 'a change adds exactly 1 to the revision');
    check(result.saga?.updatedAt === input.timestamp, 'a change sets updatedAt from the input');
  } else {
    check(result.saga === before, 'no change returns the same saga');
  }
  if (result.outcome === 'branch-done' || result.outcome === 'answer-recorded') {
    check(result.saga?.currentState === before?.currentState && result.saga?.history.states.length === before?.history.states.length, 'an answer that does not join leaves the saga in its state');
  }
  if (result.outcome === 'answer-recorded') check(isDeepStrictEqual(result.saga?.metadata, before?.metadata), 'a recorded-only answer does not merge');
  if (result.outcome === 'applied' || result.outcome === 'created' || result.outcome === 'unexpected-transition') {
    const entered = def.states.get(result.saga?.currentState ?? '');
    check(isDeepStrictEqual(result.commands.map((c) => c.label), entered?.commands.map((c) => c.label)), 'commands are those of the entered state');
  } else if (result.outcome === 'retried') {
    check(result.commands.length === 1 && result.commands[0]?.attempt !== 1, 'a retry sends one command again');
  } else {
    check(result.commands.length === 0, 'only applied, created, unexpected-transition and retried send commands');
  }
  if (result.outcome === 'unexpected-transition') {
    check(isDeepStrictEqual(result.saga?.metadata, before?.metadata), 'an unexpected event leaves the metadata alone');
    check(result.saga?.history.events.at(-1)?.unexpected?.state === before?.currentState, 'an unexpected transition is recorded as such');
  }
  if (before?.isFinal === true) check(result.saga?.currentState === before.currentState, 'a final saga never moves');
  if (result.outcome === 'hook-failed') {
    check(
      before === undefined ? result.saga === undefined : result.saga?.currentState === before.currentState && isDeepStrictEqual(result.saga.metadata, before.metadata),
      'a failed hook leaves the saga where it was (or creates none)',
    );
    check(before === undefined || isDeepStrictEqual(result.saga?.recentEventIds, before.recentEventIds), 'a failed hook does not remember the eventId');
  }
}

/** Runs `count` random sequences (a definition each, up to `maxLength` inputs from a fresh input source), checking every step. */
function runSequences(
  random: () => number,
  definitions: readonly CompiledDefinition[],
  count: number,
  maxLength: number,
  inputs: () => (step: number, saga: SagaDocument | undefined) => SagaInput,
): { steps: number; outcomes: Set<string> } {
  const outcomes = new Set<string>();
  let steps = 0;
  for (let sequence = 0; sequence < count; sequence += 1) {
    const def = pick(random, definitions);
    const next = inputs();
    let saga: SagaDocument | undefined;
    let changes = 0;
    const length = 1 + Math.floor(random() * maxLength);
    for (let step = 0; step < length; step += 1) {
      const input = next(step, saga);
      const snapshot = saga === undefined ? undefined : JSON.stringify(saga);
      const result = transition(def, saga, input);
      outcomes.add(result.outcome);
      if (snapshot !== undefined) check(JSON.stringify(saga) === snapshot, 'the input saga is not modified');
      checkStep(def, saga, input, result);
      if (result.changed) changes += 1;
      saga = result.saga;
      if (saga !== undefined) checkSaga(def, saga, changes);
      steps += 1;
    }
  }
  return { steps, outcomes };
}

describe('transition, property-based', () => {
  it(`keeps every saga valid over ${SEQUENCES} random input sequences`, { timeout: 30_000 }, async () => {
    const random = seededRandom(20240101);
    const definitions = await Promise.all([
      definition(),
      definition({ deepMergeMetadata: { enabled: true } }),
      definition({ duplicateWindow: 3, ignoredEventsWindow: 2 }),
      definition({ duplicateWindow: 0, ignoredEventsWindow: 0 }),
      // Hooks that fail for some inputs: a creation at step 3, 10, ...; work entered with an odd n and tag b.
      definition({ deepMergeMetadata: { enabled: true, hook: { type: 'file', content: 'export default (o, s) => (Array.isArray(o) ? o.concat(s) : undefined)' } } }, (raw) => {
        set(raw, 'machineDefinition.states[0].outputCommand.hook', { type: 'file', content: 'export default ({ saga }) => { if (saga.metadata.step % 7 === 3) throw new Error("step"); return { payload: { step: saga.metadata.step } }; }' });
        set(raw, 'machineDefinition.states[1].outputCommand.hook', { type: 'file', content: 'export default ({ saga }) => (saga.metadata.tag === "b" && saga.metadata.n % 2 === 1 ? { payload: [] } : { payload: { n: saga.metadata.n } })' });
      }),
      // Choreography: "kickoff" starts a saga, "finish" is routed on n, anything unexpected in "working" fails it.
      definition({}, (raw) => {
        set(raw, 'machineDefinition.startOn', ['kickoff']);
        set(raw, 'machineDefinition.states[1].onUnexpected', { targetState: 'failed' });
        set(raw, 'machineDefinition.states[1].outgoingTransitions', [
          { inputEvent: 'finish', targetState: 'working', when: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 5 } } } },
          { inputEvent: 'finish', targetState: 'done', businessEventId: 'finished' },
          { inputEvent: 'again', targetState: 'working' },
          { inputEvent: 'fail', targetState: 'failed' },
        ]);
      }),
    ]);
    const { steps, outcomes } = runSequences(random, definitions, SEQUENCES, 25, () => (step) => randomInput(random, step, step === 0 && random() < 0.9));
    expect(steps).toBeGreaterThan(SEQUENCES * 10);
    // The generator reaches every outcome, so the invariants were checked on all of them.
    expect([...outcomes].sort()).toEqual(['already-exists', 'already-final', 'applied', 'created', 'duplicate', 'hook-failed', 'invalid-start', 'rejected', 'unexpected', 'unexpected-transition', 'unknown-saga']);
  });

  it(`keeps every saga of a parallel state valid over ${PARALLEL_SEQUENCES} random sequences of answers, other events and timers`, { timeout: 30_000 }, async () => {
    const random = seededRandom(20261201);
    const definitions = await Promise.all([parallelDefinition('all'), parallelDefinition('any'), parallelDefinition({ atLeast: 2 }), parallelDefinition({ atLeast: 3 })]);
    const labels = ['userCreated', 'userFailed', 'groupsAdded', 'mailboxReady', 'mailboxFailed', 'abort', 'finish', 'unknownEvent'];
    const { steps, outcomes } = runSequences(random, definitions, PARALLEL_SEQUENCES, 15, () => {
      // A timer kept from earlier in the sequence, fired again or after the saga moved on.
      let seen: PendingTimer | undefined;
      return (step, saga) => {
        const due = saga?.timers?.[0];
        if (due !== undefined && seen === undefined) seen = due;
        if (seen !== undefined && random() < 0.05) return { kind: 'timer', sagaId: 'saga-1', timer: seen, timestamp: ts(step) };
        if (step === 0 || random() < 0.05) return { kind: 'create', sagaId: 'saga-1', associatedEntityId: 'e', metadata: { step }, timestamp: ts(step) };
        if (due !== undefined && random() < 0.2) return { kind: 'timer', sagaId: 'saga-1', timer: due, timestamp: due.dueAt > ts(step) ? due.dueAt : ts(step) };
        const input: SagaInput = { kind: 'event', sagaId: 'saga-1', label: pick(random, labels), payload: randomPayload(random), timestamp: ts(step) };
        if (random() < 0.5) input.eventId = `e-${Math.floor(random() * 8)}`;
        return input;
      };
    });
    expect(steps).toBeGreaterThan(PARALLEL_SEQUENCES * 5);
    expect([...outcomes].sort()).toEqual(['already-exists', 'already-final', 'answer-recorded', 'applied', 'branch-done', 'created', 'duplicate', 'retried', 'stale-timer', 'unexpected']);
  });
});
