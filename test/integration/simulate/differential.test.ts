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
 * A saga's records all carry one timestamp, base + 0, 1 or 2 s by saga: the engine stamps
 * history and schedules timers from record timestamps, as simulate does from its line times,
 * so the documents are compared timestamps included. The first timer of any example comes due
 * 10 s after an entry, after every record; few distinct due times keep the stepping short.
 */
const timestampOf = (base: number, record: GeneratedRecord) => base + (record.saga % 3) * 1000;
/** Steps of the virtual clock after which the run is taken to loop. */
const MAX_STEPS = 200;

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
      timestamp: String(timestampOf(base, r)),
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
async function differential(example: string, seed: number, sagas: number): Promise<{ mismatches: Mismatch[]; records: GeneratedRecord[]; compared: number; deadLetters: number; steps: number; timersFired: number; timerKinds: string[]; report: string }> {
  const flow = uniqueFlow(`diff-${example}`);
  const config = exampleConfig(example, flow);
  const definition = await compileDefinition(config);
  const avro = config.communicationProtocols.some((c) => c.type === 'kafka' && c.configurations.serialization === 'avro');
  const { records, bySaga } = generate(definition, harvest(join(root, 'examples', example, 'events.jsonl')), { seed, sagas, prefix: `${example}-${seed}`, undecodable: !avro });

  const base = Math.floor(Date.now() / 1000) * 1000;
  const byLine = new Map(records.map((r) => [r.line, r]));
  const simulator = new Simulator(definition, {
    // Lines after the records are the clock's steps: they start from base and advance.
    timestampOf: (line) => new Date(timestampOf(base, byLine.get(line) ?? { line, saga: 0, key: null, value: {} })).toISOString(),
    newSagaId: () => 'unused',
  });
  const results = new Map<number, LineResult>();
  for (const record of records) {
    for (const result of simulator.run(simulateLine(record), record.line)) {
      if (result.timer) throw new Error(`a timer fired in the simulation at line ${record.line}: the run spans too long`);
      results.set(result.line, result);
    }
  }

  // The engine's timers fire by this clock, stopped before the first record's time and then
  // stepped to each due time simulate reaches: both fire each timer at its due time exactly.
  let now = base - 1;
  const clock = { now: () => now };
  const instance = await startTestInstance(config, { partitions: PARTITIONS, clock, env: { SAGAFLOW_REST_DISPATCHER: 'false', SAGAFLOW_PROJECTION: 'false' } });
  await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
  await produce(instance, config, records, base, avro);
  await processedAll(instance);

  let steps = 0;
  let timersFired = 0;
  const timerKinds = new Set<string>();
  let simulatedNow = base;
  for (let due = nextDue(simulator); due !== undefined; due = nextDue(simulator)) {
    if ((steps += 1) > MAX_STEPS) throw new Error(`timers still due after ${MAX_STEPS} steps of the clock`);
    const fired = simulator.run(JSON.stringify({ advance: due - simulatedNow }), records.length + steps);
    timersFired += fired.length;
    for (const result of fired) timerKinds.add(`${result.timer?.kind ?? '?'} ${result.outcome}`);
    simulatedNow = due;
    now = due;
    await waitFor(async () => (await engineTimersDue(instance, [...bySaga.keys()], due)) === 0, { timeoutMs: 30_000, intervalMs: 100, description: `the engine's timers due at ${new Date(due).toISOString()} fired and committed` });
  }

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
  const smallest = mismatches[0];
  const report = smallest
    ? [
        `${mismatches.length} of ${compared} sagas differ; the smallest, ${smallest.sagaId}, in ${smallest.lines.length} records (simulate lines):`,
        ...smallest.lines.map((l) => `  ${simulateLine(byLine.get(l) as GeneratedRecord)}`),
        smallest.what,
      ].join('\n')
    : '';
  return { mismatches, records, compared, deadLetters: dlq.length, steps, timersFired, timerKinds: [...timerKinds].sort(), report };
}

/** The soonest due time of a timer some simulated saga waits on. */
function nextDue(simulator: Simulator): number | undefined {
  let soonest: number | undefined;
  for (const saga of simulator.documents()) {
    const first = saga.timers?.[0];
    if (first) soonest = Math.min(soonest ?? Infinity, Date.parse(first.dueAt));
  }
  return soonest;
}

/** How many timers due by `at` the engine's committed sagas still wait on. */
async function engineTimersDue(instance: Instance, sagaIds: string[], at: number): Promise<number> {
  let due = 0;
  for (const sagaId of sagaIds) {
    const where = await instance.processor.locate(sagaId);
    if (where.kind === 'local') due += (where.saga?.timers ?? []).filter((t) => Date.parse(t.dueAt) <= at).length;
  }
  return due;
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

const FLOWS: { example: string; sagas: number; timers: boolean }[] = [
  { example: 'reservation', sagas: 700, timers: false },
  { example: 'order', sagas: 700, timers: false },
  { example: 'car-dealer', sagas: 600, timers: false },
  { example: 'invoice', sagas: 500, timers: false },
  { example: 'payment', sagas: 500, timers: true },
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

  for (const { example, sagas, timers } of FLOWS) {
    it(`${example}: ${sagas} generated sagas, the same documents and dead letters as a running instance`, async () => {
      const began = Date.now();
      const run = await differential(example, 21, sagas);
      expect(run.mismatches.length, run.report).toBe(0);
      expect(run.compared).toBe(sagas);
      // The run exercised the paths it is meant to: dead letters of several kinds, final sagas.
      expect(run.deadLetters).toBeGreaterThan(sagas / 20);
      // Retries, timeouts and the deadline fired, in both, at the same instants.
      expect(run.timerKinds).toEqual(timers ? ['deadline applied', 'retry retried', 'timeout applied'] : []);
      console.info(`differential ${example}: ${run.compared} sagas, ${run.records.length} records, ${run.deadLetters} dead letters, ${run.timersFired} timers fired over ${run.steps} clock steps, ${Date.now() - began} ms`);
    });
  }
});
