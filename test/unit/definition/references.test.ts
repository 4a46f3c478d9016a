import { describe, expect, it } from 'vitest';
import { parseEdited, push, remove, set } from './fixtures.ts';

type Edit = (raw: Record<string, unknown>) => void;

const T0 = 'machineDefinition.states[0].outgoingTransitions[0]';
const T1 = 'machineDefinition.states[0].outgoingTransitions[1]';

/** [rule, how to break it, expected path, expected message (exact), specific code] */
const REFERENCE_ERRORS: [string, Edit, string, string, string?][] = [
  [
    'initialState names a state',
    (r) => set(r, 'machineDefinition.initialState', 'nope'),
    'machineDefinition.initialState',
    '"nope" is not the id of a state: use one of "created", "done", "failed"',
  ],
  [
    'every targetState names a state',
    (r) => set(r, `${T1}.targetState`, 'gone'),
    `${T1}.targetState`,
    '"gone" is not the id of a state: use one of "created", "done", "failed"',
  ],
  [
    'businessStateId names a business state',
    (r) => set(r, 'machineDefinition.states[1].businessStateId', 9),
    'machineDefinition.states[1].businessStateId',
    '9 is not the id of an entry of machineDefinition.businessStates: use one of 0, 1, 2',
  ],
  [
    'business ids keep their JSON type',
    (r) => set(r, 'machineDefinition.states[1].businessStateId', '1'),
    'machineDefinition.states[1].businessStateId',
    '"1" is not the id of an entry of machineDefinition.businessStates: use one of 0, 1, 2 (ids are compared with their type: "1" is not 1)',
  ],
  [
    'businessEventId names a business event',
    (r) => set(r, `${T0}.businessEventId`, 7),
    `${T0}.businessEventId`,
    '7 is not the id of an entry of machineDefinition.businessEvents: use one of 0, 1',
  ],
  [
    'businessEventId with no businessEvents at all',
    (r) => {
      remove(r, 'machineDefinition.businessEvents');
      remove(r, `${T1}.businessEventId`);
    },
    `${T0}.businessEventId`,
    '0 is not defined: machineDefinition.businessEvents is empty or missing; add {"id": 0, "description": "..."} to it',
  ],
  [
    'outputCommand channel names a protocol',
    (r) => set(r, 'machineDefinition.states[0].outputCommand.channel', 'nochan'),
    'machineDefinition.states[0].outputCommand.channel',
    '"nochan" is not the id of a communication protocol: use one of "bus", "hook" or add it to communicationProtocols',
  ],
  [
    'side effect channel names a protocol',
    (r) => set(r, 'machineDefinition.states[0].sideEffects[0].channel', 'nochan'),
    'machineDefinition.states[0].sideEffects[0].channel',
    '"nochan" is not the id of a communication protocol: use one of "bus", "hook" or add it to communicationProtocols',
  ],
  [
    'state ids are unique',
    (r) => {
      push(r, 'machineDefinition.states', { id: 'done', isFinal: true });
    },
    'machineDefinition.states[3].id',
    'duplicate state id "done" (also at machineDefinition.states[1].id): state ids must be unique',
  ],
  [
    'protocol ids are unique',
    (r) => push(r, 'communicationProtocols', { id: 'hook', type: 'rest', configurations: { endpoint: 'x' } }),
    'communicationProtocols[2].id',
    'duplicate protocol id "hook" (also at communicationProtocols[1].id): protocol ids must be unique',
  ],
  [
    'business state ids are unique',
    (r) => push(r, 'machineDefinition.businessStates', { id: 1, description: 'again' }),
    'machineDefinition.businessStates[3].id',
    'duplicate business state id 1 (also at machineDefinition.businessStates[1].id): business state ids must be unique',
  ],
  [
    'business event ids are unique',
    (r) => push(r, 'machineDefinition.businessEvents', { id: 0 }),
    'machineDefinition.businessEvents[2].id',
    'duplicate business event id 0 (also at machineDefinition.businessEvents[0].id): business event ids must be unique',
  ],
  [
    'inputEvent is unique within a state',
    (r) => set(r, `${T1}.inputEvent`, 'workDone'),
    `${T1}.inputEvent`,
    `duplicate inputEvent "workDone" in state "created" (also at ${T0}.inputEvent): an event can lead to one state only, unless each transition for it but the last has a "when" (a JSON Schema of the payload)`,
  ],
  [
    'a final state has no outgoing transitions',
    (r) => set(r, 'machineDefinition.states[1].outgoingTransitions', [{ inputEvent: 'x', targetState: 'failed' }]),
    'machineDefinition.states[1].outgoingTransitions',
    'final state "done" must not have outgoing transitions: remove them or set isFinal to false',
  ],
  [
    'a non-final state has a way out',
    (r) => set(r, 'machineDefinition.states[2].isFinal', false),
    'machineDefinition.states[2].outgoingTransitions',
    'non-final state "failed" has no way out: add an outgoing transition or set isFinal to true',
  ],
  [
    'payloadValidationSchema compiles',
    (r) => set(r, `${T0}.payloadValidationSchema`, { type: 'banana' }),
    `${T0}.payloadValidationSchema`,
    'is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
  ],
  [
    'a hook is an object {type, encoding, content}, as Flow Manager writes it, not a string',
    (r) => set(r, 'machineDefinition.states[0].outputCommand.hook', 'return { payload: saga.metadata }'),
    'machineDefinition.states[0].outputCommand.hook',
    'must be an object (found string)',
  ],
  [
    'a side effect hook has the same shape',
    (r) => set(r, 'machineDefinition.states[0].sideEffects[0].hook', { type: 'file', encoding: 'hex', content: 'x' }),
    'machineDefinition.states[0].sideEffects[0].hook.encoding',
    'must be one of "plain", "base64" (found "hex")',
  ],
  [
    'a hook has content',
    (r) => set(r, 'settings', { deepMergeMetadata: { enabled: true, hook: { type: 'file' } } }),
    'settings.deepMergeMetadata.hook.content',
    'is required: give the hook\'s ES module, e.g. "export default ({ saga }) => ({ payload: saga.metadata })"',
  ],
  [
    'an inputEvent cannot be the creation event',
    (r) => set(r, `${T0}.inputEvent`, '__created__'),
    `${T0}.inputEvent`,
    '"__created__" is the creation event (machineDefinition.creationEvent, default "__created__"): messages with this label create sagas and never reach a transition; rename the event',
  ],
  [
    'an inputEvent cannot be the label of failed deliveries',
    (r) => set(r, `${T0}.inputEvent`, '__delivery_failed__'),
    `${T0}.inputEvent`,
    '"__delivery_failed__" is reserved: sagaflow sends it when a command on a rest channel could not be delivered, and records it in the saga\'s deliveryFailures without a transition; rename the event',
  ],
  [
    'the creation event cannot be the label of failed deliveries',
    (r) => set(r, 'machineDefinition.creationEvent', '__delivery_failed__'),
    'machineDefinition.creationEvent',
    '"__delivery_failed__" is reserved for failed deliveries of commands on rest channels; choose another creation event',
  ],
  [
    'a kafka channel that carries commands has an output topic',
    (r) => remove(r, 'communicationProtocols[0].configurations.outputTopics'),
    'communicationProtocols[0].configurations.outputTopics',
    'must list the topic commands are sent to: channel "bus" is used by machineDefinition.states[0].outputCommand',
  ],
  [
    'avro serialization needs a schema registry',
    (r) => set(r, 'communicationProtocols[0].configurations.serialization', 'avro'),
    'communicationProtocols[0].configurations.schemaRegistry',
    'is required when serialization is "avro": add {"url": "http://registry:8081"}',
  ],
];

describe('reference checks', () => {
  it.each(REFERENCE_ERRORS)('%s', (_rule, edit, path, message, code) => {
    const result = parseEdited(edit);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([code === undefined ? { path, message } : { path, message, code }]);
  });

  it('reports every reference error at once, in file order', () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.initialState', 'nope');
      set(r, `${T1}.targetState`, 'gone');
      set(r, 'machineDefinition.states[0].outputCommand.channel', 'nochan');
    });
    expect(result.errors.map((e) => e.path)).toEqual([
      'machineDefinition.initialState',
      'machineDefinition.states[0].outputCommand.channel',
      `${T1}.targetState`,
    ]);
  });

  it('accepts a final state with an empty outgoingTransitions list, and a final state with side effects', () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.states[1].outgoingTransitions', []);
      set(r, 'machineDefinition.states[1].sideEffects', [{ label: 'notify', channel: 'hook' }]);
    });
    expect(result.errors).toEqual([]);
  });

  it('accepts payload schemas of drafts 07, 2019-09 and 2020-12, and formats', () => {
    for (const schema of [
      { type: 'object', properties: { at: { type: 'string', format: 'date-time' } } },
      { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'object', dependentRequired: { a: ['b'] } },
      { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'string' }] },
      { type: 'object', example: { annotations: 'are tolerated' } },
    ]) {
      expect(parseEdited((r) => set(r, `${T0}.payloadValidationSchema`, schema)).errors).toEqual([]);
    }
  });

  it('allows the same $id in two payload schemas', () => {
    const schema = { $id: 'https://example.com/payload', type: 'object' };
    const result = parseEdited((r) => {
      set(r, `${T0}.payloadValidationSchema`, schema);
      set(r, `${T1}.payloadValidationSchema`, { ...schema });
    });
    expect(result.errors).toEqual([]);
  });
});

describe('graph warnings', () => {
  it('warns about states unreachable from initialState', () => {
    const result = parseEdited((r) => push(r, 'machineDefinition.states', { id: 'orphan', isFinal: true }));
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      {
        path: 'machineDefinition.states[3]',
        message: 'state "orphan" is unreachable from initialState "created": no transition leads to it; remove it or add a transition to it',
      },
    ]);
  });

  it('warns about cycles from which no final state can be reached', () => {
    const result = parseEdited((r) => {
      push(r, 'machineDefinition.states', { id: 'loop', isFinal: false, outgoingTransitions: [{ inputEvent: 'again', targetState: 'loop' }] });
      push(r, 'machineDefinition.states[0].outgoingTransitions', { inputEvent: 'toLoop', targetState: 'loop' });
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      { path: 'machineDefinition.states[3]', message: 'no final state can be reached from state "loop": sagas entering it never complete' },
    ]);
  });

  it('warns when no state is final', () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.states', [{ id: 'a', isFinal: false, outgoingTransitions: [{ inputEvent: 'e', targetState: 'a' }] }]);
      set(r, 'machineDefinition.initialState', 'a');
      remove(r, 'machineDefinition.businessStates');
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      { path: 'machineDefinition.states', message: 'no state is final: sagas never complete; set isFinal to true on the end states' },
    ]);
  });

  it('warns when the initial state is final', () => {
    const result = parseEdited((r) => set(r, 'machineDefinition.initialState', 'done'));
    expect(result.errors).toEqual([]);
    expect(result.warnings[0]).toEqual({
      path: 'machineDefinition.initialState',
      message: '"done" is a final state: every saga ends as soon as it is created',
    });
  });
});
