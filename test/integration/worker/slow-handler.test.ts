import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic, kafkaClient, uniqueGroupId } from '../../support/kafka.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { jsonCodec } from '../reliability/support/workload.ts';

describe('SagaWorker with a handler that runs long', () => {
  it('warns while the batch runs, naming the saga in flight, and stops warning once it is done', { timeout: 60_000 }, async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const commands = await createTopic({ prefix: 'slow-commands', partitions: 2 });
    const brokers = services().kafkaBrokers;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const worker = new SagaWorker({ brokers, codec: await jsonCodec(brokers), commandsTopic: commands, groupId: uniqueGroupId('slow-workers'), logger: pino({ level: 'warn' }, sink), slowBatchWarningMs: 300 });
    worker.onCommand('validateReservation', async ({ sagaId }) => {
      if (sagaId === 'slow-saga') await released;
      handled.push(sagaId);
    });
    await worker.start();
    registerCleanup(() => worker.stop());
    const producer = kafkaClient().producer();
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    await producer.send({ topic: commands, messages: [{ key: 'slow-saga', partition: 0, value: JSON.stringify({ messageLabel: 'validateReservation', messagePayload: {} }) }] });

    const slow = () => lines.filter((l) => l.msg === 'command handlers still running; past max.poll.interval.ms the consumer leaves its group');
    await waitFor(() => slow().length >= 2, { timeoutMs: 30_000, description: 'two slow-batch warnings' });
    expect(slow()[0]).toMatchObject({ level: 40, records: 1, inFlight: { '0': 'slow-saga' } });
    expect(handled).toEqual([]);

    release();
    await waitFor(() => handled.includes('slow-saga'), { timeoutMs: 10_000 });
    const warned = slow().length;
    await delay(1_000);
    expect(slow()).toHaveLength(warned);
    expect(worker.isHealthy()).toBe(true);
  });
});
