/**
 * The whole benchmark suite in one command, every system on the same broker and machine in
 * one run:
 *
 *   npm run stack -- up
 *   npm run bench:suite                      # 100k sagas, 1M live sagas: about 25 minutes
 *   npm run bench:suite -- --quick           # small sizes, a few minutes, results in .sagaflow/bench/results
 *
 * 1. the broker's limit: Kafka's perf tools and the kafkajs transactional pass-through;
 * 2. processing throughput of Kafka Streams and sagaflow over the same pre-produced backlog,
 *    then each one's restore of a fresh store from its changelog;
 * 3. scaling: 2 and 4 sagaflow instances on the same 12 partitions (1 is step 2);
 * 4. per-transition latency (event produced -> its commands visible read_committed) at a
 *    fixed rate, for sagaflow and Kafka Streams;
 * 5. memory: RSS and state on disk of one sagaflow instance as 10k, 100k and 1M sagas stay
 *    live (creation events only);
 * 6. projection: step 2's sagaflow changelog projected into the MongoDB-compatible server
 *    (`--mongodb`, default MONGODB_URL), and its lag at half sagaflow's rate (projection.ts);
 * 7. timers: one sagaflow instance with 100,000 pending state timeouts (`--timer-sagas`), due
 *    together then spread over 60 s: RSS, firing lag, firings/s, each fired once (timers.ts).
 * 8. outbox: commands delivered per second by the outbox dispatcher to a local HTTP server
 *    (outbox.ts).
 *
 * Appends the session to benchmarks/results/<date>.json, writes <date>-suite.md (tables,
 * ratios) and SVG charts next to it, and prints the tables.
 */
import { CLIENT_NAMES } from '../src/adapters/select.ts';
import type { ClientName } from '../src/broker/ports.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { barChart, groupedBarChart, lineChart } from './charts.ts';
import { connectOrExplain, runStamp, silenceKafkajsTimeoutWarnings } from './kafka.ts';
import { discardRun, projectionChart, projectionMarkdown, runProjectionStep, type ProjectionResult } from './projection.ts';
import { runLatency, type LatencyResult } from './latency.ts';
import { runTimers, timersCharts, timersMarkdown, PHASES, type TimersResult } from './timers.ts';
import { outboxMarkdown, runOutboxBenchmark, type OutboxResult } from './outbox.ts';
import { repoRoot } from './perf-tools.ts';
import {
  fmt,
  record,
  restoreLines,
  runKafkaPerf,
  runSystem,
  systemLabel,
  tableLines,
  type KafkaPerfResult,
  type RunOptions,
  type SystemResult,
} from './run.ts';
import { DEFAULT_WORKLOAD, emptySummary, FLOWS, generateWorkload, loadSagaConfig, type WorkloadOptions } from './workload.ts';

type Latency = LatencyResult & { system: string; client?: ClientName; startupSeconds: number };

const latencyLabel = (l: Latency): string => (l.client ? `${l.system} (${l.client})` : l.system);

export interface SuiteFigures {
  throughput: (SystemResult | KafkaPerfResult)[];
  scaling: SystemResult[];
  latency: Latency[];
  memory?: SystemResult;
  projection?: ProjectionResult;
  timers?: TimersResult;
  outbox?: OutboxResult;
}

const MEMORY_MILESTONES = [10_000, 100_000, 1_000_000];

/** The rate a figure is compared on: the steady rate when the run was long enough to have one. */
function rate(r: SystemResult | undefined): number | undefined {
  if (!r || r.error || !r.output.ok) return undefined;
  return r.steadyEventsPerSecond ?? r.eventsPerSecond;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? 'n/a' : (a / b).toFixed(2);
}

function find(results: (SystemResult | KafkaPerfResult)[], system: string, client?: ClientName): SystemResult | undefined {
  return results.find((r): r is SystemResult => r.system === system && (client === undefined || (r as SystemResult).client === client));
}

/** The report's sections that have figures: a step left out with --skip gets no section and no chart. */
export function presentSections(f: SuiteFigures): { scaling: boolean; latency: boolean; memory: boolean } {
  return { scaling: f.scaling.some((r) => (r.instances ?? 1) > 1), latency: f.latency.length > 0, memory: f.memory !== undefined };
}

/** The markdown report: what was run, the tables, the ratios and the charts. */
export function suiteMarkdown(f: SuiteFigures, meta: { command: string; workload: string; live: number; latency: string; charts: Record<string, string>; recordedAt: string; otherLoad: string }): string {
  const streams = find(f.throughput, 'kafka-streams');
  const ratios = CLIENT_NAMES.flatMap((client) => {
    const sagaflow = find(f.throughput, 'sagaflow', client);
    const passthrough = find(f.throughput, 'passthrough', client);
    if (!sagaflow) return [];
    return [
      `- ${client}${sagaflow.default ? ' (the default)' : ''}: sagaflow / Kafka Streams = **${ratio(rate(sagaflow), rate(streams))}**, ` +
        `sagaflow / pass-through on the same client = **${ratio(rate(sagaflow), rate(passthrough))}** ` +
        `(on total time: ${ratio(sagaflow.eventsPerSecond, streams?.eventsPerSecond)} and ${ratio(sagaflow.eventsPerSecond, passthrough?.eventsPerSecond)}).`,
    ];
  });
  const lines: string[] = [
    `# Benchmark suite, ${meta.recordedAt.slice(0, 10)}`,
    '',
    `Command: \`${meta.command}\`. Workload: ${meta.workload}. Recorded ${meta.recordedAt}; ${meta.otherLoad}.`,
    '',
    '## Throughput (same backlog for every system)',
    '',
    ...tableLines(f.throughput),
    '',
    'Ratios on the steady rate, per Kafka client:',
    '',
    ...ratios,
    '',
    `![throughput](${meta.charts.throughput})`,
    '',
    '## Restore of a fresh store from the changelog',
    '',
    ...restoreLines(f.throughput).map((l) => `- ${l}`),
    '',
  ];
  const present = presentSections(f);
  if (present.scaling) lines.push(
    '## Scaling: sagaflow instances on 12 partitions',
    '',
    '| instances | events/s | steady events/s | CPU µs/event | total CPU cores | largest peak RSS MB | output |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...f.scaling.map((r) =>
      r.error
        ? `| ${r.instances ?? 1} | failed: ${r.error} | | | | | |`
        : `| ${r.instances ?? 1} | ${fmt(r.eventsPerSecond)} | ${r.steadyEventsPerSecond === null ? '—' : fmt(r.steadyEventsPerSecond)} | ${fmt(r.cpuMicrosPerEvent)} | ${fmt(r.cpuCores, 2)} | ${fmt(r.peakRssMB)} | ${r.output.ok ? 'ok' : 'MISMATCH'} |`,
    ),
    '',
    'The machine has 2 cores shared with the broker and the load generator: more instances add ' +
      'processes, not cores, so the curve flattens (or drops, from rebalancing and per-process overhead). ' +
      'Each instance runs one event loop; on a machine with more cores the same runs show how far the ' +
      'partitions spread the work.',
    '',
    `![scaling](${meta.charts.scaling})`,
    '',
  );
  if (present.latency) lines.push(
    `## Per-transition latency (${meta.latency})`,
    '',
    '| system | p50 ms | p95 ms | p99 ms | max ms | samples | events/s | missing | unexpected |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...f.latency.map(
      (l) =>
        `| ${latencyLabel(l)} | ${fmt(l.p50Ms, 1)} | ${fmt(l.p95Ms, 1)} | ${fmt(l.p99Ms, 1)} | ${fmt(l.maxMs, 1)} | ${fmt(l.samples)} | ${fmt(l.achievedEventsPerSecond)} | ${l.missing} | ${l.unexpected} |`,
    ),
    '',
    'From just before the event is handed to the producer to the batch holding its last command ' +
      'read by a read_committed consumer. Kafka Streams commits every 100 ms (`commit.interval.ms` ' +
      'under exactly_once_v2); sagaflow on librdkafka commits one transaction for all partitions at most ' +
      'every 100 ms (SAGAFLOW_COMMIT_INTERVAL_MS), on kafkajs one transaction per fetched batch and partition.',
    '',
    `![latency](${meta.charts.latency})`,
    '',
  );
  const memory = f.memory;
  if (present.memory) lines.push(`## Memory: ${fmt(meta.live)} live sagas in one sagaflow instance`, '');
  if (present.memory && (!memory || memory.error || !memory.memory)) {
    lines.push(`failed: ${memory?.error ?? 'no samples'}`, '');
  } else if (memory?.memory) {
    lines.push('| live sagas | RSS MB | state on disk MB |', '|---:|---:|---:|');
    for (const m of memory.memory) lines.push(`| ${fmt(m.events)} | ${fmt(m.rssMB)} | ${fmt(m.stateOnDiskMB, 1)} |`);
    const first = memory.memory[0];
    const last = memory.memory.at(-1);
    const growth =
      first && last && last.events > first.events
        ? `From ${fmt(first.events)} to ${fmt(last.events)} live sagas RSS grew by ${fmt(last.rssMB - first.rssMB)} MB ` +
          `(${fmt(((last.rssMB - first.rssMB) * 1024) / ((last.events - first.events) / 1000), 1)} KB per 1,000 sagas) ` +
          `while the state on disk grew by ${fmt(last.stateOnDiskMB - first.stateOnDiskMB, 1)} MB. `
        : '';
    lines.push(
      '',
      `${growth}Peak RSS over the run ${fmt(memory.peakRssMB)} MB, ${fmt(memory.eventsPerSecond)} creations/s. ` +
        'RSS is sampled when the committed offsets pass each count, while the instance is still working.',
      '',
      `![memory](${meta.charts.memory})`,
      '',
    );
  }
  if (f.outbox) lines.push(...outboxMarkdown(f.outbox));
  return lines.join('\n');
}

/** The four charts, as SVG strings keyed by figure. */
export function suiteCharts(f: SuiteFigures, what: string, live: number): Record<'throughput' | 'scaling' | 'latency' | 'memory', string> {
  const systems = f.throughput.filter((r): r is SystemResult => r.system !== 'kafka-perf' && !r.error);
  const perf = f.throughput.find((r): r is KafkaPerfResult => r.system === 'kafka-perf');
  const bars = systems.map((r) => ({ label: systemLabel(r), value: rate(r) ?? 0 }));
  if (perf) bars.push({ label: 'producer-perf (transactional)', value: perf.transactionalProducer.recordsPerSec });
  const scaling = f.scaling.filter((r) => !r.error).map((r): [number, number] => [r.instances ?? 1, rate(r) ?? 0]);
  const one = scaling.find(([n]) => n === 1)?.[1];
  const memory = f.memory?.memory ?? [];
  return {
    throughput: barChart(`Events processed per second, steady rate (${what})`, 'events/s', bars),
    scaling: lineChart(`sagaflow instances on 12 partitions, 2 cores (${what})`, {
      xLabel: 'instances',
      yLabel: 'events/s (steady)',
      valueLabels: true,
      series: [
        { name: 'sagaflow', points: scaling },
        ...(one === undefined ? [] : [{ name: 'linear from 1 instance', dashed: true, points: scaling.map(([n]): [number, number] => [n, one * n]) }]),
      ],
    }),
    latency: groupedBarChart(
      'Per-transition latency, event produced -> command visible read_committed',
      'ms',
      f.latency.map((l) => ({
        label: latencyLabel(l),
        values: [
          { series: 'p50', value: l.p50Ms },
          { series: 'p95', value: l.p95Ms },
          { series: 'p99', value: l.p99Ms },
        ],
      })),
    ),
    memory: lineChart(`One sagaflow instance holding up to ${fmt(live)} live sagas`, {
      xLabel: 'live sagas',
      yLabel: 'MB',
      xScale: 'log',
      valueLabels: true,
      series: [
        { name: 'RSS', points: memory.map((m): [number, number] => [m.events, m.rssMB]) },
        { name: 'state on disk (RocksDB)', dashed: true, points: memory.map((m): [number, number] => [m.events, m.stateOnDiskMB]) },
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
      flow: { type: 'string', default: 'reservation' },
      sagas: { type: 'string' },
      live: { type: 'string' },
      'latency-sagas': { type: 'string' },
      'latency-rate': { type: 'string' },
      'timer-sagas': { type: 'string' },
      instances: { type: 'string' },
      seed: { type: 'string', default: String(DEFAULT_WORKLOAD.seed) },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      timeout: { type: 'string', default: '1800' },
      skip: { type: 'string', default: '' },
      out: { type: 'string' },
      mongodb: { type: 'string', default: process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/?directConnection=true' },
    },
  });
  const quick = values.quick;
  const sagas = Number(values.sagas ?? (quick ? 2_000 : 100_000));
  const live = Number(values.live ?? (quick ? 20_000 : 1_000_000));
  const latencySagas = Number(values['latency-sagas'] ?? (quick ? 300 : 3_000));
  const latencyRate = Number(values['latency-rate'] ?? (quick ? 50 : 100));
  const instances = (values.instances ?? (quick ? '2' : '2,4')).split(',').map(Number).filter((n) => n > 1);
  const skip = new Set(values.skip.split(',').map((s) => s.trim()).filter(Boolean));
  const flowPath = resolve(repoRoot, FLOWS[values.flow] ?? values.flow);
  const workload: WorkloadOptions = { ...DEFAULT_WORKLOAD, config: loadSagaConfig(flowPath), sagas, seed: Number(values.seed) };
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
    threads: 1,
    instances: 1,
    nodeArgs: [],
    restore: false,
    timeoutMs: Number(values.timeout) * 1000,
    keep: false,
    stamp,
  };
  const steps: { name: string; run: () => Promise<void> }[] = [];
  const figures: SuiteFigures = { throughput: [], scaling: [], latency: [] };
  const liveWorkload: WorkloadOptions = { ...workload, sagas: live, liveOnly: true };
  if (!skip.has('kafka-perf')) steps.push({ name: 'Kafka perf tools (producer, transactional producer, consumer)', run: async () => void figures.throughput.push(await runKafkaPerf(opts, sizes.events, sizes.averageEventBytes)) });
  if (!skip.has('passthrough')) {
    for (const client of CLIENT_NAMES) steps.push({ name: `${client} transactional pass-through`, run: async () => void figures.throughput.push(await runSystem('passthrough', { ...opts, client })) });
  }
  if (!skip.has('kafka-streams')) steps.push({ name: 'Kafka Streams (1 thread): throughput, then restore', run: async () => void figures.throughput.push(await runSystem('kafka-streams', { ...opts, restore: true })) });
  if (!skip.has('sagaflow')) {
    for (const client of CLIENT_NAMES) {
      const projected = client === DEFAULT_KAFKA_CLIENT && !skip.has('projection');
      steps.push({
        name: `sagaflow on ${client}${client === DEFAULT_KAFKA_CLIENT ? ' (default)' : ''} (1 instance): throughput, then restore`,
        run: async () => {
          // The projection step reads the default client's changelog, then deletes what the run kept.
          const r = await runSystem('sagaflow', { ...opts, client, restore: true, keep: projected });
          figures.throughput.push(r);
          // Scaling and memory are measured on the default client.
          if (client === DEFAULT_KAFKA_CLIENT) figures.scaling.push(r);
        },
      });
    }
    if (!skip.has('projection')) {
      steps.push({
        name: 'projection of the sagaflow changelog into the MongoDB-compatible server, and its lag',
        run: async () => {
          const runId = `bench-${stamp}-sagaflow-${DEFAULT_KAFKA_CLIENT}`;
          try {
            const channel = workload.config.communicationProtocols.find((p) => p.type === 'kafka');
            if (channel?.type !== 'kafka') throw new Error(`${flowPath}: no kafka channel`);
            const processor = find(figures.throughput, 'sagaflow', DEFAULT_KAFKA_CLIENT);
            figures.projection = await runProjectionStep({
              bench,
              channel,
              changelogTopic: `${runId}-sagas-changelog`,
              mongodbUrl: values.mongodb,
              processorEventsPerSecond: rate(processor) ?? 0,
              processorEvents: processor?.events ?? 0,
              lagSeconds: quick ? 10 : 30,
              stamp,
              timeoutMs: opts.timeoutMs,
            });
          } finally {
            await discardRun(bench, runId);
          }
        },
      });
    }
  }
  if (!skip.has('scaling')) {
    for (const n of instances) steps.push({ name: `sagaflow, ${n} instances: throughput`, run: async () => void figures.scaling.push(await runSystem('sagaflow', { ...opts, instances: n })) });
  }
  if (!skip.has('latency')) {
    const runs = [...CLIENT_NAMES.map((client) => ({ system: 'sagaflow' as const, client })), { system: 'kafka-streams' as const, client: undefined }];
    for (const { system, client } of runs) {
      steps.push({
        name: `${system}${client ? ` on ${client}` : ''}: latency, ${fmt(latencySagas)} sagas at ${latencyRate}/s`,
        run: async () =>
          void figures.latency.push(
            await runLatency(system, { bench, brokers: values.brokers, flowPath, workload, sagas: latencySagas, ratePerSecond: latencyRate, warmupMs: 5_000, progress: (l) => console.log(l), ...(client ? { client } : {}) }),
          ),
      });
    }
  }
  if (!skip.has('memory')) {
    steps.push({
      name: `sagaflow: memory with up to ${fmt(live)} live sagas`,
      run: async () => {
        figures.memory = await runSystem('sagaflow', { ...opts, tag: 'sagaflow-live', workload: liveWorkload, milestones: [...MEMORY_MILESTONES.filter((m) => m < live), live] });
      },
    });
  }
  if (!skip.has('timers')) {
    const timerSagas = Number(values['timer-sagas'] ?? (quick ? 10_000 : 100_000));
    steps.push({
      name: `sagaflow: ${fmt(timerSagas)} pending timeouts, due together, then spread`,
      run: async () => {
        figures.timers = await runTimers({ bench, brokers: values.brokers, sagas: timerSagas, spreadMs: quick ? 10_000 : 60_000, phases: PHASES, stamp, timeoutMs: opts.timeoutMs });
      },
    });
  }

  if (!skip.has('outbox')) {
    const records = quick ? 2_000 : 20_000;
    steps.push({
      name: `outbox dispatcher on ${DEFAULT_KAFKA_CLIENT}: ${fmt(records)} commands over REST to a local HTTP server`,
      run: async () => {
        figures.outbox = await runOutboxBenchmark({ bench, client: DEFAULT_KAFKA_CLIENT, records, commandsPerSaga: 2, partitions: workload.partitions, concurrency: 32, serverDelayMs: 0, timeoutMs: opts.timeoutMs });
      },
    });
  }

  const began = Date.now();
  console.log(
    `suite: ${values.flow}, ${fmt(sizes.sagas)} sagas (${fmt(sizes.events)} events, ${fmt(sizes.commands)} commands), ` +
      `${workload.partitions} partitions; ${steps.length} steps`,
  );
  try {
    for (const [i, step] of steps.entries()) {
      console.log(`\n[${i + 1}/${steps.length}, ${fmt((Date.now() - began) / 60_000, 1)} min] ${step.name}`);
      try {
        await step.run();
      } catch (err) {
        // One failing step is reported and recorded as missing; the others still run.
        console.error(`step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    await bench.close();
  }

  const what = `${values.flow}, ${fmt(sizes.sagas)} sagas`;
  // A quick run checks the wiring: its figures are not worth keeping beside the real ones.
  const dir = resolve(values.out ?? join(repoRoot, quick ? '.sagaflow/bench/results' : 'benchmarks/results'));
  mkdirSync(dir, { recursive: true });
  const file = record(figures.throughput, workload, flowPath, sizes, {
    kind: 'suite',
    scaling: figures.scaling.filter((r) => (r.instances ?? 1) > 1),
    latency: figures.latency,
    latencyWorkload: { sagas: latencySagas, sagasPerSecond: latencyRate, warmupSeconds: 5 },
    ...(figures.memory ? { memory: figures.memory } : {}),
    ...(figures.projection ? { projection: figures.projection } : {}),
    ...(figures.timers ? { timers: figures.timers } : {}),
    ...(figures.outbox ? { outbox: figures.outbox } : {}),
  }, dir);
  const stem = basename(file, '.json');
  const charts = suiteCharts(figures, what, live);
  const chartFiles: Record<string, string> = {};
  const present: Record<string, boolean> = { throughput: true, ...presentSections(figures) };
  for (const [name, svg] of Object.entries(charts)) {
    if (!present[name]) continue;
    chartFiles[name] = `${stem}-suite-${name}.svg`;
    writeFileSync(join(dir, chartFiles[name]), svg);
  }
  const systems = [...figures.throughput, ...figures.scaling].filter((r): r is SystemResult => r.system !== 'kafka-perf');
  const other = systems.map((r) => r.otherCpuCores).filter((x): x is number => x !== undefined);
  const markdown = suiteMarkdown(figures, {
    command: `npm run bench:suite${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    workload: `${what}, ${fmt(sizes.events)} events of ~${sizes.averageEventBytes} bytes, ${workload.partitions} partitions, seed ${workload.seed}`,
    live,
    latency: `${fmt(latencySagas)} sagas started at ${latencyRate}/s, first 5 s left out as warm-up`,
    charts: chartFiles,
    recordedAt: new Date().toISOString(),
    otherLoad: other.length > 0 ? `other load on the machine during the runs: ${fmt(Math.min(...other), 2)}–${fmt(Math.max(...other), 2)} cores` : 'other load not measured',
  });
  const mdFile = join(dir, `${stem}-suite.md`);
  const projection = figures.projection;
  if (projection) {
    chartFiles.projection = `${stem}-suite-projection.svg`;
    writeFileSync(join(dir, chartFiles.projection), projectionChart(projection));
  }
  const timers = figures.timers;
  const timerCharts = { lag: `${stem}-suite-timers-lag.svg`, firings: `${stem}-suite-timers-firings.svg` };
  if (timers) {
    const svgs = timersCharts(timers);
    writeFileSync(join(dir, timerCharts.lag), svgs.lag);
    writeFileSync(join(dir, timerCharts.firings), svgs.firings);
    chartFiles['timers-lag'] = timerCharts.lag;
    chartFiles['timers-firings'] = timerCharts.firings;
  }
  writeFileSync(
    mdFile,
    [markdown, ...(projection ? projectionMarkdown(projection, chartFiles.projection ?? '') : []), ...(timers ? timersMarkdown(timers, timerCharts) : [])].join('\n') + '\n',
  );
  console.log(`\n${markdown}`);
  console.log(`\nrecorded in ${relative(repoRoot, file)}; report ${relative(repoRoot, mdFile)}; charts ${Object.values(chartFiles).join(', ')} (${fmt((Date.now() - began) / 60_000, 1)} min)`);
  const outboxFailed = figures.outbox !== undefined && (figures.outbox.error !== undefined || !figures.outbox.committed || figures.outbox.delivered !== figures.outbox.records);
  const failed =
    systems.some((r) => r.error !== undefined || !r.output.ok) ||
    figures.latency.some((l) => l.missing > 0 || l.unexpected > 0) ||
    (figures.projection !== undefined && (figures.projection.error !== undefined || !figures.projection.complete)) ||
    (figures.timers !== undefined && !figures.timers.ok) ||
    outboxFailed;
  return failed ? 1 : 0;
}

// Everything is reported by now: exit even if a kafkajs socket or timer of a cleaned-up client
// is still pending (seen now and then after a run, holding the process for minutes).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
