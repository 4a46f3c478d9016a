import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { SagaLocation } from '../../../src/engine/processor.ts';
import { STALE_HEADER, buildHttpApp } from '../../../src/http/app.ts';
import type { HttpDeps } from '../../../src/http/app.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';

const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
const config = parsed.config;
const compiled = await compileDefinition(config);

const FORWARD_TIMEOUT_MS = 400;

function saga(sagaId: string): SagaDocument {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    sagaId, associatedEntityId: 'e', currentState: 'reservationCreated', isFinal: false, metadata: {}, latestEvent: '__created__',
    history: { states: [{ state: 'reservationCreated', timestamp: at }], events: [] }, revision: 1, createdAt: at, updatedAt: at, commands: [], ignoredEvents: [], recentEventIds: [],
  };
}

/** A sagaflow HTTP API listening on loopback, its saga queries answered by `locate`. */
async function instance(locate: (sagaId: string) => Promise<SagaLocation>, extra: Partial<HttpDeps> = {}): Promise<string> {
  const app = await buildHttpApp({
    definition: compiled,
    machineDefinition: config.machineDefinition,
    sagaIdPrefix: 'fwd',
    ingress: { produce: async () => undefined },
    queries: { locate, isReady: () => true, ownedPartitions: () => [] },
    metrics: () => '',
    logger: pino({ level: 'silent' }),
    forwardTimeoutMs: FORWARD_TIMEOUT_MS,
    ...extra,
  });
  registerCleanup(() => app.close());
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** A server that accepts connections and never answers (an owner paused or wedged). */
async function hangingServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer(() => undefined);
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// The owner's answers, each on a real sagaflow API (a hanging server for the last), and what the
// instance the client asked answers: see the README's "Queries forwarded to the owner".
describe('GET /saga/:sagaId forwarded to the owning instance', () => {
  it('maps the owner answering 200, 404, 503, 500, a foreign 404 and nothing at all to documented answers', { timeout: 30_000 }, async () => {
    const owner = await instance(async (id) => {
      if (id === 'restoring') return { kind: 'restoring', partition: 3, saga: undefined };
      if (id === 'catching-up') return { kind: 'restoring', partition: 3, saga: saga(id) };
      if (id === 'broken') throw new Error('store read failed');
      if (id === 'moved') return { kind: 'no-owner', partition: 3 };
      return { kind: 'local', saga: id === 'known' ? saga(id) : undefined };
    });
    const hanging = await hangingServer();
    const foreign = await instance(async () => ({ kind: 'local', saga: undefined }));
    const route = new Map([['hangs', hanging], ['foreign', `${foreign}/not-sagaflow`]]);
    const asked = await instance(async (id) => ({ kind: 'remote', url: route.get(id) ?? owner, partition: 3 }));
    const get = async (id: string) => {
      const res = await fetch(`${asked}/saga/${id}`);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), stale: res.headers.get(STALE_HEADER), body: (await res.json()) as { code?: string; message?: string; sagaId?: string } };
    };

    const known = await get('known');
    expect(known).toMatchObject({ status: 200, stale: null, body: { sagaId: 'known', revision: 1 } });
    expect(await get('unknown')).toMatchObject({ status: 404, body: { code: 'SAGAFLOW_SAGA_NOT_FOUND', message: 'saga "unknown" does not exist' } });
    expect(await get('restoring')).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'SAGAFLOW_RESTORING', message: 'the owner of partition 3 is restoring' } });
    // A restoring owner that already has the saga's committed copy answers with it, marked stale.
    expect(await get('catching-up')).toMatchObject({ status: 200, stale: 'restoring', body: { sagaId: 'catching-up', revision: 1 } });
    expect(await get('moved')).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'SAGAFLOW_OWNER_UNAVAILABLE' } });
    expect(await get('broken')).toMatchObject({ status: 502, retryAfter: '1', body: { code: 'SAGAFLOW_OWNER_FAILED', message: `the instance owning partition 3 (${owner}) answered 500 SAGAFLOW_INTERNAL_ERROR` } });
    // A 404 from something that is not the saga route says nothing about the saga.
    expect(await get('foreign')).toMatchObject({ status: 502, body: { code: 'SAGAFLOW_OWNER_FAILED', message: expect.stringContaining('answered 404 SAGAFLOW_ROUTE_NOT_FOUND') } });
    const began = Date.now();
    expect(await get('hangs')).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'SAGAFLOW_OWNER_UNAVAILABLE', message: `the instance owning partition 3 (${hanging}) did not answer within ${FORWARD_TIMEOUT_MS} ms` } });
    expect(Date.now() - began).toBeLessThan(FORWARD_TIMEOUT_MS + 2_000);
  });

  it('answers from the projection, marked possibly stale, when the owner fails, hangs or restores, but never against the owner\'s 404', { timeout: 30_000 }, async () => {
    const owner = await instance(async (id) => {
      if (id === 'restoring') return { kind: 'restoring', partition: 1, saga: undefined };
      if (id === 'broken') throw new Error('store read failed');
      return { kind: 'local', saga: undefined };
    });
    const hanging = await hangingServer();
    const asked = await instance(async (id) => ({ kind: 'remote', url: id === 'hangs' ? hanging : owner, partition: 1 }), { fallback: async (id) => saga(id) });
    for (const id of ['broken', 'hangs', 'restoring']) {
      const res = await fetch(`${asked}/saga/${id}`);
      expect(res.status, id).toBe(200);
      expect(res.headers.get(STALE_HEADER), id).toBe('possibly');
      expect(((await res.json()) as SagaDocument).sagaId).toBe(id);
    }
    // The owner's store is the truth: its "no such saga" is passed on.
    expect((await fetch(`${asked}/saga/unknown`)).status).toBe(404);
  });
});
