import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import type { JoinSpec, Settings } from '../../../src/definition/types.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';
import { parse } from '../definition/fixtures.ts';

/**
 * start --go(n: integer)--> working --finish--> done (final)
 *                           working --again--> working (self loop, re-sends its command)
 *                           working --fail--> failed (final, no business state)
 * start --cancel--> failed
 */
export function definition(settings: Settings = {}, edit: (raw: Record<string, unknown>) => void = () => undefined): Promise<CompiledDefinition> {
  const raw: Record<string, unknown> = {
    machineDefinition: {
      initialState: 'start',
      states: [
        {
          id: 'start',
          isFinal: false,
          businessStateId: 0,
          outputCommand: { label: 'begin', channel: 'bus' },
          sideEffects: [{ label: 'log', channel: 'bus' }, { label: 'notify', channel: 'http' }],
          outgoingTransitions: [
            {
              inputEvent: 'go',
              targetState: 'working',
              businessEventId: 'started',
              payloadValidationSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
            },
            { inputEvent: 'cancel', targetState: 'failed' },
          ],
        },
        {
          id: 'working',
          isFinal: false,
          businessStateId: 0,
          outputCommand: { label: 'work', channel: 'bus' },
          outgoingTransitions: [
            { inputEvent: 'finish', targetState: 'done', businessEventId: 'finished' },
            { inputEvent: 'again', targetState: 'working' },
            { inputEvent: 'fail', targetState: 'failed' },
          ],
        },
        { id: 'done', isFinal: true, businessStateId: 1, sideEffects: [{ label: 'celebrate', channel: 'http' }] },
        { id: 'failed', isFinal: true },
      ],
      businessStates: [
        { id: 0, description: 'running' },
        { id: 1, description: 'succeeded' },
      ],
      businessEvents: [
        { id: 'started', description: 'work started' },
        { id: 'finished', description: 'work finished' },
      ],
    },
    communicationProtocols: [
      { id: 'bus', type: 'kafka', configurations: { brokers: 'k:9092', outputTopics: ['commands'] } },
      { id: 'http', type: 'rest', configurations: { endpoint: 'notifier' } },
    ],
    persistencyManagement: {},
    settings,
  };
  edit(raw);
  const result = parse(raw);
  if (result.config === undefined) throw new Error(`saga fixture is invalid: ${JSON.stringify(result.errors)}`);
  return compileDefinition(result.config);
}

export function ts(second: number): string {
  return new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString();
}

export function create(sagaId = 'saga-1', metadata: Record<string, unknown> = { order: 1 }, at = ts(0)): SagaInput {
  return { kind: 'create', sagaId, associatedEntityId: 'entity-1', metadata, timestamp: at };
}

export type EventInput = Extract<SagaInput, { kind: 'event' }>;

export function event(label: string, payload: unknown = {}, at = ts(1), eventId?: string, sagaId = 'saga-1'): EventInput {
  const input: EventInput = { kind: 'event', sagaId, label, payload, timestamp: at };
  if (eventId !== undefined) input.eventId = eventId;
  return input;
}

/** Runs inputs in order from no saga; returns the final document (throws when none). */
export function run(def: CompiledDefinition, inputs: SagaInput[]): SagaDocument {
  let saga: SagaDocument | undefined;
  for (const input of inputs) saga = transition(def, saga, input).saga;
  if (saga === undefined) throw new Error('no saga after the inputs');
  return saga;
}

/**
 * provisioning (parallel: createUser | addToGroups (retried) | createMailbox, join per test,
 * timeout 1 min) --join--> provisioned --finish / mailboxReady--> done; the timeout and
 * "abort" lead to timedOut.
 */
export function parallelDefinition(join: JoinSpec = 'all'): Promise<CompiledDefinition> {
  const result = parse({
    machineDefinition: {
      initialState: 'provisioning',
      states: [
        {
          id: 'provisioning',
          isFinal: false,
          sideEffects: [{ label: 'audit', channel: 'http' }],
          parallel: {
            branches: [
              { command: { label: 'createUser', channel: 'bus' }, done: ['userCreated', 'userFailed'] },
              { command: { label: 'addToGroups', channel: 'bus', retry: { maxAttempts: 3, initialDelay: '10s' } }, done: ['groupsAdded'] },
              { command: { label: 'createMailbox', channel: 'http' }, done: ['mailboxReady', 'mailboxFailed'] },
            ],
            join,
            onJoin: { targetState: 'provisioned' },
          },
          timeout: { after: '1m', event: 'provisioningTimedOut' },
          outgoingTransitions: [
            { inputEvent: 'provisioningTimedOut', targetState: 'timedOut' },
            { inputEvent: 'abort', targetState: 'timedOut' },
          ],
        },
        {
          id: 'provisioned',
          isFinal: false,
          outputCommand: { label: 'welcome', channel: 'bus' },
          outgoingTransitions: [
            { inputEvent: 'finish', targetState: 'done' },
            { inputEvent: 'mailboxReady', targetState: 'done' },
          ],
        },
        { id: 'done', isFinal: true },
        { id: 'timedOut', isFinal: true },
      ],
    },
    communicationProtocols: [
      { id: 'bus', type: 'kafka', configurations: { brokers: ['k:9092'], outputTopics: ['commands'] } },
      { id: 'http', type: 'rest', configurations: { endpoint: 'mail' } },
    ],
    persistencyManagement: {},
  });
  if (result.config === undefined) throw new Error(`parallel fixture is invalid: ${JSON.stringify(result.errors)}`);
  return compileDefinition(result.config);
}
