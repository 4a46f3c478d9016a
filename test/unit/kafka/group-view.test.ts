import { describe, expect, it } from 'vitest';
import { KafkaGroupView } from '../../../src/kafka/group-view.ts';
import { MemoryBroker } from '../engine/memory-broker.ts';

const EVENTS = 'events';

async function setup() {
  const broker = new MemoryBroker();
  broker.createTopic(EVENTS, 3);
  for (let i = 0; i < 5; i++) broker.append({ topic: EVENTS, partition: 0, key: `k${i}`, value: null }, true);
  broker.append({ topic: EVENTS, partition: 1, key: 'k', value: null }, true);
  broker.groupOffsets.set('app', new Map([[`${EVENTS}\u00000`, 3n]]));
  return { broker, admin: await broker.client().admin() };
}

describe('KafkaGroupView on the broker ports', () => {
  it("lists the group's members from the processor member's owners, partitions in order", async () => {
    const { admin } = await setup();
    const owners = new Map([
      [2, { memberId: 'm-b', url: 'http://b:3000' }],
      [0, { memberId: 'm-b', url: 'http://b:3000' }],
      [1, { memberId: 'm-a', url: 'http://a:3000' }],
    ]);
    const view = new KafkaGroupView({ admin, owners: async () => owners, groupId: 'app', topic: EVENTS });
    expect(await view.members()).toEqual([
      { memberId: 'm-a', url: 'http://a:3000', partitions: [1] },
      { memberId: 'm-b', url: 'http://b:3000', partitions: [0, 2] },
    ]);
  });

  it('knows no member while nobody owns a partition (before the processor joined)', async () => {
    const { admin } = await setup();
    const view = new KafkaGroupView({ admin, owners: async () => new Map(), groupId: 'app', topic: EVENTS });
    expect(await view.members()).toEqual([]);
  });

  it("gives every partition's committed offset, end and lag (all of the log where nothing is committed)", async () => {
    const { admin } = await setup();
    const view = new KafkaGroupView({ admin, owners: async () => new Map(), groupId: 'app', topic: EVENTS });
    expect(await view.offsets()).toEqual([
      { partition: 0, committed: '3', end: '5', lag: 2 },
      { partition: 1, committed: null, end: '1', lag: 1 },
      { partition: 2, committed: null, end: '0', lag: 0 },
    ]);
  });
});
