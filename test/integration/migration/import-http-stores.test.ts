import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collection, Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { isSagaflowError } from '../../../src/errors.ts';
import { importFlowManagerSagas } from '../../../src/migration/import.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { quietLogger, readTopic, reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

const env = { kafkaClient: (process.env.SAGAFLOW_KAFKA_CLIENT as 'kafkajs' | 'librdkafka' | undefined) ?? 'librdkafka', defaultPartitions: 3, replicationFactor: 1 };

/**
 * The read side of a Mia CRUD service (`GET /<collection>/count`, `GET /<collection>/?_l&_sk&_s`,
 * `?sagaId=`) and of a REST persistency manager (`GET /saga/<sagaId>`, the body without sagaId,
 * 404 when unknown), over the real MongoDB collection Flow Manager's documents are in.
 */
async function storeService(collection: Collection<Document>) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-store-token'] !== 'let-me-in') return send(401, { message: 'no token' });
      if (url.pathname === '/fm-sagas/count') return send(200, await collection.countDocuments());
      if (url.pathname === '/fm-sagas/') {
        const sagaId = url.searchParams.get('sagaId');
        if (sagaId !== null) return send(200, await collection.find({ sagaId }, { projection: { _id: 0 } }).toArray());
        const docs = await collection
          .find({}, { projection: { _id: 0 }, sort: { _id: 1 } })
          .skip(Number(url.searchParams.get('_sk') ?? 0))
          .limit(Number(url.searchParams.get('_l') ?? 25))
          .toArray();
        return send(200, docs);
      }
      const rest = /^\/saga\/(.+)$/.exec(url.pathname);
      if (rest) {
        const doc = await collection.findOne({ sagaId: decodeURIComponent(rest[1] as string) }, { projection: { _id: 0, sagaId: 0 } });
        return doc ? send(200, doc) : send(404, { message: 'not found' });
      }
      send(404, { message: 'no route' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, requests };
}

function fmSaga(i: number) {
  return {
    sagaId: `http-saga-${i}`,
    associatedEntityId: `r-${i}`,
    currentState: 'reservationCreated',
    isFinal: false,
    businessStateId: 0,
    latestEvent: '__created__',
    metadata: { i },
    history: { states: [{ state: 'reservationCreated', timestamp: '2026-03-01T00:00:00.000Z' }], events: [{ event: '__created__', timestamp: '2026-03-01T00:00:00.000Z' }] },
  };
}

describe('sagaflow import from the crud and rest persistencies', () => {
  it('pages through a CRUD collection (250 sagas, more than a page), dry run first, then writes on home partitions', { timeout: 180_000 }, async () => {
    const collection = await mongoCollection('crud-fm');
    await collection.insertMany(Array.from({ length: 250 }, (_, i) => fmSaga(i)));
    const { port, requests } = await storeService(collection);
    const flow = uniqueFlow('import-crud');
    const config = reservationConfig(flow, 'json', { type: 'crud', configurations: { protocol: 'http', host: '127.0.0.1', port, collectionName: 'fm-sagas', headers: { 'x-store-token': 'let-me-in' } } });

    const dry = await importFlowManagerSagas({ config, env, logger: quietLogger, dryRun: true });
    expect(dry).toMatchObject({ source: 'crud', dryRun: true, read: 250, imported: 250, partitions: 3 });
    expect(requests).toEqual(['GET /fm-sagas/count', 'GET /fm-sagas/?_l=200&_sk=0&_s=_id', 'GET /fm-sagas/?_l=200&_sk=200&_s=_id']);

    const seen: number[] = [];
    const real = await importFlowManagerSagas({ config, env, logger: quietLogger, progress: (done) => void seen.push(done), batchSize: 100 });
    expect(real).toMatchObject({ read: 250, imported: 250, unchanged: 0 });
    expect(seen.at(-1)).toBe(250);
    expect(Object.values(real.writtenPerPartition).reduce((a, b) => a + b, 0)).toBe(250);
    const changelog = await readTopic(`${flow.applicationId}-sagas-changelog`, { until: (r) => r.length >= 250 });
    expect(changelog).toHaveLength(250);
    for (const r of changelog) expect(r.partition).toBe(partitionForKey(r.key as string, 3));
    expect((await importFlowManagerSagas({ config, env, logger: quietLogger })).unchanged).toBe(250);
  });

  it('a REST persistency needs the sagaIds; unknown ones are reported, not invented', { timeout: 120_000 }, async () => {
    const collection = await mongoCollection('rest-fm');
    await collection.insertMany([fmSaga(1), fmSaga(2)]);
    const { port } = await storeService(collection);
    const flow = uniqueFlow('import-rest');
    const config = reservationConfig(flow, 'json', { type: 'rest', configurations: { protocol: 'http', endpoint: '127.0.0.1', port, path: '/saga', method: 'POST', headers: { 'x-store-token': 'let-me-in' } } });
    const listed = await importFlowManagerSagas({ config, env, logger: quietLogger }).catch((e: unknown) => e);
    expect(isSagaflowError(listed, 'SAGAFLOW_CLI_USAGE')).toBe(true);
    expect((listed as Error).message).toContain('--ids');
    const summary = await importFlowManagerSagas({ config, env, logger: quietLogger, ids: ['http-saga-1', 'http-saga-2', 'http-saga-404'] });
    expect(summary).toMatchObject({ source: 'rest', read: 3, imported: 2, missing: ['http-saga-404'] });
    const changelog = await readTopic(`${flow.applicationId}-sagas-changelog`, { until: (r) => r.length >= 2 });
    expect(changelog.map((r) => r.key).sort()).toEqual(['http-saga-1', 'http-saga-2']);

    // A store that refuses the credentials fails the import with what it answered.
    const wrong = reservationConfig(flow, 'json', { type: 'rest', configurations: { protocol: 'http', endpoint: '127.0.0.1', port, path: '/saga', method: 'POST' } });
    const refused = await importFlowManagerSagas({ config: wrong, env, logger: quietLogger, ids: ['http-saga-1'] }).catch((e: unknown) => e);
    expect(isSagaflowError(refused, 'SAGAFLOW_IMPORT_SOURCE_FAILED')).toBe(true);
    expect((refused as Error).message).toContain('answered 401');
  });

  it('refuses to write while an instance of the application runs', { timeout: 120_000 }, async () => {
    const collection = await mongoCollection('running-fm');
    await collection.insertMany([fmSaga(1)]);
    const { port } = await storeService(collection);
    const flow = uniqueFlow('import-running');
    const config = reservationConfig(flow, 'json', { type: 'crud', configurations: { protocol: 'http', host: '127.0.0.1', port, collectionName: 'fm-sagas', headers: { 'x-store-token': 'let-me-in' } } });
    const instance = await startTestInstance(config, { partitions: 3 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const err = await importFlowManagerSagas({ config, env, logger: quietLogger }).catch((e: unknown) => e);
    expect(isSagaflowError(err, 'SAGAFLOW_IMPORT_APPLICATION_RUNNING')).toBe(true);
    expect((err as Error).message).toMatch(/is running \(1 member in its consumer group: /);
    await instance.stop();
    await waitFor(async () => (await importFlowManagerSagas({ config, env, logger: quietLogger, dryRun: true }).catch(() => undefined))?.imported === 1, { timeoutMs: 60_000, description: 'the group empty after the stop' });
  });
});
