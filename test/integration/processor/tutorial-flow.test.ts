import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { waitFor } from '../../support/wait.ts';
import { reservationConfig, startReservationWorkers, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';

async function getSaga(url: string, sagaId: string): Promise<{ status: number; body: SagaDocument | { code: string } }> {
  const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`);
  return { status: res.status, body: (await res.json()) as SagaDocument | { code: string } };
}

describe.each(['json', 'avro'] as const)('tutorial reservation flow end to end (%s)', (serialization) => {
  it('creates sagas over HTTP, workers answer commands, sagas reach their final states', async () => {
    const flow = uniqueFlow(`tutorial-${serialization}`);
    const config = reservationConfig(flow, serialization);
    const instance = await startTestInstance(config);
    await startReservationWorkers(config, flow);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const cases = [
      { metadata: { reservationId: 1 }, expected: 'reservationConfirmed' },
      { metadata: { reservationId: 2, fail: 'validation' }, expected: 'reservationFailed' },
      { metadata: { reservationId: 3, fail: 'check' }, expected: 'reservationFailed' },
    ];
    const ids: string[] = [];
    for (const c of cases) {
      const res = await fetch(`${instance.url}/saga`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ associatedEntityId: `entity-${c.metadata.reservationId}`, metadata: c.metadata }),
      });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { sagaId: string };
      expect(body.sagaId).toMatch(/\S+/);
      ids.push(body.sagaId);
    }

    for (const [i, c] of cases.entries()) {
      const sagaId = ids[i] as string;
      const saga = await waitFor(
        async () => {
          const r = await getSaga(instance.url, sagaId);
          return r.status === 200 && (r.body as SagaDocument).isFinal ? (r.body as SagaDocument) : undefined;
        },
        { timeoutMs: 60_000 },
      );
      expect(saga.currentState).toBe(c.expected);
      expect(saga.metadata).toMatchObject(c.metadata);
      expect(saga.history.states[0]?.state).toBe('reservationCreated');
      expect(saga.history.events[0]?.event).toBe('__created__');
      expect(saga.history.states.at(-1)?.state).toBe(c.expected);
      expect(saga.commands.map((cmd) => cmd.label)).toEqual(
        c.expected === 'reservationConfirmed' || c.metadata.fail === 'check'
          ? ['validateReservation', 'checkReservation']
          : ['validateReservation'],
      );
    }

    const missing = await getSaga(instance.url, 'no-such-saga');
    expect(missing.status).toBe(404);
  });
});
