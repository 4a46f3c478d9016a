import { describe, expect, it } from 'vitest';
import type { SagaConfig } from '../../../src/definition/types.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { uniqueName } from '../../support/names.ts';
import { codecFor, quietLogger, readTopic, reservationConfig, startTestInstance, tempStateDir, uniqueFlow } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

/** The reservation saga with a timeout on its first state (into reservationFailed) and retries of its command. */
function timedConfig(flow: FlowTopics, opts: { timeout?: string; retry?: Record<string, unknown> }): SagaConfig {
  return reservationConfig(flow, 'json', {}, (raw) => {
    const created = raw.machineDefinition.states.find((s) => s.id === 'reservationCreated');
    if (!created?.outputCommand) throw new Error('the reservation example changed');
    if (opts.timeout) created.timeout = { after: opts.timeout, event: 'validationKO' };
    if (opts.retry) (created.outputCommand as Record<string, unknown>).retry = opts.retry;
  });
}

async function createSaga(url: string, id: number): Promise<string> {
  const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `e-${id}`, metadata: { id } }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { sagaId: string }).sagaId;
}

async function finalSaga(url: string, sagaId: string, timeoutMs = 60_000): Promise<SagaDocument> {
  return waitFor(
    async () => {
      const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`);
      if (res.status !== 200) return undefined;
      const saga = (await res.json()) as SagaDocument;
      return saga.isFinal ? saga : undefined;
    },
    { timeoutMs, description: `saga ${sagaId} final` },
  );
}

describe('timers on the real broker', () => {
  it('a service that never answers: the state timeout leads the saga to its target', async () => {
    const flow = uniqueFlow('timeout');
    const instance = await startTestInstance(timedConfig(flow, { timeout: '2s' }));
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const ids = await Promise.all([1, 2, 3].map((i) => createSaga(instance.url, i)));
    for (const id of ids) {
      const saga = await finalSaga(instance.url, id);
      expect(saga.currentState).toBe('reservationFailed');
      expect(saga.history.events.at(-1)).toMatchObject({ event: 'validationKO', timer: { kind: 'timeout' } });
      // Fired no earlier than due.
      const due = saga.history.events.at(-1)?.timer?.dueAt ?? '';
      expect(Date.parse(saga.history.events.at(-1)?.timestamp ?? '')).toBeGreaterThanOrEqual(Date.parse(due));
      expect(Date.parse(due) - Date.parse(saga.createdAt)).toBe(2_000);
    }
    // Three scheduled (one per entry into reservationCreated), three fired, their lag observed.
    const metrics = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metrics).toMatch(/^sagaflow_timers_scheduled_total 3$/m);
    expect(metrics).toMatch(/^sagaflow_timers_fired_total 3$/m);
    expect(metrics).toMatch(/^sagaflow_timer_firing_lag_seconds_count 3$/m);
  });

  it('a service that ignores the first two sends: exactly three sends, one revision, attempts 1..3, then the answer completes the saga', async () => {
    const flow = uniqueFlow('retry');
    const config = timedConfig(flow, { retry: { maxAttempts: 5, initialDelay: '1s', multiplier: 1 } });
    const instance = await startTestInstance(config);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const seen = new Map<string, number>();
    const worker = new SagaWorker({ brokers: services().kafkaBrokers, codec: await codecFor(config), commandsTopic: flow.commands, eventsTopic: flow.events, groupId: uniqueName('workers'), logger: quietLogger });
    worker
      .onCommand('validateReservation', async ({ sagaId }) => {
        const n = (seen.get(sagaId) ?? 0) + 1;
        seen.set(sagaId, n);
        if (n === 3) await worker.emit('validationOK', sagaId, {});
      })
      .onCommand('checkReservation', async ({ sagaId }) => worker.emit('checkOK', sagaId, {}));
    await worker.start();
    registerCleanup(() => worker.stop());
    const id = await createSaga(instance.url, 1);
    const saga = await finalSaga(instance.url, id);
    expect(saga.currentState).toBe('reservationConfirmed');
    const commands = await readTopic(flow.commands, { until: (r) => r.filter((x) => x.key === id).length >= 4, timeoutMs: 20_000 });
    const validations = commands.filter((r) => r.key === id && JSON.parse(String(r.value)).messageLabel === 'validateReservation');
    expect(validations.map((r) => [r.headers['sagaflow-revision'], r.headers['sagaflow-attempt']])).toEqual([
      ['1', '1'],
      ['1', '2'],
      ['1', '3'],
    ]);
    // Leaving the state ended its retries: nothing more was sent after the answer.
    expect(saga.commands.filter((c) => c.label === 'validateReservation').map((c) => c.attempt ?? 1)).toEqual([1, 2, 3]);
    expect(saga.timers).toBeUndefined();
  });

  it('a fresh state directory rebuilds the pending timers from the changelog, and they fire on time', async () => {
    const flow = uniqueFlow('timers-restore');
    const config = timedConfig(flow, { timeout: '6s' });
    const first = await startTestInstance(config, { stateDir: tempStateDir() });
    await waitFor(async () => (await fetch(`${first.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const ids = await Promise.all([1, 2].map((i) => createSaga(first.url, i)));
    const pending = await waitFor(
      async () => {
        const res = await fetch(`${first.url}/saga/${encodeURIComponent(ids[0] as string)}`);
        const saga = res.status === 200 ? ((await res.json()) as SagaDocument) : undefined;
        return saga?.timers?.length ? saga : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(pending.timers).toEqual([{ kind: 'timeout', dueAt: expect.any(String), event: 'validationKO', state: 'reservationCreated', entry: 0 }]);
    await first.stop();
    const second = await startTestInstance(config, { stateDir: tempStateDir() });
    await waitFor(async () => (await fetch(`${second.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    for (const id of ids) {
      const saga = await finalSaga(second.url, id);
      expect(saga.currentState).toBe('reservationFailed');
      expect(saga.history.events.filter((e) => e.timer !== undefined)).toHaveLength(1);
    }
  });
});
