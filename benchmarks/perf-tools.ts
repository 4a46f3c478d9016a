/**
 * The broker's own limit on this machine: Kafka's ProducerPerformance (plain and
 * transactional) and ConsumerPerformance, at the workload's record count and size.
 *
 * The jars come from the local stack's Maven resolution when it holds kafka-tools, else
 * they are resolved once into .sagaflow/bench/kafka-tools (benchmarks/perf-tools/pom.xml).
 *
 *   node benchmarks/perf-tools.ts [--records 60000] [--record-size 250] [--brokers 127.0.0.1:9092]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sampleProc, startChild } from './proc.ts';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const KAFKA_TOOLS_JAR = 'kafka-tools-3.9.1.jar';

function findJarDir(dir: string, depth: number): string | undefined {
  if (depth < 0 || !existsSync(dir)) return undefined;
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name === KAFKA_TOOLS_JAR)) return dir;
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const found = findJarDir(join(dir, e.name), depth - 1);
    if (found) return found;
  }
  return undefined;
}

/** A java classpath holding kafka-tools and its dependencies. */
export function kafkaToolsClasspath(): string {
  // The stack's own copy if it has a flat lib folder with the tools and their dependencies.
  const stackDir = findJarDir(join(repoRoot, '.sagaflow', 'stack'), 3);
  if (stackDir && readdirSync(stackDir).some((f) => f.startsWith('argparse4j-'))) return join(stackDir, '*');
  const own = join(repoRoot, '.sagaflow', 'bench', 'kafka-tools');
  if (!existsSync(join(own, KAFKA_TOOLS_JAR))) {
    mkdirSync(own, { recursive: true });
    console.log(`resolving org.apache.kafka:kafka-tools:3.9.1 into ${own} ...`);
    execFileSync(
      'mvn',
      ['-q', '-f', join(repoRoot, 'benchmarks', 'perf-tools', 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${own}`, '-DincludeScope=runtime'],
      { stdio: 'inherit' },
    );
  }
  return join(own, '*');
}

export interface ToolRun {
  lines: string[];
  cpuSeconds: number;
  peakRssBytes: number;
  wallSeconds: number;
}

async function runTool(name: string, mainClass: string, args: string[], logFile: string): Promise<ToolRun> {
  const lines: string[] = [];
  const child = startChild({
    name,
    command: 'java',
    args: ['-Xmx512m', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', kafkaToolsClasspath(), mainClass, ...args],
    logFile,
    onLine: (l) => lines.push(l),
  });
  let last = sampleProc(child.pid);
  while (!child.exited()) {
    await new Promise((r) => setTimeout(r, 200));
    last = sampleProc(child.pid) ?? last;
  }
  await child.stop();
  if (child.exitCode() !== 0) throw new Error(`${name} exited with ${child.exitCode()}; see ${logFile}`);
  return { lines, cpuSeconds: last?.cpuSeconds ?? 0, peakRssBytes: last?.peakRssBytes ?? 0, wallSeconds: (Date.now() - child.startedAt) / 1000 };
}

export interface ProducerPerfResult {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  p50Ms: number;
  p99Ms: number;
  cpuSeconds: number;
}

export async function producerPerf(opts: {
  brokers: string;
  topic: string;
  records: number;
  recordSize: number;
  transactional: boolean;
  logFile: string;
}): Promise<ProducerPerfResult> {
  const args = ['--topic', opts.topic, '--num-records', String(opts.records), '--record-size', String(opts.recordSize), '--throughput', '-1'];
  args.push('--producer-props', `bootstrap.servers=${opts.brokers}`, 'acks=all');
  // A transaction every 100 ms, like commit.interval.ms=100 in the processors.
  if (opts.transactional) args.push('--transactional-id', `perf-${process.pid}-${Date.now()}`, '--transaction-duration-ms', '100');
  const run = await runTool('producer-perf', 'org.apache.kafka.tools.ProducerPerformance', args, opts.logFile);
  // Final line: "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P ms 50th, ..."
  const line = run.lines.find((l) => l.includes('50th'));
  const m = line && /([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th.*?(\d+) ms 99th/.exec(line);
  if (!m) throw new Error(`producer-perf: no summary line in its output; see ${opts.logFile}`);
  return {
    records: Number(m[1]),
    recordsPerSec: Number(m[2]),
    mbPerSec: Number(m[3]),
    avgLatencyMs: Number(m[4]),
    p50Ms: Number(m[5]),
    p99Ms: Number(m[6]),
    cpuSeconds: run.cpuSeconds,
  };
}

export interface ConsumerPerfResult {
  records: number;
  /** Excluding the group join ("fetch.nMsg.sec"). */
  recordsPerSec: number;
  mbPerSec: number;
  cpuSeconds: number;
}

export async function consumerPerf(opts: { brokers: string; topic: string; records: number; logFile: string }): Promise<ConsumerPerfResult> {
  const args = ['--bootstrap-server', opts.brokers, '--topic', opts.topic, '--messages', String(opts.records), '--timeout', '60000'];
  const run = await runTool('consumer-perf', 'org.apache.kafka.tools.ConsumerPerformance', args, opts.logFile);
  // Header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  //         rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const header = run.lines.findIndex((l) => l.startsWith('start.time'));
  const cols = header >= 0 ? run.lines[header + 1]?.split(',').map((c) => c.trim()) : undefined;
  if (!cols || cols.length < 10) throw new Error(`consumer-perf: no result line in its output; see ${opts.logFile}`);
  return { records: Number(cols[4]), recordsPerSec: Number(cols[9]), mbPerSec: Number(cols[8]), cpuSeconds: run.cpuSeconds };
}

async function main(argv: string[]): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { connect, createTopics, deleteTopics } = await import('./kafka.ts');
  const { values } = parseArgs({
    args: argv,
    options: {
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      records: { type: 'string', default: '60000' },
      'record-size': { type: 'string', default: '250' },
      partitions: { type: 'string', default: '12' },
    },
  });
  const bench = await connect(values.brokers);
  const topic = `bench-perf-${Date.now()}`;
  const logDir = join(repoRoot, '.sagaflow', 'bench', 'logs');
  mkdirSync(logDir, { recursive: true });
  try {
    await createTopics(bench.admin, [topic, `${topic}-tx`], Number(values.partitions));
    const base = { brokers: values.brokers, records: Number(values.records), recordSize: Number(values['record-size']) };
    const producer = await producerPerf({ ...base, topic, transactional: false, logFile: join(logDir, `${topic}-producer.log`) });
    const txProducer = await producerPerf({ ...base, topic: `${topic}-tx`, transactional: true, logFile: join(logDir, `${topic}-producer-tx.log`) });
    const consumer = await consumerPerf({ brokers: values.brokers, topic, records: base.records, logFile: join(logDir, `${topic}-consumer.log`) });
    console.log(JSON.stringify({ producer, txProducer, consumer }, null, 2));
  } finally {
    await deleteTopics(bench.admin, [topic, `${topic}-tx`]);
    await bench.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
