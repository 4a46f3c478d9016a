import { AssignerProtocol } from 'kafkajs';
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeMemberInfo } from '../../../src/adapters/kafkajs/assigner.ts';
import { classifyKafkajsError } from '../../../src/adapters/kafkajs/errors.ts';
import { KafkajsGroupMember } from '../../../src/adapters/kafkajs/group-member.ts';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { Processor } from '../../../src/engine/processor.ts';
import type { ProcessorCodec } from '../../../src/kafka/codec.ts';
import { MemoryBroker } from '../engine/memory-broker.ts';

type Member = { memberId: string; memberMetadata: Buffer; memberAssignment: Buffer };

function memberOver(members: Member[] | Error): KafkajsGroupMember {
  const admin = {
    describeGroups: async () => {
      if (members instanceof Error) throw members;
      return { groups: [{ members }] };
    },
  } as unknown as Admin;
  return new KafkajsGroupMember({ consumer: () => ({}) } as unknown as Kafka, async () => admin, { groupId: 'app', topics: ['events'], advertisedUrl: 'http://self:1', fromBeginning: true }, pino({ level: 'silent' }));
}

function stableMember(memberId: string, url: string, partitions: number[]): Member {
  return {
    memberId,
    memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['events'], userData: encodeMemberInfo({ url, owned: {} }) }),
    memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { events: partitions }, userData: Buffer.alloc(0) }),
  };
}

// Regression: during a rebalance DescribeGroups reports members with empty metadata and
// assignment; decoding them threw RangeError and GET /saga/:id answered 500 instead of 503.
describe('owner lookup for interactive queries (kafkajs: HTTP address in the assignor userData)', () => {
  it('treats members without metadata or assignment (group rebalancing) as owning nothing', async () => {
    const member = memberOver([{ memberId: 'm1', memberMetadata: Buffer.alloc(0), memberAssignment: Buffer.alloc(0) }]);
    await expect(member.owners('events')).resolves.toEqual(new Map());
  });

  it('ignores undecodable members and still finds the owner among the others', async () => {
    const member = memberOver([
      { memberId: 'garbled', memberMetadata: Buffer.from([0, 1, 255]), memberAssignment: Buffer.from([7]) },
      stableMember('owner', 'http://owner:2', [0, 1, 2, 3]),
    ]);
    const owners = await member.owners('events');
    expect([...owners.keys()]).toEqual([0, 1, 2, 3]);
    expect(owners.get(2)).toEqual({ memberId: 'owner', url: 'http://owner:2' });
  });

  it('fails with a classified, retryable error when the group cannot be described', async () => {
    const failure = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false });
    await expect(memberOver(failure).owners('events')).rejects.toMatchObject({ name: 'BrokerError', kind: 'retryable' });
    expect(classifyKafkajsError(failure).kind).toBe('retryable');
  });
});

// Regression: with the broker unreachable, describing the group failed and GET /saga/:id for a
// partition owned elsewhere answered 500 instead of 503.
describe('Processor.locate', () => {
  async function processorWith(owners: () => Promise<Map<number, { memberId: string; url: string }>>) {
    const broker = new MemoryBroker();
    const client = broker.client();
    const processor = new Processor({
      applicationId: 'app',
      eventsTopic: 'events',
      changelogTopic: 'changelog',
      deadLetterTopic: { topic: 'dlq', partitions: 4 },
      commandTopics: new Map(),
      partitions: 4,
      definition: {} as CompiledDefinition,
      codec: {} as ProcessorCodec,
      client,
      admin: await client.admin(),
      advertisedUrl: () => 'http://self:1',
      instanceId: 'i',
      openStore: async () => {
        throw new Error('not used');
      },
      logger: pino({ level: 'silent' }),
    });
    await processor.start();
    if (client.member) client.member.owners = owners;
    return processor;
  }
  const sagaId = 'saga-1';
  const partition = partitionForKey(sagaId, 4);

  it('knows no owner when the group cannot be described', async () => {
    const processor = await processorWith(async () => {
      throw new Error('unreachable');
    });
    await expect(processor.locate(sagaId)).resolves.toEqual({ kind: 'no-owner', partition });
    await processor.stop();
  });

  it('forwards to the member that owns the partition', async () => {
    const processor = await processorWith(async () => new Map([[partition, { memberId: 'other', url: 'http://other:2' }]]));
    await expect(processor.locate(sagaId)).resolves.toEqual({ kind: 'remote', url: 'http://other:2', partition });
    await processor.stop();
  });
});
