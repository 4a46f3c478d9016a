/**
 * The suite's `projection` step: how fast the saga projection drains a processor's changelog
 * into the MongoDB-compatible server, and how far behind it stays under a steady load.
 *
 *   node benchmarks/projection.ts --changelog <topic> --processor-rate <events/s>
 *     [--processor-events 290006] [--mongodb mongodb://127.0.0.1:27017/?directConnection=true] [--lag-seconds 30]
 *     [--brokers 127.0.0.1:9092] [--flow reservation] [--out DIR] [--no-record]
 *
 * The processor writes one changelog record per saga per transaction (a saga's events of one
 * commit make one record), so its changelog has fewer records than it read events: what the
 * projection must keep up with is the rate at which the processor writes changelog records,
 * its events/s times records per event (`--processor-events`: how many events it read to
 * write this changelog).
 *
 * 1. lag: the changelog's first records are replayed into a fresh topic at half the
 *    processor's changelog rate, in small transactions as the processor writes them; for each record,
 *    the time from its transaction committing to the sink having stored that revision (or a
 *    newer one) of its saga: what GET /sagas lags behind the processor;
 * 2. throughput: a Projector in a fresh consumer group projects the whole changelog into a
 *    fresh collection; records/s from the consumer running to every record committed, and
 *    the collection is checked to hold the latest revision of every saga.
 *
 * The suite (suite.ts) runs this on the changelog its sagaflow throughput step left behind,
 * with that step's steady events/s as the processor's rate.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { createBrokerClient } from '../src/adapters/select.ts';
import type { BrokerClient } from '../src/broker/ports.ts';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import type { ProcessorCodec } from '../src/kafka/codec.ts';
import { MongoSagaSink } from '../src/projection/mongo-sink.ts';
import type { MongoSagaSinkOptions } from '../src/projection/mongo-sink.ts';
import { Projector } from '../src/projection/projector.ts';
import type { ProjectorOptions } from '../src/projection/projector.ts';
import type { SagaSink, SinkWriteResult } from '../src/projection/sink.ts';
import type { KafkaProtocol } from '../src/definition/types.ts';
import type { SagaCollection } from '../src/projection/mongo.ts';
import type { SagaDocument } from '../src/saga/types.ts';
import { groupedBarChart } from './charts.ts';
import { connectOrExplain, createTopics, deleteGroups, deleteTopics, runStamp, silenceKafkajsTimeoutWarnings, type BenchKafka } from './kafka.ts';
import { latencyStats, type LatencyStats } from './latency.ts';
import { repoRoot } from './perf-tools.ts';
import { fmt, record } from './run.ts';
import { DEFAULT_WORKLOAD, FLOWS, loadSagaConfig } from './workload.ts';

/** One changelog record as the projection reads it. */
export interface ChangelogRecord {
  partition: number;
  key: string;
  value: Buffer;
  revision: number;
}

export interface ProjectionResult {
  system: 'projection';
  startedAt: string;
  /** What the server says it is (buildInfo version, FerretDB's version when it is FerretDB). */
  server: string;
  changelogTopic: string;
  records: number;
  sagas: number;
  seconds: number;
  recordsPerSecond: number;
  /** Between 10 % and 90 % of the records committed; null when that took under 2 s. */
  steadyRecordsPerSecond: number | null;
  /** Saga documents written (the sink keeps the latest revision per write) and skipped as stale. */
  sagasWritten: number;
  sagasStale: number;
  /** The processor's steady events/s, and how many events it read to write this changelog. */
  processorEventsPerSecond: number;
  processorEvents: number;
  /** The changelog records/s the processor wrote at that rate (events/s x records / events): what the projection is compared with. */
  processorRecordsPerSecond: number;
  /** True when every saga of the changelog is stored at its latest revision. */
  complete: boolean;
  timeline: [number, number][];
  lag?: LagResult;
  error?: string;
}

export interface LagResult extends LatencyStats {
  /** Records replayed per second (half the processor's changelog rate). */
  targetRecordsPerSecond: number;
  achievedRecordsPerSecond: number;
  records: number;
  /** Records whose saga never reached that revision in the collection before the deadline. */
  missing: number;
}

export const silent = pino({ level: 'silent' });

/** Events of the throughput workload (100,000 reservation sagas): what the suite's changelog was written from. */
export const DEFAULT_PROCESSOR_EVENTS = 290_006;

/**
 * Reads a changelog from its beginning, read_committed, until every partition's last stable
 * offset is reached. The one place the benchmark reads Kafka records, so that switching it to
 * another client changes only this function.
 */
export async function readChangelog(bench: BenchKafka, topic: string, codec: ProcessorCodec): Promise<ChangelogRecord[]> {
  const ends = await bench.admin.fetchTopicOffsets(topic);
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const records: ChangelogRecord[] = [];
  if (remaining.size === 0) return records;
  const groupId = `sagaflow-bench-changelog-${process.pid}-${Date.now()}`;
  const consumer = bench.kafka.consumer({ groupId, readUncommitted: false, maxBytes: 50 * 1024 * 1024 });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.value === null) continue;
          const saga = await codec.decodeSaga(topic, m.value);
          records.push({ partition: batch.partition, key: m.key?.toString() ?? saga.sagaId, value: m.value, revision: saga.revision });
        }
        // The batch's last offset covers trailing transaction markers, which are no records.
        if (Number(batch.lastOffset()) + 1 >= (remaining.get(batch.partition) ?? Infinity)) remaining.delete(batch.partition);
        if (remaining.size === 0) done();
      },
    });
    await finished;
  } finally {
    await consumer.disconnect();
    await deleteGroups(bench.admin, [groupId]);
  }
  return records;
}

/** The latest revision of each saga in the records. */
function latestBySaga(records: readonly ChangelogRecord[]): Map<string, number> {
  const latest = new Map<string, number>();
  for (const r of records) latest.set(r.key, Math.max(latest.get(r.key) ?? 0, r.revision));
  return latest;
}

/** A sink that notes when each revision of each saga was stored. */
class TimedSink implements SagaSink {
  readonly kind: string;
  /** sagaId -> [revision, stored at] in the order written. */
  readonly stored = new Map<string, [number, number][]>();
  private readonly inner: SagaSink;

  private readonly shape: ((saga: SagaDocument) => SagaDocument) | undefined;

  constructor(inner: SagaSink, shape?: (saga: SagaDocument) => SagaDocument) {
    this.inner = inner;
    this.kind = inner.kind;
    this.shape = shape;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async write(sagas: readonly SagaDocument[], options?: { signal?: AbortSignal }): Promise<SinkWriteResult> {
    const result = await this.inner.write(this.shape ? sagas.map(this.shape) : sagas, options);
    const at = Date.now();
    for (const saga of sagas) {
      const list = this.stored.get(saga.sagaId) ?? [];
      list.push([saga.revision, at]);
      this.stored.set(saga.sagaId, list);
    }
    return result;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** When revision `revision` or a newer one of the saga was first stored. */
  storedAt(sagaId: string, revision: number): number | undefined {
    return this.stored.get(sagaId)?.find(([r]) => r >= revision)?.[1];
  }
}

export async function serverName(client: MongoClient): Promise<string> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  if ('ferretdbVersion' in info) return `FerretDB ${String(info.ferretdbVersion)}`;
  if ('secantusVersion' in info) return `SecantusDB ${String(info.secantusVersion)}`;
  return `MongoDB-compatible ${String(info.version)}`;
}

export interface Context {
  bench: BenchKafka;
  /** The projector's client: sagaflow's default, as `sagaflow start` runs it. */
  client: BrokerClient;
  mongo: MongoClient;
  codec: ProcessorCodec;
  stamp: string;
  progress: (line: string) => void;
  /** Collections to drop once both measurements are done: a drop makes the server work for a while. */
  collections: SagaCollection[];
}

/** Settings of the projector and its sink that differ from `sagaflow start`'s (levers compared side by side). */
export interface ProjectionTuning {
  projector?: Pick<ProjectorOptions, 'chunkSize' | 'readAheadBytes'>;
  sink?: Pick<MongoSagaSinkOptions, 'ordered' | 'insertFirst' | 'concurrency' | 'indexes'>;
  /**
   * Another document shape, applied to every saga before the sink (a measurement of what
   * smaller documents would save; its own CPU counts as the projector's).
   */
  documents?: (saga: SagaDocument) => SagaDocument;
}

/** A projector of `topic` into a fresh collection, through a timed sink. */
async function startProjection(ctx: Context, topic: string, name: string, tuning: ProjectionTuning = {}) {
  const collection = ctx.mongo.db().collection<SagaDocument>(`bench_${ctx.stamp.replace('-', '_')}_${name}`);
  ctx.collections.push(collection);
  const sink = new TimedSink(new MongoSagaSink(collection, { client: ctx.mongo, ...tuning.sink }), tuning.documents);
  const groupId = `bench-${ctx.stamp}-${name}`;
  const projector = new Projector({ client: ctx.client, applicationId: groupId, codec: ctx.codec, sink, logger: silent, changelogTopic: topic, groupId, lagIntervalMs: 0, ...tuning.projector });
  await projector.start();
  return {
    collection,
    sink,
    projector,
    async stop() {
      await projector.stop();
      await deleteGroups(ctx.bench.admin, [groupId]);
    },
  };
}

/** Projects the whole changelog and times it. */
export async function measureThroughput(
  ctx: Context,
  topic: string,
  records: readonly ChangelogRecord[],
  result: ProjectionResult,
  timeoutMs: number,
  tuning: ProjectionTuning = {},
  name = 'throughput',
): Promise<void> {
  const run = await startProjection(ctx, topic, name, tuning);
  try {
    const began = Date.now();
    let at10: number | undefined;
    let at90: number | undefined;
    let lastPrint = 0;
    for (;;) {
      const lag = await run.projector.lag();
      const read = run.projector.status().recordsRead;
      const t = Date.now();
      const committed = Math.max(0, records.length - lag.total);
      if (at10 === undefined && committed >= records.length * 0.1) at10 = t;
      if (at90 === undefined && committed >= records.length * 0.9) at90 = t;
      result.timeline.push([Math.round(t - began) / 1000, committed]);
      if (lag.total === 0 && read >= records.length) break;
      if (t - began > timeoutMs) throw new Error(`projection did not finish within ${timeoutMs} ms (${fmt(committed)} of ${fmt(records.length)} records)`);
      if (t - lastPrint >= 5000) {
        lastPrint = t;
        ctx.progress(`[projection] ${fmt(committed)}/${fmt(records.length)} records, ${fmt((committed * 1000) / Math.max(1, t - began))} records/s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    result.seconds = (Date.now() - began) / 1000;
    result.recordsPerSecond = records.length / result.seconds;
    if (at10 !== undefined && at90 !== undefined && at90 - at10 >= 2000) result.steadyRecordsPerSecond = (0.8 * records.length * 1000) / (at90 - at10);
    const status = run.projector.status();
    result.sagasWritten = status.sagasWritten;
    result.sagasStale = status.sagasStale;
    const expected = latestBySaga(records);
    const stored = await run.collection.find({}, { projection: { _id: 0, sagaId: 1, revision: 1 } }).toArray();
    const revisions = new Map(stored.map((s) => [s.sagaId, s.revision]));
    result.complete = stored.length === expected.size && [...expected].every(([sagaId, revision]) => revisions.get(sagaId) === revision);
    if (!result.complete) console.error(`[projection] the collection holds ${fmt(stored.length)} documents; expected the latest revision of ${fmt(expected.size)} sagas`);
  } finally {
    await run.stop();
  }
}

/**
 * Replays the first `seconds` worth of records at `ratePerSecond` into a fresh topic, one
 * transaction every 50 ms, and measures how long each takes to be stored.
 */
async function measureLag(ctx: Context, source: string, records: readonly ChangelogRecord[], ratePerSecond: number, seconds: number): Promise<LagResult> {
  const partitions = (await ctx.bench.admin.fetchTopicOffsets(source)).length;
  const topic = `bench-${ctx.stamp}-projection-lag`;
  await createTopics(ctx.bench.admin, [topic], partitions);
  const count = Math.min(records.length, Math.round(ratePerSecond * seconds));
  const replay = records.slice(0, count);
  const committedAt = new Array<number>(count).fill(0);
  const run = await startProjection(ctx, topic, 'lag');
  const producer = ctx.bench.kafka.producer({ transactionalId: `bench-${ctx.stamp}-projection-lag`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tickMs = 50;
    const began = Date.now();
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((Date.now() - began) * ratePerSecond) / 1000) + 1);
      if (due > sent) {
        const tx = await producer.transaction();
        // Several sends per transaction keep each request under the broker's message size limit.
        for (let from = sent; from < due; from += 100) {
          const batch = replay.slice(from, Math.min(due, from + 100));
          await tx.send({ topic, messages: batch.map((r) => ({ key: r.key, value: r.value, partition: r.partition })) });
        }
        await tx.commit();
        const at = Date.now();
        for (let i = sent; i < due; i++) committedAt[i] = at;
        sent = due;
      }
      await new Promise((r) => setTimeout(r, Math.max(1, tickMs - ((Date.now() - began) % tickMs))));
    }
    const achieved = (count * 1000) / Math.max(1, Date.now() - began);
    const deadline = Date.now() + 60_000;
    const pending = () => replay.filter((r) => run.sink.storedAt(r.key, r.revision) === undefined).length;
    while (pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const samples: number[] = [];
    let missing = 0;
    replay.forEach((r, i) => {
      const at = run.sink.storedAt(r.key, r.revision);
      if (at === undefined) missing += 1;
      else samples.push(Math.max(0, at - (committedAt[i] ?? at)));
    });
    return { ...latencyStats(samples), targetRecordsPerSecond: ratePerSecond, achievedRecordsPerSecond: achieved, records: count, missing };
  } finally {
    await producer.disconnect();
    await run.stop();
    await deleteTopics(ctx.bench.admin, [topic]);
  }
}

export interface ProjectionStepOptions {
  bench: BenchKafka;
  /** The processor's kafka channel (its serdes decode the changelog). */
  channel: KafkaProtocol;
  changelogTopic: string;
  mongodbUrl: string;
  processorEventsPerSecond: number;
  /** Events the processor read to write the changelog (the throughput workload's). */
  processorEvents: number;
  lagSeconds: number;
  stamp: string;
  timeoutMs: number;
}

/** Lag at half the processor's rate, then throughput. */
export async function runProjectionStep(opts: ProjectionStepOptions): Promise<ProjectionResult> {
  const progress = (line: string): void => console.log(line);
  const codec = await createProcessorCodec(opts.channel, { events: '', changelog: opts.changelogTopic, deadLetter: '', commands: [] });
  const mongo = new MongoClient(opts.mongodbUrl, { serverSelectionTimeoutMS: 10_000, retryWrites: false });
  const collections: SagaCollection[] = [];
  const result: ProjectionResult = {
    system: 'projection',
    startedAt: new Date().toISOString(),
    server: '',
    changelogTopic: opts.changelogTopic,
    records: 0,
    sagas: 0,
    seconds: 0,
    recordsPerSecond: 0,
    steadyRecordsPerSecond: null,
    sagasWritten: 0,
    sagasStale: 0,
    processorEventsPerSecond: opts.processorEventsPerSecond,
    processorEvents: opts.processorEvents,
    processorRecordsPerSecond: 0,
    complete: false,
    timeline: [],
  };
  let client: BrokerClient | undefined;
  try {
    result.server = await serverName(mongo);
    progress(`[projection] reading ${opts.changelogTopic}`);
    const records = await readChangelog(opts.bench, opts.changelogTopic, codec);
    result.records = records.length;
    result.sagas = latestBySaga(records).size;
    result.processorRecordsPerSecond = (opts.processorEventsPerSecond * records.length) / Math.max(1, opts.processorEvents);
    progress(`[projection] ${fmt(records.length)} records of ${fmt(result.sagas)} sagas; projecting them into ${result.server}`);
    client = await createBrokerClient(DEFAULT_KAFKA_CLIENT, { brokers: opts.bench.brokers, clientId: `bench-${opts.stamp}-projection`, logger: silent });
    const ctx: Context = { bench: opts.bench, client, mongo, codec, stamp: opts.stamp, progress, collections };
    // Lag first, on an idle server: after the throughput run the server is still busy with
    // 100,000 fresh documents (checkpoints, eviction) for a while, which no steady load has.
    const rate = result.processorRecordsPerSecond / 2;
    progress(`[projection] lag: replaying ${opts.lagSeconds} s of records at ${fmt(rate)} records/s`);
    result.lag = await measureLag(ctx, opts.changelogTopic, records, rate, opts.lagSeconds);
    progress(`[projection] lag p50 ${fmt(result.lag.p50Ms)} ms, p99 ${fmt(result.lag.p99Ms)} ms, max ${fmt(result.lag.maxMs)} ms, ${result.lag.missing} missing`);
    await measureThroughput(ctx, opts.changelogTopic, records, result, opts.timeoutMs);
    progress(`[projection] ${fmt(result.recordsPerSecond)} records/s (steady ${result.steadyRecordsPerSecond === null ? '—' : fmt(result.steadyRecordsPerSecond)}), ${result.complete ? 'complete' : 'INCOMPLETE'}`);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    console.error(`[projection] ${result.error}`);
  } finally {
    for (const collection of collections) await collection.drop().catch(() => undefined);
    await client?.close();
    await mongo.close();
  }
  return result;
}

/** Deletes what a throughput run kept for this step (runSystem with `keep`): its topics, group and folder. */
export async function discardRun(bench: BenchKafka, runId: string): Promise<void> {
  await deleteTopics(bench.admin, [`${runId}-events`, `${runId}-commands`, `${runId}-sagas-changelog`, `${runId}-dead-letter`, `${runId}-instances`]);
  await deleteGroups(bench.admin, [runId]);
  rmSync(join(repoRoot, '.sagaflow', 'bench', runId), { recursive: true, force: true });
}

/** Whether the figures meet the goal: draining the changelog at least as fast as the processor writes it, lag p99 under 1 s. */
export function meetsGoal(r: ProjectionResult): boolean {
  return r.error === undefined && r.complete && r.recordsPerSecond >= r.processorRecordsPerSecond && r.lag !== undefined && r.lag.missing === 0 && r.lag.p99Ms < 1000;
}

export function projectionMarkdown(r: ProjectionResult, chart: string): string[] {
  if (r.error) return ['## Projection into the MongoDB-compatible server', '', `failed: ${r.error}`, ''];
  const lag = r.lag;
  return [
    '## Projection into the MongoDB-compatible server',
    '',
    '| figure | value |',
    '|---|---:|',
    `| server | ${r.server} |`,
    `| changelog | ${fmt(r.records)} records, ${fmt(r.sagas)} sagas |`,
    `| projection records/s (whole changelog) | **${fmt(r.recordsPerSecond)}** |`,
    `| projection steady records/s (10 %–90 %) | ${r.steadyRecordsPerSecond === null ? '—' : fmt(r.steadyRecordsPerSecond)} |`,
    `| processor steady events/s (same session), events read for this changelog | ${fmt(r.processorEventsPerSecond)}, ${fmt(r.processorEvents)} |`,
    `| processor changelog records/s at that rate (events/s x records / events) | ${fmt(r.processorRecordsPerSecond)} |`,
    `| projection / processor (changelog records/s) | ${(r.recordsPerSecond / Math.max(1, r.processorRecordsPerSecond)).toFixed(2)} |`,
    `| saga documents written / stale | ${fmt(r.sagasWritten)} / ${fmt(r.sagasStale)} |`,
    `| latest revision of every saga stored | ${r.complete ? 'yes' : '**no**'} |`,
    ...(lag
      ? [
          `| lag at ${fmt(lag.targetRecordsPerSecond)} records/s (achieved ${fmt(lag.achievedRecordsPerSecond)}), ${fmt(lag.records)} records | p50 ${fmt(lag.p50Ms)} ms, p95 ${fmt(lag.p95Ms)} ms, **p99 ${fmt(lag.p99Ms)} ms**, max ${fmt(lag.maxMs)} ms, ${lag.missing} missing |`,
        ]
      : []),
    `| goal (records/s >= the processor's changelog records/s, lag p99 < 1 s) | ${meetsGoal(r) ? 'met' : '**not met**'} |`,
    '',
    'The processor writes one changelog record per saga per transaction, so it writes fewer records ' +
      'than it reads events; the projection is compared with the records/s it writes. Lag: from the ' +
      'transaction holding a changelog record committing to the sink having stored that revision of ' +
      "the saga (or a newer one), with the changelog replayed at half the processor's changelog rate.",
    '',
    `![projection](${chart})`,
    '',
  ];
}

export function projectionChart(r: ProjectionResult): string {
  return groupedBarChart(`Projection into ${r.server || 'the MongoDB-compatible server'} (${fmt(r.records)} changelog records)`, 'records/s', [
    {
      label: 'rate',
      values: [
        { series: 'processor (steady events/s)', value: r.processorEventsPerSecond },
        { series: 'processor (changelog records/s)', value: r.processorRecordsPerSecond },
        { series: 'projection (records/s)', value: r.recordsPerSecond },
      ],
    },
  ]);
}

async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      changelog: { type: 'string' },
      'processor-rate': { type: 'string' },
      'processor-events': { type: 'string', default: String(DEFAULT_PROCESSOR_EVENTS) },
      mongodb: { type: 'string', default: process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/sagaflow_bench?directConnection=true' },
      'lag-seconds': { type: 'string', default: '30' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      flow: { type: 'string', default: 'reservation' },
      timeout: { type: 'string', default: '900' },
      out: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
    },
  });
  if (!values.changelog || !values['processor-rate']) {
    console.error('usage: node benchmarks/projection.ts --changelog <topic> --processor-rate <events/s> [--mongodb URL] [--lag-seconds 30]');
    return 2;
  }
  const flowPath = resolve(repoRoot, FLOWS[values.flow] ?? values.flow);
  const config = loadSagaConfig(flowPath);
  const channel = config.communicationProtocols.find((p): p is KafkaProtocol => p.type === 'kafka');
  if (!channel) throw new Error(`${flowPath}: no kafka channel`);
  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  const stamp = runStamp();
  let result: ProjectionResult;
  try {
    result = await runProjectionStep({
      bench,
      channel,
      changelogTopic: values.changelog,
      mongodbUrl: values.mongodb,
      processorEventsPerSecond: Number(values['processor-rate']),
      processorEvents: Number(values['processor-events']),
      lagSeconds: Number(values['lag-seconds']),
      stamp,
      timeoutMs: Number(values.timeout) * 1000,
    });
  } finally {
    await bench.close();
  }
  if (!values['no-record']) {
    const dir = resolve(values.out ?? join(repoRoot, 'benchmarks', 'results'));
    mkdirSync(dir, { recursive: true });
    const file = record([], { config, sagas: result.sagas, ...DEFAULT_WORKLOAD }, flowPath, undefined, { kind: 'projection', projection: result }, dir);
    const chart = `${basename(file, '.json')}-projection.svg`;
    writeFileSync(join(dir, chart), projectionChart(result));
    const md = join(dir, `${basename(file, '.json')}-projection.md`);
    writeFileSync(md, [`# Projection benchmark, ${result.startedAt.slice(0, 10)}`, '', `Command: \`node benchmarks/projection.ts ${argv.join(' ')}\`.`, '', ...projectionMarkdown(result, chart)].join('\n'));
    console.log(`recorded in ${relative(repoRoot, file)}; report ${relative(repoRoot, md)}`);
  }
  return meetsGoal(result) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
