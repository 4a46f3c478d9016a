import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { waitFor } from '../../support/wait.ts';
import { reservationConfig, startReservationWorkers, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';

async function createSagas(url: string, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/saga`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ associatedEntityId: `${tag}-${i}`, metadata: { i, fail: i % 3 === 0 ? 'check' : 'none' } }),
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { sagaId: string }).sagaId);
  }
  return ids;
}

async function finalOn(url: string, sagaId: string): Promise<SagaDocument> {
  return waitFor(
    async () => {
      const r = await fetch(`${url}/saga/${sagaId}`);
      if (r.status !== 200) return undefined;
      const saga = (await r.json()) as SagaDocument;
      return saga.isFinal ? saga : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

describe('two instances in one group', () => {
  it('split partitions, answer queries for every saga on both, and take over when one stops', async () => {
    const flow = uniqueFlow('pair');
    const config = reservationConfig(flow);
    const a = await startTestInstance(config, { partitions: 4 });
    const b = await startTestInstance(config, { partitions: 4 });
    await startReservationWorkers(config, flow);

    await waitFor(
      async () => {
        const ra = await fetch(`${a.url}/-/ready`);
        const rb = await fetch(`${b.url}/-/ready`);
        const pa = a.processor.ownedPartitions().length;
        const pb = b.processor.ownedPartitions().length;
        return ra.status === 200 && rb.status === 200 && pa > 0 && pb > 0 && pa + pb === 4;
      },
      { timeoutMs: 90_000 },
    );
    const owned = [...a.processor.ownedPartitions(), ...b.processor.ownedPartitions()].map((p) => p.partition).sort();
    expect(owned).toEqual([0, 1, 2, 3]);

    const ids = await createSagas(a.url, 16, 'before');
    for (const id of ids) {
      const viaA = await finalOn(a.url, id);
      const viaB = await finalOn(b.url, id);
      expect(viaB).toEqual(viaA);
      expect(viaA.currentState).toBe(viaA.metadata.fail === 'check' ? 'reservationFailed' : 'reservationConfirmed');
    }

    await b.stop();
    await waitFor(async () => a.processor.ownedPartitions().length === 4 && a.processor.isReady(), { timeoutMs: 90_000 });
    const after = await createSagas(a.url, 8, 'after');
    for (const id of [...ids, ...after]) {
      const saga = await finalOn(a.url, id);
      expect(saga.isFinal).toBe(true);
    }
  });
});
