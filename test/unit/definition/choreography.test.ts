import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parsePointer, resolvePointer } from '../../../src/definition/choreography.ts';
import { IssueList } from '../../../src/definition/issues.ts';
import { checkTopology } from '../../../src/definition/topology.ts';
import { parseEdited, push, set } from './fixtures.ts';

type Edit = (raw: Record<string, unknown>) => void;

const S0 = 'machineDefinition.states[0]';
const T0 = `${S0}.outgoingTransitions[0]`;
const T1 = `${S0}.outgoingTransitions[1]`;
const AMOUNT_OVER_100 = { type: 'object', required: ['amount'], properties: { amount: { type: 'number', exclusiveMinimum: 100 } } };
const observedChannel = { id: 'domain', type: 'kafka', configurations: { brokers: ['localhost:9092'], inputTopics: ['orders'], correlation: { sagaId: '/messagePayload/orderId' } } };

/** [rule, how to break it, expected path, expected message (exact)] */
const ERRORS: [string, Edit, string, string][] = [
  [
    'two transitions for one event without when',
    (r) => set(r, `${T1}.inputEvent`, 'workDone'),
    `${T1}.inputEvent`,
    `duplicate inputEvent "workDone" in state "created" (also at ${T0}.inputEvent): an event can lead to one state only, unless each transition for it but the last has a "when" (a JSON Schema of the payload)`,
  ],
  [
    'a transition without when before another for the same event',
    (r) => {
      set(r, `${T1}.inputEvent`, 'workDone');
      set(r, `${T1}.when`, AMOUNT_OVER_100);
    },
    T0,
    `has no "when" but is not the last transition for "workDone" in state "created" (${T1} comes after it): it would take every "workDone" and the ones after it never; move it last or give it a "when"`,
  ],
  [
    'a when that is not a JSON Schema',
    (r) => set(r, `${T0}.when`, { type: 'banana' }),
    `${T0}.when`,
    'is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
  ],
  [
    'onUnexpected names a state',
    (r) => set(r, `${S0}.onUnexpected`, { targetState: 'nowhere' }),
    `${S0}.onUnexpected.targetState`,
    '"nowhere" is not the id of a state: use one of "created", "done", "failed"',
  ],
  [
    'onUnexpected on a final state',
    (r) => set(r, 'machineDefinition.states[1].onUnexpected', { targetState: 'failed' }),
    'machineDefinition.states[1].onUnexpected',
    'final state "done" takes no events, so nothing is unexpected in it: remove onUnexpected or set isFinal to false',
  ],
  [
    'startOn repeats a label',
    (r) => set(r, 'machineDefinition.startOn', ['orderPlaced', 'orderPlaced']),
    'machineDefinition.startOn[1]',
    'duplicate label "orderPlaced" (also at machineDefinition.startOn[0]): list each label once',
  ],
  [
    'startOn names the creation event',
    (r) => set(r, 'machineDefinition.startOn', ['__created__']),
    'machineDefinition.startOn[0]',
    '"__created__" is the creation event (machineDefinition.creationEvent): it creates sagas already; remove it from startOn',
  ],
  [
    'startOn names a reserved label',
    (r) => set(r, 'machineDefinition.startOn', ['__cancel__']),
    'machineDefinition.startOn[0]',
    '"__cancel__" is reserved by sagaflow and never starts a saga: remove it from startOn',
  ],
  [
    'a correlation pointer without its leading slash',
    (r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, correlation: { sagaId: 'messagePayload/orderId' } } }),
    'communicationProtocols[2].configurations.correlation.sagaId',
    'must be a JSON Pointer starting with "/", e.g. "/messagePayload/orderId" (found "messagePayload/orderId")',
  ],
  [
    'a correlation pointer at the whole value',
    (r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, correlation: { sagaId: '' } } }),
    'communicationProtocols[2].configurations.correlation.sagaId',
    'points at the whole event value, which is an object, never a saga id: point inside it, e.g. "/messagePayload/orderId"',
  ],
  [
    'a correlation pointer outside the envelope',
    (r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, correlation: { sagaId: '/orderId' } } }),
    'communicationProtocols[2].configurations.correlation.sagaId',
    'starts at "orderId", which an event value does not have: sagaflow reads "messageLabel", "messagePayload", "eventId", "timestamp"; point into one of them, e.g. "/messagePayload/orderId"',
  ],
  [
    'a correlation pointer with a bad escape',
    (r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, correlation: { sagaId: '/messagePayload/a~2b' } } }),
    'communicationProtocols[2].configurations.correlation.sagaId',
    'has "~" not followed by 0 or 1 in segment "a~2b": write "~0" for "~" and "~1" for "/"',
  ],
  [
    'an observed topic also read keyed',
    (r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, inputTopics: ['events'] } }),
    'communicationProtocols[0].configurations.inputTopics[0]',
    'topic "events" is also observed (communicationProtocols[2].configurations.inputTopics[0]): a topic is either keyed by sagaId or observed through a correlation, not both',
  ],
];

describe('choreography checks', () => {
  it.each(ERRORS)('%s', (_rule, edit, path, message) => {
    const result = parseEdited(edit);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([{ path, message }]);
  });

  it('refuses a correlation without sagaId, with the exact path', () => {
    const result = parseEdited((r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { ...observedChannel.configurations, correlation: {} } }));
    expect(result.errors).toEqual([
      { path: 'communicationProtocols[2].configurations.correlation.sagaId', message: 'is required: set it to the JSON Pointer of the saga id in the event value, e.g. "/messagePayload/orderId"' },
    ]);
  });

  it('accepts transitions sharing an event when each but the last has a when, and the last may have one too', () => {
    for (const lastWhen of [undefined, { type: 'object' }]) {
      const result = parseEdited((r) => {
        set(r, `${T0}.when`, AMOUNT_OVER_100);
        set(r, `${T1}.inputEvent`, 'workDone');
        if (lastWhen) set(r, `${T1}.when`, lastWhen);
      });
      expect(result.errors).toEqual([]);
    }
  });

  it('counts an onUnexpected target as reachable', () => {
    const result = parseEdited((r) => {
      push(r, 'machineDefinition.states', { id: 'unexpectedTransition', isFinal: true });
      set(r, `${S0}.onUnexpected`, { targetState: 'unexpectedTransition' });
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings.filter((w) => w.message.includes('unreachable'))).toEqual([]);
    const without = parseEdited((r) => push(r, 'machineDefinition.states', { id: 'unexpectedTransition', isFinal: true }));
    expect(without.warnings.map((w) => w.path)).toContain('machineDefinition.states[3]');
  });

  it('warns about an observing channel without input topics', () => {
    const result = parseEdited((r) => push(r, 'communicationProtocols', { ...observedChannel, configurations: { brokers: ['localhost:9092'], correlation: { sagaId: '/messagePayload/orderId' } } }));
    expect(result.errors).toEqual([]);
    expect(result.warnings).toContainEqual({ path: 'communicationProtocols[2].configurations.correlation', message: 'channel "domain" has no inputTopics: it observes nothing; list the topics to observe in inputTopics' });
  });

  it('compiles startOn, onUnexpected, routes in file order and observed topics', async () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.startOn', ['orderPlaced']);
      set(r, `${S0}.onUnexpected`, { targetState: 'failed' });
      set(r, `${T0}.when`, AMOUNT_OVER_100);
      set(r, `${T1}.inputEvent`, 'workDone');
      push(r, 'communicationProtocols', observedChannel);
    });
    if (!result.config) throw new Error(JSON.stringify(result.errors));
    const def = await compileDefinition(result.config);
    expect([...def.startOn]).toEqual(['orderPlaced']);
    const state = def.states.get('created');
    expect(state?.onUnexpected).toBe('failed');
    expect(state?.routes.get('workDone')?.map((t) => t.targetState)).toEqual(['done', 'failed']);
    expect(state?.transitions.get('workDone')?.targetState).toBe('done');
    expect(state?.routes.get('workDone')?.[0]?.when?.({ amount: 150 })).toEqual([]);
    expect(state?.routes.get('workDone')?.[0]?.when?.({ amount: 50 })).toEqual(['payload.amount must be > 100']);
    expect([...def.observed]).toEqual([['orders', { pointer: '/messagePayload/orderId', segments: ['messagePayload', 'orderId'], channel: 'domain' }]]);
  });
});

describe('topology with observed topics', () => {
  it('takes the first channel without correlation as the events channel, and reads the observed topics too', () => {
    const result = parseEdited((r) => {
      const protocols = r.communicationProtocols as unknown[];
      protocols.unshift(observedChannel);
    });
    if (!result.config) throw new Error(JSON.stringify(result.errors));
    const issues = new IssueList();
    const layout = checkTopology(result.config, issues);
    expect(issues.errors).toEqual([]);
    expect(layout?.eventsTopic).toBe('events');
    expect(layout?.otherInputTopics).toEqual([{ topic: 'orders', path: 'communicationProtocols[0].configurations.inputTopics[0]' }]);
  });

  it('refuses a saga whose only input topics are observed: forwarded events need an events topic of its own', () => {
    const result = parseEdited((r) => {
      set(r, 'communicationProtocols', [{ ...observedChannel, configurations: { ...observedChannel.configurations, consumerGroup: 'shop' } }, { id: 'hook', type: 'rest', configurations: { endpoint: 'audit-service' } }]);
      set(r, `${S0}.outputCommand.channel`, 'hook');
    });
    if (!result.config) throw new Error(JSON.stringify(result.errors));
    const issues = new IssueList();
    expect(checkTopology(result.config, issues)).toBeUndefined();
    expect(issues.errors).toEqual([
      {
        path: 'communicationProtocols[0].configurations.correlation',
        message: 'channel "domain" observes topics of other services, and the saga needs an events topic of its own that sagaflow forwards their events to: add a kafka channel without correlation whose inputTopics name it, e.g. "shop-events"',
        code: 'SAGAFLOW_CONFIG_INVALID',
      },
    ]);
  });
});

describe('JSON Pointers', () => {
  it('parses escapes and resolves objects and array indexes', () => {
    const parsed = parsePointer('/messagePayload/a~1b/list/1/c~0d');
    expect(parsed).toEqual({ segments: ['messagePayload', 'a/b', 'list', '1', 'c~d'] });
    const segments = 'segments' in parsed ? parsed.segments : [];
    expect(resolvePointer({ messagePayload: { 'a/b': { list: [{}, { 'c~d': 'x-1' }] } } }, segments)).toBe('x-1');
  });

  it('resolves nothing for a missing path, a non-index into an array, a leading zero, an inherited property', () => {
    expect(resolvePointer({ a: {} }, ['a', 'b'])).toBeUndefined();
    expect(resolvePointer({ a: [1, 2] }, ['a', 'x'])).toBeUndefined();
    expect(resolvePointer({ a: [1, 2] }, ['a', '01'])).toBeUndefined();
    expect(resolvePointer({ a: 'text' }, ['a', 'length'])).toBeUndefined();
    expect(resolvePointer({}, ['toString'])).toBeUndefined();
    expect(resolvePointer(null, ['a'])).toBeUndefined();
  });
});
