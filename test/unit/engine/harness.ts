import { readFileSync } from 'node:fs';
import pino from 'pino';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { Clock } from '../../../src/engine/clock.ts';
import { Processor } from '../../../src/engine/processor.ts';
import { SagaflowError } from '../../../src/errors.ts';
import type { Envelope, ProcessorCodec } from '../../../src/kafka/codec.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import type { KeyValueStore } from '../../../src/store/key-value-store.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { PartitionStore } from '../../../src/store/partition-store.ts';
import { MemoryBroker } from './memory-broker.ts';
import type { MemoryClient } from './memory-broker.ts';

export const PARTITIONS = 2;

/** The tutorial's reservation saga, optionally edited (e.g. to add timers). */
export async function reservation(edit: (raw: Record<string, unknown>) => void = () => undefined): Promise<CompiledDefinition> {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  edit(raw);
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

export const jsonCodec = (encodeSaga?: (saga: SagaDocument) => Buffer): ProcessorCodec => ({
  decodeEvent: async (_t, value) => {
    try {
      return JSON.parse(value?.toString() ?? 'null') as Envelope;
    } catch (err) {
      throw new SagaflowError('SAGAFLOW_DECODE_FAILED', { message: `not JSON: ${(err as Error).message}` });
    }
  },
  encodeEvent: async (_t, e) => Buffer.from(JSON.stringify(e)),
  encodeCommand: async (_t, e) => Buffer.from(JSON.stringify(e)),
  decodeCommand: async (_t, value) => JSON.parse(value?.toString() ?? 'null') as Envelope,
  encodeSaga: async (_t, saga) => (encodeSaga ? encodeSaga(saga) : Buffer.from(JSON.stringify(saga))),
  decodeSaga: async (_t, value) => JSON.parse(value?.toString() ?? 'null') as SagaDocument,
});

/** A processor over the in-memory broker, with stores that outlive a processor (like state dirs). */
export async function harness(
  opts: {
    codec?: ProcessorCodec;
    v1?: boolean;
    maxRecordBytes?: number;
    stores?: Map<number, MemoryStore>;
    broker?: MemoryBroker;
    definition?: CompiledDefinition;
    clock?: Clock;
    otherInputs?: string[];
    /** Puts something between a task and the memory behind its store (fault injection); called on every open. */
    wrapStore?: (partition: number, kv: KeyValueStore) => KeyValueStore;
  } = {},
) {
  const broker = opts.broker ?? new MemoryBroker();
  const otherInputs = opts.otherInputs ?? [];
  for (const t of ['events', ...otherInputs, 'app-sagas-changelog', 'commands', 'app-dead-letter']) if (!broker.partitionCounts.has(t)) broker.createTopic(t, PARTITIONS);
  const client: MemoryClient = broker.client();
  if (opts.v1) client.exactlyOnce = 'v1';
  const kv = opts.stores ?? new Map<number, MemoryStore>();
  const processor = new Processor({
    applicationId: 'app',
    eventsTopic: 'events',
    ...(otherInputs.length > 0 ? { coPartitioned: otherInputs } : {}),
    changelogTopic: 'app-sagas-changelog',
    deadLetterTopic: { topic: 'app-dead-letter', partitions: PARTITIONS },
    commandTopics: new Map([['kafkaChannel', { topic: 'commands', partitions: PARTITIONS }]]),
    partitions: PARTITIONS,
    definition: opts.definition ?? (await reservation()),
    codec: opts.codec ?? jsonCodec(),
    client,
    admin: await client.admin(),
    advertisedUrl: () => 'http://self:1',
    instanceId: 'instance-1',
    openStore: async (p) => {
      let store = kv.get(p);
      if (!store) kv.set(p, (store = new MemoryStore()));
      return new ReopenedStore(opts.wrapStore ? opts.wrapStore(p, store) : store);
    },
    logger: pino({ level: 'silent' }),
    commitIntervalMs: 60_000,
    // Timers are fired by the tests through fireDueTimers(), on their own clock.
    timerIntervalMs: 3_600_000,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.maxRecordBytes ? { maxRecordBytes: opts.maxRecordBytes } : {}),
  });
  await processor.start();
  const member = client.member;
  if (!member) throw new Error('no member');
  const produce = (key: string | null, value: Envelope | string) =>
    broker.append({ topic: 'events', partition: key === null ? 0 : partitionForKey(key, PARTITIONS), key, value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) }, true);
  const create = (key: string, metadata: Record<string, unknown> = {}) => produce(key, { messageLabel: '__created__', messagePayload: { associatedEntityId: key, metadata } });
  const event = (key: string, label: string, payload: unknown = {}) => produce(key, { messageLabel: label, messagePayload: payload });
  const assignAll = async () => {
    await member.assign(['events', ...otherInputs].flatMap((topic) => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }))));
    await until(() => processor.isReady());
  };
  /** Polls until nothing new arrives, then commits what the tasks hold. */
  const drain = async () => {
    for (let i = 0; i < 50 && (await member.poll()) > 0; i++);
    await processor.commit();
  };
  const commands = () => broker.committedRecords('commands').map((r) => JSON.parse(String(r.value)) as Envelope);
  const deadLetters = () => broker.committedRecords('app-dead-letter');
  return { broker, client, member, processor, produce, create, event, assignAll, drain, commands, deadLetters, stores: kv };
}

/** Each task opens its store; closing the PartitionStore must not lose the memory behind it. */
export class ReopenedStore extends PartitionStore {
  constructor(kv: KeyValueStore) {
    super({
      get: (k) => kv.get(k),
      getMany: (ks) => kv.getMany(ks),
      write: (b) => kv.write(b),
      clear: () => kv.clear(),
      iterate: (o) => kv.iterate(o),
      close: async () => undefined,
    });
  }
}

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function sagaOf(h: Awaited<ReturnType<typeof harness>>, sagaId: string): Promise<SagaDocument | undefined> {
  const where = await h.processor.locate(sagaId);
  return where.kind === 'local' ? where.saga : undefined;
}

