import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { sample } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';
import { reservationConfig, startTestInstance, tempStateDir, uniqueFlow } from '../../support/sagaflow.ts';

async function ready(url: string): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
}

/** Partition restores by where they began, from the instance's /-/metrics. */
async function restores(url: string): Promise<{ marker: number; start: number }> {
  const text = await (await fetch(`${url}/-/metrics`)).text();
  const count = (from: string) => sample(text, `sagaflow_restore_duration_seconds_count{from="${from}"}`) ?? 0;
  return { marker: count('marker'), start: count('start') };
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function sagaIn(url: string, sagaId: string, state: string): Promise<SagaDocument> {
  return waitFor(
    async () => {
      const r = await fetch(`${url}/saga/${sagaId}`);
      if (r.status !== 200) return undefined;
      const saga = (await r.json()) as SagaDocument;
      return saga.currentState === state ? saga : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

describe('restore after restart', () => {
  it('sagas continue from where they were, from the local store or from the changelog alone', async () => {
    const flow = uniqueFlow('restore');
    const config = reservationConfig(flow);
    const stateDir = tempStateDir();

    const first = await startTestInstance(config, { stateDir, partitions: 3 });
    await ready(first.url);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await post(first.url, '/saga', { associatedEntityId: `r${i}`, metadata: { i } });
      ids.push(((await res.json()) as { sagaId: string }).sagaId);
    }
    for (const id of ids) await post(first.url, '/event', { key: id, value: { messageLabel: 'validationOK', messagePayload: { step: 1 } } });
    for (const id of ids) await sagaIn(first.url, id, 'reservationValidated');
    await first.stop();

    // Same state directory: the store has a changelog marker and replays only what follows it.
    const second = await startTestInstance(config, { stateDir, partitions: 3 });
    await ready(second.url);
    // Everything was committed before the stop, so the marker is at the changelog's end.
    expect(second.processor.metrics.restoredRecords).toBe(0);
    // One restore per partition; those that hold sagas resume after their marker.
    const resumed = await restores(second.url);
    expect(resumed.marker + resumed.start).toBe(3);
    expect(resumed.marker).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      const saga = await sagaIn(second.url, id, 'reservationValidated');
      expect(saga.metadata).toMatchObject({ step: 1 });
    }
    for (const id of ids.slice(0, 6)) await post(second.url, '/event', { key: id, value: { messageLabel: 'checkOK', messagePayload: {} } });
    for (const id of ids.slice(0, 6)) await sagaIn(second.url, id, 'reservationConfirmed');
    await second.stop();

    // A fresh state directory: everything comes back from the changelog topic.
    const third = await startTestInstance(config, { partitions: 3 });
    await ready(third.url);
    for (const id of ids.slice(0, 6)) await sagaIn(third.url, id, 'reservationConfirmed');
    for (const id of ids.slice(6)) await sagaIn(third.url, id, 'reservationValidated');
    expect(third.processor.metrics.restoredRecords).toBeGreaterThanOrEqual(ids.length);
    expect(await restores(third.url)).toEqual({ marker: 0, start: 3 });
    for (const id of ids.slice(6)) await post(third.url, '/event', { key: id, value: { messageLabel: 'checkKO', messagePayload: {} } });
    for (const id of ids.slice(6)) {
      const saga = await sagaIn(third.url, id, 'reservationFailed');
      // One revision per change, carried across restarts: create, validationOK, checkKO.
      expect(saga.revision).toBe(3);
    }
  });
});
