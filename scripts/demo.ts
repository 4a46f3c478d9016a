// The README's demo: starts the local stack, sagaflow with the tutorial's reservation saga
// (Avro on the wire), and worker processes that answer its commands; creates a few sagas and
// prints each journey to its final state.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import type { KafkaProtocol } from '../src/definition/types.ts';
import { SagaWorker } from '../src/worker/client.ts';
import { silenceKnownKafkajsWarnings } from '../src/runtime/warnings.ts';
import { createReservations, followToFinal, waitFor } from '../examples/reservation/client.ts';
import { reservationHandlers, reservationRoles } from '../examples/reservation/workers.ts';

silenceKnownKafkajsWarnings();

const root = new URL('../', import.meta.url).pathname;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const httpPort = Number(process.env.HTTP_PORT ?? 3000);
const url = `http://127.0.0.1:${httpPort}`;

function step(text: string): void {
  console.log(`\n==> ${text}`);
}

if (!process.env.KAFKA_BROKERS) {
  step('starting the local stack (Kafka, schema registry, MongoDB-compatible server)');
  const up = spawnSync(process.execPath, [join(root, 'scripts/stack.ts'), 'up'], { stdio: 'inherit' });
  if (up.status !== 0) process.exit(up.status ?? 1);
}

const run = `demo-${Date.now().toString(36)}`;
const dir = join(root, '.sagaflow/demo', run);
mkdirSync(dir, { recursive: true });
const saga = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as {
  communicationProtocols: KafkaProtocol[];
  persistencyManagement: unknown;
};
const channel = saga.communicationProtocols[0] as KafkaProtocol;
channel.configurations = {
  brokers,
  inputTopics: [`${run}-events`],
  outputTopics: [`${run}-commands`],
  consumerGroup: `${run}-sagaflow`,
  serialization: 'avro',
  schemaRegistry: { url: registryUrl },
};
saga.persistencyManagement = {};
const configPath = join(dir, 'saga.json');
writeFileSync(configPath, JSON.stringify(saga, null, 2));

step(`starting sagaflow (logs: ${join(dir, 'sagaflow.log')})`);
const log = openSync(join(dir, 'sagaflow.log'), 'a');
const sagaflow = spawn(process.execPath, [join(root, 'bin/sagaflow.js'), 'start'], {
  env: {
    ...process.env,
    CONFIGURATIONS_FILE_PATH: configPath,
    HTTP_PORT: String(httpPort),
    SAGAFLOW_STATE_DIR: join(dir, 'state'),
    SAGA_ID_PREFIX: 'reservation',
    SAGAFLOW_DEFAULT_PARTITIONS: '4',
    SAGAFLOW_REPLICATION_FACTOR: '1',
    LOG_LEVEL: 'info',
  },
  stdio: ['ignore', log, log],
});
let exited = false;
sagaflow.on('exit', (code) => {
  exited = true;
  if (code !== 0 && code !== null) console.error(`sagaflow exited with code ${code}; see ${join(dir, 'sagaflow.log')}`);
});
await waitFor('sagaflow to be ready', async () => {
  if (exited) throw new Error('sagaflow exited');
  return (await fetch(`${url}/-/ready`)).status === 200 ? true : undefined;
}, 120_000);

step('starting the reservation workers (validation and check services)');
const codec = await createProcessorCodec(channel, {
  events: `${run}-events`,
  commands: [`${run}-commands`],
  changelog: '',
  deadLetter: '',
});
const worker = new SagaWorker({ brokers, codec, commandsTopic: `${run}-commands`, eventsTopic: `${run}-events`, groupId: `${run}-workers` });
reservationHandlers(worker, reservationRoles);
await worker.start();

step('creating reservations with POST /saga');
const ids = await createReservations(url);

step('following each saga to its final state with GET /saga/:sagaId');
await followToFinal(url, ids);

step('done; stopping sagaflow and the workers');
await worker.stop();
sagaflow.kill('SIGTERM');
await new Promise((r) => sagaflow.once('exit', r));
console.log(`The local stack keeps running for the next run; stop it with: npm run stack -- down`);
