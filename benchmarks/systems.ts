/**
 * How each benchmarked system is started as a child process, and what it must leave in its
 * output topic. Adding a system = one case in `startSystem`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ClientName } from '../src/broker/ports.ts';
import type { SagaConfig } from '../src/definition/types.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { startChild, type RunningChild } from './proc.ts';
import { repoRoot } from './perf-tools.ts';
import type { WorkloadSummary } from './workload.ts';

export const SYSTEMS = ['kafka-streams', 'passthrough', 'sagaflow'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface SystemContext {
  brokers: string;
  /** Unique per run and system: the application id, group id and transactional id prefix. */
  runId: string;
  eventsTopic: string;
  commandsTopic: string;
  flowPath: string;
  config: SagaConfig;
  summary: WorkloadSummary;
  /** Scratch folder of this run (state dirs, generated saga.json, logs). */
  workDir: string;
  /** Kafka Streams num.stream.threads. */
  threads: number;
  /** sagaflow processes in the consumer group (each with its own state dir and port). */
  instances: number;
  /** Extra `node` flags for the Node.js systems (e.g. `--cpu-prof`). */
  nodeArgs: string[];
  /** The Kafka client of sagaflow and of the pass-through (default: sagaflow's default). */
  client?: ClientName;
}

export interface StartedSystem {
  /** One process, or one per instance (sagaflow with `instances` > 1). */
  children: RunningChild[];
  /** The HTTP base URL of each sagaflow instance, in `children` order. */
  urls: string[];
  /** The consumer group whose committed offsets on the events topic mark progress. */
  groupId: string;
  outputTopic: string;
  /** What the output topic must hold, read_committed, once everything is processed. */
  expectedOutput: { records: number; byLabel?: Record<string, number> };
  /** Topics the system created itself, deleted after the run. */
  ownTopics: string[];
  logFile: string;
  /** The system's latest self-reported counters line, if it prints one. */
  lastCounts(): string | undefined;
}

const KAFKA_STREAMS_DIR = join(repoRoot, 'benchmarks', 'kafka-streams');
const KAFKA_STREAMS_JAR = join(KAFKA_STREAMS_DIR, 'target', 'saga-streams.jar');

export function ensureKafkaStreamsJar(): string {
  if (!existsSync(KAFKA_STREAMS_JAR)) {
    console.log('building the Kafka Streams baseline (mvn -q -DskipTests package) ...');
    execFileSync('mvn', ['-q', '-DskipTests', 'package'], { cwd: KAFKA_STREAMS_DIR, stdio: 'inherit' });
  }
  return KAFKA_STREAMS_JAR;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The flow's saga.json pointed at this run's broker, topics and application id. */
function runConfig(ctx: SystemContext, applicationId: string): SagaConfig {
  const config = structuredClone(ctx.config);
  const kafka = config.communicationProtocols.find((p) => p.type === 'kafka');
  if (!kafka || kafka.type !== 'kafka') throw new Error(`${ctx.flowPath}: needs a kafka communication protocol`);
  kafka.configurations.brokers = ctx.brokers.split(',');
  kafka.configurations.inputTopics = [ctx.eventsTopic];
  kafka.configurations.outputTopics = [ctx.commandsTopic];
  kafka.configurations.consumerGroup = applicationId;
  config.persistencyManagement = {};
  return config;
}

export interface StartOptions {
  /** sagaflow's LOG_LEVEL (default warn: logging is not what is measured). */
  logLevel?: string;
}

export async function startSystem(name: SystemName, ctx: SystemContext, options: StartOptions = {}): Promise<StartedSystem> {
  const logFile = join(ctx.workDir, `${name}.log`);
  let counts: string | undefined;
  const onLine = (line: string): void => {
    if (line.startsWith('COUNTS ')) counts = line.slice(7);
  };
  const commands = { records: ctx.summary.commands, byLabel: ctx.summary.commandsByLabel };
  switch (name) {
    case 'kafka-streams': {
      const applicationId = ctx.runId;
      const child = startChild({
        name,
        command: 'java',
        args: [
          ...(process.env.BENCH_JAVA_OPTS ?? '-Xms256m -Xmx1g').split(' ').filter(Boolean),
          '-jar', ensureKafkaStreamsJar(),
          '--bootstrap-servers', ctx.brokers,
          '--application-id', applicationId,
          '--saga-json', ctx.flowPath,
          '--events-topic', ctx.eventsTopic,
          '--commands-topic', ctx.commandsTopic,
          '--state-dir', join(ctx.workDir, 'kafka-streams-state'),
          '--threads', String(ctx.threads),
          '--property', 'replication.factor=1',
          // Kafka Streams does not leave its group on close by default, so a successor (the
          // restore run) would wait for the stopped member's session to time out (45 s).
          '--property', 'consumer.internal.leave.group.on.close=true',
        ],
        logFile,
        readyPattern: /^STATE RUNNING/,
        onLine,
      });
      return {
        children: [child],
        urls: [],
        groupId: applicationId,
        outputTopic: ctx.commandsTopic,
        expectedOutput: commands,
        ownTopics: [`${applicationId}-sagas-changelog`],
        logFile,
        lastCounts: () => counts,
      };
    }
    case 'passthrough': {
      const groupId = ctx.runId;
      // kafkajs: a transaction per batch and partition (EOS v1); librdkafka: one producer, a
      // transaction per 100 ms across partitions (EOS v2), as sagaflow's adapters do.
      const script = (ctx.client ?? DEFAULT_KAFKA_CLIENT) === 'kafkajs' ? 'passthrough.ts' : 'passthrough-librdkafka.ts';
      const child = startChild({
        name,
        command: process.execPath,
        args: [...ctx.nodeArgs, join(repoRoot, 'benchmarks', script), '--brokers', ctx.brokers, '--input', ctx.eventsTopic, '--output', ctx.commandsTopic, '--group', groupId],
        logFile,
        readyPattern: /^RUNNING/,
        onLine,
      });
      return {
        children: [child],
        urls: [],
        groupId,
        outputTopic: ctx.commandsTopic,
        expectedOutput: { records: ctx.summary.events },
        ownTopics: [],
        logFile,
        lastCounts: () => counts,
      };
    }
    case 'sagaflow': {
      const applicationId = ctx.runId;
      const configPath = join(ctx.workDir, 'sagaflow.saga.json');
      writeFileSync(configPath, JSON.stringify(runConfig(ctx, applicationId), null, 2));
      const children: RunningChild[] = [];
      const urls: string[] = [];
      for (let i = 0; i < Math.max(1, ctx.instances); i++) {
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        urls.push(url);
        children.push(
          startChild({
            name: ctx.instances > 1 ? `${name}-${i + 1}` : name,
            command: process.execPath,
            args: [...ctx.nodeArgs, join(repoRoot, 'bin', 'sagaflow.js'), 'start'],
            env: {
              CONFIGURATIONS_FILE_PATH: configPath,
              HTTP_PORT: String(port),
              HTTP_HOST: '127.0.0.1',
              SAGAFLOW_STATE_DIR: join(ctx.workDir, `sagaflow-state-${i + 1}`),
              SAGAFLOW_PROJECTION: 'false',
              SAGAFLOW_KAFKA_CLIENT: ctx.client ?? DEFAULT_KAFKA_CLIENT,
              LOG_LEVEL: options.logLevel ?? 'warn',
            },
            logFile: ctx.instances > 1 ? join(ctx.workDir, `${name}-${i + 1}.log`) : logFile,
            readyCheck: async () => (await fetch(`${url}/-/ready`)).ok,
            onLine,
          }),
        );
      }
      return {
        children,
        urls,
        groupId: applicationId,
        outputTopic: ctx.commandsTopic,
        expectedOutput: commands,
        // The librdkafka client's instance directory (src/adapters/librdkafka/directory.ts) too.
        ownTopics: [`${applicationId}-sagas-changelog`, `${applicationId}-dead-letter`, `${applicationId}-instances`],
        logFile,
        lastCounts: () => counts,
      };
    }
  }
}
