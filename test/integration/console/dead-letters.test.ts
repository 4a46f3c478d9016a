import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaDeadLetterStore, REDRIVEN_FROM_HEADER, deadLetterHandledTopicName } from '../../../src/kafka/dead-letter-store.ts';
import type { Instance } from '../../../src/runtime/instance.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { testBrokerClient } from '../../support/kafka.ts';
import { readTopic, reservationConfig, startTestInstance, testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

const TOKEN = 'integration-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

interface ListBody {
  items: { id: string; key: string | null; code: string; reason: string; source: { topic: string; partition: number; offset: string }; payload: { format: string; messageLabel?: string; preview: string }; headers: Record<string, string>; handled?: { action: string; by: string; note?: string } }[];
  total: number;
  codes: { code: string; count: number }[];
  complete: boolean;
}

async function list(instance: Instance, query = ''): Promise<ListBody> {
  const res = await fetch(`${instance.url}/dead-letters${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ListBody;
}

async function saga(instance: Instance, sagaId: string): Promise<SagaDocument | undefined> {
  const res = await fetch(`${instance.url}/saga/${sagaId}`);
  return res.status === 200 ? ((await res.json()) as SagaDocument) : undefined;
}

describe('dead letters through the HTTP API, on the real broker', () => {
  let flow: FlowTopics;
  let instance: Instance;

  beforeAll(async () => {
    flow = uniqueFlow('dlq');
    instance = await startTestInstance(reservationConfig(flow), { partitions: 2, env: { SAGAFLOW_ADMIN_TOKEN: TOKEN } });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const producer = testKafka().producer();
    await producer.connect();
    // An event that arrives before its saga exists, and a record that is not an event at all.
    await producer.send({
      topic: flow.events,
      messages: [
        { key: 'early-saga', value: JSON.stringify({ messageLabel: 'validationOK', messagePayload: { seats: 2 } }), headers: { 'trace-id': 'abc' } },
        { key: 'garbage', value: Buffer.from('this is not json') },
      ],
    });
    await producer.disconnect();
  });

  it('lists them with code, reason, source and payload preview, and filters by code', async () => {
    const body = await waitFor(async () => {
      const page = await list(instance);
      return page.total >= 2 ? page : undefined;
    }, { timeoutMs: 30_000, description: 'two dead letters' });
    expect(body.complete).toBe(true);
    const early = body.items.find((i) => i.key === 'early-saga');
    expect(early).toMatchObject({
      code: 'SAGAFLOW_UNKNOWN_SAGA',
      reason: 'saga "early-saga" does not exist',
      source: { topic: flow.events },
      payload: { format: 'event', messageLabel: 'validationOK' },
      headers: { 'trace-id': 'abc' },
    });
    expect(JSON.parse(early?.payload.preview ?? 'null')).toEqual({ seats: 2 });
    expect(body.items.find((i) => i.key === 'garbage')).toMatchObject({ code: 'SAGAFLOW_DECODE_FAILED', payload: { format: 'text', preview: 'this is not json' } });
    expect(body.codes.map((c) => c.code).sort()).toEqual(['SAGAFLOW_DECODE_FAILED', 'SAGAFLOW_UNKNOWN_SAGA']);
    const filtered = await list(instance, '?code=SAGAFLOW_DECODE_FAILED');
    expect(filtered.items.map((i) => i.key)).toEqual(['garbage']);
  });

  it('re-drives an event to the events topic once its saga exists: the saga advances, the dead letter is marked redriven', async () => {
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: flow.events,
      messages: [{ key: 'early-saga', value: JSON.stringify({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'c-1', metadata: { seats: 2 } } }) }],
    });
    await producer.disconnect();
    await waitFor(() => saga(instance, 'early-saga'), { timeoutMs: 30_000, description: 'early-saga created' });
    const id = (await list(instance, '?code=SAGAFLOW_UNKNOWN_SAGA')).items[0]?.id as string;

    const refused = await fetch(`${instance.url}/dead-letters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: [id], by: 'x' }) });
    expect(refused.status).toBe(401);

    const res = await fetch(`${instance.url}/dead-letters/redrive`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: [id], by: 'alice' }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: [id], skipped: [] });

    const advanced = await waitFor(async () => {
      const doc = await saga(instance, 'early-saga');
      return doc?.currentState === 'reservationValidated' ? doc : undefined;
    }, { timeoutMs: 30_000, description: 'early-saga validated by the re-driven event' });
    expect(advanced.history.events.map((e) => e.event)).toEqual(['__created__', 'validationOK']);
    expect(advanced.metadata).toMatchObject({ seats: 2 });

    const after = (await list(instance, '?code=SAGAFLOW_UNKNOWN_SAGA')).items[0];
    expect(after?.handled).toMatchObject({ action: 'redriven', by: 'alice' });
    const again = await fetch(`${instance.url}/dead-letters/redrive`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: [id], by: 'alice' }) });
    expect((await again.json()) as { skipped: { reason: string }[] }).toMatchObject({ done: [], skipped: [{ id }] });

    // The re-driven record carries the original headers and where it came from, not the dead-letter headers.
    const events = await readTopic(flow.events, { until: (records) => records.some((r) => r.headers[REDRIVEN_FROM_HEADER] !== undefined), timeoutMs: 20_000 });
    const redriven = events.find((r) => r.headers[REDRIVEN_FROM_HEADER] !== undefined);
    expect(redriven?.key).toBe('early-saga');
    expect(redriven?.headers['trace-id']).toBe('abc');
    expect(redriven?.headers[REDRIVEN_FROM_HEADER]).toBe(`${instance.topics.deadLetter}/${id.replace('-', '/')}`);
    expect(Object.keys(redriven?.headers ?? {}).filter((h) => h.startsWith('sagaflow-') && h !== REDRIVEN_FROM_HEADER)).toEqual([]);
  });

  it('marks a dead letter handled, and another reader of the topics (another instance) sees the marker', async () => {
    const id = (await list(instance, '?code=SAGAFLOW_DECODE_FAILED')).items[0]?.id as string;
    const res = await fetch(`${instance.url}/dead-letters/handled`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: [id], by: 'bob', note: 'a test producer' }) });
    expect(await res.json()).toEqual({ done: [id], skipped: [] });
    expect((await list(instance, '?handled=false')).total).toBe(0);

    const admin = testKafka().admin();
    await admin.connect();
    // On the client the tests run with (SAGAFLOW_KAFKA_CLIENT), as the instance does.
    const client = testBrokerClient();
    const topicAdmin = await client.admin();
    registerCleanup(() => topicAdmin.close());
    const other = new KafkaDeadLetterStore({
      client,
      admin: topicAdmin,
      applicationId: instance.applicationId,
      deadLetterTopic: instance.topics.deadLetter,
      eventsTopic: flow.events,
      logger: pino({ level: 'silent' }),
    });
    registerCleanup(() => other.close());
    const page = await other.list({ limit: 10 });
    expect(page.complete).toBe(true);
    expect(page.items.find((l) => l.id === id)?.handled).toMatchObject({ action: 'handled', by: 'bob', note: 'a test producer' });
    expect(page.items.find((l) => l.code === 'SAGAFLOW_UNKNOWN_SAGA')?.handled).toMatchObject({ action: 'redriven', by: 'alice' });
    expect((await admin.listTopics()).includes(deadLetterHandledTopicName(instance.applicationId))).toBe(true);
  });
});
