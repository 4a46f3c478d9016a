import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { KafkaProtocol } from '../../../src/definition/types.ts';
import { main } from '../../../src/cli/main.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoClient, mongoCollection } from '../../support/mongo.ts';
import { skipUnlessCi } from '../../support/prerequisites.ts';
import { reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { freePort, reservationSagaJson } from './support/cluster.ts';
import { AuthMongo, authMongoUnavailable } from './support/private-mongo.ts';
import { MongoClient } from 'mongodb';

const root = new URL('../../../', import.meta.url).pathname;

/** Fresh secret values, and the forms they could leak in (Basic auth, URL encoding). */
function secrets() {
  const token = () => randomBytes(6).toString('hex');
  const s = {
    kafkaUser: `svc-kafka-${token()}`,
    kafkaPassword: `kpw-${token()}-S3cret`,
    registryUser: `svc-registry-${token()}`,
    registryPassword: `rpw-${token()}-S3cret`,
    mongoUser: `svc-mongo-${token()}`,
    mongoPassword: `mpw-${token()}-S3cret`,
  };
  const forms = [
    ...Object.values(s),
    Buffer.from(`${s.kafkaUser}:${s.kafkaPassword}`).toString('base64'),
    Buffer.from(`${s.registryUser}:${s.registryPassword}`).toString('base64'),
    Buffer.from(`\u0000${s.kafkaUser}\u0000${s.kafkaPassword}`).toString('base64'),
  ];
  return { ...s, forms };
}

type Secrets = ReturnType<typeof secrets>;

/** Names of the secrets found in `text` (none, when nothing leaked). */
function leaks(text: string, s: Secrets): string[] {
  return s.forms.filter((f) => text.includes(f) || text.includes(encodeURIComponent(f)));
}

function run(args: string[], env: Record<string, string>, opts: { until?: (out: string) => boolean; timeoutMs?: number } = {}) {
  const child = spawn(process.execPath, [join(root, 'bin/sagaflow.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    cwd: root,
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    }),
  );
  registerCleanup(() => {
    child.kill('SIGKILL');
  });
  return { child, done, output: () => out + err };
}

/**
 * A saga.json whose secrets all come from references: the Kafka username from a file, the
 * password from an environment variable, the registry password and the MongoDB URI (with a
 * password in it) from the environment.
 */
function sagaJson(
  dir: string,
  s: Secrets,
  opts: { brokers: string[]; sasl: boolean; registryUrl?: string; collection?: string; flow: { events: string; commands: string; applicationId: string } },
) {
  writeFileSync(join(dir, 'kafka-user.txt'), `${s.kafkaUser}\n`);
  const raw = reservationSagaJson({
    brokers: opts.brokers,
    ...opts.flow,
    ...(opts.sasl ? { authenticationProperties: { sasl: { mechanism: 'scram-sha-256', username: { type: 'file', path: './kafka-user.txt' }, password: '${SAGAFLOW_TEST_KAFKA_PASSWORD}' } } } : {}),
  });
  const channel = (raw.communicationProtocols as { configurations: Record<string, unknown> }[])[0];
  if (channel && opts.registryUrl) {
    channel.configurations.serialization = 'avro';
    channel.configurations.schemaRegistry = { url: opts.registryUrl, auth: { username: s.registryUser, password: { type: 'env', key: 'SAGAFLOW_TEST_REGISTRY_PASSWORD' } } };
  }
  raw.persistencyManagement = { type: 'mongo', configurations: { connectionUri: { type: 'env', key: 'SAGAFLOW_TEST_MONGO_URI' }, collectionName: opts.collection ?? 'sagas' } };
  const file = join(dir, `saga-${randomBytes(3).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

function secretEnv(s: Secrets, mongoHost: string, mechanism = 'PLAIN'): Record<string, string> {
  return {
    SAGAFLOW_TEST_KAFKA_PASSWORD: s.kafkaPassword,
    SAGAFLOW_TEST_REGISTRY_PASSWORD: s.registryPassword,
    SAGAFLOW_TEST_MONGO_URI: `mongodb://${s.mongoUser}:${s.mongoPassword}@${mongoHost}/sagaflow_test?directConnection=true&authMechanism=${mechanism}`,
  };
}

/**
 * Makes the server know the MongoDB user, and says how it authenticates: FerretDB 1.x takes
 * any name with PLAIN; MongoDB and SecantusDB check a user created here with SCRAM-SHA-256.
 */
async function mongoUserMechanism(s: Secrets): Promise<string> {
  const client = await mongoClient();
  if ('ferretdbVersion' in (await client.db('admin').command({ buildInfo: 1 }))) return 'PLAIN';
  const db = client.db('sagaflow_test');
  await db.command({ createUser: s.mongoUser, pwd: s.mongoPassword, roles: [{ role: 'readWrite', db: 'sagaflow_test' }] });
  registerCleanup(async () => void (await db.command({ dropUser: s.mongoUser })));
  return 'SCRAM-SHA-256';
}

describe('secrets', () => {
  it('are resolved from file and environment references, and `sagaflow validate` does not print them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-secrets-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const s = secrets();
    // The detector itself: a leak in any of the forms is found.
    expect(leaks(`Authorization: Basic ${Buffer.from(`${s.registryUser}:${s.registryPassword}`).toString('base64')}`, s)).toHaveLength(1);
    expect(leaks(`mongodb://u:${encodeURIComponent(s.mongoPassword)}@h`, s)).toEqual([s.mongoPassword]);
    const flow = uniqueFlow('secrets-resolve');
    const file = sagaJson(dir, s, { brokers: ['kafka-0:9092'], sasl: true, registryUrl: 'http://registry:8081', flow });
    const env = secretEnv(s, 'mongo:27017');
    const config = loadSagaConfigFile(file, env);
    const channel = config.communicationProtocols[0] as KafkaProtocol;
    expect(channel.configurations.authenticationProperties?.sasl).toEqual({ mechanism: 'scram-sha-256', username: s.kafkaUser, password: s.kafkaPassword });
    expect(channel.configurations.schemaRegistry?.auth).toEqual({ username: s.registryUser, password: s.registryPassword });
    expect(config.persistencyManagement).toMatchObject({ configurations: { connectionUri: env.SAGAFLOW_TEST_MONGO_URI } });

    const lines: string[] = [];
    const code = await main(['validate', file], { env, stdout: (l) => lines.push(l), stderr: (l) => lines.push(l) });
    expect(code).toBe(0);
    expect(lines.join('\n')).toMatch(/\S/);
    expect(leaks(lines.join('\n'), s)).toEqual([]);
  });

  it('never appear in logs at trace level or in the error line when the brokers refuse SASL, cannot be reached, or the registry cannot', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-secrets-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const s = secrets();
    const { kafkaBrokers, mongodbUrl } = services();
    const mongoHost = new URL(mongodbUrl).host;
    const env = { ...secretEnv(s, mongoHost), LOG_LEVEL: 'trace', SAGAFLOW_STATE_DIR: join(dir, 'state') };
    const cases = [
      // The local broker has no SASL listener: it refuses the handshake.
      { name: 'SASL refused', file: sagaJson(dir, s, { brokers: kafkaBrokers, sasl: true, flow: uniqueFlow('secrets-refused') }), code: 'SAGAFLOW_KAFKA_AUTHENTICATION_FAILED' },
      { name: 'SASL broker unreachable', file: sagaJson(dir, s, { brokers: ['127.0.0.1:1'], sasl: true, flow: uniqueFlow('secrets-unreachable') }), code: 'SAGAFLOW_KAFKA_UNREACHABLE' },
      {
        name: 'registry unreachable',
        file: sagaJson(dir, s, { brokers: kafkaBrokers, sasl: false, registryUrl: 'http://127.0.0.1:1/apis/ccompat/v7', flow: uniqueFlow('secrets-registry') }),
        code: 'SAGAFLOW_SCHEMA_REGISTRY_FAILED',
      },
    ];
    const results = await Promise.all(cases.map(async (c) => ({ c, ...(await run(['start'], { ...env, CONFIGURATIONS_FILE_PATH: c.file }).done) })));
    for (const { c, code, stdout, stderr } of results) {
      expect(code, c.name).not.toBe(0);
      expect(stderr.trim().split('\n'), c.name).toHaveLength(1);
      expect(stderr, c.name).toMatch(new RegExp(`^${c.code}: `));
      expect(leaks(stdout + stderr, s), c.name).toEqual([]);
    }
    // The unreachable broker's line names the setting, not the address.
    expect(results[1]?.stderr).not.toContain('127.0.0.1:1');
  });

  it('never appear in logs at trace level, /machine-definition, /-/metrics, the OpenAPI document or error answers of a running instance', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-secrets-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const s = secrets();
    const { kafkaBrokers, schemaRegistryUrl, mongodbUrl } = services();
    const flow = uniqueFlow('secrets-running');
    // No SASL here (the local broker has no SASL listener); the registry and MongoDB get credentials.
    const collection = await mongoCollection('secrets');
    const file = sagaJson(dir, s, { brokers: kafkaBrokers, sasl: false, registryUrl: schemaRegistryUrl, collection: collection.collectionName, flow });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const instance = run(['start'], {
      ...secretEnv(s, new URL(mongodbUrl).host, await mongoUserMechanism(s)),
      CONFIGURATIONS_FILE_PATH: file,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'trace',
      SAGAFLOW_STATE_DIR: join(dir, 'state'),
      SAGAFLOW_DEFAULT_PARTITIONS: '2',
      SAGAFLOW_REPLICATION_FACTOR: '1',
    }, { timeoutMs: 170_000 });
    await waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, { timeoutMs: 90_000, description: 'instance ready' });

    const answers: string[] = [];
    const call = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${url}${path}`, init);
      const body = await res.text();
      answers.push(`${init?.method ?? 'GET'} ${path} ${res.status} ${JSON.stringify([...res.headers])} ${body}`);
      return { status: res.status, body };
    };
    const post = (path: string, body: string) => call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const created = await post('/saga?wait=true', JSON.stringify({ associatedEntityId: 'e1', metadata: { n: 1 } }));
    expect(created.status).toBe(201);
    const { sagaId } = JSON.parse(created.body) as { sagaId: string };
    await post('/event', JSON.stringify({ key: sagaId, value: { messageLabel: 'validationOK', messagePayload: { ok: true } } }));
    await post('/event', JSON.stringify({ key: 'no-such-saga', value: { messageLabel: 'validationOK', messagePayload: {} } }));
    await post('/saga', '{"associatedEntityId": ');
    await post('/saga', JSON.stringify({ associatedEntityId: 'a', metadata: { x: 'x'.repeat(1_100_000) } }));
    for (const path of ['/machine-definition', '/-/metrics', '/-/check-up', '/-/ready', '/-/healthz', '/documentation/json', `/saga/${sagaId}`, '/saga/unknown', '/sagas', '/sagas/stats', '/nope']) await call(path);
    // Let the processor and the projection (which MongoDB refuses) log for a while.
    await delay(3_000);
    instance.child.kill('SIGTERM');
    const { stdout, stderr } = await instance.done;
    const logs = stdout + stderr;
    // The credentials were used: the projection wrote through the URI with the password
    // and the list API read the saga back.
    expect(answers.find((a) => a.startsWith('GET /sagas 200') && a.includes(sagaId))).toBeDefined();
    expect(answers.find((a) => a.startsWith('GET /-/metrics 200'))).toBeDefined();
    expect(answers.find((a) => a.startsWith('GET /-/check-up '))).toContain('"name":"schema-registry"');
    expect(leaks(answers.join('\n'), s)).toEqual([]);
    expect(leaks(logs, s)).toEqual([]);
  });
  // The shared test server checks no password: that the credentials "were used" above proves
  // nothing about a wrong one. Here a server with authentication on refuses it.
  it('a wrong MongoDB password is refused by a server with authentication on: nothing is projected, the check-up says why without the password; the right one projects', { timeout: 120_000 }, async (ctx) => {
    skipUnlessCi(ctx, authMongoUnavailable());
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-mongo-auth-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const s = secrets();
    const user = { name: s.mongoUser, password: s.mongoPassword };
    const mongo = await AuthMongo.start(dir, user);
    registerCleanup(() => mongo.destroy());
    const flow = uniqueFlow('secrets-mongo-auth');
    const persistency = (password: string) => ({ type: 'mongo', configurations: { connectionUri: mongo.uri({ name: user.name, password }, 'sagaflow_auth'), collectionName: 'sagas' } });

    const wrong = await startTestInstance(reservationConfig(flow, 'json', persistency(`${s.mongoPassword}-wrong`)), { partitions: 1 });
    await waitFor(async () => (await fetch(`${wrong.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const created = (await (await fetch(`${wrong.url}/saga?wait=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: 'e', metadata: {} }) })).json()) as { sagaId: string };
    const projection = wrong.projection;
    if (!projection) throw new Error('mongo persistency starts a projection');
    const failure = await waitFor(() => projection.projector.status().lastError, { timeoutMs: 30_000, description: 'the projection refused' });
    expect(failure.message).toMatch(/authentication failed/i);
    const checkUp = await fetch(`${wrong.url}/-/check-up`);
    const report = await checkUp.text();
    expect(checkUp.status).toBe(503);
    expect(report).toMatch(/persistency/);
    expect(report).toMatch(/refused the credentials/);
    expect(leaks(report, s)).toEqual([]);
    await wrong.stop();
    const admin = new MongoClient(mongo.uri(user), { serverSelectionTimeoutMS: 5_000 });
    registerCleanup(() => admin.close());
    expect(await admin.db('sagaflow_auth').collection('sagas').countDocuments()).toBe(0);

    const right = await startTestInstance(reservationConfig(flow, 'json', persistency(s.mongoPassword)), { partitions: 1 });
    await waitFor(async () => (await admin.db('sagaflow_auth').collection('sagas').findOne({ sagaId: created.sagaId })) !== null, { timeoutMs: 60_000, description: 'the saga projected with the right password' });
    expect((await fetch(`${right.url}/-/check-up`)).status).toBe(200);
  });
});
