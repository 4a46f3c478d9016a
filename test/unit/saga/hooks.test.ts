import { describe, expect, it } from 'vitest';
import type { Settings } from '../../../src/definition/types.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { set } from '../definition/fixtures.ts';
import { create, definition, event, run, ts } from './fixtures.ts';

const plain = (content: string) => ({ type: 'file', encoding: 'plain', content });
const base64 = (content: string) => ({ type: 'file', encoding: 'base64', content: Buffer.from(content).toString('base64') });

const BEGIN = 'machineDefinition.states[0].outputCommand.hook';
const LOG = 'machineDefinition.states[0].sideEffects[0].hook';
const WORK = 'machineDefinition.states[1].outputCommand.hook';

/** The fixture machine with hooks at the given paths (see fixtures.ts for its states). */
function hooked(hooks: Record<string, unknown>, settings: Settings = {}) {
  return definition(settings, (raw) => {
    for (const [path, hook] of Object.entries(hooks)) set(raw, path, hook);
  });
}

describe('command hooks in transitions', () => {
  it('build the payloads of the commands that have one; the others carry the metadata', async () => {
    const def = await hooked({
      [BEGIN]: plain('export default ({ saga, messageLabel }) => ({ payload: { order: saga.metadata.order, label: messageLabel, state: saga.currentState } })'),
      [LOG]: base64('export default ({ saga }) => ({ payload: { line: `${saga.sagaId} r${saga.revision}` } })'),
    });
    const result = transition(def, undefined, create('saga-1', { order: 7 }));
    expect(result.outcome).toBe('created');
    expect(result.commands).toEqual([
      { sagaId: 'saga-1', label: 'begin', channel: 'bus', kind: 'main', payload: { order: 7, label: 'begin', state: 'start' }, hook: BEGIN, attempt: 1, revision: 1 },
      { sagaId: 'saga-1', label: 'log', channel: 'bus', kind: 'sideEffect', payload: { line: 'saga-1 r1' }, hook: LOG, attempt: 1, revision: 1 },
      { sagaId: 'saga-1', label: 'notify', channel: 'http', kind: 'sideEffect', payload: { order: 7 }, attempt: 1, revision: 1 },
    ]);
    // The saga records commands the same way, whoever built the payload.
    expect(result.saga?.commands.map((c) => c.label)).toEqual(['begin', 'log', 'notify']);
  });

  it('see the saga after the transition: target state, merged metadata, history, revision; not sagaflow\'s bookkeeping', async () => {
    const def = await hooked({ [WORK]: plain('export default ({ saga }) => ({ payload: { saga } })') });
    const saga = run(def, [create('saga-1', { order: 1 })]);
    const result = transition(def, saga, event('go', { n: 3 }, ts(4), 'e-1'));
    const seen = (result.commands[0]?.payload as { saga: Record<string, unknown> }).saga;
    const { commands: _c, ignoredEvents: _i, recentEventIds: _r, ...expected } = result.saga as SagaDocument;
    expect(seen).toEqual(expected);
    expect(seen).toMatchObject({ currentState: 'working', metadata: { order: 1, n: 3 }, latestEvent: 'go', revision: 2, updatedAt: ts(4) });
    expect(Object.keys(seen)).not.toContain('recentEventIds');
  });

  it('leave the saga where it was when one fails, recording the event and the reason', async () => {
    const def = await hooked({ [WORK]: plain('export default ({ saga }) => { if (saga.metadata.n > 5) throw new RangeError("n too large"); return { payload: {} }; }') });
    const saga = run(def, [create('saga-1')]);
    const result = transition(def, saga, event('go', { n: 9 }, ts(3), 'e-9'));
    expect(result.outcome).toBe('hook-failed');
    expect(result.changed).toBe(true);
    expect(result.commands).toEqual([]);
    expect(result.reason).toMatch(/^hook machineDefinition\.states\[1\]\.outputCommand\.hook threw RangeError: n too large \(line 1, column \d+\)$/);
    const after = result.saga as SagaDocument;
    // Not advanced: same state, history and metadata (the payload was not merged either).
    expect(after).toMatchObject({ currentState: 'start', metadata: saga.metadata, history: saga.history, commands: saga.commands, revision: saga.revision + 1, updatedAt: ts(3) });
    expect(after.ignoredEvents).toEqual([{ event: 'go', timestamp: ts(3), eventId: 'e-9', outcome: 'hook-failed', reason: result.reason, state: 'start' }]);
    // Its eventId is not remembered: the same event with a payload the hook takes applies.
    expect(after.recentEventIds).toEqual([]);
    const retried = transition(def, after, event('go', { n: 2 }, ts(4), 'e-9'));
    expect(retried.outcome).toBe('applied');
    expect(retried.saga?.currentState).toBe('working');
    expect(retried.saga?.recentEventIds).toEqual(['e-9']);
  });

  it('fail a creation without creating anything when the initial state\'s hook fails', async () => {
    const def = await hooked({ [LOG]: plain('export default () => ({ payload: "not an object" })') });
    const result = transition(def, undefined, create());
    expect(result).toEqual({
      outcome: 'hook-failed',
      saga: undefined,
      changed: false,
      commands: [],
      reason: `hook ${LOG} returned {payload: string}; a command hook must return {payload: object}`,
    });
  });

  it('fail the transition when a hook runs out of time, and the next event works', async () => {
    const def = await hooked({ [WORK]: plain('export default ({ saga }) => { while (saga.metadata.spin) {} return { payload: { ok: true } }; }') }, { hookLimits: { timeoutMs: 25 } });
    const saga = run(def, [create()]);
    const slow = transition(def, saga, event('go', { n: 1, spin: true }));
    expect(slow).toMatchObject({ outcome: 'hook-failed', reason: `hook ${WORK} did not finish within 25 ms` });
    const ok = transition(def, slow.saga, event('go', { n: 1 }, ts(2)));
    expect(ok.outcome).toBe('applied');
    expect(ok.commands[0]?.payload).toEqual({ ok: true });
  });

  it('are deterministic: the clock is the event\'s timestamp and Math.random is seeded by saga, revision and label', async () => {
    const source = 'export default ({ saga }) => ({ payload: { at: new Date().toISOString(), now: Date.now(), r: Math.random() } })';
    const inputs = [create('saga-1', {}, ts(0)), event('go', { n: 1 }, ts(7)), event('again', {}, ts(9))];
    const first = run(await hooked({ [WORK]: plain(source) }), inputs);
    const second = run(await hooked({ [WORK]: plain(source) }), inputs);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    const def = await hooked({ [WORK]: plain(source) });
    const working = run(def, inputs.slice(0, 2));
    const once = transition(def, working, inputs[2] as (typeof inputs)[number]);
    const again = transition(def, working, inputs[2] as (typeof inputs)[number]);
    expect(again).toEqual(once);
    const payload = once.commands[0]?.payload as { at: string; now: number; r: number };
    expect(payload.at).toBe(ts(9));
    expect(payload.now).toBe(Date.parse(ts(9)));
    // Another revision of the same saga draws other numbers.
    const entered = transition(def, run(def, inputs.slice(0, 1)), inputs[1] as (typeof inputs)[number]).commands[0]?.payload as { r: number };
    expect(entered.r).not.toBe(payload.r);
  });
});

describe('the deepMergeMetadata customizer in transitions', () => {
  const CONCAT = 'export default (objValue, srcValue) => (Array.isArray(objValue) ? objValue.concat(srcValue) : undefined)';

  it('merges each event payload into the metadata', async () => {
    const def = await definition({ deepMergeMetadata: { enabled: true, hook: { type: 'file', content: CONCAT } } });
    const saga = run(def, [create('saga-1', { log: ['created'], deep: { a: 1 } }), event('go', { n: 1, log: ['went'] }), event('again', { log: ['again'], deep: { b: 2 } }, ts(2))]);
    expect(saga.metadata).toEqual({ log: ['created', 'went', 'again'], deep: { a: 1, b: 2 }, n: 1 });
  });

  it('holds the saga when the customizer fails', async () => {
    const def = await definition({ deepMergeMetadata: { enabled: true, hook: { type: 'file', content: 'export default (o, s, key) => { if (key === "bad") throw new Error("no"); }' } } });
    const saga = run(def, [create()]);
    const result = transition(def, saga, event('go', { n: 1, bad: true }, ts(1), 'e-1'));
    expect(result.outcome).toBe('hook-failed');
    expect(result.saga).toMatchObject({ currentState: 'start', metadata: { order: 1 }, recentEventIds: [] });
    expect(result.saga?.ignoredEvents[0]).toMatchObject({ outcome: 'hook-failed', reason: expect.stringMatching(/^hook settings\.deepMergeMetadata\.hook threw Error: no/) });
  });

  it('is not used when deep merge is off: payloads merge shallowly', async () => {
    const def = await definition({ deepMergeMetadata: { enabled: false, hook: { type: 'file', content: CONCAT } } });
    const saga = run(def, [create('saga-1', { log: ['created'] }), event('go', { n: 1, log: ['went'] })]);
    expect(saga.metadata).toEqual({ log: ['went'], n: 1 });
  });
});
