import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { services } from '../../support/services.ts';
import { uniqueName } from '../../support/names.ts';
import { mongoClient } from '../../support/mongo.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { waitFor } from '../../support/wait.ts';
import { reservationConfig, startReservationWorkers, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';

describe('sagaflow start with MongoDB persistency', () => {
  it('projects every saga and serves GET /sagas and GET /sagas/stats from the projection', async () => {
    const flow = uniqueFlow('projected');
    const collectionName = uniqueName('sagas').replace(/-/g, '_');
    const client = await mongoClient();
    registerCleanup(() => client.db().collection(collectionName).drop().catch(() => undefined));
    const config = reservationConfig(flow, 'json', {
      type: 'mongo',
      configurations: { connectionUri: services().mongodbUrl, collectionName },
    });
    const instance = await startTestInstance(config, { partitions: 2 });
    await startReservationWorkers(config, flow);
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${instance.url}/saga`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ associatedEntityId: `p${i}`, metadata: { i, fail: i < 2 ? 'check' : 'none' } }),
      });
      ids.push(((await res.json()) as { sagaId: string }).sagaId);
    }
    const page = await waitFor(
      async () => {
        const res = await fetch(`${instance.url}/sagas?isFinal=true&limit=50`);
        if (res.status !== 200) return undefined;
        const body = (await res.json()) as { items: SagaDocument[] };
        return body.items.length === ids.length ? body : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(page.items.map((s) => s.sagaId).sort()).toEqual([...ids].sort());
    for (const saga of page.items) {
      const live = (await (await fetch(`${instance.url}/saga/${saga.sagaId}`)).json()) as SagaDocument;
      // The projection holds the same document as the owner's store.
      expect(saga).toEqual(live);
    }
    const failed = (await (await fetch(`${instance.url}/sagas?currentState=reservationFailed`)).json()) as { items: SagaDocument[] };
    expect(failed.items).toHaveLength(2);
    const stats = (await (await fetch(`${instance.url}/sagas/stats`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(stats)).toContain('reservationConfirmed');
  });
});
