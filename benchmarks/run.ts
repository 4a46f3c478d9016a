/**
 * Processing-throughput benchmark: for each system, fresh topics, the pre-produced workload
 * as a backlog, then the system is started and measured until its consumer group has
 * committed the end of the events topic. Records to benchmarks/results/<date>.json.
 *
 *   node benchmarks/run.ts [--systems kafka-perf,passthrough,kafka-streams] [--flow reservation]
 *     [--sagas 20000] [--seed 42] [--partitions 12] [--threads 1] [--instances 1] [--restore]
 *     [--brokers 127.0.0.1:9092] [--timeout 600] [--keep] [--no-record]
 *
 * The whole suite (throughput, latency, restore, scaling, memory, charts) is suite.ts.
 *
 * Measures per system: events processed/s and sagas completed/s from "ready" to "all
 * committed" (and a steady rate between 10 % and 90 % of the events), the system's CPU
 * time and peak RSS from /proc, the broker's CPU time over the same window, and checks the
 * output topic (read_committed) holds exactly the expected records.
 */
import type { ClientName } from '../src/broker/ports.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { committedOffsets, connectOrExplain, runStamp, silenceKafkajsTimeoutWarnings, countCommitted, createTopics, deleteGroups, deleteTopics, endOffsets, produceAll, type BenchKafka } from './kafka.ts';
import { consumerPerf, producerPerf, repoRoot, type ConsumerPerfResult, type ProducerPerfResult } from './perf-tools.ts';
import { machineCpuSeconds, pidListeningOn, sampleProc } from './proc.ts';
import { SYSTEMS, startSystem, type SystemContext, type SystemName } from './systems.ts';
import { DEFAULT_WORKLOAD, emptySummary, FLOWS, generateWorkload, loadSagaConfig, sagasCompleted, type WorkloadOptions, type WorkloadSummary } from './workload.ts';

export interface SystemResult {
  system: SystemName;
  /** The Kafka client sagaflow or the pass-through ran on. */
  client?: ClientName;
  /** Set on the sagaflow result of the default client. */
  default?: true;
  startedAt: string;
  flow: string;
  threads?: number;
  /** Processes in the consumer group (sagaflow scaling runs). */
  instances?: number;
  sagas: number;
  events: number;
  startupSeconds: number;
  processingSeconds: number;
  eventsPerSecond: number;
  sagasPerSecond: number;
  /** Rate between 10 % and 90 % of the events committed: excludes warm-up and tail.
   * Null when the run was too short to see both points in distinct samples. */
  steadyEventsPerSecond: number | null;
  /** CPU time of the system's process while processing (ready -> done). */
  cpuSeconds: number;
  /** cpuSeconds / processingSeconds: cores kept busy on average. */
  cpuCores: number;
  cpuMicrosPerEvent: number;
  /** Including start-up. */
  totalCpuSeconds: number;
  /** The largest VmHWM among the system's processes. */
  peakRssMB: number;
  brokerCpuSeconds?: number;
  /** Cores kept busy by everything else on the machine while processing: a noise indicator. */
  otherCpuCores?: number;
  /** 1-minute load average when the system started. */
  loadAverage: number;
  /** [seconds since ready, events committed], about every half second. */
  timeline: [number, number][];
  output: { topic: string; expected: number; got: number; ok: boolean; byLabel: Record<string, number> };
  selfReported?: string;
  /** RSS and state on disk when the committed events first reached each of `milestones`. */
  memory?: MemorySample[];
  /** A second start with an empty state directory, rebuilding the store from the changelog. */
  restore?: RestoreResult;
  error?: string;
}

export interface MemorySample {
  /** Events committed; in a live-only workload, the number of live sagas. */
  events: number;
  rssMB: number;
  stateOnDiskMB: number;
}

export interface RestoreResult {
  /** Changelog records in the topic, read_committed (what a fresh store has to read). */
  changelogRecords: number;
  /** Spawn to ready with an empty state directory. */
  readySeconds: number;
  /** readySeconds minus the first start's startupSeconds (same process, empty changelog). */
  restoreSeconds: number;
  /** Null when the restore took less than start-up jitter (a small changelog). */
  recordsPerSecond: number | null;
  /** sagaflow logs each partition's restore: records over the sum of the partitions' restore times. */
  perPartition?: { partitions: number; records: number; slowestMs: number; recordsPerSecondPerPartition: number };
  error?: string;
}

export interface KafkaPerfResult {
  system: 'kafka-perf';
  startedAt: string;
  records: number;
  recordSize: number;
  partitions: number;
  producer: ProducerPerfResult;
  transactionalProducer: ProducerPerfResult;
  consumer: ConsumerPerfResult;
}

export interface RunOptions {
  bench: BenchKafka;
  brokers: string;
  workload: WorkloadOptions;
  flowPath: string;
  threads: number;
  /** sagaflow processes (scaling); other systems always run one. */
  instances: number;
  nodeArgs: string[];
  /** The Kafka client of sagaflow and the pass-through (default: sagaflow's default). */
  client?: ClientName;
  /** After processing, measure a fresh instance's restore from the changelog. */
  restore: boolean;
  /** Names the run's topics and progress lines (default: the system, and its instance count). */
  tag?: string;
  /** Committed-event counts at which to sample RSS and the state folder's size. */
  milestones?: number[];
  timeoutMs: number;
  keep: boolean;
  stamp: string;
}

const isTTY = process.stdout.isTTY === true;

export function progress(line: string): void {
  if (isTTY) process.stdout.write(`\r${line.padEnd(118).slice(0, 118)}`);
  else console.log(line);
}

export function endProgress(): void {
  if (isTTY) process.stdout.write('\n');
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function prepareTopics(opts: RunOptions, name: string): Promise<{ eventsTopic: string; commandsTopic: string; summary: WorkloadSummary; runId: string }> {
  const runId = `bench-${opts.stamp}-${name}`;
  const eventsTopic = `${runId}-events`;
  const commandsTopic = `${runId}-commands`;
  const partitions = opts.workload.partitions;
  await createTopics(opts.bench.admin, [eventsTopic, commandsTopic], partitions);
  const summary = emptySummary(partitions);
  const began = Date.now();
  let shown = 0;
  await produceAll(opts.bench, eventsTopic, generateWorkload(opts.workload, summary), (n) => {
    if (!isTTY && Date.now() - shown < 5000) return;
    shown = Date.now();
    progress(`[${name}] producing the workload: ${fmt(n)} events`);
  });
  if (shown > 0) endProgress();
  const seconds = (Date.now() - began) / 1000;
  console.log(`[${name}] produced ${fmt(summary.events)} events for ${fmt(summary.sagas)} sagas in ${fmt(seconds, 1)} s`);
  const ends = await endOffsets(opts.bench.admin, eventsTopic);
  summary.eventsPerPartition.forEach((n, p) => {
    // The saga-completion count relies on each record landing at its predicted offset.
    if (ends[p] !== n) throw new Error(`${eventsTopic}[${p}] ends at ${ends[p]} but ${n} records were produced: the topic was not fresh or a send was retried`);
  });
  return { eventsTopic, commandsTopic, summary, runId };
}

/**
 * Runs one system over a fresh copy of the workload and measures it. The system runs as a
 * child process (see systems.ts for how each one is started).
 */
export async function runSystem(name: SystemName, opts: RunOptions): Promise<SystemResult> {
  const instances = name === 'sagaflow' ? Math.max(1, opts.instances) : 1;
  const client = name === 'kafka-streams' ? undefined : (opts.client ?? DEFAULT_KAFKA_CLIENT);
  const base = client ? `${name}-${client}` : name;
  const tag = opts.tag ?? (instances > 1 ? `${base}-x${instances}` : base);
  const { eventsTopic, commandsTopic, summary, runId } = await prepareTopics(opts, tag);
  const workDir = join(repoRoot, '.sagaflow', 'bench', runId);
  mkdirSync(workDir, { recursive: true });
  const ctx: SystemContext = {
    brokers: opts.brokers,
    runId,
    eventsTopic,
    commandsTopic,
    flowPath: opts.flowPath,
    config: opts.workload.config,
    summary,
    workDir,
    threads: opts.threads,
    instances,
    nodeArgs: opts.nodeArgs,
    ...(client ? { client } : {}),
  };
  const partitions = opts.workload.partitions;
  const brokerPid = pidListeningOn(Number(opts.brokers.split(',')[0]?.split(':')[1] ?? 9092));
  const startedAt = new Date().toISOString();
  const system = await startSystem(name, ctx);
  const { children } = system;
  const pids = children.map((c) => c.pid);
  // CPU is summed over the system's processes, RSS is the largest of them.
  const cpuOf = (): number => pids.reduce((n, pid) => n + (sampleProc(pid)?.cpuSeconds ?? 0), 0);
  const rssOf = (field: 'rssBytes' | 'peakRssBytes'): number => Math.max(0, ...pids.map((pid) => sampleProc(pid)?.[field] ?? 0));
  const firstStart = Math.min(...children.map((c) => c.startedAt));
  const result: SystemResult = {
    system: name,
    ...(client ? { client } : {}),
    ...(name === 'sagaflow' && client === DEFAULT_KAFKA_CLIENT ? { default: true as const } : {}),
    startedAt,
    flow: relative(repoRoot, opts.flowPath),
    ...(name === 'kafka-streams' ? { threads: opts.threads } : {}),
    ...(name === 'sagaflow' ? { instances } : {}),
    sagas: summary.sagas,
    events: summary.events,
    startupSeconds: 0,
    processingSeconds: 0,
    eventsPerSecond: 0,
    sagasPerSecond: 0,
    steadyEventsPerSecond: null,
    cpuSeconds: 0,
    cpuCores: 0,
    cpuMicrosPerEvent: 0,
    totalCpuSeconds: 0,
    peakRssMB: 0,
    loadAverage: loadavg()[0] ?? 0,
    timeline: [],
    output: { topic: commandsTopic, expected: system.expectedOutput.records, got: 0, ok: false, byLabel: {} },
  };
  try {
    // With several instances, processing starts when the first one is ready (the others
    // join and rebalance while it works): that is when the clock starts.
    const readyAt = await Promise.race([
      Promise.race(children.map((c) => c.ready)),
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`${name} not ready after ${opts.timeoutMs} ms; see ${system.logFile}`)), opts.timeoutMs)),
    ]);
    result.startupSeconds = (readyAt - firstStart) / 1000;
    const cpuAtReady = cpuOf();
    const brokerCpuAtReady = brokerPid === undefined ? undefined : sampleProc(brokerPid)?.cpuSeconds;
    const machineAtReady = machineCpuSeconds();
    let at10: number | undefined;
    let at90: number | undefined;
    let doneAt: number | undefined;
    let last = { t: readyAt, events: 0 };
    let lastPrint = 0;
    const milestones = [...(opts.milestones ?? [])].sort((a, b) => a - b);
    while (doneAt === undefined) {
      const gone = children.find((c) => c.exited());
      if (gone) throw new Error(`${gone.name} exited with code ${gone.exitCode()} while processing; see ${system.logFile}`);
      const now = Date.now();
      if (now - readyAt > opts.timeoutMs) throw new Error(`${name} did not finish within ${opts.timeoutMs} ms; see ${system.logFile}`);
      const committed = await committedOffsets(opts.bench.admin, system.groupId, eventsTopic, partitions);
      const t = Date.now();
      const events = committed.reduce((n, c, p) => n + Math.min(c, summary.eventsPerPartition[p] ?? 0), 0);
      if (at10 === undefined && events >= summary.events * 0.1) at10 = t;
      if (at90 === undefined && events >= summary.events * 0.9) at90 = t;
      if (events >= summary.events) doneAt = t;
      while (milestones.length > 0 && events >= (milestones[0] ?? Infinity)) {
        const at = milestones.shift() ?? 0;
        (result.memory ??= []).push({ events: at, rssMB: rssOf('rssBytes') / 2 ** 20, stateOnDiskMB: folderBytes(workDir) / 2 ** 20 });
      }
      const lastPoint = result.timeline[result.timeline.length - 1];
      if (!lastPoint || t - readyAt - lastPoint[0] * 1000 >= 500 || doneAt !== undefined) {
        result.timeline.push([Math.round(t - readyAt) / 1000, events]);
      }
      if (t - lastPrint >= (isTTY ? 250 : 5000) || doneAt !== undefined) {
        const rate = t > last.t ? ((events - last.events) * 1000) / (t - last.t) : 0;
        const sagas = sagasCompleted(summary, committed);
        progress(
          `[${tag}] ${fmt(events)}/${fmt(summary.events)} events (${fmt((100 * events) / summary.events, 1)}%)  ` +
            `${fmt(rate)} ev/s  sagas ${fmt(sagas)}/${fmt(summary.sagas)}  ` +
            `cpu ${fmt(cpuOf(), 1)} s  rss ${fmt(rssOf('rssBytes') / 2 ** 20)} MB`,
        );
        last = { t, events };
        lastPrint = t;
      }
      if (doneAt === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    endProgress();
    const finalCpu = cpuOf();
    const finalPeakRss = rssOf('peakRssBytes');
    const brokerCpuAtDone = brokerPid === undefined ? undefined : sampleProc(brokerPid)?.cpuSeconds;
    const machineAtDone = machineCpuSeconds();
    result.processingSeconds = (doneAt - readyAt) / 1000;
    result.eventsPerSecond = summary.events / result.processingSeconds;
    result.sagasPerSecond = summary.sagas / result.processingSeconds;
    // Offsets move in commit-sized steps; below ~2 s between the two points the rate is noise.
    if (at10 !== undefined && at90 !== undefined && at90 - at10 >= 2000) result.steadyEventsPerSecond = (0.8 * summary.events * 1000) / (at90 - at10);
    result.totalCpuSeconds = finalCpu;
    result.cpuSeconds = result.totalCpuSeconds - cpuAtReady;
    result.cpuCores = result.cpuSeconds / result.processingSeconds;
    result.cpuMicrosPerEvent = (result.cpuSeconds * 1e6) / summary.events;
    result.peakRssMB = finalPeakRss / 2 ** 20;
    if (brokerCpuAtReady !== undefined && brokerCpuAtDone !== undefined) result.brokerCpuSeconds = brokerCpuAtDone - brokerCpuAtReady;
    const others = machineAtDone.busy - machineAtReady.busy - result.cpuSeconds - (result.brokerCpuSeconds ?? 0);
    result.otherCpuCores = Math.max(0, others) / result.processingSeconds;
  } catch (err) {
    endProgress();
    result.error = err instanceof Error ? err.message : String(err);
    console.error(`[${tag}] ${result.error}`);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
  result.selfReported = system.lastCounts();
  if (!result.error) {
    const out = await countCommitted(opts.bench, system.outputTopic, system.expectedOutput.records);
    result.output.got = out.records;
    result.output.byLabel = out.byLabel;
    const expectedLabels = system.expectedOutput.byLabel;
    result.output.ok =
      out.records === system.expectedOutput.records &&
      (expectedLabels === undefined || Object.entries(expectedLabels).every(([label, n]) => out.byLabel[label] === n));
    if (!result.output.ok) console.error(`[${tag}] output check failed: expected ${system.expectedOutput.records} records, read ${out.records}`);
  }
  if (!result.error && opts.restore && name !== 'passthrough') {
    result.restore = await measureRestore(name, ctx, opts, result.startupSeconds, system.ownTopics[0] ?? '');
  }
  if (!opts.keep) {
    await deleteTopics(opts.bench.admin, [eventsTopic, commandsTopic, ...system.ownTopics]);
    await deleteGroups(opts.bench.admin, [system.groupId]);
    rmSync(workDir, { recursive: true, force: true });
  }
  return result;
}

/** Bytes of the files under `dir` (the systems' state folders live in the run's workDir). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(entry.parentPath, entry.name)).size;
    } catch {
      // RocksDB deletes files while compacting: a file gone between listing and stat.
    }
  }
  return total;
}

/**
 * Starts the system again, alone, with an empty state directory: it must rebuild its store
 * from the changelog before it reports ready. Same definition for every system: spawn to
 * ready, minus the first start's start-up time (which had an empty changelog).
 */
async function measureRestore(name: SystemName, ctx: SystemContext, opts: RunOptions, startupSeconds: number, changelogTopic: string): Promise<RestoreResult> {
  const restore: RestoreResult = { changelogRecords: 0, readySeconds: 0, restoreSeconds: 0, recordsPerSecond: 0 };
  progress(`[${name}] restore: counting the changelog ${changelogTopic}`);
  restore.changelogRecords = (await countCommitted(opts.bench, changelogTopic, Number.MAX_SAFE_INTEGER, { idleMs: 3000 })).records;
  const workDir = join(ctx.workDir, 'restore');
  mkdirSync(workDir, { recursive: true });
  // sagaflow logs each partition's restore at info level.
  const again = await startSystem(name, { ...ctx, workDir, instances: 1, nodeArgs: [] }, { logLevel: 'info' });
  const [child] = again.children;
  try {
    if (!child) throw new Error('no process started');
    progress(`[${name}] restore: a fresh instance rebuilds ${fmt(restore.changelogRecords)} records`);
    const readyAt = await Promise.race([
      child.ready,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`not ready after ${opts.timeoutMs} ms; see ${again.logFile}`)), opts.timeoutMs)),
    ]);
    endProgress();
    restore.readySeconds = (readyAt - child.startedAt) / 1000;
    restore.restoreSeconds = Math.max(0, restore.readySeconds - startupSeconds);
    // Below a quarter of a second the difference is start-up jitter, not restore time.
    restore.recordsPerSecond = restore.restoreSeconds < 0.25 ? null : restore.changelogRecords / restore.restoreSeconds;
  } catch (err) {
    endProgress();
    restore.error = err instanceof Error ? err.message : String(err);
    console.error(`[${name}] restore: ${restore.error}`);
  } finally {
    await child?.stop();
  }
  if (name === 'sagaflow' && existsSync(again.logFile)) {
    const partitions = readFileSync(again.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('partition restored'))
      .map((l) => JSON.parse(l) as { records: number; durationMs: number });
    if (partitions.length > 0) {
      const records = partitions.reduce((n, p) => n + p.records, 0);
      const slowestMs = Math.max(1, ...partitions.map((p) => p.durationMs));
      const totalMs = Math.max(1, partitions.reduce((n, p) => n + p.durationMs, 0));
      restore.perPartition = { partitions: partitions.length, records, slowestMs, recordsPerSecondPerPartition: Math.round(records / (totalMs / 1000)) };
    }
  }
  return restore;
}

export async function runKafkaPerf(opts: RunOptions, records: number, recordSize: number): Promise<KafkaPerfResult> {
  const topic = `bench-${opts.stamp}-kafka-perf`;
  const logDir = join(repoRoot, '.sagaflow', 'bench', 'logs');
  mkdirSync(logDir, { recursive: true });
  const partitions = opts.workload.partitions;
  const startedAt = new Date().toISOString();
  await createTopics(opts.bench.admin, [topic, `${topic}-tx`], partitions);
  try {
    const base = { brokers: opts.brokers, records, recordSize };
    progress(`[kafka-perf] ProducerPerformance: ${fmt(records)} records of ${recordSize} bytes, acks=all`);
    const producer = await producerPerf({ ...base, topic, transactional: false, logFile: join(logDir, `${topic}-producer.log`) });
    progress(`[kafka-perf] ProducerPerformance, transactional (one transaction per 100 ms)`);
    const transactionalProducer = await producerPerf({ ...base, topic: `${topic}-tx`, transactional: true, logFile: join(logDir, `${topic}-producer-tx.log`) });
    progress(`[kafka-perf] ConsumerPerformance`);
    const consumer = await consumerPerf({ brokers: opts.brokers, topic, records, logFile: join(logDir, `${topic}-consumer.log`) });
    endProgress();
    return { system: 'kafka-perf', startedAt, records, recordSize, partitions, producer, transactionalProducer, consumer };
  } finally {
    if (!opts.keep) await deleteTopics(opts.bench.admin, [topic, `${topic}-tx`]);
  }
}

function javaVersionLine(): string {
  try {
    // java -version prints on stderr.
    return execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

export function systemLabel(r: SystemResult): string {
  if (r.threads !== undefined) return `${r.system} (${r.threads} thread${r.threads === 1 ? '' : 's'})`;
  const client = r.client ? `${r.client}${r.default ? ', default' : ''}` : undefined;
  if (r.instances !== undefined && r.instances > 1) return `${r.system} (${[client, `${r.instances} instances`].filter(Boolean).join(', ')})`;
  return client ? `${r.system} (${client})` : r.system;
}

export function tableLines(results: (SystemResult | KafkaPerfResult)[]): string[] {
  const lines: string[] = [];
  lines.push('| system | events/s | steady events/s | sagas/s | CPU s (cores) | CPU µs/event | peak RSS MB | broker CPU s | other load (cores) | output |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    if (r.system === 'kafka-perf') {
      lines.push(`| producer-perf (acks=all) | ${fmt(r.producer.recordsPerSec)} | | | ${fmt(r.producer.cpuSeconds, 1)} | | | | | ${fmt(r.producer.mbPerSec, 1)} MB/s |`);
      lines.push(`| producer-perf (transactional) | ${fmt(r.transactionalProducer.recordsPerSec)} | | | ${fmt(r.transactionalProducer.cpuSeconds, 1)} | | | | | ${fmt(r.transactionalProducer.mbPerSec, 1)} MB/s |`);
      lines.push(`| consumer-perf | ${fmt(r.consumer.recordsPerSec)} | | | ${fmt(r.consumer.cpuSeconds, 1)} | | | | | ${fmt(r.consumer.mbPerSec, 1)} MB/s |`);
      continue;
    }
    const label = systemLabel(r);
    if (r.error) {
      lines.push(`| ${label} | failed: ${r.error} | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${label} | ${fmt(r.eventsPerSecond)} | ${r.steadyEventsPerSecond === null ? '—' : fmt(r.steadyEventsPerSecond)} | ${fmt(r.sagasPerSecond)} | ` +
        `${fmt(r.cpuSeconds, 1)} (${fmt(r.cpuCores, 2)}) | ${fmt(r.cpuMicrosPerEvent)} | ${fmt(r.peakRssMB)} | ` +
        `${r.brokerCpuSeconds === undefined ? '' : fmt(r.brokerCpuSeconds, 1)} | ${r.otherCpuCores === undefined ? '' : fmt(r.otherCpuCores, 2)} | ${r.output.ok ? 'ok' : `MISMATCH ${r.output.got}/${r.output.expected}`} |`,
    );
  }
  return lines;
}

function printTable(results: (SystemResult | KafkaPerfResult)[]): void {
  console.log(['', ...tableLines(results)].join('\n'));
}

export function restoreLines(results: (SystemResult | KafkaPerfResult)[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if (r.system === 'kafka-perf' || !r.restore) continue;
    const x = r.restore;
    if (x.error) {
      lines.push(`restore, ${systemLabel(r)}: failed: ${x.error}`);
      continue;
    }
    const per = x.perPartition ? `; per partition as logged: ${fmt(x.perPartition.recordsPerSecondPerPartition)} records/s, slowest of ${x.perPartition.partitions} ${fmt(x.perPartition.slowestMs)} ms` : '';
    lines.push(
      `restore, ${systemLabel(r)}: ${fmt(x.changelogRecords)} changelog records, ready after ${fmt(x.readySeconds, 1)} s ` +
        `(${fmt(x.restoreSeconds, 1)} s beyond a start on an empty changelog): ${x.recordsPerSecond === null ? 'too small to time' : `${fmt(x.recordsPerSecond)} records/s`}${per}`,
    );
  }
  return lines;
}

/** Appends a session to benchmarks/results/<date>.json; `extra` adds fields to the session. */
export function record(
  results: (SystemResult | KafkaPerfResult)[],
  workload: WorkloadOptions,
  flowPath: string,
  sizes: WorkloadSummary | undefined,
  extra: Record<string, unknown> = {},
  dir = join(repoRoot, 'benchmarks', 'results'),
): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().slice(0, 10)}.json`);
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { sessions?: unknown[] }) : {};
  const cpu = cpus();
  const session = {
    recordedAt: new Date().toISOString(),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryGB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      java: javaVersionLine(),
      kafka: '3.9.1 (local stack, single KRaft node)',
    },
    workload: {
      flow: relative(repoRoot, flowPath),
      sagas: workload.sagas,
      seed: workload.seed,
      partitions: workload.partitions,
      happyRatio: workload.happyRatio,
      window: workload.window,
      events: sizes?.events,
      commands: sizes?.commands,
      averageEventBytes: sizes?.averageEventBytes,
      finalStates: sizes?.finalStates,
    },
    results,
    ...extra,
  };
  writeFileSync(file, JSON.stringify({ sessions: [...(existing.sessions ?? []), session] }, null, 2) + '\n');
  return file;
}


async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      systems: { type: 'string', default: 'kafka-perf,passthrough,kafka-streams' },
      flow: { type: 'string', default: 'reservation' },
      sagas: { type: 'string', default: '20000' },
      seed: { type: 'string', default: String(DEFAULT_WORKLOAD.seed) },
      partitions: { type: 'string', default: String(DEFAULT_WORKLOAD.partitions) },
      'happy-ratio': { type: 'string', default: String(DEFAULT_WORKLOAD.happyRatio) },
      window: { type: 'string', default: String(DEFAULT_WORKLOAD.window) },
      threads: { type: 'string', default: '1' },
      instances: { type: 'string', default: '1' },
      restore: { type: 'boolean', default: false },
      client: { type: 'string', default: DEFAULT_KAFKA_CLIENT },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      timeout: { type: 'string', default: '600' },
      keep: { type: 'boolean', default: false },
      'no-record': { type: 'boolean', default: false },
    },
  });
  const systems = values.systems.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of systems) {
    if (s !== 'kafka-perf' && !(SYSTEMS as readonly string[]).includes(s)) {
      console.error(`unknown system "${s}"; choose among kafka-perf, ${SYSTEMS.join(', ')}`);
      return 2;
    }
  }
  if (values.client !== 'librdkafka' && values.client !== 'kafkajs') {
    console.error(`unknown client "${values.client}"; choose librdkafka or kafkajs`);
    return 2;
  }
  const client: ClientName = values.client;
  const flowPath = resolve(repoRoot, FLOWS[values.flow] ?? values.flow);
  const workload: WorkloadOptions = {
    config: loadSagaConfig(flowPath),
    sagas: Number(values.sagas),
    seed: Number(values.seed),
    partitions: Number(values.partitions),
    happyRatio: Number(values['happy-ratio']),
    window: Number(values.window),
  };
  // The workload's size, for the perf tools and the record (generation is cheap).
  const sizes = emptySummary(workload.partitions);
  for (const _ of generateWorkload(workload, sizes));

  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  const stamp = runStamp();
  const opts: RunOptions = {
    bench,
    brokers: values.brokers,
    workload,
    flowPath,
    threads: Number(values.threads),
    instances: Number(values.instances),
    nodeArgs: [],
    client,
    restore: values.restore,
    timeoutMs: Number(values.timeout) * 1000,
    keep: values.keep,
    stamp,
  };
  console.log(
    `workload: ${values.flow}, ${fmt(sizes.sagas)} sagas, ${fmt(sizes.events)} events (~${sizes.averageEventBytes} bytes), ` +
      `${fmt(sizes.commands)} commands, ${workload.partitions} partitions, seed ${workload.seed}`,
  );
  const results: (SystemResult | KafkaPerfResult)[] = [];
  try {
    for (const s of systems) {
      if (s === 'kafka-perf') results.push(await runKafkaPerf(opts, sizes.events, sizes.averageEventBytes));
      else results.push(await runSystem(s as SystemName, opts));
    }
  } finally {
    await bench.close();
  }
  printTable(results);
  for (const line of restoreLines(results)) console.log(line);
  if (!values['no-record']) console.log(`\nrecorded in ${record(results, workload, flowPath, sizes)}`);
  return results.some((r) => r.system !== 'kafka-perf' && (r.error !== undefined || !r.output.ok)) ? 1 : 0;
}

// Everything is reported by now: exit even if a kafkajs socket or timer of a cleaned-up client
// is still pending (seen now and then after a run, holding the process for minutes).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
