import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { testDb } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { reservationConfig, startReservationWorkers, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { storedSagas } from './support.ts';

/** Where the projection writes: a unique collection of the tests' database, dropped afterwards. */
async function mongoPersistency() {
  const db = await testDb();
  const collectionName = uniqueName('e2e').replaceAll('-', '_');
  registerCleanup(() => db.collection(collectionName).drop().catch(() => undefined));
  const uri = new URL(services().mongodbUrl);
  uri.pathname = `/${db.databaseName}`;
  return {
    persistency: { type: 'mongo' as const, configurations: { connectionUri: uri.toString(), collectionName } },
    collection: db.collection<SagaDocument>(collectionName),
  };
}

async function createSagas(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const fail = i % 3 === 1 ? 'validation' : i % 3 === 2 ? 'check' : undefined;
    const res = await fetch(`${url}/saga`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ associatedEntityId: `entity-${i}`, metadata: { reservationId: i, ...(fail ? { fail } : {}) } }),
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { sagaId: string }).sagaId);
  }
  return ids;
}

describe.each(['json', 'avro'] as const)('projection inside sagaflow start (%s)', (serialization) => {
  it('MongoDB holds exactly what the processor holds, served at GET /sagas and /sagas/stats', async () => {
    const flow = uniqueFlow(`projection-e2e-${serialization}`);
    const { persistency, collection } = await mongoPersistency();
    const config = reservationConfig(flow, serialization, persistency);
    // Two aborted transactions: their changelog records must never reach the projection.
    let failuresLeft = 2;
    const instance = await startTestInstance(config, {
      partitions: 3,
      beforeCommit: () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('injected failure before commit');
        }
      },
    });
    await startReservationWorkers(config, flow);
    const projection = instance.projection;
    if (!projection?.repository) throw new Error('mongo persistency starts a projection with a repository');
    await projection.started;
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const ids = await createSagas(instance.url, 30);
    const fromProcessor = new Map<string, SagaDocument>();
    for (const id of ids) {
      const saga = await waitFor(
        async () => {
          const res = await fetch(`${instance.url}/saga/${encodeURIComponent(id)}`);
          const body = res.status === 200 ? ((await res.json()) as SagaDocument) : undefined;
          return body?.isFinal ? body : undefined;
        },
        { timeoutMs: 60_000, description: `saga ${id} final` },
      );
      fromProcessor.set(id, saga);
    }
    expect(failuresLeft).toBe(0);
    await waitFor(async () => (await projection.projector.lag()).total === 0, { timeoutMs: 60_000, description: 'projection caught up' });
    const stored = await storedSagas(collection);
    expect(stored.size).toBe(ids.length);
    for (const [id, saga] of fromProcessor) expect(stored.get(id), id).toEqual(saga);

    const stats = (await (await fetch(`${instance.url}/sagas/stats`)).json()) as { total: number; byState: { currentState: string; count: number }[] };
    expect(stats.total).toBe(30);
    expect(stats.byState).toContainEqual(expect.objectContaining({ currentState: 'reservationConfirmed', count: 10 }));
    expect(stats.byState).toContainEqual(expect.objectContaining({ currentState: 'reservationFailed', count: 20 }));
    const page = (await (await fetch(`${instance.url}/sagas?currentState=reservationConfirmed&limit=100`)).json()) as { items: SagaDocument[] };
    expect(page.items.map((s) => s.sagaId).sort()).toEqual(ids.filter((_, i) => i % 3 === 0).sort());
    const openapi = (await (await fetch(`${instance.url}/documentation/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/sagas', '/sagas/stats']));
    expect(await projection.repository.findById(ids[0] as string)).toEqual(fromProcessor.get(ids[0] as string));
  });
});
