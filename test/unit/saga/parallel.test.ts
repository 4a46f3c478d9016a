import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { addMs } from '../../../src/saga/timers.ts';
import { acceptance, transition } from '../../../src/saga/transition.ts';
import type { PendingTimer, SagaDocument, SagaInput, TransitionResult } from '../../../src/saga/types.ts';
import { create, event, parallelDefinition, ts } from './fixtures.ts';

const all = await parallelDefinition('all');
const any = await parallelDefinition('any');
const two = await parallelDefinition({ atLeast: 2 });

const must = (r: TransitionResult): SagaDocument => {
  if (!r.saga) throw new Error(`no saga: ${r.outcome} ${r.reason ?? ''}`);
  return r.saga;
};

function steps(def: CompiledDefinition, inputs: SagaInput[]): { saga: SagaDocument; results: TransitionResult[] } {
  let saga: SagaDocument | undefined;
  const results: TransitionResult[] = [];
  for (const input of inputs) {
    const r = transition(def, saga, input);
    results.push(r);
    saga = r.saga;
  }
  if (saga === undefined) throw new Error('no saga');
  return { saga, results };
}

describe('a parallel state', () => {
  it('sends every branch command on entry with the state\'s other commands, and records each in the service summary', () => {
    const r = transition(all, undefined, create('saga-1', { user: 'ada' }, ts(0)));
    expect(r.outcome).toBe('created');
    expect(r.commands.map((c) => [c.label, c.channel, c.kind, c.attempt, c.revision])).toEqual([
      ['audit', 'http', 'sideEffect', 1, 1],
      ['createUser', 'bus', 'branch', 1, 1],
      ['addToGroups', 'bus', 'branch', 1, 1],
      ['createMailbox', 'http', 'branch', 1, 1],
    ]);
    expect(r.commands.every((c) => JSON.stringify(c.payload) === '{"user":"ada"}')).toBe(true);
    const saga = must(r);
    expect(saga.commands.map((c) => `${c.label}:${c.kind}`)).toEqual(['audit:sideEffect', 'createUser:branch', 'addToGroups:branch', 'createMailbox:branch']);
    expect(saga.serviceSummary).toEqual([
      { state: 'provisioning', entry: 0, branch: 0, label: 'createUser', channel: 'bus', revision: 1, sentAt: ts(0) },
      { state: 'provisioning', entry: 0, branch: 1, label: 'addToGroups', channel: 'bus', revision: 1, sentAt: ts(0) },
      { state: 'provisioning', entry: 0, branch: 2, label: 'createMailbox', channel: 'http', revision: 1, sentAt: ts(0) },
    ]);
    // The state's timeout and the retried branch's first retry.
    expect(saga.timers).toEqual([
      { kind: 'retry', dueAt: ts(10), label: 'addToGroups', channel: 'bus', attempt: 2, revision: 1, state: 'provisioning', entry: 0 },
      { kind: 'timeout', dueAt: ts(60), event: 'provisioningTimedOut', state: 'provisioning', entry: 0 },
    ]);
    expect(JSON.parse(JSON.stringify(saga))).toEqual(saga);
  });

  it('join "all": each answer completes its branch in place (metadata merged, no command), the last one moves the saga on with it in the history', () => {
    const { saga, results } = steps(all, [
      create('saga-1', { user: 'ada' }, ts(0)),
      event('groupsAdded', { groups: ['dev'] }, ts(2), 'e1'),
      event('userCreated', { userId: 7 }, ts(3), 'e2'),
      event('mailboxReady', { mailbox: 'ada@x' }, ts(5), 'e3'),
    ]);
    const [, groups, user, mailbox] = results as [TransitionResult, TransitionResult, TransitionResult, TransitionResult];
    expect(groups).toMatchObject({ outcome: 'branch-done', changed: true, commands: [] });
    expect(groups.reason).toBe('"groupsAdded" answers "addToGroups" (branch 1 of state "provisioning", entered at revision 1): 1 of 3 branches complete, the join needs 3');
    expect(groups.saga).toMatchObject({ currentState: 'provisioning', revision: 2, metadata: { user: 'ada', groups: ['dev'] }, recentEventIds: ['e1'] });
    // A complete branch is not retried; the timeout stays.
    expect(groups.saga?.timers?.map((t) => t.kind)).toEqual(['timeout']);
    expect(user).toMatchObject({ outcome: 'branch-done', commands: [] });
    expect(user.saga?.history.states).toHaveLength(1);
    expect(mailbox.outcome).toBe('applied');
    expect(mailbox.commands.map((c) => c.label)).toEqual(['welcome']);
    expect(saga.currentState).toBe('provisioned');
    expect(saga.revision).toBe(4);
    expect(saga.latestEvent).toBe('mailboxReady');
    expect(saga.history.events.map((e) => e.event)).toEqual(['__created__', 'mailboxReady']);
    expect(saga.history.states.map((s) => s.state)).toEqual(['provisioning', 'provisioned']);
    expect(saga.metadata).toEqual({ user: 'ada', groups: ['dev'], userId: 7, mailbox: 'ada@x' });
    expect(saga.timers).toBeUndefined();
    expect(saga.serviceSummary?.map((i) => [i.label, i.answer, i.answeredAt, i.durationMs, i.answerEventId])).toEqual([
      ['createUser', 'userCreated', ts(3), 3000, 'e2'],
      ['addToGroups', 'groupsAdded', ts(2), 2000, 'e1'],
      ['createMailbox', 'mailboxReady', ts(5), 5000, 'e3'],
    ]);
    expect(saga.serviceSummary?.some((i) => i.late === true)).toBe(false);
  });

  it('any of a branch\'s done events completes it: a failure answer counts as an answer', () => {
    const { saga } = steps(all, [create(), event('userFailed', {}, ts(1)), event('groupsAdded', {}, ts(2)), event('mailboxFailed', {}, ts(3))]);
    expect(saga.currentState).toBe('provisioned');
    expect(saga.serviceSummary?.map((i) => i.answer)).toEqual(['userFailed', 'groupsAdded', 'mailboxFailed']);
  });

  it('records a second answer of a complete branch without applying it: it neither merges nor counts towards the join', () => {
    const { saga, results } = steps(all, [create(), event('userCreated', { userId: 1 }, ts(1)), event('userFailed', { userId: 2 }, ts(2), 'again'), event('groupsAdded', {}, ts(3))]);
    const repeated = results[2] as TransitionResult;
    expect(repeated.outcome).toBe('answer-recorded');
    expect(repeated.reason).toBe('"userFailed" answers "createUser" (branch 0 of state "provisioning", entered at revision 1), but the branch was already complete (by "userCreated" at 2024-01-01T00:00:01.000Z): recorded in the service summary only');
    expect(repeated.saga).toMatchObject({ revision: 3, metadata: { order: 1, userId: 1 }, recentEventIds: ['again'] });
    expect(saga.currentState).toBe('provisioning');
    expect(saga.serviceSummary?.[0]).toMatchObject({ answer: 'userCreated', answeredAt: ts(1), ignoredAnswers: [{ event: 'userFailed', timestamp: ts(2), eventId: 'again' }] });
    // A redelivery of the same event is a duplicate, as for any event.
    expect(transition(all, saga, event('userFailed', {}, ts(4), 'again'))).toMatchObject({ outcome: 'duplicate', changed: false });
  });

  it('join "any": the first answer moves on; the others, left open, are recorded late, unless the new state takes the event', () => {
    const { saga, results } = steps(any, [
      create('saga-1', {}, ts(0)),
      event('groupsAdded', {}, ts(4)),
      event('userCreated', { userId: 9 }, ts(7), 'late-1'),
      event('mailboxReady', {}, ts(8)),
    ]);
    expect(results[1]?.outcome).toBe('applied');
    expect(results[1]?.saga?.currentState).toBe('provisioned');
    const late = results[2] as TransitionResult;
    expect(late.outcome).toBe('answer-recorded');
    expect(late.reason).toContain('but the saga has left that state entry');
    // Recorded only: the metadata is not merged, the state and history do not move.
    expect(late.saga).toMatchObject({ currentState: 'provisioned', revision: 3 });
    expect(late.saga?.metadata).toEqual({});
    expect(late.saga?.history.states).toHaveLength(2);
    expect(late.saga?.serviceSummary?.[0]).toMatchObject({ label: 'createUser', answer: 'userCreated', answeredAt: ts(7), durationMs: 7000, late: true, answerEventId: 'late-1' });
    // "mailboxReady" is an inputEvent of provisioned: the transition wins and the mailbox branch stays unanswered.
    expect(results[3]?.outcome).toBe('applied');
    expect(saga.currentState).toBe('done');
    expect(saga.serviceSummary?.[2]).toEqual({ state: 'provisioning', entry: 0, branch: 2, label: 'createMailbox', channel: 'http', revision: 1, sentAt: ts(0) });
    // After the end a late answer is already-final, as any event.
    expect(transition(any, saga, event('mailboxFailed', {}, ts(9))).outcome).toBe('already-final');
  });

  it('join {"atLeast": 2}: the second complete branch moves on', () => {
    const { saga, results } = steps(two, [create(), event('mailboxReady', {}, ts(1)), event('userCreated', {}, ts(2))]);
    expect(results.map((r) => r.outcome)).toEqual(['created', 'branch-done', 'applied']);
    expect(saga.currentState).toBe('provisioned');
    expect(saga.serviceSummary?.filter((i) => i.answeredAt !== undefined).map((i) => i.label)).toEqual(['createUser', 'createMailbox']);
  });

  it('the state\'s timeout covers a branch that never answers; its answer after the timeout is recorded late', () => {
    const created = must(transition(all, undefined, create()));
    const answered = must(transition(all, created, event('userCreated', {}, ts(1))));
    const partial = must(transition(all, answered, event('mailboxReady', {}, ts(2))));
    const timeout = partial.timers?.find((t) => t.kind === 'timeout') as PendingTimer;
    expect(timeout.dueAt).toBe(addMs(ts(0), 60_000));
    const fired = transition(all, partial, { kind: 'timer', sagaId: 'saga-1', timer: timeout, timestamp: timeout.dueAt });
    expect(fired.outcome).toBe('applied');
    const timedOut = must(fired);
    expect(timedOut.currentState).toBe('timedOut');
    expect(timedOut.history.events.at(-1)).toMatchObject({ event: 'provisioningTimedOut', timer: { kind: 'timeout' } });
    expect(timedOut.serviceSummary?.map((i) => i.answer ?? null)).toEqual(['userCreated', null, 'mailboxReady']);
    // A final saga takes nothing more, late answers included.
    expect(transition(all, timedOut, event('groupsAdded', {}, ts(70))).outcome).toBe('already-final');
    const aborted = must(transition(all, partial, event('abort', {}, ts(3))));
    expect(aborted.currentState).toBe('timedOut');
  });

  it('the branch\'s retry resends its command while it is open and stops once it is complete', () => {
    const created = must(transition(all, undefined, create()));
    const retry = created.timers?.find((t) => t.kind === 'retry') as PendingTimer;
    const resent = transition(all, created, { kind: 'timer', sagaId: 'saga-1', timer: retry, timestamp: retry.dueAt });
    expect(resent.outcome).toBe('retried');
    expect(resent.commands.map((c) => [c.label, c.kind, c.attempt, c.revision])).toEqual([['addToGroups', 'branch', 2, 1]]);
    const next = must(resent).timers?.find((t) => t.kind === 'retry') as PendingTimer;
    expect(next).toMatchObject({ attempt: 3, dueAt: ts(30) });
    const done = must(transition(all, must(resent), event('groupsAdded', {}, ts(11))));
    expect(done.timers?.some((t) => t.kind === 'retry')).toBe(false);
    expect(transition(all, done, { kind: 'timer', sagaId: 'saga-1', timer: next, timestamp: next.dueAt })).toMatchObject({ outcome: 'stale-timer', changed: false });
  });

  it('an event no branch nor transition takes is unexpected, as in any state', () => {
    const created = must(transition(all, undefined, create()));
    const r = transition(all, created, event('welcome', {}, ts(1)));
    expect(r.outcome).toBe('unexpected');
    expect(r.saga?.serviceSummary?.every((i) => i.answeredAt === undefined)).toBe(true);
  });

  it('answers POST /event\'s question: done events and late answers are accepted, others are not', () => {
    const created = must(transition(any, undefined, create()));
    expect(acceptance(any, 'saga-1', created, 'userCreated')).toEqual({ accepted: true });
    expect(acceptance(any, 'saga-1', created, 'welcome')).toMatchObject({ accepted: false, outcome: 'unexpected' });
    const moved = must(transition(any, created, event('userCreated', {}, ts(1))));
    expect(moved.currentState).toBe('provisioned');
    expect(acceptance(any, 'saga-1', moved, 'groupsAdded')).toEqual({ accepted: true });
    expect(acceptance(any, 'saga-1', moved, 'abort')).toMatchObject({ accepted: false, outcome: 'unexpected' });
  });

  it('a re-entered parallel state sends its branches again as new invocations; answers go to the current entry', async () => {
    const loop = await parallelDefinition('all');
    const provisioning = loop.states.get('provisioning');
    if (provisioning === undefined) throw new Error('no provisioning state');
    // Same definition with "abort" looping back into the parallel state.
    const looping: CompiledDefinition = {
      ...loop,
      states: new Map([
        ...loop.states,
        [
          'provisioning',
          {
            ...provisioning,
            transitions: new Map([...provisioning.transitions, ['abort', { inputEvent: 'abort', targetState: 'provisioning' }]]),
            routes: new Map([...provisioning.routes, ['abort', [{ inputEvent: 'abort', targetState: 'provisioning' }]]]),
          },
        ],
      ]),
    };
    const { saga } = steps(looping, [create(), event('userCreated', {}, ts(1)), event('abort', {}, ts(2)), event('userCreated', {}, ts(3))]);
    expect(saga.currentState).toBe('provisioning');
    expect(saga.serviceSummary?.map((i) => [i.label, i.entry, i.revision, i.answeredAt ?? null])).toEqual([
      ['createUser', 0, 1, ts(1)],
      ['addToGroups', 0, 1, null],
      ['createMailbox', 0, 1, null],
      ['createUser', 1, 3, ts(3)],
      ['addToGroups', 1, 3, null],
      ['createMailbox', 1, 3, null],
    ]);
    // An answer both entries wait on goes to the current one.
    const groups = must(transition(looping, saga, event('groupsAdded', {}, ts(4))));
    expect(groups.serviceSummary?.[4]?.answeredAt).toBe(ts(4));
    expect(groups.serviceSummary?.[1]?.answeredAt).toBeUndefined();
  });
});
