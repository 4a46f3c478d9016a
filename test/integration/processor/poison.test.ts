import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { waitFor } from '../../support/wait.ts';
import { readTopic, reservationConfig, startTestInstance, testKafka, uniqueFlow } from '../../support/sagaflow.ts';

describe('poison messages', () => {
  it('go to the dead-letter topic with their reason, and the next message is processed', async () => {
    const flow = uniqueFlow('poison');
    const config = reservationConfig(flow);
    const instance = await startTestInstance(config, { partitions: 1 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: flow.events,
      messages: [
        { key: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
        { key: 'no-label', value: JSON.stringify({ messagePayload: {} }) },
        { key: null, value: JSON.stringify({ messageLabel: 'validationOK', messagePayload: {} }) },
        { key: 'unknown-saga', value: JSON.stringify({ messageLabel: 'validationOK', messagePayload: {} }) },
        { key: 'good-saga', value: JSON.stringify({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'x', metadata: { ok: true } } }) },
      ],
    });
    await producer.disconnect();

    const saga = await waitFor(async () => {
      const r = await fetch(`${instance.url}/saga/good-saga`);
      return r.status === 200 ? ((await r.json()) as SagaDocument) : undefined;
    }, { timeoutMs: 60_000 });
    expect(saga.currentState).toBe('reservationCreated');

    const dead = await readTopic(instance.topics.deadLetter, { until: (r) => r.length >= 4, timeoutMs: 20_000 });
    const byKey = new Map(dead.map((r) => [r.key, r.headers]));
    expect(byKey.get('garbage')?.['sagaflow-error-code']).toBe('SAGAFLOW_DECODE_FAILED');
    expect(byKey.get('no-label')?.['sagaflow-error-code']).toBe('SAGAFLOW_DECODE_FAILED');
    expect(byKey.get('no-label')?.['sagaflow-reason']).toMatch(/messageLabel/);
    expect(byKey.get(null)?.['sagaflow-error-code']).toBe('SAGAFLOW_EVENT_MISSING_KEY');
    expect(byKey.get('unknown-saga')?.['sagaflow-error-code']).toBe('SAGAFLOW_UNKNOWN_SAGA');
    for (const headers of byKey.values()) {
      expect(headers['sagaflow-source-topic']).toBe(flow.events);
      expect(headers['sagaflow-source-offset']).toMatch(/^\d+$/);
    }
    // The original bytes are kept.
    expect(dead.find((r) => r.key === 'garbage')?.value).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));

    // An event the current state does not accept is recorded in the saga's history.
    await fetch(`${instance.url}/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'good-saga', value: { messageLabel: 'checkOK', messagePayload: {} } }),
    });
    const recorded = await waitFor(async () => {
      const r = await fetch(`${instance.url}/saga/good-saga`);
      const s = (await r.json()) as SagaDocument;
      return s.ignoredEvents.length > 0 ? s : undefined;
    }, { timeoutMs: 30_000 });
    expect(recorded.ignoredEvents[0]).toMatchObject({ event: 'checkOK', outcome: 'unexpected' });
    expect(recorded.currentState).toBe('reservationCreated');
  });
});
