import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../../src/cli/simulator.ts';
import type { LineResult } from '../../../src/cli/simulator.ts';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { DLQ_HEADERS } from '../../../src/engine/task.ts';
import type { Instance } from '../../../src/runtime/instance.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { codecFor, quietLogger, readTopic, startTestInstance, tempStateDir, testChannelConfigurations, testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';
import { generate, harvest, simulateLine } from './sequences.ts';
import type { GeneratedRecord } from './sequences.ts';

const root = new URL('../../../', import.meta.url).pathname;
const PARTITIONS = 4;
const LINE_HEADER = 'x-diff-line';
/**
 * Record timestamps start this far ahead of the wall clock: the engine stamps a saga's history
 * and schedules its timers from them, as simulate does from its line times, so documents are
 * compared timestamps included; and no timer (the payment example's first is 10 s after an
 * entry) comes due on the wall clock while the test runs, nor in simulate's time, where the
 * records are 1 ms apart.
 */
const AHEAD_MS = 10 * 60_000;

/**
 * An example's saga.json on the test broker: its kafka channel gets the flow's topics (and
 * keeps its serialization); rest channels stay as they are (the dispatcher is off, nothing is
 * sent to them); no projection. Secrets the file reads are given dummy values.
 */
function exampleConfig(example: string, flow: FlowTopics): SagaConfig {
  const raw = JSON.parse(readFileSync(join(root, 'examples', example, 'saga.json'), 'utf8')) as {
    communicationProtocols: { type: string; configurations: Record<string, unknown> }[];
    persistencyManagement: unknown;
  };
  const kafka = raw.communicationProtocols.filter((c) => c.type === 'kafka');
  if (kafka.length !== 1) throw new Error(`examples/${example} has ${kafka.length} kafka channels; the differential test handles one`);
  for (const channel of kafka) channel.configurations = testChannelConfigurations(flow, channel.configurations.serialization === 'avro' ? 'avro' : 'json');
  raw.persistencyManagement = {};
  const file = join(tempStateDir(), 'saga.json');
  writeFileSync(file, JSON.stringify(raw));
  return loadSagaConfigFile(file, { NOTIFICATIONS_TOKEN: 'token', ORDERS_KAFKA_PASSWORD: 'unused', ORDERS_MONGO_URI: 'mongodb://unused' });
}

async function produce(instance: Instance, config: SagaConfig, records: GeneratedRecord[], base: number, avro: boolean): Promise<void> {
  const codec = await codecFor(config);
  const topic = instance.topics.events;
  const messages = await Promise.all(
    records.map(async (r) => ({
      key: r.key,
      // Avro flows get only envelopes the codec can write; JSON flows get the value as it is.
      value: avro
        ? await codec.encodeEvent(topic, r.value as { messageLabel: string; messagePayload: unknown; eventId?: string })
        : Buffer.from(JSON.stringify(r.value)),
      // Each record on its saga's home partition, as the engine routes (nothing forwarded).
      partition: r.key === null ? r.line % PARTITIONS : partitionForKey(r.key, PARTITIONS),
      timestamp: String(base + r.line),
      headers: { [LINE_HEADER]: String(r.line) },
    })),
  );
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
  } finally {
    await producer.disconnect();
  }
}

/** Waits until the instance has committed its position at the end of every partition of the events topic. */
async function processedAll(instance: Instance): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const ends = new Map((await admin.fetchTopicOffsets(instance.topics.events)).map((p) => [p.partition, p.high]));
    await waitFor(
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: instance.applicationId, topics: [instance.topics.events] });
        return (committed?.partitions ?? []).every((p) => p.offset === ends.get(p.partition)) && (committed?.partitions.length ?? 0) === ends.size;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'every event processed and committed' },
    );
  } finally {
    await admin.disconnect();
  }
}

interface Mismatch {
  sagaId: string;
  lines: number[];
  what: string;
}

/**
 * Runs `sagas` generated sagas once through `sagaflow simulate`'s Simulator and once through a
 * real instance on the broker, and returns every saga whose final document or dead-letter
 * verdicts differ, smallest sequence first.
 */
async function differential(example: string, seed: number, sagas: number): Promise<{ mismatches: Mismatch[]; records: GeneratedRecord[]; compared: number; deadLetters: number; report: string }> {
  const flow = uniqueFlow(`diff-${example}`);
  const config = exampleConfig(example, flow);
  const definition = await compileDefinition(config);
  const avro = config.communicationProtocols.some((c) => c.type === 'kafka' && c.configurations.serialization === 'avro');
  const { records, bySaga } = generate(definition, harvest(join(root, 'examples', example, 'events.jsonl')), { seed, sagas, prefix: `${example}-${seed}`, undecodable: !avro });

  const base = Date.now() + AHEAD_MS;
  const simulator = new Simulator(definition, { timestampOf: (line) => new Date(base + line).toISOString(), newSagaId: () => 'unused' });
  const results = new Map<number, LineResult>();
  for (const record of records) {
    for (const result of simulator.run(simulateLine(record), record.line)) {
      if (result.timer) throw new Error(`a timer fired in the simulation at line ${record.line}: the run spans too long`);
      results.set(result.line, result);
    }
  }

  const instance = await startTestInstance(config, { partitions: PARTITIONS, env: { SAGAFLOW_REST_DISPATCHER: 'false', SAGAFLOW_PROJECTION: 'false' } });
  await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
  await produce(instance, config, records, base, avro);
  await processedAll(instance);

  const expectedDeadLetters = [...results.values()].filter((r) => r.deadLetter !== undefined).length;
  const dlq = await readTopic(instance.topics.deadLetter, { until: (got) => got.length >= expectedDeadLetters, timeoutMs: 15_000 });
  const engineVerdicts = new Map<number, { code: string | undefined; reason: string | undefined }>();
  for (const r of dlq) {
    engineVerdicts.set(Number(r.headers[LINE_HEADER]), {
      code: r.headers[DLQ_HEADERS.code],
      // The codecs name the topic they read: simulate's is "simulate".
      reason: r.headers[DLQ_HEADERS.reason]?.replaceAll(`topic ${instance.topics.events}`, 'topic simulate'),
    });
  }

  const ownerOf = new Map<number, string>();
  for (const [sagaId, lines] of bySaga) for (const line of lines) ownerOf.set(line, sagaId);
  const problems = new Map<string, string[]>();
  const note = (sagaId: string, what: string) => problems.set(sagaId, [...(problems.get(sagaId) ?? []), what]);

  for (const record of records) {
    const simulated = results.get(record.line);
    const expected = simulated?.deadLetter === undefined ? undefined : { code: simulated.deadLetter, reason: simulated.reason };
    const got = engineVerdicts.get(record.line);
    if (JSON.stringify(expected) !== JSON.stringify(got)) {
      note(ownerOf.get(record.line) ?? '?', `line ${record.line}: simulate ${expected ? `dead-letters ${JSON.stringify(expected)}` : 'applies it'}, the engine ${got ? `dead-letters ${JSON.stringify(got)}` : 'applies it'}`);
    }
  }
  let compared = 0;
  for (const sagaId of bySaga.keys()) {
    const where = await instance.processor.locate(sagaId);
    if (where.kind !== 'local') throw new Error(`saga ${sagaId} is ${where.kind} on a single instance`);
    const engine: SagaDocument | undefined = where.saga;
    const simulated = simulator.document(sagaId);
    compared += 1;
    if (JSON.stringify(normalize(engine)) !== JSON.stringify(normalize(simulated))) {
      note(sagaId, `document differs:\n  simulate: ${JSON.stringify(simulated)}\n  engine:   ${JSON.stringify(engine)}`);
    }
  }
  await instance.stop();

  const mismatches = [...problems].map(([sagaId, what]) => ({ sagaId, lines: bySaga.get(sagaId) ?? [], what: what.join('\n') })).sort((a, b) => a.lines.length - b.lines.length);
  const byLine = new Map(records.map((r) => [r.line, r]));
  const smallest = mismatches[0];
  const report = smallest
    ? [
        `${mismatches.length} of ${compared} sagas differ; the smallest, ${smallest.sagaId}, in ${smallest.lines.length} records (simulate lines):`,
        ...smallest.lines.map((l) => `  ${simulateLine(byLine.get(l) as GeneratedRecord)}`),
        smallest.what,
      ].join('\n')
    : '';
  return { mismatches, records, compared, deadLetters: dlq.length, report };
}

/** Key order does not matter, and an absent field equals an undefined one (Avro and JSON changelogs alike). */
function normalize(saga: SagaDocument | undefined): unknown {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, sort(v)]),
    );
  };
  return sort(saga);
}

const FLOWS: { example: string; sagas: number }[] = [
  { example: 'reservation', sagas: 700 },
  { example: 'order', sagas: 700 },
  { example: 'car-dealer', sagas: 600 },
  { example: 'invoice', sagas: 500 },
  { example: 'payment', sagas: 500 },
];

describe('sagaflow simulate predicts the engine', () => {
  // Every dead letter is a warning in the instance's log: thousands of them here, on purpose.
  const level = quietLogger.level;
  beforeAll(() => {
    quietLogger.level = 'error';
  });
  afterAll(() => {
    quietLogger.level = level;
  });

  it('covers every example', () => {
    const examples = readFileSync(join(root, 'examples', 'README.md'), 'utf8').match(/^- `([a-z-]+)\/`/gm)?.map((m) => m.slice(3, -2)) ?? [];
    expect(FLOWS.map((f) => f.example).sort()).toEqual([...examples].sort());
  });

  for (const { example, sagas } of FLOWS) {
    it(`${example}: ${sagas} generated sagas, the same documents and dead letters as a running instance`, async () => {
      const began = Date.now();
      const run = await differential(example, 21, sagas);
      expect(run.mismatches.length, run.report).toBe(0);
      expect(run.compared).toBe(sagas);
      // The run exercised the paths it is meant to: dead letters of several kinds, final sagas.
      expect(run.deadLetters).toBeGreaterThan(sagas / 20);
      console.info(`differential ${example}: ${run.compared} sagas, ${run.records.length} records, ${run.deadLetters} dead letters, ${Date.now() - began} ms`);
    });
  }
});
