import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import pino from 'pino';
import type { Logger } from 'pino';
import { parseSagaConfig } from '../../src/definition/parse.ts';
import type { Clock } from '../../src/engine/clock.ts';
import type { KafkaProtocol, SagaConfig } from '../../src/definition/types.ts';
import { createProcessorCodec } from '../../src/kafka/codec-factory.ts';
import type { ProcessorCodec } from '../../src/kafka/codec.ts';
import { readRuntimeEnv } from '../../src/runtime/env.ts';
import { startInstance } from '../../src/runtime/instance.ts';
import type { Instance } from '../../src/runtime/instance.ts';
import type { SagaDocument } from '../../src/saga/types.ts';
import { SagaWorker } from '../../src/worker/client.ts';
import { services } from './services.ts';
import { uniqueName } from './names.ts';
import { registerCleanup } from './cleanup.ts';
import { kafkaClient } from './kafka.ts';
import { waitFor } from './wait.ts';

const root = new URL('../../', import.meta.url).pathname;

export interface FlowTopics {
  applicationId: string;
  events: string;
  commands: string;
}

/** Unique topic and group names for one flow; its topics are deleted after the test file. */
export function uniqueFlow(prefix = 'flow'): FlowTopics {
  const base = uniqueName(prefix);
  registerCleanup(async () => {
    const admin = kafkaClient().admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${base}-`));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
      await admin.deleteGroups([`${base}-app`, `${base}-app-projection`, `${base}-app-outbox`]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  });
  return { applicationId: `${base}-app`, events: `${base}-events`, commands: `${base}-commands` };
}

/** A kafka channel's configurations on the test broker, for the flow's topics and group. */
export function testChannelConfigurations(flow: FlowTopics, serialization: 'json' | 'avro' = 'json'): Record<string, unknown> {
  return {
    brokers: services().kafkaBrokers,
    inputTopics: [flow.events],
    outputTopics: [flow.commands],
    consumerGroup: flow.applicationId,
    serialization,
    ...(serialization === 'avro' ? { schemaRegistry: { url: services().schemaRegistryUrl } } : {}),
  };
}

/** The tutorial's reservation saga.json, pointed at the test broker and the given topics. */
export function reservationConfig(
  flow: FlowTopics,
  serialization: 'json' | 'avro' = 'json',
  persistencyManagement: Record<string, unknown> = {},
  /** Changes to the raw saga.json before it is parsed (and validated), e.g. timers. */
  edit: (raw: { machineDefinition: { states: Record<string, unknown>[] } }) => void = () => undefined,
): SagaConfig {
  const raw = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as {
    communicationProtocols: { id: string; configurations: Record<string, unknown> }[];
  };
  const channel = raw.communicationProtocols[0];
  if (!channel) throw new Error('examples/reservation/saga.json has no protocol');
  channel.configurations = testChannelConfigurations(flow, serialization);
  (raw as Record<string, unknown>).persistencyManagement = persistencyManagement;
  edit(raw as unknown as { machineDefinition: { states: Record<string, unknown>[] } });
  const parsed = parseSagaConfig(raw, { env: {}, readFile: (p) => readFileSync(p, 'utf8') });
  if (!parsed.config) throw new Error(`invalid test config: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

/** The tutorial saga with a second input topic on its kafka channel, as Flow Manager's own Kafka example lists two. */
export function twoInputTopicsConfig(flow: FlowTopics, second: string): SagaConfig {
  return reservationConfig(flow, 'json', {}, (raw) => {
    const channel = (raw as unknown as { communicationProtocols: { configurations: { inputTopics: string[] } }[] }).communicationProtocols[0];
    if (!channel) throw new Error('the reservation example changed');
    channel.configurations.inputTopics = [flow.events, second];
  });
}

export const quietLogger = pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'warn' });

export function tempStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-state-'));
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts an in-process instance on a free port; stopped after the test file. */
export async function startTestInstance(
  config: SagaConfig,
  opts: {
    stateDir?: string;
    partitions?: number;
    beforeCommit?: (partitions: number[]) => Promise<void> | void;
    /** The processor's clock (see startInstance). */
    clock?: Clock;
    client?: string;
    /** More environment variables for the instance, e.g. SAGAFLOW_ADMIN_TOKEN, SAGAFLOW_REST_*, KAFKA_BROKERS. */
    env?: Record<string, string>;
    /** Where the instance logs (default: warnings and errors only, to the console). */
    logger?: Logger;
  } = {},
): Promise<Instance> {
  const env = readRuntimeEnv(
    {
      CONFIGURATIONS_FILE_PATH: 'saga.json',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      SAGAFLOW_STATE_DIR: opts.stateDir ?? tempStateDir(),
      SAGAFLOW_DEFAULT_PARTITIONS: String(opts.partitions ?? 4),
      SAGAFLOW_REPLICATION_FACTOR: '1',
      ...(opts.client ?? process.env.SAGAFLOW_KAFKA_CLIENT ? { SAGAFLOW_KAFKA_CLIENT: opts.client ?? process.env.SAGAFLOW_KAFKA_CLIENT } : {}),
      ...opts.env,
    },
    root,
  );
  const instance = await startInstance({
    env,
    config,
    logger: opts.logger ?? quietLogger,
    ...(opts.beforeCommit ? { beforeCommit: opts.beforeCommit } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  let stopped = false;
  const wrapped: Instance = {
    url: instance.url,
    app: instance.app,
    processor: instance.processor,
    projection: instance.projection,
    dispatcher: instance.dispatcher,
    applicationId: instance.applicationId,
    topics: instance.topics,
    client: instance.client,
    async stop() {
      if (stopped) return;
      stopped = true;
      await instance.stop();
    },
  };
  registerCleanup(() => wrapped.stop());
  return wrapped;
}

export function testKafka(): Kafka {
  return kafkaClient();
}

export async function codecFor(config: SagaConfig): Promise<ProcessorCodec> {
  const channel = config.communicationProtocols[0] as KafkaProtocol;
  const topics = {
    events: channel.configurations.inputTopics?.[0] ?? '',
    commands: channel.configurations.outputTopics ?? [],
    changelog: '',
    deadLetter: '',
  };
  return createProcessorCodec(channel, topics);
}

/**
 * Reservation workers: validation fails when the saga metadata has {fail: "validation"},
 * the check when it has {fail: "check"}; everything else succeeds.
 */
export async function startReservationWorkers(config: SagaConfig, flow: FlowTopics): Promise<SagaWorker> {
  const worker = new SagaWorker({
    brokers: services().kafkaBrokers,
    codec: await codecFor(config),
    commandsTopic: flow.commands,
    eventsTopic: flow.events,
    groupId: uniqueName('workers'),
  });
  worker
    .onCommand('validateReservation', async ({ sagaId, payload }) => {
      const fail = (payload as { fail?: string } | null)?.fail === 'validation';
      await worker.emit(fail ? 'validationKO' : 'validationOK', sagaId, { validatedBy: 'test' });
    })
    .onCommand('checkReservation', async ({ sagaId, payload }) => {
      const fail = (payload as { fail?: string } | null)?.fail === 'check';
      await worker.emit(fail ? 'checkKO' : 'checkOK', sagaId, { checkedBy: 'test' });
    });
  await worker.start();
  registerCleanup(() => worker.stop());
  return worker;
}

export interface ReadRecord {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  offset: string;
  partition: number;
}

/**
 * Reads a topic from the beginning until `until(records)` holds, or the deadline passes
 * (then returns what it has, for the caller's assertions to report).
 */
export async function readTopic(
  topic: string,
  opts: { readUncommitted?: boolean; until: (records: ReadRecord[]) => boolean; timeoutMs?: number },
): Promise<ReadRecord[]> {
  const kafka = testKafka();
  const groupId = uniqueName('reader');
  const consumer = kafka.consumer({ groupId, readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 100 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.timeoutMs ?? 20_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
          records.push({ key: message.key?.toString('utf8') ?? null, value: message.value, headers, offset: message.offset, partition });
          if (opts.until(records)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return records;
}

/** The saga as `GET /saga/:id` serves it, once `ready` holds for it (polled until a deadline). */
export async function sagaWhen(url: string, sagaId: string, ready: (saga: SagaDocument) => boolean, description = `saga ${sagaId} as expected`): Promise<SagaDocument> {
  return waitFor(
    async () => {
      const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`);
      if (res.status !== 200) return undefined;
      const saga = (await res.json()) as SagaDocument;
      return ready(saga) ? saga : undefined;
    },
    { timeoutMs: 60_000, description },
  );
}
