import { readFileSync } from 'node:fs';
import type { Admin, Batch, Consumer, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { SagaflowError } from '../../../src/errors.ts';
import type { Envelope, ProcessorCodec } from '../../../src/kafka/codec.ts';
import { Metrics } from '../../../src/kafka/metrics.ts';
import { PartitionTask } from '../../../src/kafka/task.ts';
import type { TaskStore } from '../../../src/kafka/task.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';

async function reservation(): Promise<CompiledDefinition> {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

const reservationDefinition = await reservation();

/** A broker, store and consumer in memory: records what each committed transaction sent. */
function harness(codec: ProcessorCodec, opts: { maxTransactionBytes?: number } = {}) {
  const committed: { topicMessages: TopicMessages[]; offset: string }[] = [];
  const sagas = new Map<string, SagaDocument>();
  let changelogOffset = 0;
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    transaction: async () => {
      let sent: TopicMessages[] = [];
      let offset = '';
      return {
        sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
          sent = topicMessages;
          return topicMessages.map((t) => {
            const base = t.topic === 'changelog' ? changelogOffset : 0;
            if (t.topic === 'changelog') changelogOffset += t.messages.length;
            return { topicName: t.topic, partition: 0, errorCode: 0, baseOffset: String(base) };
          });
        },
        sendOffsets: async (o: { topics: { partitions: { offset: string }[] }[] }) => {
          offset = o.topics[0]?.partitions[0]?.offset ?? '';
        },
        commit: async () => void committed.push({ topicMessages: sent, offset }),
        abort: async () => undefined,
      };
    },
  } as unknown as Producer;
  const store: TaskStore = {
    getSaga: async (id) => sagas.get(id),
    getSagas: async (ids) => new Map(ids.flatMap((id) => { const s = sagas.get(id); return s ? [[id, s] as const] : []; })),
    readChangelogMarker: async () => undefined,
    applyCommitted: async (docs) => {
      for (const d of docs) sagas.set(d.sagaId, d);
    },
    applyRestored: async () => undefined,
    wipe: async () => undefined,
    close: async () => undefined,
  };
  const consumer = { pause: () => undefined, resume: () => undefined, seek: () => undefined } as unknown as Consumer;
  const admin = {
    fetchOffsets: async () => [{ topic: 'events', partitions: [{ partition: 0, offset: '0' }] }],
    fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '0', offset: '0' }],
  } as unknown as Admin;
  const metrics = new Metrics();
  const task = new PartitionTask({
    applicationId: 'app',
    partition: 0,
    eventsTopic: 'events',
    changelogTopic: 'changelog',
    deadLetterTopic: 'dead-letter',
    commandTopics: new Map([['kafkaChannel', 'commands']]),
    definition: reservationDefinition,
    codec,
    kafka: { producer: () => producer } as unknown as Kafka,
    admin,
    consumer,
    openStore: async () => store,
    changelogReader: { readPartition: async () => ({ records: 0, lastOffset: undefined, durationMs: 0 }) },
    logger: pino({ level: 'silent' }),
    metrics,
    stillOwned: async () => true,
    ...(opts.maxTransactionBytes === undefined ? {} : { maxTransactionBytes: opts.maxTransactionBytes }),
  });
  let offset = 0;
  const batch = (events: { key: string; envelope: Envelope }[]): Batch =>
    ({
      topic: 'events',
      partition: 0,
      messages: events.map(({ key, envelope }) => ({
        key: Buffer.from(key),
        value: Buffer.from(JSON.stringify(envelope)),
        offset: String(offset++),
        timestamp: '1767225600000',
        headers: {},
        attributes: 0,
        size: 0,
      })),
    }) as unknown as Batch;
  return { task, committed, sagas, metrics, batch };
}

const jsonCodec = (encodeSaga?: (saga: SagaDocument) => Buffer): ProcessorCodec => ({
  decodeEvent: async (_t, value) => JSON.parse(value?.toString() ?? 'null') as Envelope,
  encodeEvent: async (_t, e) => Buffer.from(JSON.stringify(e)),
  encodeCommand: async (_t, e) => Buffer.from(JSON.stringify(e)),
  decodeCommand: async (_t, value) => JSON.parse(value?.toString() ?? 'null') as Envelope,
  encodeSaga: async (_t, saga) => (encodeSaga ? encodeSaga(saga) : Buffer.from(JSON.stringify(saga))),
  decodeSaga: async (_t, value) => JSON.parse(value?.toString() ?? 'null') as SagaDocument,
});

const create = (key: string, metadata: Record<string, unknown> = {}) => ({ key, envelope: { messageLabel: '__created__', messagePayload: { associatedEntityId: key, metadata } } });
const dead = (committed: { topicMessages: TopicMessages[] }[]): Message[] => committed.flatMap((c) => c.topicMessages.filter((t) => t.topic === 'dead-letter').flatMap((t) => t.messages));

describe('PartitionTask with events it cannot apply', () => {
  // Regression: an event whose new document could not be encoded (metadata nested thousands of
  // levels deep overflows JSON.stringify) failed the batch; the task re-fenced, restored and
  // met the same event again, forever: the partition never moved.
  it('dead-letters an event whose saga cannot be encoded and commits the events around it', async () => {
    const codec = jsonCodec((saga) => {
      if (saga.metadata.poison) throw new SagaflowError('SAGAFLOW_ENCODE_FAILED', { message: 'saga cannot be written as JSON: Maximum call stack size exceeded' });
      return Buffer.from(JSON.stringify(saga));
    });
    const { task, committed, sagas, batch } = harness(codec);
    await task.start();
    await task.processBatch(batch([create('before'), create('poison', { poison: true }), create('after')]), () => undefined);
    expect([...sagas.keys()].sort()).toEqual(['after', 'before']);
    const letters = dead(committed);
    expect(letters.map((m) => [String(m.key), String(m.headers?.['sagaflow-error-code'])])).toEqual([['poison', 'SAGAFLOW_ENCODE_FAILED']]);
    expect(String(letters[0]?.headers?.['sagaflow-reason'])).toMatch(/cannot be written; the event is not applied/);
    expect(committed.at(-1)?.offset).toBe('3');
    expect(task.state).toBe('ready');
  });

  it('retries, rather than dead-letters, an encoding failure that can pass (registry down)', async () => {
    const codec = jsonCodec(() => {
      throw new SagaflowError('SAGAFLOW_SCHEMA_REGISTRY_FAILED', { retryable: true });
    });
    const { task, committed, batch } = harness(codec);
    await task.start();
    await task.processBatch(batch([create('a')]), () => undefined);
    expect(committed).toHaveLength(0);
    expect(task.state).toBe('recovering');
    await task.close();
  });

  // Regression for the same stall from the size side: all outputs of a fetched batch went into
  // one transaction, which the broker refused above message.max.bytes.
  it('splits a batch into transactions that stay under the byte budget', async () => {
    const { task, committed, sagas, batch } = harness(jsonCodec(), { maxTransactionBytes: 4_000 });
    await task.start();
    await task.processBatch(batch(Array.from({ length: 40 }, (_, i) => create(`s${i}`, { pad: 'p'.repeat(200) }))), () => undefined);
    expect(sagas.size).toBe(40);
    expect(committed.length).toBeGreaterThan(3);
    for (const c of committed) {
      const bytes = c.topicMessages.flatMap((t) => t.messages).reduce((n, m) => n + Buffer.byteLength(m.key ?? '') + Buffer.byteLength(m.value ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(4_000 + 2_000);
    }
    expect(committed.at(-1)?.offset).toBe('40');
  });
});
