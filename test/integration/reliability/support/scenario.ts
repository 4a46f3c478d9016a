import { setTimeout as delay } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { SagaDocument } from '../../../../src/saga/types.ts';
import { registerCleanup } from '../../../support/cleanup.ts';
import { kafkaClient } from '../../../support/kafka.ts';
import { uniqueName } from '../../../support/names.ts';
import { uniqueFlow } from '../../../support/sagaflow.ts';
import { services } from '../../../support/services.ts';
import { chaosSeed } from './chaos.ts';
import { reservationSagaJson, runDirectory, SagaflowCluster } from './cluster.ts';
import { checkProjection, checkProjectionDetects, readProjection, waitProjected } from './projection.ts';
import type { ScenarioProjection } from './projection.ts';
import { MonotonicReader } from './reader.ts';
import { checkRun, checkRunDetects, collectRun, deadLetterCodes, serverErrors, waitAllFinal } from './verify.ts';
import type { HttpTally, RunRecords } from './verify.ts';
import { Tickers } from './tickers.ts';
import { jsonCodec, planWorkload, produceCreations, startWorkers } from './workload.ts';
import type { PlannedSaga, WorkerStats } from './workload.ts';

export interface ScenarioContext {
  cluster: SagaflowCluster;
  /** True once every creation event is produced. */
  productionDone: () => boolean;
  log: (line: string) => void;
}

export interface ScenarioOptions {
  /** Client of the broker under test (workers, producer, verification). */
  kafka: Kafka;
  brokers: string[];
  topics: { events: string; commands: string; applicationId: string };
  /** Directory for saga.json, state and logs. */
  dir: string;
  instances: readonly string[];
  partitions: number;
  sagas: number;
  seed: number;
  /** Creations produced per second. */
  rate: number;
  /** What happens to the cluster while the workload runs; resolves to counts for the report. */
  disrupt: (ctx: ScenarioContext) => Promise<Record<string, number>>;
  finalTimeoutMs: number;
  log: (line: string) => void;
  /** Called with resources to release when the caller's test ends (whatever the outcome). */
  onCleanup: (cleanup: () => Promise<void>) => void;
  /** Also read sagas continuously and check that no read goes back in time. */
  monotonicReads?: boolean;
  /** Ticker sagas (see Tickers): their revision moves all run long, so a stale read shows, and every event counts. */
  tickers?: number;
  logLevel?: string;
  instanceEnv?: Record<string, string>;
  /** Environment of one instance (see ClusterOptions.memberEnv). */
  memberEnv?: (member: { name: string; port: number }) => Promise<Record<string, string>>;
  /** Per instance name, a script run instead of bin/sagaflow.js (see SagaflowCluster.start). */
  entries?: Readonly<Record<string, string>>;
  sagaJson: Record<string, unknown>;
  /**
   * Project sagas into MongoDB inside every instance (saga.json's persistencyManagement is
   * replaced by `persistency`), and at the end check the collection against the served sagas.
   */
  projection?: ScenarioProjection;
}

export interface ProjectionOutcome {
  /** How the collection differs from the served sagas (see checkProjection); must be empty. */
  problems: string[];
  /** Ways in which checkProjection failed to notice a tampered projection (must be empty). */
  detectorFailures: string[];
  /** From the end of the store checks until every saga was projected at its served revision (or the deadline). */
  drainMs: number;
  caughtUp: boolean;
  documents: number;
}

export interface ScenarioResult {
  sagas: PlannedSaga[];
  disruption: Record<string, number>;
  problems: string[];
  /** Ways in which checkRun failed to notice tampered data (must be empty). */
  detectorFailures: string[];
  /** Non-200 answers while waiting for the end, and of the monotonic reader. */
  answers: HttpTally;
  serverErrors: string[];
  staleReads: string[];
  reads: number;
  deadLetters: Map<string, number>;
  records: RunRecords;
  workers: WorkerStats;
  cluster: SagaflowCluster;
  /** Present when the scenario ran with `projection`. */
  projection?: ProjectionOutcome;
  durationMs: number;
}

/** The options every scenario on the shared broker starts from, and the pieces tests use themselves. */
export interface ScenarioSetup {
  seed: number;
  flow: { events: string; commands: string; applicationId: string };
  dir: string;
  brokers: string[];
  log: (line: string) => void;
  options: Pick<ScenarioOptions, 'kafka' | 'brokers' | 'topics' | 'dir' | 'sagaJson' | 'seed' | 'log' | 'onCleanup'>;
}

/**
 * The prologue of a reliability scenario on the shared broker: a chaos seed (printed, to replay
 * the run), topics and a run directory of its own, a log prefixed with `label` and the seed, and
 * the reservation saga on those topics.
 */
export function scenarioSetup(name: string, label: string = name): ScenarioSetup {
  const seed = chaosSeed();
  const flow = uniqueFlow(name);
  const dir = runDirectory(uniqueName(name));
  const log = (line: string) => console.log(`[${label} seed=${seed}] ${line}`);
  log(`logs in ${dir}`);
  const brokers = services().kafkaBrokers;
  const sagaJson = reservationSagaJson({ brokers, events: flow.events, commands: flow.commands, applicationId: flow.applicationId });
  return { seed, flow, dir, brokers, log, options: { kafka: kafkaClient(), brokers, topics: flow, dir, sagaJson, seed, log, onCleanup: registerCleanup } };
}

/**
 * One reliability run: a cluster of `sagaflow start` processes over a generated reservation
 * workload, with workers answering commands, while `disrupt` kills, restarts or otherwise
 * disturbs things; then waits for every saga to end and checks the outcome (see checkRun).
 */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const { kafka, topics, log } = opts;
  const cluster = new SagaflowCluster({
    dir: opts.dir,
    partitions: opts.partitions,
    sagaJson: opts.projection ? { ...opts.sagaJson, persistencyManagement: opts.projection.persistency } : opts.sagaJson,
    projection: opts.projection !== undefined,
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    ...(opts.instanceEnv ? { env: opts.instanceEnv } : {}),
    ...(opts.memberEnv ? { memberEnv: opts.memberEnv } : {}),
  });
  opts.onCleanup(() => cluster.close());
  for (const name of opts.instances) {
    const entry = opts.entries?.[name];
    await cluster.start(name, entry === undefined ? {} : { entry });
  }
  await cluster.waitAllReady(120_000);
  log(`${opts.instances.length} instances ready`);

  const codec = await jsonCodec(opts.brokers);
  const { worker, stats } = await startWorkers({
    brokers: opts.brokers,
    codec,
    commandsTopic: topics.commands,
    eventsTopic: topics.events,
    groupId: `${topics.applicationId}-workers`,
  });
  opts.onCleanup(() => worker.stop());
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  opts.onCleanup(() => producer.disconnect());

  const sagas = planWorkload(topics.applicationId, opts.sagas, opts.seed);
  let produced = 0;
  const reader = new MonotonicReader();
  const urls = () => cluster.running().map((m) => m.url);
  // A producer of its own: concurrent sends on one idempotent kafkajs producer can fail with
  // OUT_OF_ORDER_SEQUENCE_NUMBER after a broker restart (sagaflow serialises its own).
  const tickProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await tickProducer.connect();
  opts.onCleanup(() => tickProducer.disconnect());
  const tickers = new Tickers({ prefix: topics.applicationId, count: opts.tickers ?? 0, producer: tickProducer, codec, topic: topics.events });
  await tickers.start();
  const readable = () => {
    const created = sagas.slice(0, produced).map((s) => s.sagaId);
    // Half of the reads on tickers, whose revision moves all the time.
    return tickers.ids.length > 0 && Math.random() < 0.5 ? tickers.ids : created;
  };
  if (opts.monotonicReads) reader.start(readable, urls);
  log('workers, producers and tickers running');

  const chunk = Math.max(1, Math.round(opts.rate / 4));
  const production = (async () => {
    for (let i = 0; i < sagas.length; i += chunk) {
      const next = sagas.slice(i, i + chunk);
      for (let attempt = 0; ; attempt += 1) {
        try {
          await produceCreations(producer, codec, topics.events, next);
          break;
        } catch (err) {
          // Only the broker-restart scenario gets here; the idempotent producer keeps order.
          if (attempt > 240) throw err;
          await delay(500);
        }
      }
      produced = Math.min(sagas.length, i + chunk);
      await delay(250);
    }
  })();
  const disruption = await opts.disrupt({ cluster, productionDone: () => produced >= sagas.length, log });
  await production;
  await tickers.stop();
  log(`${produced} sagas produced; ${JSON.stringify(disruption)}; waiting for every saga to end`);

  const answers: HttpTally = new Map();
  const served = await waitAllFinal(sagas, urls, opts.finalTimeoutMs, answers);
  const tickersServed = await tickers.waitServed(urls, opts.finalTimeoutMs);
  await reader.stop();
  for (const [key, n] of reader.answers) answers.set(key, (answers.get(key) ?? 0) + n);
  log('every saga is final; reading the topics');
  const records = await collectRun({
    kafka,
    codec,
    topics: { commands: topics.commands, changelog: `${topics.applicationId}-sagas-changelog`, deadLetter: `${topics.applicationId}-dead-letter` },
  });
  const problems = [...checkRun({ sagas, served, records, otherKeys: new Set(tickers.ids) }), ...tickers.check(tickersServed, records)];
  const detectorFailures = checkRunDetects({ sagas, served, records });
  const projection = opts.projection ? await verifyProjection(opts.projection, new Map([...served, ...tickersServed]), log) : undefined;
  const result: ScenarioResult = {
    sagas,
    disruption,
    problems,
    detectorFailures,
    answers,
    serverErrors: serverErrors(answers),
    staleReads: reader.staleReads,
    reads: reader.reads,
    deadLetters: deadLetterCodes(records),
    records,
    workers: stats,
    cluster,
    ...(projection ? { projection } : {}),
    durationMs: Date.now() - started,
  };
  log(
    `${sagas.length} sagas verified in ${Math.round(result.durationMs / 1000)} s: ${records.commands.length} commands, ` +
      `${records.changelogRecords} changelog records, ${stats.commands} commands seen by workers, ` +
      `cluster ${JSON.stringify(cluster.counters)}, answers ${JSON.stringify([...answers])}, ` +
      `${reader.reads} monotonic reads, ${tickers.total} ticks, dead letters ${JSON.stringify([...result.deadLetters])}` +
      (projection ? `, projection ${projection.documents} documents drained in ${(projection.drainMs / 1000).toFixed(1)} s` : ''),
  );
  return result;
}

/**
 * Once the stores are verified, the projection must reach them: the projectors died with
 * their instances and resumed from their group's committed offsets, so waiting is bounded
 * by how fast the MongoDB server writes (FerretDB: tens of sagas a second).
 */
async function verifyProjection(target: ScenarioProjection, expected: Map<string, SagaDocument>, log: (line: string) => void): Promise<ProjectionOutcome> {
  const wait = await waitProjected(target.collection, expected, { timeoutMs: target.timeoutMs, log });
  const projected = await readProjection(target.collection);
  return {
    problems: checkProjection({ expected, projected }),
    detectorFailures: checkProjectionDetects({ expected, projected }),
    drainMs: wait.ms,
    caughtUp: wait.caughtUp,
    documents: projected.length,
  };
}

