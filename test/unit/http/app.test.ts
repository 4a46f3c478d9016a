import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { FORWARDED_HEADER, INSTANCE_HEADER, STALE_HEADER, buildHttpApp } from '../../../src/http/app.ts';
import type { HttpDeps } from '../../../src/http/app.ts';
import { HTTP_ERRORS } from '../../../src/http/errors.ts';
import type { Envelope } from '../../../src/kafka/codec.ts';
import type { SagaLocation } from '../../../src/engine/processor.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';

async function definition(throwOnUnexpectedEvents = false) {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  raw.settings = { throwOnUnexpectedEvents };
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return { config: parsed.config, compiled: await compileDefinition(parsed.config) };
}

function saga(sagaId: string, currentState = 'reservationCreated'): SagaDocument {
  return {
    sagaId,
    associatedEntityId: 'e',
    currentState,
    isFinal: false,
    metadata: { a: 1 },
    latestEvent: '__created__',
    history: { states: [{ state: currentState, timestamp: '2026-01-01T00:00:00.000Z' }], events: [] },
    revision: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
  };
}

/** The HTTP layer over in-memory stand-ins of the processor's query and ingress ports. */
async function build(opts: {
  locate?: (id: string) => SagaLocation;
  ready?: boolean;
  throwOnUnexpected?: boolean;
  fetchImpl?: typeof fetch;
  fallback?: HttpDeps['fallback'];
  bodyLimit?: number;
  checkUp?: HttpDeps['checkUp'];
  instanceId?: string;
}) {
  const produced: { sagaId: string; envelope: Envelope }[] = [];
  const { config, compiled } = await definition(opts.throwOnUnexpected ?? false);
  let n = 0;
  const deps: HttpDeps = {
    definition: compiled,
    machineDefinition: config.machineDefinition,
    sagaIdPrefix: 'flow-service',
    newSagaId: () => `flow-service-${++n}`,
    ingress: { produce: async (sagaId, envelope) => void produced.push({ sagaId, envelope }) },
    queries: {
      locate: async (id) => (opts.locate ? opts.locate(id) : { kind: 'local', saga: undefined }),
      isReady: () => opts.ready ?? true,
      ownedPartitions: () => [{ partition: 0, state: opts.ready === false ? 'starting' : 'ready' }],
    },
    metrics: () => 'sagaflow_events_processed_total 0\n',
    logger: pino({ level: 'silent' }),
    waitTimeoutMs: 300,
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
  };
  if (opts.fetchImpl) deps.fetchImpl = opts.fetchImpl;
  if (opts.fallback) deps.fallback = opts.fallback;
  if (opts.bodyLimit) deps.bodyLimit = opts.bodyLimit;
  if (opts.checkUp) deps.checkUp = opts.checkUp;
  const app = await buildHttpApp(deps);
  return { app, produced };
}

describe('POST /saga', () => {
  it('produces a creation keyed by a new prefixed sagaId and answers 201', async () => {
    const { app, produced } = await build({});
    const res = await app.inject({ method: 'POST', url: '/saga', payload: { associatedEntityId: 'x', metadata: { k: 1 } } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ sagaId: 'flow-service-1' });
    expect(produced).toEqual([
      { sagaId: 'flow-service-1', envelope: { messageLabel: '__created__', messagePayload: { associatedEntityId: 'x', metadata: { k: 1 } } } },
    ]);
  });

  it('with wait=true answers with the document once it exists, or 202 when it does not appear in time', async () => {
    const found = await build({ locate: (id) => ({ kind: 'local', saga: saga(id) }) });
    const res = await found.app.inject({ method: 'POST', url: '/saga?wait=true', payload: { associatedEntityId: 'x', metadata: {} } });
    expect(res.statusCode).toBe(201);
    expect(res.json().saga.sagaId).toBe('flow-service-1');
    const never = await build({});
    const late = await never.app.inject({ method: 'POST', url: '/saga?wait=true', payload: { associatedEntityId: 'x', metadata: {} } });
    expect(late.statusCode).toBe(202);
  });

  it.each([
    ['missing metadata', { associatedEntityId: 'x' }],
    ['missing associatedEntityId', { metadata: {} }],
    ['extra property', { associatedEntityId: 'x', metadata: {}, other: 1 }],
    ['wrong type', { associatedEntityId: 3, metadata: {} }],
    ['metadata not an object', { associatedEntityId: 'x', metadata: 'no' }],
    ['empty entity id', { associatedEntityId: '', metadata: {} }],
  ])('rejects %s with 400 and a message', async (_name, payload) => {
    const { app, produced } = await build({});
    const res = await app.inject({ method: 'POST', url: '/saga', payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_BAD_REQUEST' });
    expect(res.json().message).toMatch(/body/);
    expect(produced).toHaveLength(0);
  });

  it('rejects malformed JSON (400), a huge body (413) and a wrong content type (415)', async () => {
    const { app } = await build({ bodyLimit: 1024 });
    const bad = await app.inject({ method: 'POST', url: '/saga', headers: { 'content-type': 'application/json' }, payload: '{"associatedEntityId": ' });
    expect(bad.statusCode).toBe(400);
    const huge = await app.inject({ method: 'POST', url: '/saga', payload: { associatedEntityId: 'x', metadata: { pad: 'x'.repeat(5000) } } });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().code).toBe('SAGAFLOW_BODY_TOO_LARGE');
    const plain = await app.inject({ method: 'POST', url: '/saga', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(plain.statusCode).toBe(400);
    const text = await app.inject({ method: 'POST', url: '/saga', headers: { 'content-type': 'application/xml' }, payload: '<saga/>' });
    expect(text.statusCode).toBe(415);
  });
});

describe('POST /event', () => {
  it('produces the event with its eventId and answers 202', async () => {
    const { app, produced } = await build({});
    const res = await app.inject({ method: 'POST', url: '/event', payload: { key: 's1', value: { messageLabel: 'validationOK', messagePayload: { x: 1 }, eventId: 'e1' } } });
    expect(res.statusCode).toBe(202);
    expect(produced).toEqual([{ sagaId: 's1', envelope: { messageLabel: 'validationOK', messagePayload: { x: 1 }, eventId: 'e1' } }]);
  });

  it('with throwOnUnexpectedEvents answers 409 for a label the state does not accept, 404 for an unknown saga', async () => {
    const { app, produced } = await build({ throwOnUnexpected: true, locate: (id) => ({ kind: 'local', saga: id === 's1' ? saga(id) : undefined }) });
    const unexpected = await app.inject({ method: 'POST', url: '/event', payload: { key: 's1', value: { messageLabel: 'checkOK' } } });
    expect(unexpected.statusCode).toBe(409);
    expect(unexpected.json()).toMatchObject({ code: 'SAGAFLOW_UNEXPECTED_EVENT' });
    expect(unexpected.json().message).toContain('reservationCreated');
    const unknown = await app.inject({ method: 'POST', url: '/event', payload: { key: 'nope', value: { messageLabel: 'checkOK' } } });
    expect(unknown.statusCode).toBe(404);
    const ok = await app.inject({ method: 'POST', url: '/event', payload: { key: 's1', value: { messageLabel: 'validationOK' } } });
    expect(ok.statusCode).toBe(202);
    expect(produced).toHaveLength(1);
  });

  it('refuses the label of failed deliveries, which only sagaflow reports', async () => {
    const { app, produced } = await build({});
    const res = await app.inject({ method: 'POST', url: '/event', payload: { key: 's1', value: { messageLabel: '__delivery_failed__', messagePayload: { channel: 'c' } } } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_BAD_REQUEST', message: expect.stringContaining('"__delivery_failed__" is reserved') });
    expect(produced).toEqual([]);
  });

  it('rejects a body without value.messageLabel', async () => {
    const { app } = await build({});
    const res = await app.inject({ method: 'POST', url: '/event', payload: { key: 's1', value: {} } });
    expect(res.statusCode).toBe(400);
  });
});

describe('GET /saga/:sagaId', () => {
  it('serves a local saga, 404 for an unknown one, a restoring store\'s copy marked stale, else 503 with Retry-After while restoring', async () => {
    const { app } = await build({
      locate: (id) => {
        if (id === 'r') return { kind: 'restoring', partition: 2, saga: undefined };
        if (id === 'r-copy') return { kind: 'restoring', partition: 2, saga: saga(id) };
        return { kind: 'local', saga: id === 's1' ? saga(id) : undefined };
      },
    });
    const copy = await app.inject({ method: 'GET', url: '/saga/r-copy' });
    expect(copy.statusCode).toBe(200);
    expect(copy.headers[STALE_HEADER]).toBe('restoring');
    expect(copy.json()).toEqual(saga('r-copy'));
    const ok = await app.inject({ method: 'GET', url: '/saga/s1' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual(saga('s1'));
    expect((await app.inject({ method: 'GET', url: '/saga/zz' })).statusCode).toBe(404);
    const restoring = await app.inject({ method: 'GET', url: '/saga/r' });
    expect(restoring.statusCode).toBe(503);
    expect(restoring.headers['retry-after']).toBe('1');
    expect(restoring.json().code).toBe('SAGAFLOW_RESTORING');
  });

  it('serves an unconfirmed owner\'s copy marked stale, else the projection\'s, else 503; names the instance that answered', async () => {
    const fallback = async (id: string) => (id === 'u-projected' ? saga(id) : undefined);
    const { app } = await build({
      instanceId: 'instance-a',
      fallback,
      locate: (id) => (id === 's1' ? { kind: 'local', saga: saga(id) } : { kind: 'unconfirmed', partition: 3, saga: id === 'u-copy' ? saga(id) : undefined }),
    });
    const copy = await app.inject({ method: 'GET', url: '/saga/u-copy' });
    expect(copy.statusCode).toBe(200);
    expect(copy.headers[STALE_HEADER]).toBe('unconfirmed');
    expect(copy.headers[INSTANCE_HEADER]).toBe('instance-a');
    expect(copy.json()).toEqual(saga('u-copy'));
    // Absent from a store that may have lost the partition proves nothing: not a 404.
    const projected = await app.inject({ method: 'GET', url: '/saga/u-projected' });
    expect(projected.statusCode).toBe(200);
    expect(projected.headers[STALE_HEADER]).toBe('possibly');
    const absent = await app.inject({ method: 'GET', url: '/saga/u-absent' });
    expect(absent.statusCode).toBe(503);
    expect(absent.headers['retry-after']).toBe('1');
    expect(absent.json()).toMatchObject({ code: 'SAGAFLOW_OWNER_UNAVAILABLE', message: expect.stringContaining('partition 3') });
    const local = await app.inject({ method: 'GET', url: '/saga/s1' });
    expect(local.headers[STALE_HEADER]).toBeUndefined();
    expect(local.headers[INSTANCE_HEADER]).toBe('instance-a');
  });

  it('passes on the owner\'s marks: an unconfirmed copy stays marked, and names the owner\'s instance', async () => {
    const fetchImpl = (async () =>
      new Response(JSON.stringify(saga('s9')), { status: 200, headers: { 'content-type': 'application/json', [STALE_HEADER]: 'unconfirmed', [INSTANCE_HEADER]: 'instance-b' } })) as unknown as typeof fetch;
    const { app } = await build({ instanceId: 'instance-a', fetchImpl, locate: () => ({ kind: 'remote', url: 'http://owner:1', partition: 1 }) });
    const res = await app.inject({ method: 'GET', url: '/saga/s9' });
    expect(res.statusCode).toBe(200);
    expect(res.headers[STALE_HEADER]).toBe('unconfirmed');
    expect(res.headers[INSTANCE_HEADER]).toBe('instance-b');
  });

  it('forwards to the owner once, marking the request as forwarded', async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const fetchImpl = (async (url: string, init?: { headers?: Record<string, string> }) => {
      calls.push({ url, headers: init?.headers ?? {} });
      return new Response(JSON.stringify(saga('s9')), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const { app } = await build({ fetchImpl, locate: () => ({ kind: 'remote', url: 'http://owner:1', partition: 1 }) });
    const res = await app.inject({ method: 'GET', url: '/saga/s9' });
    expect(res.statusCode).toBe(200);
    expect(res.json().sagaId).toBe('s9');
    expect(calls).toEqual([{ url: 'http://owner:1/saga/s9', headers: { [FORWARDED_HEADER]: '1' } }]);
    // A forwarded request is never forwarded again.
    const again = await app.inject({ method: 'GET', url: '/saga/s9', headers: { [FORWARDED_HEADER]: '1' } });
    expect(again.statusCode).toBe(503);
    expect(calls).toHaveLength(1);
  });

  it('falls back to the projection when the owner is unreachable, marked possibly stale', async () => {
    const fetchImpl = (async () => {
      throw new Error('connection refused');
    }) as unknown as typeof fetch;
    const { app } = await build({
      fetchImpl,
      locate: () => ({ kind: 'remote', url: 'http://gone:1', partition: 1 }),
      fallback: async (id) => (id === 'p1' ? saga(id) : undefined),
    });
    const res = await app.inject({ method: 'GET', url: '/saga/p1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-sagaflow-stale']).toBe('possibly');
    const none = await app.inject({ method: 'GET', url: '/saga/p2' });
    expect(none.statusCode).toBe(503);
    expect(none.json().code).toBe('SAGAFLOW_OWNER_UNAVAILABLE');
  });

  // Regression: the instance a request was forwarded to may no longer own the saga (the group
  // moved its partition) and answer from the projection. The forwarding instance passed that
  // copy on as the owner's, without the header, so a client read an older revision than one
  // it had already seen, unflagged (found by the crash-kill reliability test with a projection).
  it('keeps the possibly-stale mark when the instance it forwarded to answered from the projection', async () => {
    const fetchImpl = (async () =>
      new Response(JSON.stringify(saga('p3')), {
        status: 200,
        headers: { 'content-type': 'application/json', 'x-sagaflow-stale': 'possibly' },
      })) as unknown as typeof fetch;
    const { app } = await build({ fetchImpl, locate: () => ({ kind: 'remote', url: 'http://former-owner:1', partition: 1 }) });
    const res = await app.inject({ method: 'GET', url: '/saga/p3' });
    expect(res.statusCode).toBe(200);
    expect(res.json().sagaId).toBe('p3');
    expect(res.headers['x-sagaflow-stale']).toBe('possibly');
  });
});

describe('service routes', () => {
  it('machine definition, health, readiness, metrics, OpenAPI', async () => {
    const notReady = await build({ ready: false });
    const md = await notReady.app.inject({ method: 'GET', url: '/machine-definition' });
    expect(md.json().initialState).toBe('reservationCreated');
    expect(md.body).not.toContain('password');
    expect((await notReady.app.inject({ method: 'GET', url: '/-/healthz' })).statusCode).toBe(200);
    const ready = await notReady.app.inject({ method: 'GET', url: '/-/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().partitions).toEqual([{ partition: 0, state: 'starting' }]);
    expect((await notReady.app.inject({ method: 'GET', url: '/-/metrics' })).body).toContain('sagaflow_events_processed_total');
    const doc = (await notReady.app.inject({ method: 'GET', url: '/documentation/json' })).json() as { paths: Record<string, unknown> };
    for (const path of ['/saga', '/event', '/saga/{sagaId}', '/machine-definition', '/-/healthz', '/-/ready', '/-/check-up']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const unknown = await notReady.app.inject({ method: 'GET', url: '/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('SAGAFLOW_ROUTE_NOT_FOUND');
  });

  it('/-/check-up answers as Mia-Platform services do: {status, name, version}, 200 only when every dependency is up', async () => {
    const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const none = await build({});
    const plain = await none.app.inject({ method: 'GET', url: '/-/check-up' });
    expect(plain.statusCode).toBe(200);
    expect(plain.json()).toEqual({ status: 'OK', name: 'sagaflow', version, checks: [] });

    let mongoUp = true;
    const { app } = await build({
      checkUp: async () => ({
        ok: mongoUp,
        checks: [
          { name: 'kafka', status: 'OK', durationMs: 3 },
          { name: 'persistency', status: mongoUp ? 'OK' : 'KO', durationMs: 5, ...(mongoUp ? {} : { message: 'MongoDB did not answer' }) },
        ],
      }),
    });
    expect((await app.inject({ method: 'GET', url: '/-/check-up' })).statusCode).toBe(200);
    mongoUp = false;
    const down = await app.inject({ method: 'GET', url: '/-/check-up' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'KO', name: 'sagaflow', version, checks: [{ name: 'kafka', status: 'OK' }, { name: 'persistency', status: 'KO', message: 'MongoDB did not answer' }] });
  });

  it('error codes are unique, prefixed and map to 4xx/5xx', () => {
    for (const [code, { status }] of Object.entries(HTTP_ERRORS)) {
      expect(code).toMatch(/^SAGAFLOW_[A-Z_]+$/);
      expect(status).toBeGreaterThanOrEqual(400);
    }
  });
});
