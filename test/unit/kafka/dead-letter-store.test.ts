import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../src/broker/errors.ts';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { BrokerClient, ChangelogReader } from '../../../src/broker/ports.ts';
import type { OutputRecord } from '../../../src/broker/records.ts';
import { DLQ_HEADERS } from '../../../src/engine/task.ts';
import { isSagaflowError } from '../../../src/errors.ts';
import { KafkaDeadLetterStore, REDRIVEN_FROM_HEADER, deadLetterHandledTopicName } from '../../../src/kafka/dead-letter-store.ts';
import type { KafkaDeadLetterStoreOptions } from '../../../src/kafka/dead-letter-store.ts';
import { MemoryBroker } from '../engine/memory-broker.ts';
import type { MemoryClient } from '../engine/memory-broker.ts';

const APP = 'app';
const DLQ = 'app-dead-letter';
const EVENTS = 'events';

function deadLetter(partition: number, key: string | null, code: string, extra: Record<string, string> = {}): OutputRecord {
  return {
    topic: DLQ,
    partition,
    key,
    value: Buffer.from(JSON.stringify({ messageLabel: 'validationOK', messagePayload: { seats: 2 } })),
    headers: { [DLQ_HEADERS.code]: code, [DLQ_HEADERS.reason]: `because ${code}`, [DLQ_HEADERS.topic]: EVENTS, [DLQ_HEADERS.partition]: String(partition), [DLQ_HEADERS.offset]: '7', ...extra },
  };
}

/** The memory client, counting the partition reads the store asks for (and `after` of each). */
function counting(client: MemoryClient): { client: BrokerClient; reads: string[] } {
  const reads: string[] = [];
  const inner = client.changelogReader();
  const reader: ChangelogReader = {
    readPartition: (topic, partition, after, onRecords, opts) => {
      reads.push(`${topic}/${partition} after ${after ?? 'none'}`);
      return inner.readPartition(topic, partition, after, onRecords, opts);
    },
  };
  return { client: Object.assign(Object.create(client) as MemoryClient, { changelogReader: () => reader }), reads };
}

async function setup(opts: Partial<KafkaDeadLetterStoreOptions> = {}) {
  const broker = new MemoryBroker();
  broker.createTopic(EVENTS, 3);
  broker.createTopic(DLQ, 3);
  const memory = broker.client();
  const { client, reads } = counting(memory);
  const make = async (extra: Partial<KafkaDeadLetterStoreOptions> = {}) =>
    new KafkaDeadLetterStore({ client, admin: await memory.admin(), applicationId: APP, deadLetterTopic: DLQ, eventsTopic: EVENTS, logger: pino({ level: 'silent' }), ...opts, ...extra });
  return { broker, reads, store: await make(), make };
}

describe('KafkaDeadLetterStore on the broker ports', () => {
  it('creates the handled topic (one partition) and lists the dead letters of every partition, newest first', async () => {
    const { broker, store } = await setup();
    broker.append(deadLetter(0, 's-1', 'SAGAFLOW_UNKNOWN_SAGA', { 'trace-id': 'abc' }), true);
    broker.now += 1_000;
    broker.append(deadLetter(2, 'garbage', 'SAGAFLOW_DECODE_FAILED'), true);
    const page = await store.list({ limit: 10 });
    expect(broker.partitionCounts.get(deadLetterHandledTopicName(APP))).toBe(1);
    expect(page).toMatchObject({ total: 2, complete: true, indexed: 2, evicted: 0 });
    expect(page.items.map((l) => l.id)).toEqual(['2-0', '0-0']);
    expect(page.items[1]).toMatchObject({ code: 'SAGAFLOW_UNKNOWN_SAGA', reason: 'because SAGAFLOW_UNKNOWN_SAGA', source: { topic: EVENTS, partition: 0, offset: '7' } });
    expect(page.items[1]?.record.headers['trace-id']).toBe('abc');
    expect(page.items[1]?.record.timestamp).toBe(new Date(broker.now - 1_000).toISOString());
    expect(page.codes).toEqual([
      { code: 'SAGAFLOW_DECODE_FAILED', count: 1 },
      { code: 'SAGAFLOW_UNKNOWN_SAGA', count: 1 },
    ]);
    await store.close();
  });

  it('reads only what the topics gained since the last call, from the position the last read ended at', async () => {
    const { broker, reads, store } = await setup();
    broker.append(deadLetter(0, 'a', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    // An aborted transaction at the end of partition 1: its records (and, on Kafka, markers) lie past the last record.
    broker.append(deadLetter(1, 'b', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    broker.append(deadLetter(1, 'aborted', 'SAGAFLOW_UNKNOWN_SAGA'), false).aborted = true;
    expect((await store.list({ limit: 10 })).total).toBe(2);
    expect(reads.sort()).toEqual([`${DLQ}/0 after none`, `${DLQ}/1 after none`]);
    reads.length = 0;
    expect((await store.list({ limit: 10 })).total).toBe(2);
    expect(reads).toEqual([]);
    broker.append(deadLetter(1, 'c', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    const page = await store.list({ limit: 10 });
    expect(page.items.map((l) => l.record.key?.toString())).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(page.total).toBe(3);
    // From the end of the previous read (offset 2: past the aborted record), not from its last record.
    expect(reads).toEqual([`${DLQ}/1 after 1`]);
    await store.close();
  });

  it('re-drives to the saga partition of the events topic with the original headers, and marks it redriven in the same transaction', async () => {
    const { broker, store } = await setup();
    broker.append(deadLetter(1, 'saga-42', 'SAGAFLOW_UNKNOWN_SAGA', { 'trace-id': 'abc' }), true);
    broker.append(deadLetter(1, null, 'SAGAFLOW_EVENT_MISSING_KEY'), true);
    const result = await store.redrive(['1-0', '1-1', '9-9'], 'alice');
    expect(result.done).toEqual(['1-0']);
    expect(result.skipped.map((s) => s.id)).toEqual(['1-1', '9-9']);
    const tx = broker.transactions.at(-1);
    expect(tx?.records.map((r) => `${r.topic}/${r.partition}`)).toEqual([`${EVENTS}/${partitionForKey('saga-42', 3)}`, `${deadLetterHandledTopicName(APP)}/0`]);
    const event = tx?.records[0];
    expect(event?.key?.toString()).toBe('saga-42');
    expect(event?.headers).toEqual({ 'trace-id': 'abc', [REDRIVEN_FROM_HEADER]: `${DLQ}/1/0` });
    expect(JSON.parse(String(tx?.records[1]?.value))).toMatchObject({ action: 'redriven', by: 'alice' });
    expect((await store.get('1-0'))?.handled).toMatchObject({ action: 'redriven', by: 'alice' });
    // Done already: skipped unless forced.
    expect((await store.redrive(['1-0'], 'alice')).skipped[0]?.reason).toContain('already redriven by alice');
    expect((await store.redrive(['1-0'], 'bob', { force: true })).done).toEqual(['1-0']);
    await store.close();
  });

  it("sees another store's markers, including a tombstone that takes one back", async () => {
    const { broker, store, make } = await setup();
    broker.append(deadLetter(0, 'a', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    broker.append(deadLetter(0, 'b', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    expect(await store.markHandled(['0-0', '0-1', '5-5'], 'bob', 'a test producer')).toMatchObject({ done: ['0-0', '0-1'], skipped: [{ id: '5-5' }] });
    broker.append({ topic: deadLetterHandledTopicName(APP), partition: 0, key: '0-1', value: null }, true);
    const other = await make();
    const page = await other.list({ limit: 10, handled: true });
    expect(page.items.map((l) => l.id)).toEqual(['0-0']);
    expect(page.items[0]?.handled).toMatchObject({ action: 'handled', by: 'bob', note: 'a test producer' });
    await other.close();
    await store.close();
  });

  it('answers a failed write with SAGAFLOW_EVENTS_UNAVAILABLE and marks nothing', async () => {
    const { broker, store } = await setup();
    broker.append(deadLetter(0, 'a', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    broker.faults.push({ op: 'commit', error: new BrokerError('retryable', 'unreachable', 'broker away', { client: 'memory' }) });
    const failure = await store.markHandled(['0-0'], 'bob').catch((err: unknown) => err);
    expect(isSagaflowError(failure) && failure.code).toBe('SAGAFLOW_EVENTS_UNAVAILABLE');
    expect((await store.get('0-0'))?.handled).toBeUndefined();
    // The next write goes through.
    expect((await store.markHandled(['0-0'], 'bob')).done).toEqual(['0-0']);
    await store.close();
    const closed = await store.list({ limit: 1 }).catch((err: unknown) => err);
    expect(isSagaflowError(closed) && closed.code).toBe('SAGAFLOW_EVENTS_UNAVAILABLE');
  });

  it('answers incomplete when the topics cannot be read to their end in time, and holds what the read brings later', async () => {
    const broker = new MemoryBroker();
    broker.createTopic(EVENTS, 1);
    broker.createTopic(DLQ, 1);
    broker.append(deadLetter(0, 'a', 'SAGAFLOW_UNKNOWN_SAGA'), true);
    const memory = broker.client();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inner = memory.changelogReader();
    const slow: BrokerClient = Object.assign(Object.create(memory) as MemoryClient, {
      changelogReader: (): ChangelogReader => ({ readPartition: async (...args) => gate.then(() => inner.readPartition(...args)) }),
    });
    const store = new KafkaDeadLetterStore({ client: slow, admin: await memory.admin(), applicationId: APP, deadLetterTopic: DLQ, eventsTopic: EVENTS, logger: pino({ level: 'silent' }), catchUpMs: 20 });
    expect(await store.list({ limit: 10 })).toMatchObject({ complete: false, total: 0 });
    release();
    expect(await store.list({ limit: 10 })).toMatchObject({ complete: true, total: 1 });
    await store.close();
  });
});
