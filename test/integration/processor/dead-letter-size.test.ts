import { describe, expect, it } from 'vitest';
import { recordBatchBytes } from '../../../src/broker/records.ts';
import { DLQ_HEADERS } from '../../../src/engine/task.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { readTopic, startTestInstance, testKafka, twoInputTopicsConfig, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

/** The broker's default max.message.bytes, which the events and dead-letter topics keep. */
const BROKER_LIMIT = 1_048_588;
const LARGE_TOPIC_LIMIT = 3_000_000;

// A dead letter copies the event and adds ~300 bytes of headers: one the broker refused failed
// the transaction on every retry and stalled the partition.
describe.each(['librdkafka', 'kafkajs'])('dead-letter records near the broker limit (%s)', (client) => {
  it('carry a cut value and the original size for an event 300 bytes under the limit and for one from a topic with a larger max.message.bytes, and the partition goes on', { timeout: 120_000 }, async () => {
    const flow = uniqueFlow('dlq-size');
    const second = `${flow.applicationId}-large-events`;
    const admin = testKafka().admin();
    await admin.connect();
    registerCleanup(() => admin.disconnect());
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: second, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(LARGE_TOPIC_LIMIT) }] }] });
    const instance = await startTestInstance(twoInputTopicsConfig(flow, second), { partitions: 1, client });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const nearKey = 'near-limit';
    // Not JSON, so it is dead-lettered; as a record it is 300 bytes under the events topic's limit.
    const near = Buffer.alloc(BROKER_LIMIT - 300 - recordBatchBytes({ key: nearKey, value: Buffer.alloc(0) }), 'n');
    const large = Buffer.alloc(2_000_000, 'l');
    const producer = testKafka().producer();
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    await producer.send({ topic: flow.events, messages: [{ key: nearKey, value: near }] });
    await producer.send({ topic: second, messages: [{ key: 'from-large-topic', value: large }] });
    await producer.send({ topic: flow.events, messages: [{ key: 'after', value: JSON.stringify({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'a', metadata: {} } }) }] });

    const saga = await waitFor(async () => {
      const r = await fetch(`${instance.url}/saga/after`);
      return r.status === 200 ? ((await r.json()) as { currentState: string }) : undefined;
    }, { timeoutMs: 60_000, description: 'the saga created after both large events' });
    expect(saga.currentState).toBe('reservationCreated');

    const dead = await readTopic(instance.topics.deadLetter, { until: (r) => r.length >= 2, timeoutMs: 30_000 });
    const byKey = new Map(dead.map((r) => [r.key, r]));
    const nearLetter = byKey.get(nearKey);
    expect(nearLetter?.headers[DLQ_HEADERS.code]).toBe('SAGAFLOW_DECODE_FAILED');
    expect(nearLetter?.headers[DLQ_HEADERS.truncated]).toBe(String(near.length));
    expect(nearLetter?.value?.length).toBeLessThan(near.length);
    expect(nearLetter?.value?.equals(near.subarray(0, nearLetter.value.length))).toBe(true);

    const largeLetter = byKey.get('from-large-topic');
    expect(largeLetter?.headers[DLQ_HEADERS.code]).toBe('SAGAFLOW_EVENT_TOO_LARGE');
    expect(largeLetter?.headers[DLQ_HEADERS.topic]).toBe(second);
    expect(largeLetter?.headers[DLQ_HEADERS.truncated]).toBe(String(large.length));
    expect(largeLetter?.value?.equals(large.subarray(0, largeLetter.value.length))).toBe(true);

    for (const letter of [nearLetter, largeLetter]) {
      if (!letter) throw new Error('a dead letter is missing');
      expect(recordBatchBytes(letter)).toBeLessThanOrEqual(BROKER_LIMIT);
      // Cut no further than needed: within the header's framing slack of the limit.
      expect(recordBatchBytes(letter)).toBeGreaterThan(BROKER_LIMIT - 1_000);
    }
  });
});
