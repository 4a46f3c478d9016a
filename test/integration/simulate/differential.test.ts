import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../../src/cli/simulator.ts';
import type { LineResult } from '../../../src/cli/simulator.ts';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
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
 * sent to them); no projection. Secrets the file reads are given dummy values. Observed
 * channels (with a correlation) are left out: their records reach the events topic as the
 * engine forwards them, keyed by sagaId, which is how the generated records are produced; the
 * forwarding itself is test/integration/processor/choreography.test.ts's.
 */
function exampleConfig(example: string, flow: FlowTopics): SagaConfig {
  const raw = JSON.parse(readFileSync(join(root, 'examples', example, 'saga.json'), 'utf8')) as {
    communicationProtocols: { type: string; configurations: Record<string, unknown> }[];
    persistencyManagement: unknown;
  };
  raw.communicationProtocols = raw.communicationProtocols.filter((c) => c.configurations.correlation === undefined);
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
        // A partition that got no record has nothing committed (-1).
        return (committed?.partitions ?? []).every((p) => p.offset === ends.get(p.partition) || ends.get(p.partition) === '0') && (committed?.partitions.length ?? 0) === ends.size;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'every event processed and committed' },
    );
  } finally {
    await admin.disconnect();
  }
}

interface Sent {
  /** The simulate line the request stands for. */
  line: string;
  status: number;
  code?: string;
}

/**
 * Sends generated sagas through the HTTP API instead of the topic: a creation as POST /saga
 * for one saga in four (its answer names the sagaId), else every record as a POST /event
 * body. One record per saga at a time, each round once the previous one is processed, so
 * the answers that depend on the saga (throwOnUnexpectedEvents) see what simulate sees.
 */
async function throughHttp(instance: Instance, definition: CompiledDefinition, records: GeneratedRecord[]): Promise<Map<string, Sent[]>> {
  const bySaga = new Map<number, GeneratedRecord[]>();
  for (const r of records) if (r.key !== null) bySaga.set(r.saga, [...(bySaga.get(r.saga) ?? []), r]);
  const ids = new Map<number, string>();
  const sent = new Map<string, Sent[]>();
  const post = async (path: string, body: unknown): Promise<{ status: number; body: { code?: string; sagaId?: string } }> => {
    const res = await fetch(`${instance.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { code?: string; sagaId?: string } };
  };
  const rounds = Math.max(0, ...[...bySaga.values()].map((l) => l.length));
  for (let round = 0; round < rounds; round += 1) {
    await Promise.all(
      [...bySaga].map(async ([saga, list]) => {
        const record = list[round];
        if (!record) return;
        const payload = record.value.messagePayload as { associatedEntityId?: unknown; metadata?: unknown } | undefined;
        const viaPostSaga =
          round === 0 && saga % 4 === 0 && record.value.messageLabel === definition.creationEvent && typeof payload?.associatedEntityId === 'string' && isObject(payload.metadata);
        let one: Sent;
        let sagaId = ids.get(saga) ?? (record.key as string);
        if (viaPostSaga) {
          const answer = await post('/saga', { associatedEntityId: payload.associatedEntityId, metadata: payload.metadata });
          sagaId = answer.body.sagaId ?? `no sagaId in the answer ${answer.status}`;
          ids.set(saga, sagaId);
          one = { line: JSON.stringify({ create: { sagaId, associatedEntityId: payload.associatedEntityId, metadata: payload.metadata } }), status: answer.status };
        } else {
          const body = { key: sagaId, value: record.value };
          const answer = await post('/event', body);
          one = { line: JSON.stringify(body), status: answer.status, ...(answer.body.code === undefined ? {} : { code: answer.body.code }) };
        }
        sent.set(sagaId, [...(sent.get(sagaId) ?? []), one]);
      }),
    );
    await processedAll(instance);
  }
  return sent;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A running instance with its clock, and what a batch of records needs to go through it. */
interface Bench {
  instance: Instance;
  config: SagaConfig;
  definition: CompiledDefinition;
  avro: boolean;
  base: number;
  setClock: (ms: number) => void;
}

type Verdict = { code: string | undefined; reason: string | undefined };

/** Runs records through a fresh Simulator, at the timestamps they get on the topic. */
function simulateRecords(bench: Bench, records: GeneratedRecord[]): { simulator: Simulator; results: Map<number, LineResult> } {
  const byLine = new Map(records.map((r) => [r.line, r]));
  const simulator = new Simulator(bench.definition, {
    // Lines after the records are the clock's steps: they start from base and advance.
    timestampOf: (line) => new Date(timestampOf(bench.base, byLine.get(line) ?? { line, saga: 0, key: null, value: {} })).toISOString(),
    newSagaId: () => 'unused',
  });
  const results = new Map<number, LineResult>();
  for (const record of records) {
    for (const result of simulator.run(simulateLine(record), record.line)) {
      if (result.timer) throw new Error(`a timer fired in the simulation at line ${record.line}: the run spans too long`);
      results.set(result.line, result);
    }
  }
  return { simulator, results };
}

/**
 * Steps the instance's clock to each due time the simulation reaches, advancing the simulation
 * with it, until no timer is left; each step waits for the engine to have fired and committed
 * every timer due by then.
 */
async function runTimers(bench: Bench, simulator: Simulator, sagaIds: string[], firstLine: number): Promise<{ steps: number; fired: LineResult[] }> {
  let steps = 0;
  const fired: LineResult[] = [];
  let simulatedNow = bench.base;
  for (let due = nextDue(simulator); due !== undefined; due = nextDue(simulator)) {
    if ((steps += 1) > MAX_STEPS) throw new Error(`timers still due after ${MAX_STEPS} steps of the clock`);
    fired.push(...simulator.run(JSON.stringify({ advance: due - simulatedNow }), firstLine + steps));
    simulatedNow = due;
    bench.setClock(due);
    await waitFor(async () => (await engineTimersDue(bench.instance, sagaIds, due)) === 0, { timeoutMs: 30_000, intervalMs: 100, description: `the engine's timers due at ${new Date(due).toISOString()} fired and committed` });
  }
  return { steps, fired };
}

/** The dead letters of records that carry a line header, by line; the others (produced by the API) by key, in order. */
async function readVerdicts(instance: Instance, expected: number, timeoutMs: number): Promise<{ byLine: Map<number, Verdict>; byKey: Map<string, Verdict[]>; total: number }> {
  const dlq = await readTopic(instance.topics.deadLetter, { until: (got) => got.length >= expected, timeoutMs });
  const byLine = new Map<number, Verdict>();
  const unlined = new Map<string, { offset: bigint; verdict: Verdict }[]>();
  for (const r of dlq) {
    const verdict = {
      code: r.headers[DLQ_HEADERS.code],
      // The codecs name the topic they read: simulate's is "simulate".
      reason: r.headers[DLQ_HEADERS.reason]?.replaceAll(`topic ${instance.topics.events}`, 'topic simulate'),
    };
    const line = r.headers[LINE_HEADER];
    if (line !== undefined) byLine.set(Number(line), verdict);
    else unlined.set(r.key ?? '', [...(unlined.get(r.key ?? '') ?? []), { offset: BigInt(r.headers[DLQ_HEADERS.offset] ?? '-1'), verdict }]);
  }
  const byKey = new Map([...unlined].map(([key, list]) => [key, list.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((v) => v.verdict)]));
  return { byLine, byKey, total: dlq.length };
}

/** What differs for each saga of `records` between the simulation and the engine: dead-letter verdicts by line, and final documents. */
async function compareRecords(instance: Instance, records: GeneratedRecord[], results: Map<number, LineResult>, verdicts: Map<number, Verdict>, simulator: Simulator): Promise<Map<string, string[]>> {
  const problems = new Map<string, string[]>();
  const note = (sagaId: string, what: string) => problems.set(sagaId, [...(problems.get(sagaId) ?? []), what]);
  const owners = new Map<number, string>();
  for (const record of records) {
    const owner = record.key ?? records.find((r) => r.saga === record.saga && r.key !== null)?.key ?? `saga ${record.saga}`;
    owners.set(record.saga, owners.get(record.saga) ?? owner);
    const simulated = results.get(record.line);
    const expected = simulated?.deadLetter === undefined ? undefined : { code: simulated.deadLetter, reason: simulated.reason };
    const got = verdicts.get(record.line);
    if (JSON.stringify(expected) !== JSON.stringify(got)) {
      note(owners.get(record.saga) ?? owner, `line ${record.line}: simulate ${expected ? `dead-letters ${JSON.stringify(expected)}` : 'applies it'}, the engine ${got ? `dead-letters ${JSON.stringify(got)}` : 'applies it'}`);
    }
  }
  for (const sagaId of new Set(records.flatMap((r) => (r.key === null ? [] : [r.key])))) {
    const where = await instance.processor.locate(sagaId);
    if (where.kind !== 'local') throw new Error(`saga ${sagaId} is ${where.kind} on a single instance`);
    const simulated = simulator.document(sagaId);
    if (JSON.stringify(normalize(where.saga)) !== JSON.stringify(normalize(simulated))) {
      note(sagaId, `document differs:\n  simulate: ${JSON.stringify(simulated)}\n  engine:   ${JSON.stringify(where.saga)}`);
    }
  }
  return problems;
}

/**
 * Shrinks a saga's failing sequence on the running instance: each round sends every copy of
 * the sequence with one record left out, under fresh sagaIds, all at once, and goes on with
 * the first copy that still differs, until none does or the time is up.
 */
async function shrink(bench: Bench, sequence: GeneratedRecord[], nextLine: () => number, deadlineMs: number): Promise<{ records: GeneratedRecord[]; what: string } | undefined> {
  let smallest: { records: GeneratedRecord[]; what: string } | undefined;
  let current = sequence;
  for (let round = 1; current.length > 1 && Date.now() < deadlineMs; round += 1) {
    const candidates = current.map((_, drop) =>
      current.filter((__, i) => i !== drop).map((r) => ({ ...r, saga: r.saga, key: r.key === null ? null : `${r.key}~${round}.${drop}`, line: nextLine() })),
    );
    const records = candidates.flat();
    const { simulator, results } = simulateRecords(bench, records);
    bench.setClock(bench.base - 1);
    const before = bench.instance.processor.metrics.deadLettered;
    await produce(bench.instance, bench.config, records, bench.base, bench.avro);
    await processedAll(bench.instance);
    await runTimers(bench, simulator, [...new Set(records.flatMap((r) => (r.key === null ? [] : [r.key])))], records.length + nextLine());
    // Read up to what the engine wrote, or what simulate predicts if that is more.
    const expected = Math.max(bench.instance.processor.metrics.deadLettered, before + [...results.values()].filter((r) => r.deadLetter !== undefined).length);
    const { byLine } = await readVerdicts(bench.instance, expected, 5_000);
    let next: GeneratedRecord[] | undefined;
    for (const candidate of candidates) {
      const problems = await compareRecords(bench.instance, candidate, results, byLine, simulator);
      if (problems.size > 0) {
        next = candidate;
        smallest = { records: candidate, what: [...problems.values()].flat().join('\n') };
        break;
      }
    }
    if (!next) break;
    current = next;
  }
  return smallest;
}

/**
 * Runs `sagas` generated sagas once through `sagaflow simulate`'s Simulator and once through a
 * real instance on the broker (on the events topic, and `httpSagas` more through the HTTP
 * API), and returns every saga whose final document, dead-letter verdicts or API answers
 * differ, smallest sequence first, with a report of the shortest sequence found that shows one.
 */
async function differential(example: string, seed: number, sagas: number, httpSagas: number) {
  const flow = uniqueFlow(`diff-${example}`);
  const config = exampleConfig(example, flow);
  const definition = await compileDefinition(config);
  const avro = config.communicationProtocols.some((c) => c.type === 'kafka' && c.configurations.serialization === 'avro');
  const inputs = harvest(join(root, 'examples', example, 'events.jsonl'));
  const { records, bySaga } = generate(definition, inputs, { seed, sagas, prefix: `${example}-${seed}`, undecodable: !avro });

  // The engine's timers fire by this clock, stopped before the first record's time and then
  // stepped to each due time simulate reaches: both fire each timer at its due time exactly.
  const base = Math.floor(Date.now() / 1000) * 1000;
  let now = base - 1;
  const clock = { now: () => now };
  const instance = await startTestInstance(config, { partitions: PARTITIONS, clock, env: { SAGAFLOW_REST_DISPATCHER: 'false', SAGAFLOW_PROJECTION: 'false' } });
  const bench: Bench = { instance, config, definition, avro, base, setClock: (ms) => (now = ms) };
  await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

  const { simulator, results } = simulateRecords(bench, records);
  await produce(instance, config, records, base, avro);
  await processedAll(instance);
  const http = await throughHttp(instance, definition, generate(definition, inputs, { seed: seed + 1, sagas: httpSagas, prefix: `${example}-${seed}-http`, undecodable: false }).records);
  const timers = await runTimers(bench, simulator, [...bySaga.keys()], records.length);

  // Through HTTP: the same lines, as POST /saga and POST /event bodies, in a simulation of their own.
  const httpSimulator = new Simulator(definition, { timestampOf: () => new Date(base).toISOString(), newSagaId: () => 'unused' });
  const httpResults = new Map<string, LineResult[]>();
  for (const [sagaId, sent] of http) httpResults.set(sagaId, sent.map((one, i) => httpSimulator.run(one.line, i + 1).at(-1) as LineResult));

  // Read up to what the engine wrote, or what simulate predicts if that is more.
  const engineDeadLettered = instance.processor.metrics.deadLettered;
  const expectedDeadLetters = [...results.values(), ...[...httpResults.values()].flat()].filter((r) => r.deadLetter !== undefined).length;
  const verdicts = await readVerdicts(instance, Math.max(engineDeadLettered, expectedDeadLetters), 15_000);

  const problems = await compareRecords(instance, records, results, verdicts.byLine, simulator);
  const note = (sagaId: string, what: string) => problems.set(sagaId, [...(problems.get(sagaId) ?? []), what]);
  const sequences = new Map<string, string[]>();
  const byLine = new Map(records.map((r) => [r.line, r]));
  for (const [sagaId, lines] of bySaga) sequences.set(sagaId, lines.map((l) => simulateLine(byLine.get(l) as GeneratedRecord)));
  const answers = new Map<number, number>();
  for (const [sagaId, sent] of http) {
    sequences.set(sagaId, sent.map((one) => one.line));
    const simulated = httpResults.get(sagaId) ?? [];
    sent.forEach((one, i) => {
      answers.set(one.status, (answers.get(one.status) ?? 0) + 1);
      const predicted = simulated[i]?.outcome === 'refused' ? simulated[i]?.refused : 'produced';
      const got = one.status >= 200 && one.status < 300 ? 'produced' : one.code;
      if (predicted !== got) note(sagaId, `request ${i + 1} (${one.line}): simulate says ${predicted ?? '?'}, the API answered ${one.status} ${got ?? ''}`);
    });
    const expected = simulated.filter((r) => r.deadLetter !== undefined).map((r) => ({ code: r.deadLetter, reason: r.reason }));
    const got = verdicts.byKey.get(sagaId) ?? [];
    if (JSON.stringify(expected) !== JSON.stringify(got)) note(sagaId, `dead letters differ:\n  simulate: ${JSON.stringify(expected)}\n  engine:   ${JSON.stringify(got)}`);
    const where = await instance.processor.locate(sagaId);
    const engine = where.kind === 'local' ? where.saga : undefined;
    const document = httpSimulator.document(sagaId);
    // Records produced by the API are stamped by its producer, when it sends them.
    if (JSON.stringify(normalize(engine, false)) !== JSON.stringify(normalize(document, false))) {
      note(sagaId, `document differs (timestamps aside):\n  simulate: ${JSON.stringify(document)}\n  engine:   ${JSON.stringify(engine)}`);
    }
  }

  const mismatches = [...problems].map(([sagaId, what]) => ({ sagaId, lines: sequences.get(sagaId) ?? [], what: what.join('\n') })).sort((a, b) => a.lines.length - b.lines.length);
  let report = '';
  const smallest = mismatches[0];
  if (smallest) {
    report = [`${mismatches.length} of ${bySaga.size + http.size} sagas differ; the smallest, ${smallest.sagaId}, in ${smallest.lines.length} records (simulate lines):`, ...smallest.lines.map((l) => `  ${l}`), smallest.what].join('\n');
    // A saga from the events topic is shrunk further on the instance; records dropped one at a time.
    const failing = mismatches.find((m) => bySaga.has(m.sagaId));
    if (failing) {
      let line = records.length + MAX_STEPS + 1;
      const shrunk = await shrink(bench, (bySaga.get(failing.sagaId) ?? []).map((l) => byLine.get(l) as GeneratedRecord), () => (line += 1), Date.now() + 45_000);
      if (shrunk) report += [`\n\nShrunk on the instance (${failing.sagaId}, records left out one at a time while it still differs), ${shrunk.records.length} records:`, ...shrunk.records.map((r) => `  ${simulateLine(r)}`), shrunk.what].join('\n');
    }
  }
  await instance.stop();
  const kinds = [...new Set(timers.fired.map((r) => `${r.timer?.kind ?? '?'} ${r.outcome}`))].sort();
  return { mismatches, records, compared: bySaga.size + http.size, deadLetters: verdicts.total, engineDeadLettered, steps: timers.steps, timersFired: timers.fired.length, timerKinds: kinds, answers, report };
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

const TIME_FIELDS = new Set(['timestamp', 'createdAt', 'updatedAt', 'dueAt']);

/**
 * Key order does not matter, and an absent field equals an undefined one (Avro and JSON
 * changelogs alike); `timestamps: false` leaves out every time field.
 */
function normalize(saga: SagaDocument | undefined, timestamps = true): unknown {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k, v]) => v !== undefined && (timestamps || !TIME_FIELDS.has(k)))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, sort(v)]),
    );
  };
  return sort(saga);
}

/**
 * Sagas per example through the events topic, and through the HTTP API. The payment example
 * has none through HTTP: its records would be stamped by the API's producer on the wall
 * clock, and the timers they schedule come due at instants simulate cannot know.
 */
const FLOWS: { example: string; sagas: number; http: number; timers: string[] }[] = [
  { example: 'reservation', sagas: 650, http: 50, timers: [] },
  { example: 'order', sagas: 650, http: 50, timers: [] },
  { example: 'car-dealer', sagas: 550, http: 50, timers: [] },
  { example: 'invoice', sagas: 450, http: 50, timers: [] },
  { example: 'payment', sagas: 500, http: 0, timers: ['deadline applied', 'retry retried', 'timeout applied'] },
  // Parallel branches answered in any order, late, twice or never (the state's timeout).
  { example: 'user-provisioning', sagas: 400, http: 0, timers: ['retry retried', 'timeout applied'] },
  { example: 'marketplace-order', sagas: 300, http: 30, timers: [] },
  { example: 'used-car-dealer', sagas: 300, http: 30, timers: [] },
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

  for (const { example, sagas, http, timers } of FLOWS) {
    // The time limit leaves room to shrink a failing sequence on the instance.
    it(`${example}: ${sagas + http} generated sagas, the same documents, dead letters and API answers as a running instance`, { timeout: 180_000 }, async () => {
      const began = Date.now();
      const run = await differential(example, 21, sagas, http);
      expect(run.mismatches.length, run.report).toBe(0);
      // Every dead letter the engine counted was read.
      expect(run.deadLetters).toBe(run.engineDeadLettered);
      expect(run.compared).toBe(sagas + http);
      // Through the API: accepted (201, 202) and refused (400 for reserved labels, 404/409 with throwOnUnexpectedEvents).
      if (http > 0) expect([...run.answers.keys()].filter((status) => status >= 400).length).toBeGreaterThan(0);
      // The run exercised the paths it is meant to: dead letters of several kinds, final sagas.
      expect(run.deadLetters).toBeGreaterThan(sagas / 20);
      // Retries, timeouts and the deadline fired, in both, at the same instants.
      expect(run.timerKinds).toEqual(timers);
      console.info(
        `differential ${example}: ${run.compared} sagas, ${run.records.length} records, ${run.deadLetters} dead letters, ` +
          `API answers ${JSON.stringify(Object.fromEntries(run.answers))}, ${run.timersFired} timers fired over ${run.steps} clock steps, ${Date.now() - began} ms`,
      );
    });
  }
});
