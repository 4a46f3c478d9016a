import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { crudSagaSink, restSagaSink } from '../../../src/projection/http-sink.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic } from '../../support/kafka.ts';
import { waitFor } from '../../support/wait.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';
import { jsonCodec, produceChangelog, simulateTutorial, testProjector, tutorialDefinition, waitCaughtUp } from './support.ts';

interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/**
 * A small persistency service on loopback, the system under observation: it stores what it
 * is sent the way a Mia CRUD service (`POST /<collection>/upsert-one?sagaId=` with `$set`) or
 * a REST persistency manager (`<method> <path>/<sagaId>`) would, and can be told to fail.
 */
async function persistencyServer(kind: 'crud' | 'rest') {
  const received: Received[] = [];
  const stored = new Map<string, Record<string, unknown>>();
  /** Answer `failWith` to the next `failTimes` requests (to all while failTimes is undefined). */
  const state: { failWith: number; failTimes?: number } = { failWith: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      received.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body });
      if (state.failWith && (state.failTimes === undefined || state.failTimes > 0)) {
        if (state.failTimes !== undefined) state.failTimes -= 1;
        res.writeHead(state.failWith).end('{"error":"unavailable"}');
        return;
      }
      if (kind === 'crud') {
        const sagaId = url.searchParams.get('sagaId') ?? '';
        stored.set(sagaId, { ...stored.get(sagaId), ...(body.$set as Record<string, unknown>) });
      } else {
        const sagaId = decodeURIComponent(url.pathname.split('/').pop() ?? '');
        stored.set(sagaId, body);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, received, stored, state };
}

describe('CRUD persistency (Flow Manager compatible)', () => {
  it('projects the tutorial flow into a CRUD service with upsert-one and $set, sending the configured headers', async () => {
    const crud = await persistencyServer('crud');
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 2, config: { 'cleanup.policy': 'compact' } });
    const flow = simulateTutorial(tutorialDefinition(), 60, { seed: 21 });
    await produceChangelog(topic, codec, flow.revisions);
    const sink = crudSagaSink({ protocol: 'http', host: '127.0.0.1', port: crud.port, collectionName: 'sagas', headers: { 'x-api-key': 'secret-value' } });
    const projector = testProjector({ changelogTopic: topic, codec, sink });
    await projector.start();
    await waitCaughtUp(projector);
    expect(crud.stored.size).toBe(flow.finals.size);
    for (const [sagaId, saga] of flow.finals) {
      expect(crud.stored.get(sagaId)).toEqual({
        sagaId,
        latestEvent: saga.latestEvent,
        history: saga.history,
        currentState: saga.currentState,
        associatedEntityId: saga.associatedEntityId,
        isFinal: saga.isFinal,
        businessStateId: saga.businessStateId,
        businessStateDescription: saga.businessStateDescription,
        metadata: saga.metadata,
      });
    }
    for (const r of crud.received) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/sagas/upsert-one');
      expect(r.headers['x-api-key']).toBe('secret-value');
      expect(r.headers['content-type']).toBe('application/json');
      expect(Object.keys(r.body)).toEqual(['$set']);
    }
  });

  it('a failing CRUD service delays the projection, is reported, and loses no saga', async () => {
    const crud = await persistencyServer('crud');
    crud.state.failWith = 503;
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 1, config: { 'cleanup.policy': 'compact' } });
    const flow = simulateTutorial(tutorialDefinition(), 30, { seed: 22 });
    await produceChangelog(topic, codec, flow.revisions);
    const sink = crudSagaSink({ host: '127.0.0.1', port: crud.port, collectionName: 'sagas' }, { attempts: 2, backoff: { initialMs: 10, maxMs: 20, factor: 2 } });
    const projector = testProjector({ changelogTopic: topic, codec, sink });
    await projector.start();
    await waitFor(() => projector.status().consecutiveFailures >= 2, { timeoutMs: 30_000, description: 'CRUD failures reported' });
    const status = projector.status();
    expect(status.failing).toBe(true);
    expect(status.lastError).toMatchObject({ code: 'SAGAFLOW_PROJECTION_TARGET_FAILED' });
    expect(status.lastError?.message).toContain('answered 503');
    expect((await projector.lag()).total).toBeGreaterThanOrEqual(flow.revisions.length);
    expect(crud.stored.size).toBe(0);
    crud.state.failWith = 0;
    await waitCaughtUp(projector);
    expect(projector.status().failing).toBe(false);
    expect(crud.stored.size).toBe(flow.finals.size);
    for (const [sagaId, saga] of flow.finals) expect(crud.stored.get(sagaId)?.currentState).toBe(saga.currentState);
  });
});

describe('REST persistency (Flow Manager compatible)', () => {
  it('sends {method} {path}/{sagaId} with the saga fields, the last revision winning', async () => {
    const rest = await persistencyServer('rest');
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 2, config: { 'cleanup.policy': 'compact' } });
    const flow = simulateTutorial(tutorialDefinition(), 40, { seed: 23 });
    await produceChangelog(topic, codec, flow.revisions);
    const sink = restSagaSink({ protocol: 'http', endpoint: '127.0.0.1', port: rest.port, method: 'PUT', path: '/persistency/sagas' });
    const projector = testProjector({ changelogTopic: topic, codec, sink });
    await projector.start();
    await waitCaughtUp(projector);
    expect(rest.stored.size).toBe(flow.finals.size);
    for (const [sagaId, saga] of flow.finals) {
      expect(rest.stored.get(sagaId)).toMatchObject({ currentState: saga.currentState, metadata: saga.metadata, history: saga.history });
      expect(rest.stored.get(sagaId)).not.toHaveProperty('sagaId');
    }
    expect(new Set(rest.received.map((r) => `${r.method} ${r.path.replace(/[^/]+$/, ':sagaId')}`))).toEqual(new Set(['PUT /persistency/sagas/:sagaId']));
  });
});

describe('HttpSagaSink on its own', () => {
  const saga = (sagaId: string, revision: number): SagaDocument => sagaDoc({ sagaId, revision });

  it('retries a 5xx within one write, and fails a 4xx at once as not retryable', async () => {
    const rest = await persistencyServer('rest');
    const sink = restSagaSink({ endpoint: '127.0.0.1', port: rest.port }, { attempts: 3, backoff: { initialMs: 5, maxMs: 10, factor: 2 } });
    rest.state.failWith = 500;
    rest.state.failTimes = 2;
    await expect(sink.write([saga('a', 1)])).resolves.toEqual({ written: 1, stale: 0 });
    expect(rest.received).toHaveLength(3);

    rest.state.failWith = 400;
    delete rest.state.failTimes;
    const before = rest.received.length;
    const error = await sink.write([saga('b', 1)]).catch((e: unknown) => e);
    expect(isSagaflowError(error, 'SAGAFLOW_PROJECTION_TARGET_FAILED')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect(rest.received.length - before).toBe(1);
    // Headers may carry secrets: the error names the target, not what was sent.
    expect((error as Error).message).not.toContain('content-type');
  });

  it('does not send a saga again, nor an older revision, once a newer one was accepted', async () => {
    const rest = await persistencyServer('rest');
    const sink = restSagaSink({ endpoint: '127.0.0.1', port: rest.port });
    expect(await sink.write([saga('a', 2), saga('b', 1)])).toEqual({ written: 2, stale: 0 });
    expect(await sink.write([saga('a', 1), saga('b', 1), saga('c', 1)])).toEqual({ written: 1, stale: 2 });
    expect(rest.received.map((r) => r.path).sort()).toEqual(['/a', '/b', '/c']);
  });

  it('reports an unreachable target as retryable', async () => {
    const sink = crudSagaSink({ host: '127.0.0.1', port: 1, collectionName: 'sagas' }, { attempts: 1 });
    const error = await sink.write([saga('a', 1)]).catch((e: unknown) => e);
    expect(isSagaflowError(error, 'SAGAFLOW_PROJECTION_TARGET_FAILED')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
  });
});
