import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { testBrokerClient } from '../../support/kafka.ts';
import { startReservationWorkers, startTestInstance, tempStateDir, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { createSaga, getSaga, postEvent, reservationOverRest, restService } from './support.ts';

const TOKEN = 'Bearer validation-token-4711';

async function finalSaga(url: string, sagaId: string): Promise<SagaDocument> {
  return waitFor(async () => {
    const saga = await getSaga(url, sagaId);
    return saga?.isFinal ? saga : undefined;
  }, { timeoutMs: 60_000, description: `saga ${sagaId} final` });
}

describe('the tutorial flow with commands on rest channels', () => {
  it('sends validation over REST (PUT, path, secret header, Idempotency-Key), takes the answers through POST /event, commits the outbox', async () => {
    const flow = uniqueFlow('outbox-tutorial');
    let sagaflowUrl = '';
    // The validation service answers 202 at once and sends its verdict afterwards, as a Flow Manager service does.
    const service = await restService((req) => {
      const fail = req.body.value.messagePayload.fail === 'validation';
      setTimeout(() => void postEvent(sagaflowUrl, req.body.key, fail ? 'validationKO' : 'validationOK', { validatedBy: 'rest' }), 10);
      return { status: 202 };
    });
    const config = reservationOverRest(
      flow,
      {
        validateReservation: { protocol: 'http', endpoint: '127.0.0.1', port: service.port, method: 'PUT', path: '/validations', headers: { Authorization: '${VALIDATION_TOKEN}' } },
        checkReservation: 'kafka',
      },
      { VALIDATION_TOKEN: TOKEN },
    );
    const instance = await startTestInstance(config);
    sagaflowUrl = instance.url;
    expect(instance.topics.outbox).toBe(`${flow.applicationId}-outbox`);
    await startReservationWorkers(config, flow);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const cases = [
      { metadata: { reservationId: 1 }, expected: 'reservationConfirmed' },
      { metadata: { reservationId: 2, fail: 'validation' }, expected: 'reservationFailed' },
      { metadata: { reservationId: 3, fail: 'check' }, expected: 'reservationFailed' },
    ];
    const ids = await Promise.all(cases.map((c) => createSaga(instance.url, `entity-${c.metadata.reservationId}`, c.metadata)));
    for (const [i, c] of cases.entries()) {
      const saga = await finalSaga(instance.url, ids[i] as string);
      expect(saga.currentState).toBe(c.expected);
      expect(saga.history.events.map((e) => e.event)).toEqual(
        c.metadata.fail === 'validation' ? ['__created__', 'validationKO'] : ['__created__', 'validationOK', c.metadata.fail === 'check' ? 'checkKO' : 'checkOK'],
      );
      expect(saga.metadata).toMatchObject({ ...c.metadata, validatedBy: 'rest' });
      expect(saga.deliveryFailures).toBeUndefined();
    }

    // One request per saga, as Flow Manager sends it, with the channel's headers and a stable key.
    expect(service.requests).toHaveLength(3);
    for (const [i, c] of cases.entries()) {
      const sagaId = ids[i] as string;
      const [req, ...more] = service.requests.filter((r) => r.body.key === sagaId);
      expect(more).toEqual([]);
      expect(req?.method).toBe('PUT');
      expect(req?.path).toBe('/validations');
      expect(req?.headers.authorization).toBe(TOKEN);
      expect(req?.headers['content-type']).toBe('application/json');
      expect(req?.key).toBe(`${sagaId}:1:validateReservation`);
      expect(req?.body).toEqual({ key: sagaId, value: { messageLabel: 'validateReservation', messagePayload: c.metadata } });
    }

    const metrics = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metrics).toContain('sagaflow_rest_deliveries_total{channel="validateReservationService"} 3');
    expect(metrics).toContain('sagaflow_rest_delivery_failures_total{channel="validateReservationService"} 0');
    expect(metrics).toMatch(/sagaflow_rest_request_duration_seconds_count\{channel="validateReservationService"\} 3\n/);
    // The secret went over the wire only: neither the metrics nor the machine definition carry it.
    expect(metrics).not.toContain('validation-token');
    expect(await (await fetch(`${instance.url}/machine-definition`)).text()).not.toContain('validation-token');

    // Offsets are committed once the 2xx came: the dispatcher's group catches up with the outbox.
    const admin = await testBrokerClient().admin();
    const outbox = instance.topics.outbox as string;
    await waitFor(
      async () => {
        const [ends, committed] = await Promise.all([admin.watermarks(outbox), admin.committedOffsets(`${flow.applicationId}-outbox`, outbox)]);
        return [...ends].every(([p, { high }]) => (committed.get(p) ?? 0n) === high);
      },
      { timeoutMs: 30_000, description: 'outbox group caught up' },
    );
    await admin.close();
  });

  it('runs a saga.json with rest channels only, its topics on KAFKA_BROKERS under SAGAFLOW_APPLICATION_ID', async () => {
    const flow = uniqueFlow('outbox-rest-only');
    let sagaflowUrl = '';
    const service = await restService((req) => {
      const answer = req.body.value.messageLabel === 'validateReservation' ? 'validationOK' : 'checkOK';
      setTimeout(() => void postEvent(sagaflowUrl, req.body.key, answer), 10);
      return { status: 200 };
    });
    const target = { endpoint: '127.0.0.1', port: service.port };
    const config = reservationOverRest(flow, { validateReservation: { ...target, path: '/validate' }, checkReservation: { ...target, path: '/check' } });
    expect(config.communicationProtocols.map((p) => p.type)).toEqual(['rest', 'rest']);
    const instance = await startTestInstance(config, { env: { KAFKA_BROKERS: services().kafkaBrokers.join(','), SAGAFLOW_APPLICATION_ID: flow.applicationId } });
    sagaflowUrl = instance.url;
    expect(instance.applicationId).toBe(flow.applicationId);
    expect(instance.topics.events).toBe(`${flow.applicationId}-events`);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const ids = await Promise.all([1, 2].map((n) => createSaga(instance.url, `entity-${n}`, { n })));
    for (const id of ids) expect((await finalSaga(instance.url, id)).currentState).toBe('reservationConfirmed');
    expect(service.requests.map((r) => `${r.path} ${r.key}`).sort()).toEqual(ids.flatMap((id) => [`/check ${id}:2:checkReservation`, `/validate ${id}:1:validateReservation`]).sort());
  });

  it('on Avro: the failure report is an Avro event, deliveryFailures goes through the Avro changelog and survives a restore', async () => {
    const flow = uniqueFlow('outbox-avro');
    const service = await restService(() => ({ status: 422, body: 'no seats left' }));
    const config = reservationOverRest(flow, { validateReservation: { endpoint: '127.0.0.1', port: service.port }, checkReservation: 'kafka' }, {}, 'avro');
    const first = await startTestInstance(config, { stateDir: tempStateDir() });
    await waitFor(async () => (await fetch(`${first.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const sagaId = await createSaga(first.url, 'entity-avro', { seats: 3 });
    const recorded = await waitFor(async () => {
      const saga = await getSaga(first.url, sagaId);
      return saga?.deliveryFailures?.length ? saga : undefined;
    }, { timeoutMs: 60_000, description: 'the failed delivery recorded' });
    expect(recorded.deliveryFailures).toEqual([
      expect.objectContaining({ channel: 'validateReservationService', label: 'validateReservation', revision: 1, status: 422, reason: `POST http://127.0.0.1:${service.port}/ answered 422 Unprocessable Entity: no seats left` }),
    ]);
    await first.stop();
    // A new instance with an empty state directory restores the saga from the Avro changelog.
    const second = await startTestInstance(config, { stateDir: tempStateDir() });
    const restored = await waitFor(() => getSaga(second.url, sagaId), { timeoutMs: 60_000, description: 'the saga restored' });
    expect(restored).toEqual(recorded);
    expect(service.requests).toHaveLength(1);
  });

  it('sends a retry of the saga through the outbox with its attempt in the Idempotency-Key; the state timeout ends a saga whose service never answers', async () => {
    const flow = uniqueFlow('outbox-retry');
    // Accepts every command and never answers with an event.
    const service = await restService(() => ({ status: 202 }));
    const target = { endpoint: '127.0.0.1', port: service.port };
    const config = reservationOverRest(flow, { validateReservation: target, checkReservation: target }, {}, 'json', (raw) => {
      const [created] = raw.machineDefinition.states;
      if (!created?.outputCommand) throw new Error('the tutorial changed');
      created.outputCommand.retry = { maxAttempts: 2, initialDelay: '1s' };
      created.timeout = { after: '3s', event: 'validationTimedOut' };
      created.outgoingTransitions?.push({ inputEvent: 'validationTimedOut', targetState: 'reservationFailed' });
    });
    const instance = await startTestInstance(config, { env: { KAFKA_BROKERS: services().kafkaBrokers.join(','), SAGAFLOW_APPLICATION_ID: flow.applicationId } });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const sagaId = await createSaga(instance.url, 'entity-silent', { seats: 1 });
    const saga = await finalSaga(instance.url, sagaId);
    expect(saga.currentState).toBe('reservationFailed');
    expect(saga.history.events.map((e) => e.event)).toEqual(['__created__', 'validationTimedOut']);
    // The first send and the saga's retry: one command, two sends, told apart by the key.
    expect(service.requests.map((r) => r.key)).toEqual([`${sagaId}:1:validateReservation`, `${sagaId}:1:validateReservation:2`]);
    expect(service.requests[1]?.body).toEqual(service.requests[0]?.body);
    // The retry is due a second after the state was entered (not after the first delivery).
    expect(service.requests[1]?.at ?? 0).toBeGreaterThanOrEqual(Date.parse(saga.createdAt) + 1_000);
    expect(saga.commands.map((c) => [c.label, c.revision, c.attempt])).toEqual([
      ['validateReservation', 1, undefined],
      ['validateReservation', 1, 2],
    ]);
  });
});
