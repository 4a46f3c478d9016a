import { describe, expect, it } from 'vitest';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { codecFor, quietLogger, readTopic, sagaWhen, startTestInstance, testChannelConfigurations, uniqueFlow } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

const BRANCHES = ['addToGroups', 'provisionMailbox', 'createHomeFolder'];

/**
 * Three branches on the flow's kafka channel, joined "all" into provisioned; the state's
 * timeout hands a saga whose mailbox never answers to the helpdesk. The timeout is long
 * enough that the saga answered late (but in time) never reaches it on a loaded machine.
 */
function parallelConfig(flow: FlowTopics): SagaConfig {
  const parsed = parseSagaConfig(
    {
      machineDefinition: {
        initialState: 'provisioning',
        states: [
          {
            id: 'provisioning',
            isFinal: false,
            parallel: {
              branches: [
                { command: { label: 'addToGroups', channel: 'bus' }, done: ['groupsAdded'] },
                { command: { label: 'provisionMailbox', channel: 'bus' }, done: ['mailboxReady', 'mailboxFailed'] },
                { command: { label: 'createHomeFolder', channel: 'bus' }, done: ['homeFolderCreated'] },
              ],
              join: 'all',
              onJoin: { targetState: 'provisioned' },
            },
            timeout: { after: '15s', event: 'provisioningTimedOut' },
            outgoingTransitions: [{ inputEvent: 'provisioningTimedOut', targetState: 'awaitingHelpdesk' }],
          },
          {
            id: 'awaitingHelpdesk',
            isFinal: false,
            outputCommand: { label: 'openHelpdeskTicket', channel: 'bus' },
            outgoingTransitions: [{ inputEvent: 'helpdeskResolved', targetState: 'provisioned' }],
          },
          { id: 'provisioned', isFinal: true, sideEffects: [{ label: 'sendWelcome', channel: 'bus' }] },
        ],
      },
      communicationProtocols: [{ id: 'bus', type: 'kafka', configurations: testChannelConfigurations(flow) }],
      persistencyManagement: {},
    },
    { env: {}, readFile: () => '' },
  );
  if (parsed.config === undefined) throw new Error(`parallel config is invalid: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

async function createSaga(url: string, entity: string): Promise<string> {
  const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: entity, metadata: { login: entity } }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { sagaId: string }).sagaId;
}

const answered = (saga: SagaDocument) => (saga.serviceSummary ?? []).filter((i) => i.answeredAt !== undefined).length;

describe('parallel commands with a join, on the real broker', () => {
  it('joins when the late branch answers; a branch that never answers is covered by the timeout and its answer after it is recorded late', { timeout: 120_000 }, async () => {
    const flow = uniqueFlow('parallel');
    const config = parallelConfig(flow);
    const instance = await startTestInstance(config);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const emitter = new SagaWorker({ brokers: services().kafkaBrokers, codec: await codecFor(config), eventsTopic: flow.events, logger: quietLogger });
    await emitter.start();
    registerCleanup(() => emitter.stop());

    const [late, silent] = await Promise.all([createSaga(instance.url, 'ada'), createSaga(instance.url, 'grace')]);
    if (late === undefined || silent === undefined) throw new Error('no sagas');
    for (const sagaId of [late, silent]) {
      await emitter.emit('groupsAdded', sagaId, { memberOf: ['engineering'] }, `${sagaId}-groups`);
      await emitter.emit('homeFolderCreated', sagaId, { home: `/home/${sagaId}` }, `${sagaId}-home`);
    }
    // Two of three answered: both sagas wait in the parallel state.
    const waiting = await sagaWhen(instance.url, late, (s) => answered(s) === 2, 'two branches of the first saga answered');
    expect(waiting.currentState).toBe('provisioning');
    expect(waiting.metadata).toMatchObject({ memberOf: ['engineering'], home: `/home/${late}` });

    // The late branch answers: the join holds.
    await emitter.emit('mailboxReady', late, { mailbox: 'ada@example.com' }, `${late}-mail`);
    const joined = await sagaWhen(instance.url, late, (s) => s.isFinal, 'the first saga joined');
    expect(joined.currentState).toBe('provisioned');
    expect(joined.history.states.map((s) => s.state)).toEqual(['provisioning', 'provisioned']);
    expect(joined.history.events.map((e) => e.event)).toEqual(['__created__', 'mailboxReady']);
    expect(joined.metadata).toMatchObject({ login: 'ada', mailbox: 'ada@example.com' });
    const summary = joined.serviceSummary ?? [];
    expect(summary.map((i) => [i.label, i.answer, i.revision, i.late ?? false])).toEqual([
      ['addToGroups', 'groupsAdded', 1, false],
      ['provisionMailbox', 'mailboxReady', 1, false],
      ['createHomeFolder', 'homeFolderCreated', 1, false],
    ]);
    for (const i of summary) {
      expect(i.sentAt).toBe(joined.createdAt);
      expect(i.durationMs).toBe(Date.parse(i.answeredAt ?? '') - Date.parse(i.sentAt));
    }
    // The mailbox answered after the other two.
    const at = (label: string) => Date.parse(summary.find((i) => i.label === label)?.answeredAt ?? '');
    expect(at('provisionMailbox')).toBeGreaterThanOrEqual(Math.max(at('addToGroups'), at('createHomeFolder')));
    expect(joined.timers).toBeUndefined();

    // The mailbox of the second saga never answers: the state's timeout takes it out.
    const timedOut = await sagaWhen(instance.url, silent, (s) => s.currentState === 'awaitingHelpdesk', 'the second saga timed out');
    expect(timedOut.history.events.at(-1)).toMatchObject({ event: 'provisioningTimedOut', timer: { kind: 'timeout' } });
    expect(timedOut.serviceSummary?.map((i) => i.answer ?? null)).toEqual(['groupsAdded', null, 'homeFolderCreated']);
    // Its answer after the timeout: recorded late, nothing else changes.
    await emitter.emit('mailboxReady', silent, { mailbox: 'grace@example.com' }, `${silent}-mail`);
    const recorded = await sagaWhen(instance.url, silent, (s) => s.serviceSummary?.[1]?.answeredAt !== undefined, 'the late answer recorded');
    expect(recorded.serviceSummary?.[1]).toMatchObject({ label: 'provisionMailbox', answer: 'mailboxReady', answerEventId: `${silent}-mail`, late: true });
    expect(recorded.currentState).toBe('awaitingHelpdesk');
    expect(recorded.metadata).not.toHaveProperty('mailbox');
    expect(recorded.revision).toBe(timedOut.revision + 1);

    // Commands: each saga's three branch commands once, kind branch, revision 1, then what the next state sends.
    const commandsOf = (records: Awaited<ReturnType<typeof readTopic>>, sagaId: string) =>
      records.filter((r) => r.key === sagaId).map((r) => [JSON.parse(String(r.value)).messageLabel as string, r.headers['sagaflow-command-kind'], r.headers['sagaflow-revision'], r.headers['sagaflow-attempt']]);
    const records = await readTopic(flow.commands, { until: (r) => r.filter((x) => x.key === late || x.key === silent).length >= 8, timeoutMs: 30_000 });
    const branchCommands = (revision: string) => BRANCHES.map((label) => [label, 'branch', revision, '1']);
    expect(commandsOf(records, late)).toEqual([...branchCommands('1'), ['sendWelcome', 'sideEffect', '4', '1']]);
    expect(commandsOf(records, silent)).toEqual([...branchCommands('1'), ['openHelpdeskTicket', 'main', String(timedOut.revision), '1']]);

    // Outcomes as the engine counts them.
    const metrics = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metrics).toMatch(/^sagaflow_events_total\{kind="outcome:branch-done"\} 4$/m);
    expect(metrics).toMatch(/^sagaflow_events_total\{kind="outcome:answer-recorded"\} 1$/m);
  });
});
