// End-to-end rate of the demo flow with one sagaflow instance: sagas created over HTTP,
// workers answering commands, until every saga is final (seen in the changelog, read
// committed). Prints and records sagas/s, events/s and the restore speed of a fresh instance.
//
//   npm run stack -- up && node benchmarks/e2e-rate.ts [--sagas 2000] [--partitions 6]
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaProtocol } from '../src/definition/types.ts';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import { changelogTopicName } from '../src/kafka/topics.ts';
import { SagaWorker } from '../src/worker/client.ts';
import { silenceKnownKafkajsWarnings } from '../src/runtime/warnings.ts';

silenceKnownKafkajsWarnings();

const { values } = parseArgs({
  options: {
    sagas: { type: 'string', default: '2000' },
    partitions: { type: 'string', default: '6' },
    serialization: { type: 'string', default: 'json' },
    concurrency: { type: 'string', default: '64' },
  },
});
const sagas = Number(values.sagas);
const root = new URL('../', import.meta.url).pathname;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const run = `e2e-${Date.now().toString(36)}`;
const dir = join(root, '.sagaflow/bench', run);
mkdirSync(dir, { recursive: true });

const saga = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as { communicationProtocols: KafkaProtocol[]; persistencyManagement: unknown };
const channel = saga.communicationProtocols[0] as KafkaProtocol;
channel.configurations = {
  brokers,
  inputTopics: [`${run}-events`],
  outputTopics: [`${run}-commands`],
  consumerGroup: `${run}-app`,
  serialization: values.serialization === 'avro' ? 'avro' : 'json',
  ...(values.serialization === 'avro' ? { schemaRegistry: { url: registryUrl } } : {}),
};
saga.persistencyManagement = {};
writeFileSync(join(dir, 'saga.json'), JSON.stringify(saga));

function startSagaflow(port: number, stateDir: string) {
  const log = openSync(join(dir, `sagaflow-${port}.log`), 'a');
  return spawn(process.execPath, [join(root, 'bin/sagaflow.js'), 'start'], {
    env: {
      ...process.env,
      CONFIGURATIONS_FILE_PATH: join(dir, 'saga.json'),
      HTTP_PORT: String(port),
      SAGAFLOW_STATE_DIR: stateDir,
      SAGAFLOW_DEFAULT_PARTITIONS: values.partitions,
      SAGAFLOW_REPLICATION_FACTOR: '1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', log, log],
  });
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const port = 3900;
const url = `http://127.0.0.1:${port}`;
const proc = startSagaflow(port, join(dir, 'state-1'));
await until(async () => ((await fetch(`${url}/-/ready`)).status === 200 ? true : undefined), 120_000, 'ready');

const kafka = new Kafka({ clientId: run, brokers, logLevel: logLevel.NOTHING });
const codec = await createProcessorCodec(channel, { events: `${run}-events`, commands: [`${run}-commands`], changelog: '', deadLetter: '' });
const worker = new SagaWorker({ brokers, codec, commandsTopic: `${run}-commands`, eventsTopic: `${run}-events`, groupId: `${run}-workers` });
worker
  .onCommand('validateReservation', ({ sagaId }) => worker.emit('validationOK', sagaId, { ok: true }))
  .onCommand('checkReservation', ({ sagaId, payload }) => worker.emit((payload as { i: number }).i % 5 === 0 ? 'checkKO' : 'checkOK', sagaId, {}));
await worker.start();

// Count final sagas from the changelog (what the store commits), read_committed.
const finals = new Set<string>();
const changelogCodec = await createProcessorCodec(channel, { events: '', commands: [], changelog: changelogTopicName(`${run}-app`), deadLetter: '' });
const watcher = kafka.consumer({ groupId: `${run}-watch`, readUncommitted: false, maxWaitTimeInMs: 100 });
await watcher.connect();
await watcher.subscribe({ topics: [changelogTopicName(`${run}-app`)], fromBeginning: true });
await watcher.run({
  eachMessage: async ({ message }) => {
    const doc = await changelogCodec.decodeSaga(changelogTopicName(`${run}-app`), message.value);
    if (doc.isFinal) finals.add(doc.sagaId);
  },
});

const started = Date.now();
let next = 0;
const concurrency = Number(values.concurrency);
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < sagas) {
      const i = next++;
      const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `e${i}`, metadata: { i } }) });
      if (res.status !== 201) throw new Error(`POST /saga answered ${res.status}`);
    }
  }),
);
const created = Date.now();
let lastPrint = 0;
await until(async () => {
  if (Date.now() - lastPrint > 2000) {
    lastPrint = Date.now();
    process.stdout.write(`\r  final ${finals.size}/${sagas}`);
  }
  return finals.size >= sagas ? true : undefined;
}, 600_000, 'all sagas final');
const elapsed = (Date.now() - started) / 1000;
process.stdout.write('\n');
await worker.stop();
await watcher.disconnect();
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));

// Restore speed: a fresh instance with an empty state directory rebuilds from the changelog.
const proc2 = startSagaflow(port + 1, join(dir, 'state-2'));
const restoreStart = Date.now();
await until(async () => ((await fetch(`http://127.0.0.1:${port + 1}/-/ready`)).status === 200 ? true : undefined), 300_000, 'restore');
const restoreSeconds = (Date.now() - restoreStart) / 1000;
proc2.kill('SIGTERM');
await new Promise((r) => proc2.once('exit', r));
const restoreLines = readFileSync(join(dir, `sagaflow-${port + 1}.log`), 'utf8')
  .split('\n')
  .filter((l) => l.includes('partition restored'))
  .map((l) => JSON.parse(l) as { records: number; durationMs: number });
const restoredRecords = restoreLines.reduce((n, l) => n + l.records, 0);
const restoreMs = Math.max(...restoreLines.map((l) => l.durationMs), 1);

const result = {
  date: new Date().toISOString(),
  flow: 'reservation (tutorial)',
  serialization: values.serialization,
  partitions: Number(values.partitions),
  sagas,
  httpCreateSeconds: (created - started) / 1000,
  seconds: elapsed,
  sagasPerSecond: Math.round(sagas / elapsed),
  eventsPerSecond: Math.round((sagas * 3) / elapsed),
  restore: { records: restoredRecords, slowestPartitionMs: restoreMs, recordsPerSecond: Math.round(restoredRecords / (restoreMs / 1000)), readyAfterSeconds: restoreSeconds },
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(root, 'benchmarks/results'), { recursive: true });
writeFileSync(join(root, `benchmarks/results/e2e-rate-${result.date.slice(0, 10)}-${values.serialization}.json`), JSON.stringify(result, null, 2) + '\n');
