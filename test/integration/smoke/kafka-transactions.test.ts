import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopic, kafkaClient, uniqueGroupId } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { waitFor } from '../../support/wait.ts';

/** Reads `topic` from the beginning into an array the caller polls. */
async function collect(topic: string, readUncommitted: boolean): Promise<string[]> {
  const seen: string[] = [];
  const consumer = kafkaClient().consumer({ groupId: uniqueGroupId('smoke-read'), readUncommitted });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: { message: KafkaMessage }) => {
      seen.push(message.value?.toString() ?? '');
    },
  });
  return seen;
}

describe('Kafka transactions', () => {
  it('hides an aborted transaction from read_committed consumers and shows a committed one', async () => {
    const topic = await createTopic({ prefix: 'smoke-txn', partitions: 1 });
    const producer = kafkaClient().producer({ transactionalId: uniqueName('smoke-txn'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted-1' }, { key: 'k', value: 'aborted-2' }] });
    await aborted.abort();

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: 'committed-1' }, { key: 'k', value: 'committed-2' }] });
    await committed.commit();

    // The committed records sit after the aborted ones in the partition, so a read_committed
    // consumer that has seen them has already passed (and skipped) the aborted ones.
    const readCommitted = await collect(topic, false);
    await waitFor(() => readCommitted.length >= 2, { timeoutMs: 30_000, description: 'committed records' });
    expect(readCommitted).toEqual(['committed-1', 'committed-2']);

    // Control: the aborted records are really in the log, visible to read_uncommitted.
    const readUncommitted = await collect(topic, true);
    await waitFor(() => readUncommitted.length >= 4, { timeoutMs: 30_000, description: 'all records' });
    expect(readUncommitted).toEqual(['aborted-1', 'aborted-2', 'committed-1', 'committed-2']);
  });
});
