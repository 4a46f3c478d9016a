import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../../src/engine/task.ts';
import { DELIVERY_DLQ_HEADERS } from '../../../src/outbox/dispatcher.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { readTopic, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { closedPort, createSaga, getSaga, postEvent, reservationOverRest, restService } from './support.ts';
import type { Reply } from './support.ts';

const TIMEOUT_MS = 500;
const RETRY_FOR_MS = 3_000;

describe('rest deliveries under failures', () => {
  it('retries 503, 429 (after Retry-After) and timeouts under one Idempotency-Key, dead-letters a 400 and refused connections with the reason, and the sagas record them', async () => {
    const flow = uniqueFlow('outbox-failures');
    let sagaflowUrl = '';
    // Validation: each saga's metadata.mode says how its first request fails; the next one passes.
    const service = await restService((req): Reply => {
      const mode = req.body.value.messagePayload.mode;
      if (mode === 'bad') return { status: 400, body: '{"error":"reservation 4 is malformed"}' };
      if (req.seen === 0 && mode === 'flaky') return { status: 503, body: 'warming up' };
      if (req.seen === 0 && mode === 'throttled') return { status: 429, headers: { 'retry-after': '1' } };
      if (req.seen === 0 && mode === 'slow') return { hang: true };
      setTimeout(() => void postEvent(sagaflowUrl, req.body.key, 'validationOK'), 10);
      return { status: 200 };
    });
    // Check: nothing listens there, every connection is refused.
    const refused = await closedPort();
    const config = reservationOverRest(flow, {
      validateReservation: { endpoint: '127.0.0.1', port: service.port, path: '/validate' },
      checkReservation: { endpoint: '127.0.0.1', port: refused, path: '/check' },
    });
    const instance = await startTestInstance(config, {
      env: {
        KAFKA_BROKERS: services().kafkaBrokers.join(','),
        SAGAFLOW_APPLICATION_ID: flow.applicationId,
        SAGAFLOW_REST_TIMEOUT_MS: String(TIMEOUT_MS),
        SAGAFLOW_REST_RETRY_FOR_MS: String(RETRY_FOR_MS),
      },
    });
    sagaflowUrl = instance.url;
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const modes = ['flaky', 'throttled', 'slow', 'bad'] as const;
    const ids = Object.fromEntries(await Promise.all(modes.map(async (mode) => [mode, await createSaga(instance.url, `entity-${mode}`, { mode })] as const))) as Record<(typeof modes)[number], string>;
    const recorded = async (sagaId: string): Promise<SagaDocument> =>
      waitFor(async () => {
        const saga = await getSaga(instance.url, sagaId);
        return saga?.deliveryFailures?.length ? saga : undefined;
      }, { timeoutMs: 60_000, description: `a failed delivery recorded in ${sagaId}` });

    // The 400: dead-lettered at the first answer, recorded, the saga stays where it was.
    const bad = await recorded(ids.bad);
    expect(bad.currentState).toBe('reservationCreated');
    expect(bad.deliveryFailures).toEqual([
      {
        channel: 'validateReservationService',
        label: 'validateReservation',
        revision: 1,
        status: 400,
        reason: `POST http://127.0.0.1:${service.port}/validate answered 400 Bad Request: {"error":"reservation 4 is malformed"}`,
        state: 'reservationCreated',
        timestamp: expect.any(String),
      },
    ]);
    expect(service.requests.filter((r) => r.body.key === ids.bad)).toHaveLength(1);

    // 503, 429 and the timeout: validated on the second request, with the same key; then the
    // check's connections are refused until the retry time is over.
    for (const mode of ['flaky', 'throttled', 'slow'] as const) {
      const sagaId = ids[mode];
      const saga = await recorded(sagaId);
      expect(saga.currentState).toBe('reservationValidated');
      expect(saga.history.events.map((e) => e.event)).toEqual(['__created__', 'validationOK']);
      const [failure, ...others] = saga.deliveryFailures ?? [];
      expect(others).toEqual([]);
      expect(failure).toMatchObject({ channel: 'checkReservationService', label: 'checkReservation', revision: 2, state: 'reservationValidated' });
      expect(failure?.status).toBeUndefined();
      const exhausted = new RegExp(`^POST http://127\\.0\\.0\\.1:${refused}/check retries exhausted after (\\d+) attempts in (\\d+) s; last: connection refused \\(ECONNREFUSED\\)$`).exec(failure?.reason ?? '');
      expect(exhausted, failure?.reason).not.toBeNull();
      // Backoff from 250 ms doubling within 3 s: four tries at least, the last at the deadline.
      expect(Number(exhausted?.[1])).toBeGreaterThanOrEqual(4);
      expect(Number(exhausted?.[2])).toBeGreaterThanOrEqual(RETRY_FOR_MS / 1000);
      const sent = service.requests.filter((r) => r.body.key === sagaId);
      expect(sent.map((r) => r.key)).toEqual([`${sagaId}:1:validateReservation`, `${sagaId}:1:validateReservation`]);
      const gap = (sent[1]?.at ?? 0) - (sent[0]?.at ?? 0);
      if (mode === 'throttled') expect(gap).toBeGreaterThanOrEqual(1_000);
      if (mode === 'slow') expect(gap).toBeGreaterThanOrEqual(TIMEOUT_MS);
    }

    // Every failed command is in the dead-letter topic with its code, reason, status and key.
    const deadLetters = await readTopic(`${flow.applicationId}-dead-letter`, { until: (r) => r.length >= 4, timeoutMs: 30_000 });
    expect(deadLetters).toHaveLength(4);
    const byKey = new Map(deadLetters.map((r) => [r.headers[DELIVERY_DLQ_HEADERS.idempotencyKey], r]));
    expect([...byKey.keys()].sort()).toEqual([`${ids.bad}:1:validateReservation`, ...(['flaky', 'throttled', 'slow'] as const).map((m) => `${ids[m]}:2:checkReservation`)].sort());
    for (const r of deadLetters) {
      expect(r.headers[DLQ_HEADERS.code]).toBe('SAGAFLOW_DELIVERY_FAILED');
      expect(r.headers[DLQ_HEADERS.topic]).toBe(`${flow.applicationId}-outbox`);
      expect(r.headers['sagaflow-channel']).toMatch(/^(validate|check)ReservationService$/);
      expect(JSON.parse(String(r.value))).toMatchObject({ messageLabel: r.headers['sagaflow-command-label'] });
    }
    const badLetter = byKey.get(`${ids.bad}:1:validateReservation`);
    expect(badLetter?.headers[DELIVERY_DLQ_HEADERS.status]).toBe('400');
    expect(badLetter?.headers[DELIVERY_DLQ_HEADERS.attempts]).toBe('1');
    expect(badLetter?.headers[DLQ_HEADERS.reason]).toBe(bad.deliveryFailures?.[0]?.reason);
    expect(byKey.get(`${ids.flaky}:2:checkReservation`)?.headers[DELIVERY_DLQ_HEADERS.status]).toBeUndefined();

    const metrics = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metrics).toContain('sagaflow_rest_deliveries_total{channel="validateReservationService"} 3');
    expect(metrics).toContain('sagaflow_rest_delivery_retries_total{channel="validateReservationService"} 3');
    expect(metrics).toContain('sagaflow_rest_delivery_failures_total{channel="validateReservationService"} 1');
    expect(metrics).toContain('sagaflow_rest_delivery_failures_total{channel="checkReservationService"} 3');
    expect(Number(/sagaflow_rest_delivery_retries_total\{channel="checkReservationService"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
    expect(metrics).toContain('sagaflow_rest_deliveries_pending 0');
  });
});
