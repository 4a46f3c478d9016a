import { AssignerProtocol } from 'kafkajs';
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { encodeMemberInfo } from '../../../src/kafka/assigner.ts';
import type { ProcessorCodec } from '../../../src/kafka/codec.ts';
import { Processor, partitionForKey } from '../../../src/kafka/processor.ts';

type Member = { memberId: string; memberMetadata: Buffer; memberAssignment: Buffer };

function processorOver(members: Member[] | Error): Processor {
  const kafka = { consumer: () => ({}) } as unknown as Kafka;
  const admin = {
    describeGroups: async () => {
      if (members instanceof Error) throw members;
      return { groups: [{ members }] };
    },
  } as unknown as Admin;
  return new Processor({
    applicationId: 'app',
    eventsTopic: 'events',
    changelogTopic: 'changelog',
    deadLetterTopic: 'dlq',
    commandTopics: new Map(),
    partitions: 4,
    definition: {} as CompiledDefinition,
    codec: {} as ProcessorCodec,
    kafka,
    admin,
    advertisedUrl: () => 'http://self:1',
    openStore: async () => {
      throw new Error('not used');
    },
    logger: pino({ level: 'silent' }),
    changelogReader: { readPartition: async () => ({ records: 0, lastOffset: undefined, durationMs: 0 }) },
  });
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
describe('owner lookup for interactive queries', () => {
  const sagaId = 'saga-1';
  const partition = partitionForKey(sagaId, 4);

  it('treats members without metadata or assignment (group rebalancing) as owning nothing', async () => {
    const processor = processorOver([{ memberId: 'm1', memberMetadata: Buffer.alloc(0), memberAssignment: Buffer.alloc(0) }]);
    await expect(processor.locate(sagaId)).resolves.toEqual({ kind: 'no-owner', partition });
  });

  it('ignores undecodable members and still finds the owner among the others', async () => {
    const processor = processorOver([
      { memberId: 'garbled', memberMetadata: Buffer.from([0, 1, 255]), memberAssignment: Buffer.from([7]) },
      stableMember('owner', 'http://owner:2', [0, 1, 2, 3]),
    ]);
    await expect(processor.locate(sagaId)).resolves.toEqual({ kind: 'remote', url: 'http://owner:2', partition });
  });

  // Regression: with the broker unreachable, describeGroups failed after its retries and
  // GET /saga/:id for a partition owned elsewhere answered 500 instead of 503.
  it('knows no owner when the group cannot be described', async () => {
    const failure = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false });
    const processor = processorOver(failure);
    await expect(processor.locate(sagaId)).resolves.toEqual({ kind: 'no-owner', partition });
  });
});
