import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Collection } from 'mongodb';
import pino from 'pino';
import { seededRandom } from '../../../src/cli/prng.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { KafkaProtocol, SagaConfig } from '../../../src/definition/types.ts';
import { createProcessorCodec } from '../../../src/kafka/codec-factory.ts';
import type { ProcessorCodec } from '../../../src/kafka/codec.ts';
import { MongoSagaSink } from '../../../src/projection/mongo-sink.ts';
import { Projector } from '../../../src/projection/projector.ts';
import type { ProjectorOptions } from '../../../src/projection/projector.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient, testBrokerClient, uniqueGroupId } from '../../support/kafka.ts';
import { mongoClient } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

const root = new URL('../../../', import.meta.url).pathname;

export const testLogger = pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'silent' });

/** The tutorial's reservation saga.json (examples/reservation), pointed at the test broker. */
export function tutorialConfig(): SagaConfig {
  const raw = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as {
    communicationProtocols: { configurations: Record<string, unknown> }[];
  };
  const channel = raw.communicationProtocols[0];
  if (channel) channel.configurations = { ...channel.configurations, brokers: services().kafkaBrokers, serialization: 'json' };
  const parsed = parseSagaConfig(raw, { env: {}, readFile: (p) => readFileSync(p, 'utf8') });
  if (!parsed.config) throw new Error(`examples/reservation/saga.json does not load: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

/** The JSON (Flow Manager wire format) codec the processor uses for a tutorial channel. */
export async function jsonCodec(): Promise<ProcessorCodec> {
  const channel = tutorialConfig().communicationProtocols.find((p): p is KafkaProtocol => p.type === 'kafka');
  if (!channel) throw new Error('tutorial has no kafka channel');
  return createProcessorCodec(channel, { events: '', changelog: '', deadLetter: '', commands: [] });
}

export interface SimulatedFlow {
  /** Every revision of every saga, in the order a processor would have written them. */
  revisions: SagaDocument[];
  /** The last revision of each saga. */
  finals: Map<string, SagaDocument>;
}

/**
 * Runs `count` reservations through the tutorial's state machine with the real transition
 * function: a third confirmed, a third failing validation, a third failing the check, and
 * every tenth left half-way and every tenth just created. Deterministic for a seed; revisions are interleaved in time.
 */
export function simulateTutorial(def: CompiledDefinition, count: number, opts: { seed?: number; prefix?: string; startMs?: number } = {}): SimulatedFlow {
  const random = seededRandom(opts.seed ?? 1);
  const prefix = opts.prefix ?? uniqueName('saga');
  const start = opts.startMs ?? Date.UTC(2024, 0, 1);
  const timed: { at: number; seq: number; saga: SagaDocument }[] = [];
  const finals = new Map<string, SagaDocument>();
  let seq = 0;
  for (let i = 0; i < count; i++) {
    const sagaId = `${prefix}-${String(i).padStart(6, '0')}`;
    let at = start + Math.floor(random() * 86_400_000);
    const kind = i % 3;
    const steps = kind === 0 ? ['validationOK', 'checkOK'] : kind === 1 ? ['validationKO'] : ['validationOK', 'checkKO'];
    const events = i % 10 === 9 ? steps.slice(0, 1) : i % 10 === 8 ? [] : steps;
    const inputs: SagaInput[] = [
      { kind: 'create', sagaId, associatedEntityId: `entity-${i % 50}`, metadata: { reservationId: i, seats: 1 + (i % 4) }, timestamp: new Date(at).toISOString() },
      ...events.map((label): SagaInput => {
        at += 1 + Math.floor(random() * 60_000);
        return { kind: 'event', sagaId, label, payload: { step: label }, timestamp: new Date(at).toISOString() };
      }),
    ];
    let saga: SagaDocument | undefined;
    for (const input of inputs) {
      const result = transition(def, saga, input);
      if (!result.changed || !result.saga) throw new Error(`tutorial input ${input.kind} was not applied: ${result.reason}`);
      saga = result.saga;
      timed.push({ at: Date.parse(input.timestamp), seq: seq++, saga });
    }
    if (saga) finals.set(sagaId, saga);
  }
  timed.sort((a, b) => a.at - b.at || a.seq - b.seq);
  return { revisions: timed.map((t) => t.saga), finals };
}

const tutorial = await compileDefinition(tutorialConfig());

export function tutorialDefinition(): CompiledDefinition {
  return tutorial;
}

/**
 * Writes saga documents to a changelog topic the way the processor does: keyed by sagaId,
 * default (murmur2) partitioner, in Kafka transactions of `perTransaction` records.
 */
export async function produceChangelog(topic: string, codec: ProcessorCodec, sagas: readonly SagaDocument[], perTransaction = 500): Promise<void> {
  const producer = kafkaClient().producer({ transactionalId: uniqueName('changelog-tx'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < sagas.length; i += perTransaction) {
    const slice = sagas.slice(i, i + perTransaction);
    const messages = await Promise.all(slice.map(async (saga) => ({ key: saga.sagaId, value: await codec.encodeSaga(topic, saga) })));
    const txn = await producer.transaction();
    try {
      await txn.send({ topic, messages });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  }
  await producer.disconnect();
}

/** A projector on the test broker with a unique group, stopped after the test file. */
export function testProjector(opts: Omit<ProjectorOptions, 'client' | 'logger' | 'applicationId'> & Partial<Pick<ProjectorOptions, 'client' | 'logger' | 'applicationId'>>): Projector {
  const projector = new Projector({
    client: testBrokerClient(),
    logger: testLogger,
    applicationId: uniqueName('app'),
    groupId: uniqueGroupId('projection'),
    lagIntervalMs: 0,
    backoff: { initialMs: 50, maxMs: 500, factor: 2 },
    ...opts,
  });
  registerCleanup(() => projector.stop());
  return projector;
}

/** Waits until the projector has committed the end of every changelog partition. */
export async function waitCaughtUp(projector: Projector, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await projector.lag()).total === 0 && (await projector.lag()).partitions.length > 0, {
    timeoutMs,
    intervalMs: 200,
    description: `projection of ${projector.topic} caught up`,
  });
}

/** The stored sagas, without MongoDB's _id, by sagaId. */
export async function storedSagas(collection: Collection<SagaDocument>): Promise<Map<string, SagaDocument>> {
  const docs = await collection.find({}, { projection: { _id: 0 } }).toArray();
  return new Map(docs.map((d) => [d.sagaId, d]));
}

/** A MongoDB sink choosing its strategy as in production (replace on MongoDB, compare-and-set elsewhere). */
export async function mongoSink(collection: Collection<SagaDocument>): Promise<MongoSagaSink> {
  return new MongoSagaSink(collection, { client: await mongoClient() });
}
