import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { seededRandom } from '../../../src/cli/prng.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput, TransitionResult } from '../../../src/saga/types.ts';
import { set } from '../definition/fixtures.ts';
import { definition, ts } from './fixtures.ts';

const SEQUENCES = 3000;
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
    const to = saga.history.states[i]?.state;
    const edge = entry?.unexpected === undefined ? (from?.routes.get(entry?.event ?? '') ?? []).some((t) => t.targetState === to) : from?.onUnexpected === to && entry.unexpected.state === from?.id && from.routes.has(entry.event) === false;
    check(edge, `history step ${i} is an edge of the machine`);
  }
  check(isDeepStrictEqual(JSON.parse(JSON.stringify(saga)), saga), 'the document round-trips through JSON');
}

function checkStep(def: CompiledDefinition, before: SagaDocument | undefined, input: SagaInput, result: TransitionResult): void {
  if (result.changed) {
    check(result.saga?.revision === (before?.revision ?? 0) + 1, 'a change adds exactly 1 to the revision');
    check(result.saga?.updatedAt === input.timestamp, 'a change sets updatedAt from the input');
  } else {
    check(result.saga === before, 'no change returns the same saga');
  }
  if (result.outcome === 'applied' || result.outcome === 'created' || result.outcome === 'unexpected-transition') {
    const entered = def.states.get(result.saga?.currentState ?? '');
    check(isDeepStrictEqual(result.commands.map((c) => c.label), entered?.commands.map((c) => c.label)), 'commands are those of the entered state');
  } else {
    check(result.commands.length === 0, 'only applied, created and unexpected-transition send commands');
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
    const outcomes = new Set<string>();
    let steps = 0;
    for (let sequence = 0; sequence < SEQUENCES; sequence += 1) {
      const def = pick(random, definitions);
      let saga: SagaDocument | undefined;
      let changes = 0;
      const length = 1 + Math.floor(random() * 25);
      for (let step = 0; step < length; step += 1) {
        const input = randomInput(random, step, step === 0 && random() < 0.9);
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
    expect(steps).toBeGreaterThan(SEQUENCES * 10);
    // The generator reaches every outcome, so the invariants were checked on all of them.
    expect([...outcomes].sort()).toEqual(['already-exists', 'already-final', 'applied', 'created', 'duplicate', 'hook-failed', 'invalid-start', 'rejected', 'unexpected', 'unexpected-transition', 'unknown-saga']);
  });
});
