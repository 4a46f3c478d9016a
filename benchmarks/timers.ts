/**
 * The suite's `timers` step: one sagaflow instance holding 100,000 sagas that each wait on a
 * state timeout, and how those timeouts fire.
 *
 *   node benchmarks/timers.ts [--sagas 100000 | --quick] [--spread-seconds 60] [--lead <s>]
 *     [--phases together,spread] [--brokers 127.0.0.1:9092] [--timeout 600] [--out DIR] [--no-record]
 *
 * The tutorial reservation flow (flows/reservation.saga.json) gets a timeout on its initial
 * state reservationCreated: validationKO after an hour, which leads to the final
 * reservationFailed. No service answers the validateReservation commands, so every saga's
 * timeout fires. A timeout counts from the saga's entry into the state, and a creation enters
 * it at its record's timestamp: creations produced with timestamp = due time - 1 h get the due
 * time the benchmark chose. Two phases, each on fresh topics with a fresh instance (`sagaflow
 * start` as a child process, the default Kafka client):
 *
 * - together: every saga due at the same instant;
 * - spread: due times spread evenly over --spread-seconds.
 *
 * In both, the creations are produced, committed by the instance and their changelog records
 * read before the first due time (--lead after the first creation is produced), so every timer
 * is pending then. Measured: the instance's RSS (ready, timers pending, peak while firing);
 * firing lag = due time -> the saga's reservationFailed revision read from the changelog by a
 * read_committed consumer in this process (so it includes that consumer's read latency);
 * firings per second from the first due time to the last firing read; and that every saga
 * fired exactly once, cross-checked with the instance's /-/metrics.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { KafkaProtocol, SagaConfig } from '../src/definition/types.ts';
import { DEFAULT_COMMIT_INTERVAL_MS, DEFAULT_TIMER_INTERVAL_MS } from '../src/engine/processor.ts';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { groupedBarChart, lineChart } from './charts.ts';
import { committedOffsets, connectOrExplain, createTopics, deleteGroups, deleteTopics, produceAll, runStamp, silenceKafkajsTimeoutWarnings, type BenchKafka } from './kafka.ts';
import { latencyStats, type LatencyStats } from './latency.ts';
import { repoRoot } from './perf-tools.ts';
import { machineCpuSeconds, pidListeningOn, sampleProc } from './proc.ts';
import { endProgress, fmt, progress, record } from './run.ts';
import { startSystem, type StartedSystem } from './systems.ts';
import { DEFAULT_WORKLOAD, emptySummary, FLOWS, generateWorkload, loadSagaConfig, type WorkloadOptions } from './workload.ts';

/** The timeout's `after`: long enough that every creation timestamp (due time - this) lies in the past. */
export const TIMEOUT_AFTER_MS = 3_600_000;
const TIMEOUT = { state: 'reservationCreated', event: 'validationKO' } as const;
export const PHASES = ['together', 'spread'] as const;
export type Phase = (typeof PHASES)[number];

/** A changelog record of a saga in the final state the timeout leads to, and when it was read. */
export interface FinalRecord {
  sagaId: string;
  at: number;
}

export interface FiringCheck {
  expected: number;
  /** Sagas read in the final state exactly once. */
  once: number;
  /** Sagas never read in the final state. */
  missing: number;
  /** Sagas read in the final state more than once. */
  twice: number;
  /** Final-state records of sagas the phase did not create. */
  unexpected: number;
  ok: boolean;
}

export interface FiringAnalysis {
  check: FiringCheck;
  /** Due time -> first read, per saga read. */
  lag: LatencyStats;
  /** First due time -> last firing read. */
  seconds: number;
  firingsPerSecond: number;
  /** [seconds since the first due time, sagas read fired by then], at most TIMELINE_POINTS + 1 steps of 100 ms or more. */
  timeline: [number, number][];
}

const TIMELINE_POINTS = 60;

/**
 * Every saga of `dueBySaga` (sagaId -> due time, ms) must be read in its final state once, and
 * no other saga. Lag is taken from each saga's first read; firings per second are the sagas read
 * over the time from the first due time to the last read.
 */
export function analyzeFirings(dueBySaga: ReadonlyMap<string, number>, finals: readonly FinalRecord[]): FiringAnalysis {
  const reads = new Map<string, { count: number; first: number }>();
  let unexpected = 0;
  for (const r of finals) {
    if (!dueBySaga.has(r.sagaId)) {
      unexpected += 1;
      continue;
    }
    const seen = reads.get(r.sagaId);
    if (seen) {
      seen.count += 1;
      seen.first = Math.min(seen.first, r.at);
    } else reads.set(r.sagaId, { count: 1, first: r.at });
  }
  let once = 0;
  let twice = 0;
  const lags: number[] = [];
  let firstDue = Infinity;
  let lastRead = -Infinity;
  for (const [sagaId, due] of dueBySaga) {
    firstDue = Math.min(firstDue, due);
    const seen = reads.get(sagaId);
    if (!seen) continue;
    if (seen.count === 1) once += 1;
    else twice += 1;
    // Not clamped at 0: a firing read before its due time would be a bug, and must show.
    lags.push(seen.first - due);
    lastRead = Math.max(lastRead, seen.first);
  }
  const expected = dueBySaga.size;
  const missing = expected - reads.size;
  const seconds = reads.size === 0 ? 0 : Math.max(0, lastRead - firstDue) / 1000;
  const timeline: [number, number][] = [];
  if (reads.size > 0) {
    const stepMs = Math.max(100, Math.ceil((seconds * 1000) / TIMELINE_POINTS / 100) * 100);
    const firsts = [...reads.values()].map((r) => r.first - firstDue).sort((a, b) => a - b);
    let i = 0;
    for (let t = 0; ; t += stepMs) {
      while (i < firsts.length && (firsts[i] ?? Infinity) <= t) i++;
      timeline.push([t / 1000, i]);
      if (i === firsts.length) break;
    }
  }
  return {
    check: { expected, once, missing, twice, unexpected, ok: expected > 0 && once === expected && twice === 0 && unexpected === 0 },
    lag: latencyStats(lags),
    seconds,
    firingsPerSecond: seconds > 0 ? reads.size / seconds : 0,
    timeline,
  };
}

/** The flow with a timeout on `state` that delivers `event`, which must lead to a final state (returned). */
export function flowWithTimeout(config: SagaConfig, state: string, event: string, afterMs: number): { config: SagaConfig; finalState: string } {
  const copy = structuredClone(config);
  const states = copy.machineDefinition.states;
  const spec = states.find((s) => s.id === state);
  if (!spec || spec.isFinal) throw new Error(`"${state}" is not a non-final state of the flow`);
  const target = states.find((s) => s.id === spec.outgoingTransitions?.find((t) => t.inputEvent === event)?.targetState);
  if (!target?.isFinal) throw new Error(`"${event}" does not lead "${state}" to a final state`);
  spec.timeout = { after: afterMs, event };
  return { config: copy, finalState: target.id };
}

/** An unlabelled sample of a Prometheus text exposition; undefined when absent. */
export function promSample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** The smallest bucket bound (seconds) of histogram `name` that holds at least `p` % of its observations. */
export function histogramBound(text: string, name: string, p: number): number | undefined {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))].map((m) => [Number(m[1]), Number(m[2])] as const);
  const count = promSample(text, `${name}_count`) ?? 0;
  if (count === 0) return undefined;
  return buckets.find(([, n]) => n >= (p / 100) * count)?.[0];
}

/** What the instance says at /-/metrics after the phase. */
export interface EngineTimerFigures {
  scheduled: number;
  fired: number;
  stale: number;
  /** sagaflow_timer_firing_lag_seconds: due time -> firing in the task, before its commit. */
  lagMeanMs: number;
  /** Upper bounds of the histogram buckets holding 50 % and 99 % of the firings. */
  lagP50UpToMs: number | undefined;
  lagP99UpToMs: number | undefined;
}

export function engineTimerFigures(text: string): EngineTimerFigures {
  const lag = 'sagaflow_timer_firing_lag_seconds';
  const count = promSample(text, `${lag}_count`) ?? 0;
  const ms = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
  return {
    scheduled: promSample(text, 'sagaflow_timers_scheduled_total') ?? 0,
    fired: promSample(text, 'sagaflow_timers_fired_total') ?? 0,
    stale: promSample(text, 'sagaflow_timers_stale_total') ?? 0,
    lagMeanMs: count === 0 ? Number.NaN : ((promSample(text, `${lag}_sum`) ?? 0) * 1000) / count,
    lagP50UpToMs: ms(histogramBound(text, lag, 50)),
    lagP99UpToMs: ms(histogramBound(text, lag, 99)),
  };
}

export interface TimersPhaseResult {
  phase: Phase;
  sagas: number;
  /** Due times spread evenly over this long from the first one (0: all at once). */
  spreadSeconds: number;
  /** First creation produced -> first due time, chosen before producing. */
  leadSeconds: number;
  startupSeconds: number;
  /** First creation produced -> every creation committed by the instance. */
  creationSeconds: number;
  /** Last creation's changelog record read -> first due time: positive when every timer was pending. */
  pendingMarginSeconds: number;
  rss: { readyMB: number; pendingMB: number; peakFiringMB: number; hwmMB: number };
  /** The instance's V8 heap in use (nodejs_heap_size_used_bytes at /-/metrics): the JS share of RSS. */
  heapUsed: { pendingMB: number; afterMB: number };
  analysis?: FiringAnalysis;
  /** Instance CPU from the first due time to the last firing read. */
  cpuCores: number;
  cpuMicrosPerFiring: number;
  brokerCpuSeconds?: number;
  /** Busy cores of everything but the instance, the broker and this process, same window. */
  otherCpuCores?: number;
  engine?: EngineTimerFigures;
  /** Changelog records read, by the saga's state. */
  changelogByState: Record<string, number>;
  ok: boolean;
  error?: string;
}

export interface TimersResult {
  system: 'timers';
  startedAt: string;
  client: string;
  flow: string;
  timeout: { state: string; event: string; afterMs: number; finalState: string };
  commitIntervalMs: number;
  timerIntervalMs: number;
  loadAverage: number;
  phases: TimersPhaseResult[];
  ok: boolean;
}

export const phaseOk = (p: TimersPhaseResult): boolean =>
  p.error === undefined && p.pendingMarginSeconds > 0 && p.analysis?.check.ok === true && p.engine?.fired === p.sagas;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const mb = (bytes: number | undefined) => (bytes ?? 0) / 2 ** 20;

interface RawRecord {
  key: string;
  value: Buffer;
  at: number;
}

interface ChangelogWatch {
  /** Every record read so far, in the order read. */
  readonly records: RawRecord[];
  stop(): Promise<void>;
}

/** A read_committed consumer of the changelog from its beginning that stamps each fetched batch with its arrival time. */
async function watchChangelog(bench: BenchKafka, topic: string): Promise<ChangelogWatch> {
  const groupId = `${topic}-watch-${process.pid}`;
  // A short maxWait: an empty fetch parks at the broker that long, and a firing committed
  // meanwhile is read only when the next fetch answers.
  const consumer = bench.kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 50, maxBytes: 50 * 1024 * 1024 });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    const fetching = new Promise<void>((resolveFetch) => {
      const off = consumer.on(consumer.events.FETCH, () => {
        off();
        resolveFetch();
      });
    });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        // Decoding waits until the phase is over: here it would delay the next batches' stamps.
        const at = Date.now();
        for (const m of batch.messages) if (m.key && m.value) records.push({ key: m.key.toString('utf8'), value: m.value, at });
      },
    });
    await Promise.race([fetching, sleep(60_000).then(() => Promise.reject(new Error(`the changelog consumer did not fetch from ${topic} within 60 s`)))]);
  } catch (err) {
    await consumer.disconnect();
    throw err;
  }
  return {
    records,
    async stop() {
      await consumer.disconnect();
      await deleteGroups(bench.admin, [groupId]);
    },
  };
}

export interface TimersOptions {
  bench: BenchKafka;
  brokers: string;
  sagas: number;
  spreadMs: number;
  /** First creation produced -> first due time; default from the number of sagas (see defaultLeadMs). */
  leadMs?: number;
  phases: readonly Phase[];
  stamp: string;
  /** Longest wait for the firings after the last due time. */
  timeoutMs: number;
  progress?: (line: string) => void;
}

/**
 * Time to produce and commit the creations, with room on a loaded machine: 15 s plus 2,000
 * creations a second (a quarter of what the suite's memory step saw this machine commit).
 */
export const defaultLeadMs = (sagas: number): number => 15_000 + (sagas / 2_000) * 1000;

interface PhaseContext extends TimersOptions {
  phase: Phase;
  leadMs: number;
  config: SagaConfig;
  finalState: string;
  flowPath: string;
  channel: KafkaProtocol;
}

async function runPhase(o: PhaseContext): Promise<TimersPhaseResult> {
  const tag = `timers-${o.phase}`;
  const say = o.progress ?? progress;
  const runId = `bench-${o.stamp}-${tag}`;
  const eventsTopic = `${runId}-events`;
  const commandsTopic = `${runId}-commands`;
  const workDir = join(repoRoot, '.sagaflow', 'bench', runId);
  const workload: WorkloadOptions = { ...DEFAULT_WORKLOAD, config: o.config, sagas: o.sagas, liveOnly: true };
  const summary = emptySummary(workload.partitions);
  const creations = [...generateWorkload(workload, summary)];
  const spreadMs = o.phase === 'together' ? 0 : o.spreadMs;
  const result: TimersPhaseResult = {
    phase: o.phase,
    sagas: o.sagas,
    spreadSeconds: spreadMs / 1000,
    leadSeconds: o.leadMs / 1000,
    startupSeconds: 0,
    creationSeconds: 0,
    pendingMarginSeconds: 0,
    rss: { readyMB: 0, pendingMB: 0, peakFiringMB: 0, hwmMB: 0 },
    heapUsed: { pendingMB: 0, afterMB: 0 },
    cpuCores: 0,
    cpuMicrosPerFiring: 0,
    changelogByState: {},
    ok: false,
  };
  mkdirSync(workDir, { recursive: true });
  let system: StartedSystem | undefined;
  let watch: ChangelogWatch | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    await createTopics(o.bench.admin, [eventsTopic, commandsTopic], workload.partitions);
    system = await startSystem('sagaflow', {
      brokers: o.brokers,
      runId,
      eventsTopic,
      commandsTopic,
      flowPath: o.flowPath,
      config: o.config,
      summary,
      workDir,
      threads: 1,
      instances: 1,
      nodeArgs: [],
      client: DEFAULT_KAFKA_CLIENT,
    });
    const { logFile, groupId } = system;
    const [child] = system.children;
    const url = system.urls[0];
    const changelogTopic = system.ownTopics[0] ?? '';
    if (!child || !url) throw new Error('no sagaflow process started');
    const alive = (): void => {
      if (child.exited()) throw new Error(`sagaflow exited with code ${child.exitCode()}; see ${logFile}`);
    };
    const rssMB = () => mb(sampleProc(child.pid)?.rssBytes);
    const metrics = async () => (await fetch(`${url}/-/metrics`)).text();
    const heapMB = (text: string) => mb(promSample(text, 'nodejs_heap_size_used_bytes'));
    const readyAt = await Promise.race([child.ready, sleep(300_000).then(() => Promise.reject(new Error(`sagaflow not ready after 300 s; see ${logFile}`)))]);
    result.startupSeconds = (readyAt - child.startedAt) / 1000;
    result.rss.readyMB = rssMB();
    const brokerPid = pidListeningOn(Number(o.brokers.split(',')[0]?.split(':')[1] ?? 9092));
    watch = await watchChangelog(o.bench, changelogTopic);
    const records = watch.records;

    // Due times are fixed here, before anything is produced: the creation timestamps carry them.
    const producedFrom = Date.now();
    // Whole milliseconds: record timestamps are integers (a fraction fails the send).
    const firstDue = producedFrom + Math.round(o.leadMs);
    const dueBySaga = new Map<string, number>();
    const timed = creations.map((m, i) => {
      const due = firstDue + Math.floor((i * spreadMs) / o.sagas);
      dueBySaga.set(m.key, due);
      return { ...m, timestamp: String(due - TIMEOUT_AFTER_MS) };
    });
    const lastDue = firstDue + Math.floor(((o.sagas - 1) * spreadMs) / o.sagas);
    let shown = 0;
    await produceAll(o.bench, eventsTopic, timed, (n) => {
      if (Date.now() - shown < 5000) return;
      shown = Date.now();
      say(`[${tag}] producing the creations: ${fmt(n)}/${fmt(o.sagas)}`);
    });

    // Pending: every creation committed (offsets) and its changelog record read.
    const ends = summary.eventsPerPartition;
    for (;;) {
      alive();
      const committed = await committedOffsets(o.bench.admin, groupId, eventsTopic, workload.partitions);
      const done = committed.reduce((n, c, p) => n + Math.min(c, ends[p] ?? 0), 0);
      if (done >= o.sagas) break;
      if (Date.now() - shown >= 5000) {
        shown = Date.now();
        say(`[${tag}] creations committed ${fmt(done)}/${fmt(o.sagas)}, first due in ${fmt((firstDue - Date.now()) / 1000, 1)} s, rss ${fmt(rssMB())} MB`);
      }
      if (Date.now() > lastDue + o.timeoutMs) throw new Error(`the creations were not committed by the deadline (${fmt(done)}/${fmt(o.sagas)})`);
      await sleep(100);
    }
    result.creationSeconds = (Date.now() - producedFrom) / 1000;
    while (records.length < o.sagas) {
      alive();
      if (Date.now() > firstDue + o.timeoutMs) throw new Error(`only ${fmt(records.length)} of ${fmt(o.sagas)} creation records read from ${changelogTopic}`);
      await sleep(50);
    }
    result.pendingMarginSeconds = (firstDue - Date.now()) / 1000;
    say(`[${tag}] ${fmt(o.sagas)} creations committed in ${fmt(result.creationSeconds, 1)} s; first due in ${fmt(result.pendingMarginSeconds, 1)} s`);
    if (result.pendingMarginSeconds <= 0) {
      throw new Error(`the creations were read ${fmt(-result.pendingMarginSeconds, 1)} s after the first due time, so not every timer was pending then: give a longer --lead than ${fmt(o.leadMs / 1000)} s`);
    }
    while (Date.now() < firstDue - 1000) {
      alive();
      if (Date.now() - shown >= 5000) {
        shown = Date.now();
        say(`[${tag}] ${fmt(o.sagas)} timers pending, first due in ${fmt((firstDue - Date.now()) / 1000, 1)} s, rss ${fmt(rssMB())} MB`);
      }
      await sleep(Math.min(500, firstDue - 1000 - Date.now()));
    }
    result.rss.pendingMB = rssMB();
    result.heapUsed.pendingMB = heapMB(await metrics());
    await sleep(firstDue - Date.now());

    // Firing: until every saga's final record (plus the creations) is read, or the deadline.
    const at0 = { instance: sampleProc(child.pid)?.cpuSeconds ?? 0, broker: brokerPid === undefined ? undefined : sampleProc(brokerPid)?.cpuSeconds, machine: machineCpuSeconds().busy, self: process.cpuUsage() };
    let peak = 0;
    sampler = setInterval(() => (peak = Math.max(peak, sampleProc(child.pid)?.rssBytes ?? 0)), 200);
    let last = { t: Date.now(), read: 0 };
    const expected = 2 * o.sagas;
    while (records.length < expected) {
      alive();
      if (Date.now() > lastDue + o.timeoutMs) {
        // The check below says which sagas are missing.
        console.error(`[${tag}] ${fmt(records.length - o.sagas)} of ${fmt(o.sagas)} firings read ${fmt(o.timeoutMs / 1000)} s after the last due time; giving up`);
        break;
      }
      await sleep(100);
      const t = Date.now();
      if (t - last.t >= 5000) {
        const read = records.length - o.sagas;
        const due = spreadMs === 0 ? o.sagas : Math.min(o.sagas, Math.ceil(((t - firstDue) * o.sagas) / spreadMs));
        say(`[${tag}] ${fmt((t - firstDue) / 1000, 1)} s after the first due time: ${fmt(read)}/${fmt(due)} due fired (read), ${fmt(((read - last.read) * 1000) / (t - last.t))}/s, rss ${fmt(rssMB())} MB`);
        last = { t, read };
      }
    }
    const window = (Date.now() - firstDue) / 1000;
    const at1 = { instance: sampleProc(child.pid)?.cpuSeconds ?? 0, broker: brokerPid === undefined ? undefined : sampleProc(brokerPid)?.cpuSeconds, machine: machineCpuSeconds().busy, self: process.cpuUsage(at0.self) };
    clearInterval(sampler);
    result.rss.peakFiringMB = mb(peak);
    const cpu = at1.instance - at0.instance;
    result.cpuCores = cpu / window;
    result.cpuMicrosPerFiring = (cpu * 1e6) / o.sagas;
    if (at0.broker !== undefined && at1.broker !== undefined) result.brokerCpuSeconds = at1.broker - at0.broker;
    const self = (at1.self.user + at1.self.system) / 1e6;
    result.otherCpuCores = Math.max(0, at1.machine - at0.machine - cpu - (result.brokerCpuSeconds ?? 0) - self) / window;
    // A firing repeated would write a second final record: keep reading a while to see one.
    await sleep(3000);
    result.rss.hwmMB = mb(sampleProc(child.pid)?.peakRssBytes);
    const after = await metrics();
    result.engine = engineTimerFigures(after);
    result.heapUsed.afterMB = heapMB(after);
    await watch.stop();
    watch = undefined;

    const codec = await createProcessorCodec(o.channel, { events: '', changelog: changelogTopic, deadLetter: '', commands: [] });
    const finals: FinalRecord[] = [];
    for (const r of records) {
      const saga = await codec.decodeSaga(changelogTopic, r.value);
      result.changelogByState[saga.currentState] = (result.changelogByState[saga.currentState] ?? 0) + 1;
      if (saga.currentState === o.finalState) finals.push({ sagaId: r.key, at: r.at });
    }
    result.analysis = analyzeFirings(dueBySaga, finals);
    const { check, lag } = result.analysis;
    endProgress();
    say(
      `[${tag}] lag p50 ${fmt(lag.p50Ms)} ms, p99 ${fmt(lag.p99Ms)} ms, max ${fmt(lag.maxMs)} ms; ${fmt(result.analysis.firingsPerSecond)} firings/s; ` +
        `once ${fmt(check.once)}, missing ${check.missing}, twice ${check.twice}, unexpected ${check.unexpected}; metrics fired ${fmt(result.engine.fired)}`,
    );
  } catch (err) {
    endProgress();
    result.error = err instanceof Error ? err.message : String(err);
    console.error(`[${tag}] ${result.error}`);
  } finally {
    clearInterval(sampler);
    await watch?.stop().catch(() => undefined);
    await Promise.all((system?.children ?? []).map((c) => c.stop()));
    await deleteTopics(o.bench.admin, [eventsTopic, commandsTopic, ...(system?.ownTopics ?? [])]);
    if (system) await deleteGroups(o.bench.admin, [system.groupId]);
  }
  result.ok = phaseOk(result);
  if (result.ok) rmSync(workDir, { recursive: true, force: true });
  else console.error(`[${tag}] check failed; logs kept in ${relative(repoRoot, workDir)}`);
  return result;
}

/** Both phases, one after the other; the spread phase's lead follows from the together phase's creation time. */
export async function runTimers(opts: TimersOptions): Promise<TimersResult> {
  const flowPath = resolve(repoRoot, FLOWS.reservation ?? '');
  const base = loadSagaConfig(flowPath);
  const channel = base.communicationProtocols.find((p): p is KafkaProtocol => p.type === 'kafka');
  if (!channel) throw new Error(`${flowPath}: no kafka channel`);
  const { config, finalState } = flowWithTimeout(base, TIMEOUT.state, TIMEOUT.event, TIMEOUT_AFTER_MS);
  const result: TimersResult = {
    system: 'timers',
    startedAt: new Date().toISOString(),
    client: DEFAULT_KAFKA_CLIENT,
    flow: relative(repoRoot, flowPath),
    timeout: { ...TIMEOUT, afterMs: TIMEOUT_AFTER_MS, finalState },
    commitIntervalMs: DEFAULT_COMMIT_INTERVAL_MS,
    timerIntervalMs: DEFAULT_TIMER_INTERVAL_MS,
    loadAverage: loadavg()[0] ?? 0,
    phases: [],
    ok: false,
  };
  let leadMs = opts.leadMs ?? defaultLeadMs(opts.sagas);
  for (const phase of opts.phases) {
    const p = await runPhase({ ...opts, phase, leadMs, config, finalState, flowPath, channel });
    result.phases.push(p);
    // Half as long again as the last phase took to make its timers pending, and 10 s.
    if (opts.leadMs === undefined && p.error === undefined) leadMs = Math.max(15_000, Math.round((p.leadSeconds - p.pendingMarginSeconds) * 1500 + 10_000));
  }
  result.ok = result.phases.length > 0 && result.phases.every(phaseOk);
  return result;
}

const phaseLabel = (p: TimersPhaseResult): string => (p.spreadSeconds === 0 ? 'due together' : `spread over ${fmt(p.spreadSeconds)} s`);

export function timersMarkdown(r: TimersResult, charts: { lag: string; firings: string }): string[] {
  const title = `## Timers: ${fmt(Math.max(0, ...r.phases.map((p) => p.sagas)))} pending timeouts in one sagaflow instance`;
  if (r.phases.length === 0) return [title, '', 'no phase ran', ''];
  // A phase that failed before its firings were read has no figure worth showing.
  const row = (figure: string, cell: (p: TimersPhaseResult) => string) => `| ${figure} | ${r.phases.map((p) => (p.error && !p.analysis ? '—' : cell(p))).join(' | ')} |`;
  const num = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '—' : fmt(n, digits));
  return [
    title,
    '',
    `Flow \`${r.flow}\` with \`timeout: {after: "${fmt(r.timeout.afterMs / 60_000)}m", event: "${r.timeout.event}"}\` on \`${r.timeout.state}\`, ` +
      `which leads to the final \`${r.timeout.finalState}\`; no service answers. Each phase on fresh topics and a fresh instance ` +
      `(${r.client}, commit interval ${r.commitIntervalMs} ms, due timers looked for every ${r.timerIntervalMs} ms and after each batch); ` +
      `creation timestamps set so that each saga comes due when the phase says. Load average ${fmt(r.loadAverage, 2)} at the start.`,
    '',
    `| figure | ${r.phases.map(phaseLabel).join(' | ')} |`,
    `|---|${r.phases.map(() => '---:').join('|')}|`,
    `| sagas | ${r.phases.map((p) => fmt(p.sagas)).join(' | ')} |`,
    row('creations committed (first produced -> last committed)', (p) => `${fmt(p.creationSeconds, 1)} s, ${fmt(p.sagas / Math.max(p.creationSeconds, 0.001))}/s`),
    row('every timer pending, first due after', (p) => `${fmt(p.pendingMarginSeconds, 1)} s`),
    row('RSS MB: ready / timers pending / peak while firing', (p) => `${fmt(p.rss.readyMB)} / **${fmt(p.rss.pendingMB)}** / ${fmt(p.rss.peakFiringMB)}`),
    row('peak RSS MB over the run (VmHWM)', (p) => fmt(p.rss.hwmMB)),
    row('JS heap used MB: timers pending / after firing', (p) => `${fmt(p.heapUsed.pendingMB)} / ${fmt(p.heapUsed.afterMB)}`),
    row('firing lag min / p50 / p95 / **p99** / max ms', (p) =>
      p.analysis ? `${fmt(p.analysis.lag.minMs)} / ${fmt(p.analysis.lag.p50Ms)} / ${fmt(p.analysis.lag.p95Ms)} / **${fmt(p.analysis.lag.p99Ms)}** / ${fmt(p.analysis.lag.maxMs)}` : '—',
    ),
    row('firings/s (first due -> last firing read)', (p) => (p.analysis ? `**${fmt(p.analysis.firingsPerSecond)}**${p.spreadSeconds > 0 ? ` (due at ${fmt(p.sagas / p.spreadSeconds)}/s)` : ''}, over ${fmt(p.analysis.seconds, 1)} s` : '—')),
    row('instance CPU while firing: cores, µs per firing', (p) => `${fmt(p.cpuCores, 2)}, ${fmt(p.cpuMicrosPerFiring)}`),
    row('broker CPU s / other load (cores), same window', (p) => `${num(p.brokerCpuSeconds, 1)} / ${num(p.otherCpuCores, 2)}`),
    row('read once / missing / twice / unexpected', (p) => (p.analysis ? `${fmt(p.analysis.check.once)} / ${p.analysis.check.missing} / ${p.analysis.check.twice} / ${p.analysis.check.unexpected}` : '—')),
    row('/-/metrics timers scheduled / fired / stale', (p) => (p.engine ? `${fmt(p.engine.scheduled)} / ${fmt(p.engine.fired)} / ${fmt(p.engine.stale)}` : '—')),
    row('/-/metrics firing lag: mean ms, p50 / p99 within bucket ms', (p) => (p.engine ? `${num(p.engine.lagMeanMs)}, ≤ ${num(p.engine.lagP50UpToMs)} / ≤ ${num(p.engine.lagP99UpToMs)}` : '—')),
    `| check | ${r.phases.map((p) => (phaseOk(p) ? 'ok' : `**failed**${p.error ? `: ${p.error}` : ''}`)).join(' | ')} |`,
    '',
    'Firing lag: from a saga\'s due time to its `' + r.timeout.finalState + '` revision read from the changelog by a read_committed ' +
      'consumer (kafkajs, in the benchmark process, fetch wait 50 ms): it includes the instance\'s tick and transaction commit and that ' +
      'consumer\'s read latency. The instance\'s own histogram (`sagaflow_timer_firing_lag_seconds`) stops at the firing in the task, ' +
      'before the commit. The check: every saga read in the final state exactly once (a repeated firing would write a second record), ' +
      'none missing, none unknown, and `sagaflow_timers_fired_total` equal to the sagas. Other load: the machine\'s busy CPU minus the ' +
      'instance, the broker and the benchmark process.',
    '',
    `![timer firing lag](${charts.lag})`,
    '',
    `![timer firings over time](${charts.firings})`,
    '',
  ];
}

export function timersCharts(r: TimersResult): { lag: string; firings: string } {
  const analyzed = r.phases.filter((p): p is TimersPhaseResult & { analysis: FiringAnalysis } => p.analysis !== undefined);
  const sagas = fmt(Math.max(0, ...r.phases.map((p) => p.sagas)));
  const spread = analyzed.find((p) => p.spreadSeconds > 0);
  return {
    lag: groupedBarChart(
      `Timer firing lag, ${sagas} sagas: due time -> firing read read_committed`,
      'ms',
      analyzed.map((p) => ({
        label: phaseLabel(p),
        values: [
          { series: 'p50', value: p.analysis.lag.p50Ms },
          { series: 'p95', value: p.analysis.lag.p95Ms },
          { series: 'p99', value: p.analysis.lag.p99Ms },
        ],
      })),
    ),
    firings: lineChart(`Timer firings read, ${sagas} sagas per phase`, {
      xLabel: 'seconds since the first due time',
      yLabel: 'sagas fired (read)',
      series: [
        ...analyzed.map((p) => ({ name: `${phaseLabel(p)}: fired`, points: p.analysis.timeline })),
        ...(spread ? [{ name: `${phaseLabel(spread)}: due`, dashed: true, points: [[0, 0], [spread.spreadSeconds, spread.sagas]] as [number, number][] }] : []),
      ],
    }),
  };
}

async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      sagas: { type: 'string' },
      'spread-seconds': { type: 'string' },
      lead: { type: 'string' },
      phases: { type: 'string', default: PHASES.join(',') },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      timeout: { type: 'string', default: '600' },
      out: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
    },
  });
  const phases = values.phases.split(',').map((s) => s.trim());
  const unknown = phases.find((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown !== undefined) {
    console.error(`unknown phase "${unknown}"; choose among ${PHASES.join(', ')}`);
    return 2;
  }
  const sagas = Number(values.sagas ?? (values.quick ? 10_000 : 100_000));
  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  let result: TimersResult;
  try {
    result = await runTimers({
      bench,
      brokers: values.brokers,
      sagas,
      spreadMs: Number(values['spread-seconds'] ?? (values.quick ? 10 : 60)) * 1000,
      ...(values.lead === undefined ? {} : { leadMs: Number(values.lead) * 1000 }),
      phases: phases as Phase[],
      stamp: runStamp(),
      timeoutMs: Number(values.timeout) * 1000,
    });
  } finally {
    await bench.close();
  }
  const charts = timersCharts(result);
  const command = `node benchmarks/timers.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
  if (values['no-record']) {
    console.log(['', ...timersMarkdown(result, { lag: 'lag.svg', firings: 'firings.svg' })].join('\n'));
  } else {
    // A quick run checks the wiring: its figures are not worth keeping beside the real ones.
    const dir = resolve(values.out ?? join(repoRoot, values.quick ? '.sagaflow/bench/results' : 'benchmarks/results'));
    const file = record([], { ...DEFAULT_WORKLOAD, config: loadSagaConfig(resolve(repoRoot, result.flow)), sagas }, resolve(repoRoot, result.flow), undefined, { kind: 'timers', timers: result }, dir);
    const stem = basename(file, '.json');
    const files = { lag: `${stem}-timers-lag.svg`, firings: `${stem}-timers-firings.svg` };
    writeFileSync(join(dir, files.lag), charts.lag);
    writeFileSync(join(dir, files.firings), charts.firings);
    const md = join(dir, `${stem}-timers.md`);
    const markdown = [`# Timers benchmark, ${result.startedAt.slice(0, 10)}`, '', `Command: \`${command}\`.`, '', ...timersMarkdown(result, files)].join('\n');
    writeFileSync(md, markdown);
    console.log(`\n${markdown}\nrecorded in ${relative(repoRoot, file)}; report ${relative(repoRoot, md)}; charts ${files.lag}, ${files.firings}`);
  }
  return result.ok ? 0 : 1;
}

// Everything is reported by now: exit even if a kafkajs socket or timer of a cleaned-up client
// is still pending (seen now and then after a run, holding the process for minutes).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
