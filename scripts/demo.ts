// The README's demo: starts the local stack, sagaflow with the tutorial's reservation saga
// (Avro on the wire, sagas projected into the MongoDB-compatible server) and worker processes
// that answer its commands; creates a few sagas, prints each journey to its final state and
// the console's address.
//   npm run demo               the journeys, then stop
//   npm run demo -- --keep     stay up: a new reservation every couple of seconds, workers that
//                              take their time, now and then an event for a saga that does not
//                              exist yet (a dead letter); Ctrl-C stops
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import type { KafkaProtocol } from '../src/definition/types.ts';
import type { SagaDocument } from '../src/saga/types.ts';
import { SagaWorker } from '../src/worker/client.ts';
import { silenceKnownKafkajsWarnings } from '../src/runtime/warnings.ts';

silenceKnownKafkajsWarnings();

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--keep');
if (unknown.length > 0) {
  console.error(`usage: npm run demo [-- --keep]   (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}
const keep = args.includes('--keep');
const root = new URL('../', import.meta.url).pathname;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const mongoUrl = process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/?directConnection=true';
const httpPort = Number(process.env.HTTP_PORT ?? 3000);
const url = `http://127.0.0.1:${httpPort}`;
// The demo's own operator token unless one is given: shown here, on the operator's terminal,
// and never by sagaflow itself.
const adminToken = process.env.SAGAFLOW_ADMIN_TOKEN ?? randomBytes(16).toString('hex');

function step(text: string): void {
  console.log(`\n==> ${text}`);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

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
const mongoUri = new URL(mongoUrl);
mongoUri.pathname = '/sagaflow_demo';
saga.persistencyManagement = { type: 'mongo', configurations: { connectionUri: mongoUri.toString(), collectionName: `${run.replaceAll('-', '_')}_sagas` } };
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
    SAGAFLOW_ADMIN_TOKEN: adminToken,
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
console.log(`   console: ${url}/console/`);
console.log(`   admin token (paste it in the console to cancel sagas and re-drive dead letters): ${adminToken}`);

step('starting the reservation workers (validation and check services)');
const kafka = new Kafka({ clientId: `${run}-workers`, brokers, logLevel: logLevel.NOTHING });
const codec = await createProcessorCodec(channel, {
  events: `${run}-events`,
  commands: [`${run}-commands`],
  changelog: '',
  deadLetter: '',
});
const worker = new SagaWorker({ brokers, codec, commandsTopic: `${run}-commands`, eventsTopic: `${run}-events`, groupId: `${run}-workers` });
/**
 * With --keep the services take a few seconds per command, so the console shows sagas waiting
 * in each state. The answer is scheduled rather than awaited: a worker handles its partition in
 * order, and a demo service that answers late need not hold up the next command.
 */
let finished = false;
const answer = (work: () => Promise<void>, minMs: number, maxMs: number) => {
  if (!keep) return work();
  // Answers still pending when the demo stops are dropped with it.
  setTimeout(() => {
    if (!finished) void work().catch((err: unknown) => console.error(`   worker: ${(err as Error).message}`));
  }, between(minMs, maxMs));
  return undefined;
};
const quiet = () => keep;
worker
  .onCommand('validateReservation', async ({ sagaId, payload }) => {
    const seats = Number((payload as { seats?: number }).seats ?? 0);
    const ok = seats > 0 && seats <= 8;
    await answer(async () => {
      if (!quiet()) console.log(`   [validation service] ${sagaId}: ${seats} seats -> ${ok ? 'validationOK' : 'validationKO'}`);
      await worker.emit(ok ? 'validationOK' : 'validationKO', sagaId, { validated: ok });
    }, 2_000, 9_000);
  })
  .onCommand('checkReservation', async ({ sagaId, payload }) => {
    const table = String((payload as { table?: string }).table ?? '');
    const ok = table !== 'terrace';
    await answer(async () => {
      if (!quiet()) console.log(`   [check service] ${sagaId}: table ${table} -> ${ok ? 'checkOK' : 'checkKO'}`);
      await worker.emit(ok ? 'checkOK' : 'checkKO', sagaId, { checked: ok });
    }, 1_000, 6_000);
  });
await worker.start();

async function createReservation(body: { associatedEntityId: string; metadata: Record<string, unknown> }): Promise<string> {
  const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const { sagaId } = (await res.json()) as { sagaId: string };
  if (!keep) console.log(`   POST /saga ${JSON.stringify(body)} -> ${res.status} ${sagaId}`);
  return sagaId;
}

const orphans = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await orphans.connect();
/** An event for a saga that does not exist (yet): sagaflow dead-letters it, the console shows it. */
async function orphanEvent(n: number): Promise<void> {
  const value = await codec.encodeEvent(`${run}-events`, { messageLabel: 'validationOK', messagePayload: { validated: true } });
  await orphans.send({ topic: `${run}-events`, messages: [{ key: `reservation-unknown-${n}`, value }] });
}

step('creating reservations with POST /saga');
const requests = [
  { associatedEntityId: 'customer-1', metadata: { seats: 2, table: 'window' } },
  { associatedEntityId: 'customer-2', metadata: { seats: 12, table: 'hall' } },
  { associatedEntityId: 'customer-3', metadata: { seats: 4, table: 'terrace' } },
  { associatedEntityId: 'customer-4', metadata: { seats: 6, table: 'garden' } },
];
const ids: string[] = [];
for (const body of requests) ids.push(await createReservation(body));
await orphanEvent(0);

if (!keep) {
  step('following each saga to its final state with GET /saga/:sagaId');
  for (const id of ids) {
    const doc = await waitFor(`saga ${id}`, async () => {
      const res = await fetch(`${url}/saga/${id}`);
      if (res.status !== 200) return undefined;
      const s = (await res.json()) as SagaDocument;
      return s.isFinal ? s : undefined;
    }, 60_000);
    const journey = doc.history.states.map((s, i) => (i === 0 ? s.state : `--${doc.history.events[i]?.event ?? '?'}--> ${s.state}`));
    console.log(`   ${id}: ${journey.join(' ')}  [${doc.businessStateDescription ?? ''}]`);
    console.log(`      commands sent: ${doc.commands.map((c) => c.label).join(', ')}; revision ${doc.revision}`);
  }
  step('done; stopping sagaflow and the workers');
  console.log(`   (npm run demo -- --keep stays up, so you can watch the sagas move in the console)`);
} else {
  step(`watch the sagas move: ${url}/console/   (Ctrl-C stops)`);
  const tables = ['window', 'hall', 'garden', 'terrace', 'bar'];
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (let n = 1; !stopping && !exited; n += 1) {
    await createReservation({ associatedEntityId: `customer-${100 + n}`, metadata: { seats: between(1, 10), table: tables[between(0, tables.length - 1)] } }).catch((err: unknown) =>
      console.error(`   POST /saga failed: ${(err as Error).message}`),
    );
    if (n % 15 === 0) await orphanEvent(n).catch(() => undefined);
    if (n % 20 === 0) console.log(`   ${n} reservations created so far`);
    await sleep(between(800, 2_500));
  }
  step('stopping sagaflow and the workers');
}

finished = true;
await orphans.disconnect().catch(() => undefined);
await worker.stop();
sagaflow.kill('SIGTERM');
if (!exited) await new Promise((r) => sagaflow.once('exit', r));
console.log(`The local stack keeps running for the next run; stop it with: npm run stack -- down`);
