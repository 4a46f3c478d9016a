// What `docker compose up` runs, without Docker: the image's /app laid out as the Dockerfile
// lays it out (the compiled dist/ of `npm run build`, bin/, schemas/, examples/, package.json,
// no src/), sagaflow, the validation and check services and the demo client started from it as
// compose starts them (the chart's saga.json mounted at CONFIGURATIONS_FILE_PATH, brokers from
// KAFKA_BROKERS, the MongoDB URL from a secret file), against the real broker and MongoDB.
// Not covered here: the base image and the production-only node_modules (the repository's
// node_modules stands in for them).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { buildDist } from '../../support/build.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { freePort } from '../reliability/support/cluster.ts';

const root = new URL('../../../', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(script: string, args: string[], cwd: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  registerCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, output: () => out, exited };
}

describe('the image layout running the compose demo', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sagaflow-image-'));
  registerCleanup(() => rmSync(scratch, { recursive: true, force: true }));
  const app = join(scratch, 'app');

  beforeAll(async () => {
    // The build stage: `npm run build`, here into the layout.
    await buildDist(join(app, 'dist'));
    // The runtime stage's COPY lines.
    for (const entry of ['bin', 'schemas', 'examples', 'package.json']) cpSync(join(root, entry), join(app, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'));
  }, 600_000);

  it('builds a dist/ that validates the saga.json the image runs, with no sources beside it', async () => {
    expect(existsSync(join(app, 'src'))).toBe(false);
    // The chart's saga.json, as the ConfigMap mounts it; brokers come from KAFKA_BROKERS and the
    // MongoDB URL from the secret file, here in this test's folder. (The tutorial's
    // examples/reservation/saga.json keeps Flow Manager's placeholders, which validate refuses
    // with their path: test/unit/cli/validate.test.ts.)
    const folder = join(scratch, 'validate');
    mkdirSync(folder);
    writeFileSync(join(folder, 'mongodb-url'), 'mongodb://mongo:27017/sagaflow\n');
    const sagaJson = JSON.parse(readFileSync(join(root, 'deploy/helm/sagaflow/files/saga.json'), 'utf8')) as {
      persistencyManagement: { configurations: { connectionUri: { type: string; path: string } } };
    };
    expect(sagaJson.persistencyManagement.configurations.connectionUri.type).toBe('file');
    sagaJson.persistencyManagement.configurations.connectionUri.path = join(folder, 'mongodb-url');
    const mounted = join(folder, 'saga.json');
    writeFileSync(mounted, JSON.stringify(sagaJson, null, 2));
    const validate = start(join(app, 'bin/sagaflow.js'), ['validate', mounted], app, { KAFKA_BROKERS: 'kafka-0:9092' });
    expect(await validate.exited, validate.output()).toBe(0);
    expect(validate.output()).toContain(`OK ${mounted}`);
  });

  // The image carries both Kafka clients; the chart's kafka.client picks one (SAGAFLOW_KAFKA_CLIENT).
  it.each(['kafkajs', 'librdkafka'])('runs sagaflow, both reservation services and the client to four final sagas, projected to MongoDB through the secret file (%s)', async (kafkaClient) => {
    const flow = uniqueFlow('image');
    registerCleanup(async () => {
      const admin = testKafka().admin();
      await admin.connect();
      await admin.deleteGroups([`${flow.applicationId}-validation-service`, `${flow.applicationId}-check-service`]).catch(() => undefined);
      await admin.disconnect();
    });
    const collection = await mongoCollection<SagaDocument>('image');
    // The ConfigMap and the Secret, as the chart and compose mount them; only names and paths
    // differ, so that runs do not share topics and the secret lives in this test's folder.
    const sagaJson = JSON.parse(readFileSync(join(root, 'deploy/helm/sagaflow/files/saga.json'), 'utf8')) as {
      communicationProtocols: { configurations: { brokers: string[]; inputTopics: string[]; outputTopics: string[]; consumerGroup: string } }[];
      persistencyManagement: { configurations: { connectionUri: { type: string; path: string }; collectionName: string } };
    };
    const channel = sagaJson.communicationProtocols[0]?.configurations;
    if (!channel) throw new Error('the chart saga.json has no channel');
    expect(channel.brokers).toEqual(['${KAFKA_BROKERS}']);
    Object.assign(channel, { inputTopics: [flow.events], outputTopics: [flow.commands], consumerGroup: flow.applicationId });
    const secrets = join(scratch, kafkaClient, 'secrets');
    mkdirSync(secrets, { recursive: true });
    const mongoUrl = new URL(services().mongodbUrl);
    mongoUrl.pathname = `/${collection.dbName}`;
    writeFileSync(join(secrets, 'mongodb-url'), `${mongoUrl.toString()}\n`);
    sagaJson.persistencyManagement.configurations = { connectionUri: { type: 'file', path: join(secrets, 'mongodb-url') }, collectionName: collection.collectionName };
    mkdirSync(join(scratch, kafkaClient, 'config'));
    const configPath = join(scratch, kafkaClient, 'config', 'saga.json');
    writeFileSync(configPath, JSON.stringify(sagaJson, null, 2));

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const brokers = services().kafkaBrokers[0] ?? '';
    const sagaflow = start(join(app, 'bin/sagaflow.js'), ['start'], app, {
      CONFIGURATIONS_FILE_PATH: configPath,
      KAFKA_BROKERS: brokers,
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      SAGA_ID_PREFIX: 'reservation',
      SAGAFLOW_ADVERTISED_URL: url,
      SAGAFLOW_STATE_DIR: join(scratch, kafkaClient, 'state'),
      SAGAFLOW_KAFKA_CLIENT: kafkaClient,
      SAGAFLOW_DEFAULT_PARTITIONS: '4',
      SAGAFLOW_REPLICATION_FACTOR: '1',
      SAGAFLOW_SHUTDOWN_GRACE_MS: '30000',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
    await waitFor(async () => {
      if (sagaflow.child.exitCode !== null) throw new Error(`sagaflow exited: ${sagaflow.output()}`);
      return (await fetch(`${url}/-/ready`)).status === 200;
    }, { timeoutMs: 120_000, description: `sagaflow ready (${sagaflow.output()})` });

    const workerEnv = { CONFIGURATIONS_FILE_PATH: configPath, KAFKA_BROKERS: brokers, SAGAFLOW_KAFKA_CLIENT: kafkaClient };
    const validation = start(join(app, 'examples/reservation/workers.ts'), ['validation'], app, workerEnv);
    const check = start(join(app, 'examples/reservation/workers.ts'), ['check'], app, workerEnv);
    for (const [name, worker] of [['validation-service', validation], ['check-service', check]] as const) {
      await waitFor(() => {
        if (worker.child.exitCode !== null) throw new Error(`${name} exited: ${worker.output()}`);
        return worker.output().includes(`${name}: reading ${flow.commands}, answering on ${flow.events}`);
      }, { timeoutMs: 60_000, description: `${name} started (${worker.output()})` });
    }

    const client = start(join(app, 'examples/reservation/client.ts'), [], app, { SAGAFLOW_URL: url });
    const code = await Promise.race([client.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 100_000))]);
    const printed = client.output();
    expect(code, printed).toBe(0);
    const journeys = printed.split('\n').filter((line) => /^ {3}reservation/.test(line));
    expect(journeys).toHaveLength(4);
    expect(journeys[0]).toMatch(/reservationCreated --validationOK--> reservationValidated --checkOK--> reservationConfirmed/);
    expect(journeys[1]).toMatch(/reservationCreated --validationKO--> reservationFailed/);
    expect(journeys[2]).toMatch(/reservationValidated --checkKO--> reservationFailed/);
    expect(journeys[3]).toMatch(/--checkOK--> reservationConfirmed/);
    // Each service handled only its own command.
    expect(validation.output().match(/\[validation service\]/g)).toHaveLength(4);
    expect(validation.output()).not.toContain('[check service]');
    expect(check.output().match(/\[check service\]/g)).toHaveLength(3);

    const projected = await waitFor(async () => {
      const docs = await collection.find({ isFinal: true }).toArray();
      return docs.length === 4 ? docs : undefined;
    }, { timeoutMs: 60_000, description: 'four final sagas in MongoDB' });
    expect(projected.map((d) => d.currentState).sort()).toEqual(['reservationConfirmed', 'reservationConfirmed', 'reservationFailed', 'reservationFailed']);
    expect(projected.every((d) => d.sagaId.startsWith('reservation'))).toBe(true);
  });
});
