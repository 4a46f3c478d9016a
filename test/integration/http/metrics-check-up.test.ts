import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { mongoPersistency } from '../../support/mongo.ts';
import { closedPort } from '../../support/ports.ts';
import { sample } from '../../support/prometheus.ts';
import { eventually, waitFor } from '../../support/wait.ts';
import { reservationConfig, startReservationWorkers, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';

describe('/-/metrics and /-/check-up of a running instance', () => {
  it('Flow Manager\'s flow_manager_saga_states_total, latency and batch histograms beside sagaflow_*; check-up OK with Kafka, the registry, MongoDB and the projection', async () => {
    const flow = uniqueFlow('metrics');
    const { persistency } = await mongoPersistency('metrics');
    const config = reservationConfig(flow, 'avro', persistency);
    const instance = await startTestInstance(config);
    await startReservationWorkers(config, flow);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const ids: string[] = [];
    for (const metadata of [{ n: 1 }, { n: 2 }, { n: 3, fail: 'validation' }]) {
      const res = await fetch(`${instance.url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `e-${metadata.n}`, metadata }) });
      ids.push(((await res.json()) as { sagaId: string }).sagaId);
    }
    for (const id of ids) {
      await waitFor(async () => ((await (await fetch(`${instance.url}/saga/${id}`)).json()) as SagaDocument).isFinal, { timeoutMs: 60_000 });
    }

    const text = await eventually(async () => {
      const res = await fetch(`${instance.url}/-/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const body = await res.text();
      expect(sample(body, 'flow_manager_saga_states_total{state="reservationConfirmed",incoming_message_label="checkOK"}')).toBe(2);
      return body;
    }, 20_000);
    expect(sample(text, 'flow_manager_saga_states_total{state="reservationCreated",incoming_message_label="__created__"}')).toBe(3);
    expect(sample(text, 'flow_manager_saga_states_total{state="reservationFailed",incoming_message_label="validationKO"}')).toBe(1);
    // Three creations and five events (2 x validationOK + checkOK, 1 x validationKO).
    expect(sample(text, 'sagaflow_events_processed_total')).toBe(8);
    expect(sample(text, 'sagaflow_events_total{kind="outcome:applied"}')).toBe(5);
    expect(sample(text, 'sagaflow_transition_duration_seconds_count{outcome="created"}')).toBe(3);
    expect(sample(text, 'sagaflow_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'sagaflow_commit_batch_inputs_sum')).toBe(8);
    expect(sample(text, 'sagaflow_commit_batch_records_count')).toBe(sample(text, 'sagaflow_commit_duration_seconds_count'));
    expect(sample(text, 'sagaflow_ready')).toBe(1);
    expect(sample(text, 'sagaflow_projection_records_read_total')).toBeGreaterThanOrEqual(0);
    expect(text).toContain('process_resident_memory_bytes');

    const checkUp = await fetch(`${instance.url}/-/check-up`);
    const body = (await checkUp.json()) as { status: string; name: string; version: string; checks: { name: string; status: string }[] };
    expect(checkUp.status).toBe(200);
    expect(body).toMatchObject({ status: 'OK', name: 'sagaflow' });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.checks.map((c) => `${c.name}:${c.status}`).sort()).toEqual(['kafka:OK', 'persistency:OK', 'projection:OK', 'schema-registry:OK']);
  });

  it('answers 503 naming the dependency that is down (a CRUD service that does not listen)', async () => {
    const flow = uniqueFlow('checkup');
    const port = await closedPort();
    const config = reservationConfig(flow, 'json', { type: 'crud', configurations: { protocol: 'http', host: '127.0.0.1', port, collectionName: 'sagas' } });
    const instance = await startTestInstance(config);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const res = await fetch(`${instance.url}/-/check-up`);
    const body = (await res.json()) as { status: string; checks: { name: string; status: string; message?: string }[] };
    expect(res.status).toBe(503);
    expect(body.status).toBe('KO');
    expect(body.checks.find((c) => c.name === 'kafka')?.status).toBe('OK');
    const crud = body.checks.find((c) => c.name === 'persistency');
    expect(crud).toMatchObject({ status: 'KO', message: 'the CRUD service unreachable (ECONNREFUSED)' });
    expect(JSON.stringify(body)).not.toContain(String(port));
  });
});
