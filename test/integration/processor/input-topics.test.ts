import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { codecFor, quietLogger, startTestInstance, twoInputTopicsConfig, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';

const PARTITIONS = 4;

describe('every input topic of the saga.json', () => {
  it('is read: events on the second topic, on their saga\'s partition number or not, drive sagas to their final states, and its positions are committed', { timeout: 180_000 }, async () => {
    const flow = uniqueFlow('inputs');
    const second = `${flow.applicationId}-check-events`;
    const config = twoInputTopicsConfig(flow, second);
    const instance = await startTestInstance(config, { partitions: PARTITIONS });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    // Validation answers on the events topic (through the worker); check answers on the second
    // topic, half of them on the saga's partition number, half on the next one.
    const worker = new SagaWorker({ brokers: services().kafkaBrokers, codec: await codecFor(config), commandsTopic: flow.commands, eventsTopic: flow.events, groupId: uniqueName('workers'), logger: quietLogger });
    const producer = kafkaClient().producer();
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    let n = 0;
    worker
      .onCommand('validateReservation', async ({ sagaId }) => worker.emit('validationOK', sagaId, {}))
      .onCommand('checkReservation', async ({ sagaId }) => {
        const home = partitionForKey(sagaId, PARTITIONS);
        const partition = n++ % 2 === 0 ? home : (home + 1) % PARTITIONS;
        await producer.send({ topic: second, messages: [{ key: sagaId, partition, value: JSON.stringify({ messageLabel: 'checkOK', messagePayload: { via: second } }) }] });
      });
    await worker.start();
    registerCleanup(() => worker.stop());
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${instance.url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `e-${i}`, metadata: { i } }) });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { sagaId: string }).sagaId);
    }
    for (const id of ids) {
      const saga = await waitFor(
        async () => {
          const body = (await (await fetch(`${instance.url}/saga/${encodeURIComponent(id)}`)).json()) as SagaDocument;
          return body.isFinal ? body : undefined;
        },
        { timeoutMs: 60_000, description: `${id} final` },
      );
      expect(saga.currentState).toBe('reservationConfirmed');
      expect(saga.metadata).toMatchObject({ via: second });
    }
    const metrics = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metrics).not.toMatch(/SAGAFLOW_UNKNOWN_SAGA|SAGAFLOW_UNEXPECTED/);
    // The second topic's records were consumed and committed by the application's group.
    const admin = kafkaClient().admin();
    await admin.connect();
    registerCleanup(() => admin.disconnect());
    await waitFor(
      async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: flow.applicationId, topics: [second] });
        const committed = (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
        return committed === ids.length;
      },
      { timeoutMs: 30_000, description: 'the second topic committed to its end' },
    );
  });

  it('refuses to start when an input topic has another partition count than the events topic, naming its path', async () => {
    const flow = uniqueFlow('inputs-mismatch');
    const second = `${flow.applicationId}-other-events`;
    const admin = kafkaClient().admin();
    await admin.connect();
    registerCleanup(() => admin.disconnect());
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: second, numPartitions: PARTITIONS - 1, replicationFactor: 1 }] });
    registerCleanup(() => admin.deleteTopics({ topics: [second], timeout: 10_000 }).catch(() => undefined));
    await expect(startTestInstance(twoInputTopicsConfig(flow, second), { partitions: PARTITIONS })).rejects.toMatchObject({
      code: 'SAGAFLOW_TOPIC_PARTITIONS_MISMATCH',
      path: 'communicationProtocols[0].configurations.inputTopics[1]',
    });
  });
});
