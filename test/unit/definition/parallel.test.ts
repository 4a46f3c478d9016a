import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { renderMermaid } from '../../../src/definition/mermaid.ts';
import { parseEdited, remove, set } from './fixtures.ts';

type Edit = (raw: Record<string, unknown>) => void;

const S0 = 'machineDefinition.states[0]';
const P = `${S0}.parallel`;
const JOIN = (found: string) => `must be "all", "any" or {"atLeast": n} with n a whole number from 1 to the number of branches (found ${found})`;

/** The fixture's first state, "created", as a parallel state: two branches on "bus" and "hook", join all, into "done". */
function parallel(edit: (p: Record<string, unknown>) => void = () => undefined): Edit {
  return (raw) => {
    const block: Record<string, unknown> = {
      branches: [
        { command: { label: 'createUser', channel: 'bus' }, done: ['userCreated', 'userFailed'] },
        { command: { label: 'createMailbox', channel: 'hook', retry: { maxAttempts: 3, initialDelay: '1s' } }, done: ['mailboxReady'] },
      ],
      join: 'all',
      onJoin: { targetState: 'done' },
    };
    edit(block);
    set(raw, `${S0}.parallel`, block);
  };
}

/** [rule, edit, path, exact message] */
const ERRORS: [string, Edit, string, string][] = [
  [
    'a branch command names a known channel',
    parallel((p) => set(p, 'branches[1].command.channel', 'mail')),
    `${P}.branches[1].command.channel`,
    '"mail" is not the id of a communication protocol: use one of "bus", "hook" or add it to communicationProtocols',
  ],
  [
    'a done label completes one branch only',
    parallel((p) => set(p, 'branches[1].done', ['mailboxReady', 'userFailed'])),
    `${P}.branches[1].done[1]`,
    `duplicate done event "userFailed" (also at ${P}.branches[0].done[1]): an event completes one branch only`,
  ],
  [
    'a done label is listed once in its branch',
    parallel((p) => set(p, 'branches[0].done', ['userCreated', 'userCreated'])),
    `${P}.branches[0].done[1]`,
    `duplicate done event "userCreated" (also at ${P}.branches[0].done[0]): an event completes one branch only`,
  ],
  [
    'a done label is not also a transition of the state',
    parallel((p) => set(p, 'branches[0].done', ['workFailed'])),
    `${P}.branches[0].done[0]`,
    `"workFailed" is also the inputEvent of ${S0}.outgoingTransitions[1].inputEvent: an event either completes a branch or takes a transition; rename one of them`,
  ],
  ['atLeast is at most the number of branches', parallel((p) => set(p, 'join', { atLeast: 3 })), `${P}.join.atLeast`, 'is 3, but the state has 2 branches: the join could never hold; use a number from 1 to 2'],
  ['atLeast is at least 1', parallel((p) => set(p, 'join', { atLeast: 0 })), `${P}.join`, JOIN('object')],
  ['atLeast is a whole number', parallel((p) => set(p, 'join', { atLeast: 1.5 })), `${P}.join`, JOIN('object')],
  ['join is all, any or atLeast', parallel((p) => set(p, 'join', 'most')), `${P}.join`, JOIN('"most"')],
  ['onJoin leads to a state', parallel((p) => set(p, 'onJoin.targetState', 'finished')), `${P}.onJoin.targetState`, '"finished" is not the id of a state: use one of "created", "done", "failed"'],
  ['onJoin names its target', parallel((p) => set(p, 'onJoin', {})), `${P}.onJoin.targetState`, 'is required: set it to the id of the state the transition leads to'],
  ['a parallel block has branches', parallel((p) => set(p, 'branches', [])), `${P}.branches`, 'must list at least 1 item'],
  ['a branch has done events', parallel((p) => set(p, 'branches[0].done', [])), `${P}.branches[0].done`, 'must list at least 1 item'],
  [
    'a branch command label is unique in its state',
    parallel((p) => set(p, 'branches[1].command.label', 'doWork')),
    `${P}.branches[1].command.label`,
    `duplicate command label "doWork" in state "created" (also at ${S0}.outputCommand.label): a branch's answers and retries are matched to its command by label`,
  ],
  [
    'a done label is not the creation event',
    parallel((p) => set(p, 'branches[1].done', ['__created__'])),
    `${P}.branches[1].done[0]`,
    '"__created__" is the creation event: it cannot complete a branch; rename the done event',
  ],
  [
    'a done label is not the state\'s timeout event',
    (r) => {
      parallel()(r);
      set(r, `${S0}.timeout`, { after: '1m', event: 'mailboxReady' });
    },
    `${P}.branches[1].done[0]`,
    `"mailboxReady" is the event of the state's timeout (${S0}.timeout.event): it cannot complete a branch; rename the done event`,
  ],
  [
    'a branch retry never shortens its delays',
    parallel((p) => set(p, 'branches[1].command.retry', { maxAttempts: 3, initialDelay: '10s', maxDelay: '1s' })),
    `${P}.branches[1].command.retry.maxDelay`,
    'is shorter than initialDelay (1000 ms < 10000 ms): make it at least as long',
  ],
  [
    'a final state is not parallel',
    (r) => {
      parallel()(r);
      set(r, 'machineDefinition.states[1].parallel', { branches: [{ command: { label: 'x', channel: 'bus' }, done: ['y'] }], join: 'any', onJoin: { targetState: 'failed' } });
    },
    'machineDefinition.states[1].parallel',
    'state "done" is final: a saga in it takes no events, so its branches could never be answered; remove parallel or set isFinal to false',
  ],
];

describe('parallel states in saga.json', () => {
  it('accepts a parallel state, with outgoingTransitions or with the join as its only way out, and compiles it', async () => {
    const result = parseEdited(parallel((p) => set(p, 'join', { atLeast: 1 })));
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    const onlyJoin = parseEdited((r) => {
      parallel()(r);
      remove(r, `${S0}.outgoingTransitions`);
    });
    expect(onlyJoin.errors).toEqual([]);
    // "failed" is reachable no more once the transitions are gone: the join is an edge of the graph, "done" is not reported.
    expect(onlyJoin.warnings).toEqual([{ path: 'machineDefinition.states[2]', message: 'state "failed" is unreachable from initialState "created": no transition leads to it; remove it or add a transition to it' }]);
    if (result.config === undefined) throw new Error('no config');
    const def = await compileDefinition(result.config);
    const state = def.states.get('created');
    expect(state?.commands.map((c) => [c.label, c.kind, c.retry?.maxAttempts ?? null])).toEqual([
      ['doWork', 'main', null],
      ['audit', 'sideEffect', null],
      ['createUser', 'branch', null],
      ['createMailbox', 'branch', 3],
    ]);
    expect(state?.parallel).toEqual({
      branches: [
        { label: 'createUser', channel: 'bus', done: ['userCreated', 'userFailed'] },
        { label: 'createMailbox', channel: 'hook', done: ['mailboxReady'] },
      ],
      join: { atLeast: 1 },
      needed: 1,
      targetState: 'done',
      byDone: new Map([
        ['userCreated', 0],
        ['userFailed', 0],
        ['mailboxReady', 1],
      ]),
    });
  });

  it.each([
    ['all', 2],
    ['any', 1],
  ])('join "%s" needs %d branches of 2', async (join, needed) => {
    const result = parseEdited(parallel((p) => set(p, 'join', join)));
    if (result.config === undefined) throw new Error(JSON.stringify(result.errors));
    expect((await compileDefinition(result.config)).states.get('created')?.parallel?.needed).toBe(needed);
  });

  it.each(ERRORS)('refuses: %s', (_rule, edit, path, message) => {
    const result = parseEdited(edit);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([{ path, message }]);
  });

  it('compiles a branch command\'s hook into its sandbox', async () => {
    const result = parseEdited(parallel((p) => set(p, 'branches[0].command.hook', { type: 'file', content: 'export default ({ saga }) => ({ payload: { user: saga.metadata.user } })' })));
    if (result.config === undefined) throw new Error(JSON.stringify(result.errors));
    const def = await compileDefinition(result.config);
    expect(def.states.get('created')?.commands.find((c) => c.label === 'createUser')?.hook?.path).toBe(`${P}.branches[0].command.hook`);
  });

  it('draws a fork, one branch per command, and a join leading to onJoin\'s target', () => {
    const result = parseEdited(parallel((p) => set(p, 'join', { atLeast: 1 })));
    if (result.config === undefined) throw new Error('no config');
    const diagram = renderMermaid(result.config.machineDefinition);
    expect(diagram).toContain('    state created_fork <<fork>>');
    expect(diagram).toContain('    state created_join <<join>>');
    expect(diagram).toContain('    created --> created_fork');
    expect(diagram).toContain('    created_fork --> created_branch_0');
    expect(diagram).toContain('    created_branch_0 --> created_join : userCreated, userFailed');
    expect(diagram).toContain('    created_branch_1 --> created_join : mailboxReady');
    expect(diagram).toContain('    created_join --> done : join at least 1 of 2');
    expect(diagram).toContain('    state "createUser via bus" as created_branch_0');
  });
});
