import { describe, expect, it } from 'vitest';
import { readWholeTopic } from './support/topic-reader.ts';
import { getSaga } from './support/verify.ts';
import { jsonCodec, planWorkload, produceCreations } from './support/workload.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

// Regression: a task sent a whole fetched batch in one transaction. With a backlog, the
// changelog records of one batch passed the broker's message.max.bytes (1 MB by default), the
// produce failed on every retry, and the partition never moved again. Likewise one event that
// grew a saga document past the limit stalled its partition for good.
describe('backlog and oversized outputs', () => {
  it('a long backlog is processed in several transactions, and an event that would write an oversized record is dead-lettered', { timeout: 240_000 }, async () => {
    const flow = uniqueFlow('backlog');
    const config = reservationConfig(flow);
    const kafka = kafkaClient();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: flow.events, numPartitions: 1 }], waitForLeaders: true });
    const codec = await jsonCodec(services().kafkaBrokers);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const sagas = planWorkload(flow.applicationId, 5_000, 7);
    for (let i = 0; i < sagas.length; i += 1_000) await produceCreations(producer, codec, flow.events, sagas.slice(i, i + 1_000));
    const big = 'x'.repeat(600_000);
    const event = async (key: string, label: string, payload: unknown) =>
      producer.send({ topic: flow.events, messages: [{ key, value: await codec.encodeEvent(flow.events, { messageLabel: label, messagePayload: payload }) }] });
    const victim = sagas[0]?.sagaId as string;
    // 600 kB into the metadata is fine (document and command stay below 1 MB); the next 600 kB
    // would make a 1.2 MB document: dead-lettered, not applied; the small event after it applies.
    await event(victim, 'validationOK', { first: big });
    await event(victim, 'checkOK', { second: big });
    await event(victim, 'checkKO', { small: true });
    const last = sagas[sagas.length - 1]?.sagaId as string;
    await event(last, 'validationKO', {});

    const instance = await startTestInstance(config, { partitions: 1 });
    const done = await waitFor(
      async () => {
        const r = await getSaga(instance.url, last);
        return r.saga?.currentState === 'reservationFailed' ? r.saga : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500, description: 'the last event of the backlog processed' },
    );
    expect(done.revision).toBe(2);
    expect(instance.processor.metrics.transactions).toBeGreaterThan(1);

    const saga = (await getSaga(instance.url, victim)).saga;
    expect(saga?.currentState).toBe('reservationFailed');
    expect(saga?.history.events.map((e) => e.event)).toEqual(['__created__', 'validationOK', 'checkKO']);
    expect(saga?.metadata).not.toHaveProperty('second');

    const dead = await readWholeTopic(kafka, instance.topics.deadLetter);
    expect(dead.map((d) => [d.key, d.headers['sagaflow-error-code']])).toEqual([[victim, 'SAGAFLOW_SAGA_TOO_LARGE']]);
    expect(dead[0]?.headers['sagaflow-reason']).toMatch(/over the \d+-byte record limit/);
  });
});
