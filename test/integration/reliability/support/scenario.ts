import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Kafka } from 'kafkajs';
import type { SagaDocument } from '../../../../src/saga/types.ts';
import { SagaflowCluster } from './cluster.ts';
import { MonotonicReader } from './reader.ts';
import { checkRun, checkRunDetects, collectRun, deadLetterCodes, serverErrors, waitAllFinal } from './verify.ts';
import type { HttpTally, RunRecords } from './verify.ts';
import { getSaga } from './verify.ts';
import { jsonCodec, planSaga, planWorkload, produceCreations, startWorkers } from './workload.ts';
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
  /**
   * Sagas that stay in their first state and receive a stream of "tick" events the state does
   * not accept, each recorded in the saga (one revision more): their revision keeps moving
   * during the whole run, which makes stale reads visible, and must end at exactly 1 + ticks
   * (each event applied once, none lost).
   */
  tickers?: number;
  logLevel?: string;
  instanceEnv?: Record<string, string>;
  sagaJson: Record<string, unknown>;
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
  durationMs: number;
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
    sagaJson: opts.sagaJson,
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    ...(opts.instanceEnv ? { env: opts.instanceEnv } : {}),
  });
  opts.onCleanup(() => cluster.close());
  for (const name of opts.instances) await cluster.start(name);
  await cluster.waitAllReady(120_000);

  const codec = await jsonCodec(opts.brokers);
  const { worker, stats } = await startWorkers({
    kafka,
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
  const tickers = Array.from({ length: opts.tickers ?? 0 }, (_, i) => planSaga(`${topics.applicationId}-ticker-${i}`, 'hold'));
  const ticks = new Map<string, number>(tickers.map((t) => [t.sagaId, 0]));
  let ticking = tickers.length > 0;
  if (tickers.length > 0) await produceCreations(producer, codec, topics.events, tickers);
  const ticker = (async () => {
    for (let round = 0; ticking; round += 1) {
      const messages = await Promise.all(
        tickers.map(async (t) => {
          const n = (ticks.get(t.sagaId) ?? 0) + 1;
          return { sagaId: t.sagaId, n, message: { key: t.sagaId, value: await codec.encodeEvent(topics.events, { messageLabel: 'tick', messagePayload: { n }, eventId: `${t.sagaId}/tick/${n}` }) } };
        }),
      );
      try {
        await producer.send({ topic: topics.events, messages: messages.map((m) => m.message) });
        for (const m of messages) ticks.set(m.sagaId, m.n);
      } catch {
        // Broker away: the idempotent producer may or may not have written them; a retry with
        // the same eventIds is harmless (duplicates are refused), so send them again.
        await delay(500);
        continue;
      }
      await delay(200);
    }
  })();
  const readable = () => {
    const created = sagas.slice(0, produced).map((s) => s.sagaId);
    // Half of the reads on tickers, whose revision moves all the time.
    return tickers.length > 0 && Math.random() < 0.5 ? tickers.map((t) => t.sagaId) : created;
  };
  if (opts.monotonicReads) reader.start(readable, urls);

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
  ticking = false;
  await ticker;
  log(`${produced} sagas produced; ${JSON.stringify(disruption)}; waiting for every saga to end`);

  const answers: HttpTally = new Map();
  const served = await waitAllFinal(sagas, urls, opts.finalTimeoutMs, answers);
  const tickersServed = await waitTickers(ticks, urls, opts.finalTimeoutMs);
  await reader.stop();
  for (const [key, n] of reader.answers) answers.set(key, (answers.get(key) ?? 0) + n);
  const records = await collectRun({
    kafka,
    codec,
    topics: { commands: topics.commands, changelog: `${topics.applicationId}-sagas-changelog`, deadLetter: `${topics.applicationId}-dead-letter` },
  });
  const problems = [...checkRun({ sagas, served, records, otherKeys: new Set(ticks.keys()) }), ...checkTickers(ticks, tickersServed, records)];
  const detectorFailures = checkRunDetects({ sagas, served, records });
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
    durationMs: Date.now() - started,
  };
  log(
    `${sagas.length} sagas verified in ${Math.round(result.durationMs / 1000)} s: ${records.commands.length} commands, ` +
      `${records.changelogRecords} changelog records, ${stats.commands} commands seen by workers, ` +
      `cluster ${JSON.stringify(cluster.counters)}, answers ${JSON.stringify([...answers])}, ` +
      `${reader.reads} monotonic reads, ${[...ticks.values()].reduce((a, b) => a + b, 0)} ticks, dead letters ${JSON.stringify([...result.deadLetters])}`,
  );
  return result;
}

/** Waits until every ticker is served at revision 1 + its ticks (or the deadline passes). */
async function waitTickers(ticks: Map<string, number>, urls: () => string[], timeoutMs: number): Promise<Map<string, SagaDocument>> {
  const served = new Map<string, SagaDocument>();
  const deadline = Date.now() + timeoutMs;
  for (const [sagaId, n] of ticks) {
    for (;;) {
      const candidates = urls();
      const url = candidates[Math.floor(Math.random() * candidates.length)];
      const saga = url ? await getSaga(url, sagaId).then((r) => r.saga).catch(() => undefined) : undefined;
      if (saga) served.set(sagaId, saga);
      if ((saga && saga.revision >= 1 + n) || Date.now() > deadline) break;
      await delay(250);
    }
  }
  return served;
}

/** Every tick applied exactly once; the one command of a ticker sent exactly once. */
function checkTickers(ticks: Map<string, number>, served: Map<string, SagaDocument>, records: RunRecords): string[] {
  const problems: string[] = [];
  for (const [sagaId, n] of ticks) {
    const saga = served.get(sagaId);
    if (!saga) {
      problems.push(`ticker ${sagaId}: not served`);
      continue;
    }
    if (saga.revision !== 1 + n) problems.push(`ticker ${sagaId}: revision ${saga.revision} after ${n} ticks, expected ${1 + n}`);
    if (saga.currentState !== 'reservationCreated') problems.push(`ticker ${sagaId}: state ${saga.currentState}`);
    const last = saga.ignoredEvents.at(-1);
    if (n > 0 && last?.eventId !== `${sagaId}/tick/${n}`) problems.push(`ticker ${sagaId}: last recorded event ${JSON.stringify(last)}, expected tick ${n}`);
    const commands = records.commands.filter((c) => c.key === sagaId).map((c) => `${c.label}|${c.revision}`);
    if (!isDeepStrictEqual(commands, ['validateReservation|1'])) problems.push(`ticker ${sagaId}: commands ${JSON.stringify(commands)}`);
    if (!isDeepStrictEqual(records.changelog.get(sagaId), saga)) problems.push(`ticker ${sagaId}: changelog latest differs from the served document`);
  }
  return problems;
}
