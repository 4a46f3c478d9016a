import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LibrdkafkaGroupMember } from '../../../src/adapters/librdkafka/group-member.ts';
import { createBrokerClient } from '../../../src/adapters/select.ts';
import type { TopicPartition } from '../../../src/broker/ports.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic, uniqueGroupId } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { eventually } from '../../support/wait.ts';

// The watchdog's remedy on the real broker: a librdkafka member whose consumer is recreated
// (as when librdkafka's group state is stuck outside `up`) hands its partitions over as lost,
// joins again with a new consumer and reads what arrives afterwards, from its committed position.

const logger = pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'silent' });

describe('librdkafka group member recreation', () => {
  it('gives its partitions up as lost, rejoins with a new consumer and goes on from its committed position', { timeout: 90_000 }, async () => {
    const client = await createBrokerClient('librdkafka', { brokers: services().kafkaBrokers, clientId: uniqueName('recreate'), logger });
    registerCleanup(() => client.close());
    const topic = await createTopic({ prefix: 'recreate', partitions: 2 });
    const producer = await client.producer();
    registerCleanup(() => producer.close());
    const member = client.groupMember({ groupId: uniqueGroupId('recreate'), topics: [topic], advertisedUrl: '', fromBeginning: true, maxWaitMs: 100 });
    expect(member).toBeInstanceOf(LibrdkafkaGroupMember);
    const rd = member as LibrdkafkaGroupMember;
    const seen: string[] = [];
    const assigned: TopicPartition[][] = [];
    const revoked: { partitions: TopicPartition[]; lost: boolean }[] = [];
    await member.start({
      onAssigned: async (p) => void assigned.push([...p]),
      onRevoked: async (p, lost) => void revoked.push({ partitions: [...p], lost }),
      onRecords: async (records) => {
        for (const r of records) seen.push(r.value?.toString() ?? '');
        const last = new Map<number, bigint>();
        for (const r of records) last.set(r.partition, r.offset + 1n);
        await member.commit([...last].map(([partition, offset]) => ({ topic, partition, offset })));
      },
      onFatal: () => undefined,
    });
    registerCleanup(() => member.stop());
    await producer.send([0, 1].map((partition) => ({ topic, partition, key: `k${partition}`, value: Buffer.from(`before-${partition}`) })));
    await eventually(() => expect(seen.sort()).toEqual(['before-0', 'before-1']), 30_000);
    const first = rd.consumer;

    await rd.recreate('test');
    expect(rd.recreations).toBe(1);
    expect(rd.consumer).not.toBe(first);
    expect(revoked).toEqual([{ partitions: expect.arrayContaining([{ topic, partition: 0 }, { topic, partition: 1 }]) as unknown as TopicPartition[], lost: true }]);

    await eventually(() => expect(assigned.flat()).toHaveLength(4), 60_000);
    await producer.send([0, 1].map((partition) => ({ topic, partition, key: `k${partition}`, value: Buffer.from(`after-${partition}`) })));
    // Read from the committed position: the records before the recreation are not read again.
    await eventually(() => expect([...seen].sort()).toEqual(['after-0', 'after-1', 'before-0', 'before-1']), 30_000);
  });
});
