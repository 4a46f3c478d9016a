import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { ChangelogReader } from '../../../src/broker/ports.ts';
import type { Envelope } from '../../../src/kafka/codec.ts';
import { KafkaSagaEventLog } from '../../../src/kafka/saga-event-log.ts';
import { MemoryBroker } from '../engine/memory-broker.ts';

const EVENTS = 'events';
const SAGA = 'saga-1';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

async function decode(value: Buffer | null): Promise<Envelope> {
  const parsed = JSON.parse(String(value)) as Envelope;
  if (typeof parsed.messageLabel !== 'string') throw new Error('not an event');
  return parsed;
}

/** A partition of the events topic holding the saga's events among others, each at `T0 + at` ms. */
async function setup(records: { key: string; at: number; value?: unknown }[]) {
  const broker = new MemoryBroker();
  broker.createTopic(EVENTS, 4);
  const partition = partitionForKey(SAGA, 4);
  for (const r of records) {
    const value = r.value === undefined ? { messageLabel: `${r.key}-event`, messagePayload: { at: r.at } } : r.value;
    broker.append({ topic: EVENTS, partition, key: r.key, value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), timestamp: T0 + r.at }, true);
  }
  const client = broker.client();
  return { broker, partition, admin: await client.admin(), reader: client.changelogReader() };
}

const iso = (at: number) => new Date(T0 + at).toISOString();

describe('KafkaSagaEventLog on the broker ports', () => {
  it("reads the saga's events from its creation (by timestamp) to its last change, and stops at the first record past it", async () => {
    const { partition, admin, reader } = await setup([
      { key: SAGA, at: -60_000 },
      { key: 'other', at: -5_000 },
      { key: SAGA, at: 0, value: { messageLabel: '__created__', messagePayload: { seats: 1 }, eventId: 'e-0' } },
      { key: 'other', at: 100 },
      { key: SAGA, at: 200 },
      { key: SAGA, at: 60_000 },
      { key: 'other', at: 61_000 },
    ]);
    const log = new KafkaSagaEventLog({ admin, reader, topic: EVENTS, partitions: 4, decode });
    const page = await log.eventsOf(SAGA, iso(0), iso(200));
    expect(page.complete).toBe(true);
    expect(page.events).toEqual([
      { partition, offset: '2', timestamp: iso(0), label: '__created__', payload: { seats: 1 }, eventId: 'e-0' },
      { partition, offset: '4', timestamp: iso(200), label: `${SAGA}-event`, payload: { at: 200 } },
    ]);
    // From the record at `since` less a second (offset 2) up to the one past `until` plus a second.
    expect(page.scanned).toBe(3);
  });

  it('says it is incomplete when it reached its limit of records, and reports records it cannot decode', async () => {
    const { admin, reader } = await setup([
      { key: SAGA, at: 0, value: 'not json at all' },
      ...Array.from({ length: 10 }, (_, i) => ({ key: `other-${i}`, at: 10 + i })),
      { key: SAGA, at: 100 },
    ]);
    const log = new KafkaSagaEventLog({ admin, reader, topic: EVENTS, partitions: 4, decode, maxScanned: 5 });
    const page = await log.eventsOf(SAGA, iso(0), iso(100));
    expect(page).toMatchObject({ complete: false, scanned: 5 });
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).toMatchObject({ offset: '0', label: null, payload: null, decodeError: expect.stringContaining('JSON') });
  });

  it('gives up when the time is up, aborting the read', async () => {
    const { admin } = await setup([{ key: SAGA, at: 0 }]);
    let aborted = false;
    // A read that delivers nothing until it is aborted (a broker that does not answer).
    const stuck: ChangelogReader = {
      readPartition: (_topic, _partition, _after, _onRecords, opts) =>
        new Promise((resolve) =>
          opts?.signal?.addEventListener('abort', () => {
            aborted = true;
            resolve({ records: 0, lastOffset: undefined, end: 1n, low: 0n, durationMs: 0 });
          }),
        ),
    };
    const log = new KafkaSagaEventLog({ admin, reader: stuck, topic: EVENTS, partitions: 4, decode, maxMs: 20 });
    expect(await log.eventsOf(SAGA, iso(0), iso(0))).toEqual({ events: [], complete: false, scanned: 0 });
    expect(aborted).toBe(true);
  });

  it('finds nothing, completely, for a saga created after the last record', async () => {
    const { admin, reader } = await setup([{ key: 'other', at: 0 }]);
    const log = new KafkaSagaEventLog({ admin, reader, topic: EVENTS, partitions: 4, decode });
    expect(await log.eventsOf(SAGA, iso(10_000), iso(20_000))).toEqual({ events: [], complete: true, scanned: 0 });
  });
});
