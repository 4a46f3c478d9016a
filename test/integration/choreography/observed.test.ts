import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import { DLQ_HEADERS, FORWARDED_HEADER } from '../../../src/engine/task.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { readTopic, startTestInstance, tempStateDir, testChannelConfigurations, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

const root = new URL('../../../', import.meta.url).pathname;
const PARTITIONS = 4;
const SAGAS = 20;

type Step = { label: string; payload: Record<string, unknown> };

/** What each order's services publish, in order: the happy path, a large amount through fraud review, or a shipment before any payment. */
function script(i: number, orderId: string): { steps: Step[]; path: string[] } {
  const large = i % 3 === 0;
  const placed = { label: 'orderPlaced', payload: { orderId, customerId: `c-${i}`, amount: large ? 2500 : 100 } };
  if (i % 5 === 4) {
    return { steps: [placed, { label: 'orderShipped', payload: { orderId, carrier: 'DHL' } }], path: ['awaitingPayment', 'unexpectedTransition'] };
  }
  return {
    steps: [
      placed,
      { label: 'paymentAuthorized', payload: { orderId, amount: large ? 2500 : 100 } },
      ...(large ? [{ label: 'fraudCleared', payload: { orderId } }] : []),
      { label: 'stockReserved', payload: { orderId, warehouse: 'MXP-1' } },
      { label: 'orderShipped', payload: { orderId } },
      { label: 'orderDelivered', payload: { orderId, deliveredAt: '2024-01-03' } },
    ],
    path: ['awaitingPayment', ...(large ? ['fraudReview'] : []), 'awaitingStock', 'awaitingShipment', 'inTransit', 'orderCompleted'],
  };
}

describe('a choreography observed from domain events', () => {
  it('follows orders on a topic with random keys: correlation, start on orderPlaced, routing on the amount, the catch-all; bad records dead-lettered', { timeout: 180_000 }, async () => {
    const flow = uniqueFlow('chor');
    const observed = `${flow.applicationId}-domain`;
    const admin = kafkaClient().admin();
    await admin.connect();
    registerCleanup(() => admin.disconnect());
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: observed, numPartitions: PARTITIONS, replicationFactor: 1 }] });
    registerCleanup(() => admin.deleteTopics({ topics: [observed], timeout: 10_000 }).catch(() => undefined));

    // The example's saga.json on the test broker: its own events topic, and one observed topic for every service.
    const raw = JSON.parse(readFileSync(join(root, 'examples/marketplace-order/saga.json'), 'utf8')) as { communicationProtocols: { id: string; configurations: Record<string, unknown> }[] };
    for (const channel of raw.communicationProtocols) {
      channel.configurations = channel.id === 'saga' ? testChannelConfigurations(flow) : { brokers: services().kafkaBrokers, inputTopics: [observed], correlation: { sagaId: '/messagePayload/orderId' } };
    }
    const file = join(tempStateDir(), 'saga.json');
    writeFileSync(file, JSON.stringify(raw));
    const instance = await startTestInstance(loadSagaConfigFile(file, {}), { partitions: PARTITIONS });
    registerCleanup(() => instance.stop());
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const producer = kafkaClient().producer();
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    const orders = Array.from({ length: SAGAS }, (_, i) => {
      const orderId = `order-${randomUUID()}`;
      return { orderId, ...script(i, orderId) };
    });
    const get = async (id: string): Promise<SagaDocument | undefined> => {
      const res = await fetch(`${instance.url}/saga/${encodeURIComponent(id)}`);
      return res.status === 200 ? ((await res.json()) as SagaDocument) : undefined;
    };
    // Round by round, as services answer each other: per-saga order is the order records reach
    // the saga's partition, and records with random keys land on any partition of the topic.
    const rounds = Math.max(...orders.map((o) => o.steps.length));
    for (let round = 0; round < rounds; round += 1) {
      const due = orders.filter((o) => o.steps[round] !== undefined);
      await producer.send({
        topic: observed,
        messages: due.map((o, n) => {
          const step = o.steps[round] as Step;
          // Keys of every kind: random, the customer's, none.
          return { key: n % 4 === 0 ? null : n % 4 === 1 ? `c-${n}` : randomUUID(), value: JSON.stringify({ messageLabel: step.label, messagePayload: step.payload, eventId: `${o.orderId}-${round}` }) };
        }),
      });
      for (const o of due) await waitFor(async () => ((await get(o.orderId))?.revision ?? 0) === round + 1, { timeoutMs: 60_000, description: `${o.orderId} took round ${round}` });
    }
    // A record without an order id, and an event for an order never placed.
    await producer.send({
      topic: observed,
      messages: [
        { key: 'k-1', value: JSON.stringify({ messageLabel: 'paymentAuthorized', messagePayload: { amount: 5 } }) },
        { key: null, value: JSON.stringify({ messageLabel: 'paymentAuthorized', messagePayload: { orderId: 'never-placed', amount: 5 } }) },
      ],
    });

    for (const o of orders) {
      const saga = await get(o.orderId);
      expect(saga?.history.states.map((s) => s.state), o.orderId).toEqual(o.path);
      expect(saga?.isFinal).toBe(true);
      expect(saga?.associatedEntityId).toBe(o.orderId);
      // The start event's payload is the metadata (and later payloads merged in, on the normal path).
      expect(saga?.metadata).toMatchObject(o.steps[0]?.payload ?? {});
      expect(saga?.history.events[0]).toMatchObject({ event: 'orderPlaced', eventId: `${o.orderId}-0` });
      const last = saga?.history.events.at(-1);
      if (o.path.at(-1) === 'unexpectedTransition') {
        expect(last).toMatchObject({ event: 'orderShipped', unexpected: { state: 'awaitingPayment', reason: 'state "awaitingPayment" has no transition for event "orderShipped" (it accepts "paymentAuthorized", "paymentDeclined")' } });
        expect(saga?.metadata).toEqual(o.steps[0]?.payload);
      } else {
        expect(last).toMatchObject({ event: 'orderDelivered', businessEventId: 3 });
        expect(last?.unexpected).toBeUndefined();
      }
    }
    expect(orders.filter((o) => o.path.includes('fraudReview')).length).toBeGreaterThan(0);
    expect(orders.filter((o) => o.path.includes('unexpectedTransition')).length).toBe(4);

    // Every observed record was forwarded to the events topic keyed by its saga id; the two bad ones are dead letters.
    const total = orders.reduce((n, o) => n + o.steps.length, 0);
    const forwarded = await readTopic(instance.topics.events, { until: (got) => got.length >= total + 1, timeoutMs: 20_000 });
    expect(forwarded.length).toBe(total + 1);
    expect(forwarded.every((r) => r.headers[FORWARDED_HEADER]?.startsWith(`${observed}/`))).toBe(true);
    expect(new Set(forwarded.map((r) => r.key))).toEqual(new Set([...orders.map((o) => o.orderId), 'never-placed']));
    const dead = await readTopic(instance.topics.deadLetter, { until: (got) => got.length >= 2, timeoutMs: 20_000 });
    expect(dead.map((r) => r.headers[DLQ_HEADERS.code]).sort()).toEqual(['SAGAFLOW_CORRELATION_MISSING', 'SAGAFLOW_UNKNOWN_SAGA']);
    expect(dead.find((r) => r.headers[DLQ_HEADERS.code] === 'SAGAFLOW_CORRELATION_MISSING')?.headers[DLQ_HEADERS.reason]).toBe(
      `the event "paymentAuthorized" of observed topic "${observed}" has nothing at "/messagePayload/orderId" (correlation.sagaId of channel "domainEvents"), where its saga id must be a non-empty string`,
    );
  });
});
