import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { OUTBOX_HEADERS, outboxRecord } from '../../../src/engine/outbox-records.ts';
import { Processor } from '../../../src/engine/processor.ts';
import type { ProcessorCodec } from '../../../src/kafka/codec.ts';
import { ensureTopics } from '../../../src/kafka/topics.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { PartitionStore } from '../../../src/store/partition-store.ts';
import { MemoryBroker } from './memory-broker.ts';

const PARTITIONS = 3;

/** The tutorial saga with its validation command on a rest channel. */
async function definition() {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as {
    machineDefinition: { states: { outputCommand?: { channel: string } }[] };
    communicationProtocols: unknown[];
  };
  raw.communicationProtocols.push({ id: 'validation', type: 'rest', configurations: { endpoint: 'validation-service', port: 8080 } });
  const first = raw.machineDefinition.states[0]?.outputCommand;
  if (first) first.channel = 'validation';
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

const codec: ProcessorCodec = {
  decodeEvent: async (_t, v) => JSON.parse(String(v)) as never,
  encodeEvent: async (_t, e) => Buffer.from(JSON.stringify(e)),
  encodeCommand: async (_t, e) => Buffer.from(JSON.stringify(e)),
  decodeCommand: async (_t, v) => JSON.parse(String(v)) as never,
  encodeSaga: async (_t, s) => Buffer.from(JSON.stringify(s)),
  decodeSaga: async (_t, v) => JSON.parse(String(v)) as SagaDocument,
};

describe('outbox records', () => {
  it('carry the envelope as JSON, keyed by sagaId on the given partition, with channel, label and the task headers', () => {
    const record = outboxRecord(
      { topic: 'app-outbox', channels: new Set(['notifications']) },
      4,
      { sagaId: 's-1', label: 'sendEmail', channel: 'notifications', payload: { to: 'a@b.c' }, kind: 'sideEffect', attempt: 2, revision: 3 },
      { 'sagaflow-revision': '3', 'sagaflow-command-kind': 'sideEffect', [OUTBOX_HEADERS.attempt]: '2' },
    );
    expect(record).toEqual({
      topic: 'app-outbox',
      partition: 4,
      key: 's-1',
      value: Buffer.from('{"messageLabel":"sendEmail","messagePayload":{"to":"a@b.c"}}'),
      headers: {
        'sagaflow-revision': '3',
        'sagaflow-command-kind': 'sideEffect',
        'sagaflow-attempt': '2',
        'sagaflow-channel': 'notifications',
        'sagaflow-command-label': 'sendEmail',
      },
    });
  });

  it('are written by the task in the transaction of the changelog record, on the saga partition; kafka commands keep their topic', async () => {
    const broker = new MemoryBroker();
    for (const t of ['events', 'app-sagas-changelog', 'commands', 'app-dead-letter', 'app-outbox']) broker.createTopic(t, PARTITIONS);
    const client = broker.client();
    const stores = new Map<number, MemoryStore>();
    const processor = new Processor({
      applicationId: 'app',
      eventsTopic: 'events',
      changelogTopic: 'app-sagas-changelog',
      deadLetterTopic: { topic: 'app-dead-letter', partitions: PARTITIONS },
      commandTopics: new Map([['kafkaChannel', { topic: 'commands', partitions: PARTITIONS }]]),
      outbox: { topic: 'app-outbox', channels: new Set(['validation']) },
      partitions: PARTITIONS,
      definition: await definition(),
      codec,
      client,
      admin: await client.admin(),
      advertisedUrl: () => 'http://self:1',
      instanceId: 'i',
      openStore: async (p) => {
        const kv = stores.get(p) ?? new MemoryStore();
        stores.set(p, kv);
        return new PartitionStore(kv);
      },
      logger: pino({ level: 'silent' }),
      commitIntervalMs: 60_000,
    });
    await processor.start();
    const member = client.member;
    if (!member) throw new Error('no member');
    await member.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'events', partition })));
    for (let i = 0; i < 100 && !processor.isReady(); i++) await new Promise((r) => setTimeout(r, 5));
    const produce = (key: string, messageLabel: string, messagePayload: unknown) =>
      broker.append({ topic: 'events', partition: partitionForKey(key, PARTITIONS), key, value: Buffer.from(JSON.stringify({ messageLabel, messagePayload })) }, true);
    for (const id of ['r1', 'r2', 'r3']) produce(id, '__created__', { associatedEntityId: id, metadata: { id } });
    while ((await member.poll()) > 0);
    await processor.commit();

    const outbox = broker.committedRecords('app-outbox');
    expect(outbox.map((r) => [String(r.key), r.partition])).toEqual(
      ['r1', 'r2', 'r3'].map((id) => [id, partitionForKey(id, PARTITIONS)] as const).sort((a, b) => a[1] - b[1]),
    );
    expect(JSON.parse(String(outbox[0]?.value))).toMatchObject({ messageLabel: 'validateReservation', messagePayload: { id: expect.any(String) } });
    expect(Object.fromEntries(Object.entries(outbox[0]?.headers ?? {}).map(([k, v]) => [k, String(v)]))).toEqual({
      'sagaflow-revision': '1',
      'sagaflow-command-kind': 'main',
      'sagaflow-attempt': '1',
      'sagaflow-channel': 'validation',
      'sagaflow-command-label': 'validateReservation',
    });
    expect(broker.committedRecords('commands')).toHaveLength(0);
    // One transaction holds each saga's changelog record and its outbox record.
    const [tx] = broker.transactions;
    expect(tx?.records.filter((r) => r.topic === 'app-outbox')).toHaveLength(3);
    expect(tx?.records.filter((r) => r.topic === 'app-sagas-changelog')).toHaveLength(3);

    produce('r1', 'validationOK', {});
    while ((await member.poll()) > 0);
    await processor.commit();
    expect(broker.committedRecords('commands').map((r) => JSON.parse(String(r.value)).messageLabel)).toEqual(['checkReservation']);
    expect(processor.metrics.commandsSent).toBe(4);
    await processor.stop();
  });

  it('live in a topic co-partitioned with the events topic: created with its count, refused when it differs', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('events', 5);
    const admin = await broker.client().admin();
    const layout = { events: 'events', changelog: 'app-sagas-changelog', deadLetter: 'app-dead-letter', commands: [], outbox: 'app-outbox' };
    const { counts } = await ensureTopics(admin, layout, { defaultPartitions: 2, replicationFactor: undefined });
    expect(counts.get('app-outbox')).toBe(5);

    const other = new MemoryBroker();
    other.createTopic('events', 5);
    other.createTopic('app-outbox', 4);
    await expect(ensureTopics(await other.client().admin(), layout, { defaultPartitions: 2, replicationFactor: undefined })).rejects.toMatchObject({
      code: 'SAGAFLOW_TOPIC_PARTITIONS_MISMATCH',
      message: expect.stringContaining('outbox topic "app-outbox" has 4 partitions but events topic "events" has 5'),
    });
    const { counts: without } = await ensureTopics(await broker.client().admin(), { ...layout, outbox: undefined }, { defaultPartitions: 2, replicationFactor: undefined });
    expect(without.has('app-outbox')).toBe(false);
  });
});
