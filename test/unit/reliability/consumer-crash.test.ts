import { EventEmitter } from 'node:events';
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KafkajsGroupMember } from '../../../src/adapters/kafkajs/group-member.ts';
import { classifyKafkajsError } from '../../../src/adapters/kafkajs/errors.ts';
import type { BrokerError } from '../../../src/broker/errors.ts';
import type { TopicPartition } from '../../../src/broker/ports.ts';

const events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', HEARTBEAT: 'consumer.heartbeat', REBALANCING: 'consumer.rebalancing' } as const;

/** A kafkajs consumer that records connect/run calls and lets the test emit its events. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const calls: string[] = [];
  const consumer = {
    events,
    on: (name: string, listener: (e: unknown) => void) => emitter.on(name, listener),
    connect: async () => void calls.push('connect'),
    disconnect: async () => void calls.push('disconnect'),
    stop: async () => void calls.push('stop'),
    subscribe: async () => void calls.push('subscribe'),
    run: async () => void calls.push('run'),
    pause: () => undefined,
    resume: () => undefined,
    seek: () => undefined,
  };
  return { consumer, calls, emit: (name: string, payload: unknown) => emitter.emit(name, { payload }) };
}

function memberWith(consumer: unknown, sessionTimeoutMs?: number) {
  const member = new KafkajsGroupMember(
    { consumer: () => consumer } as unknown as Kafka,
    async () => ({}) as Admin,
    { groupId: 'app', topics: ['events'], advertisedUrl: 'http://self:1', fromBeginning: true, holdAssigned: true, ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }) },
    pino({ level: 'silent' }),
  );
  const seen: { assigned: TopicPartition[][]; revoked: { partitions: TopicPartition[]; lost: boolean }[]; fatal: BrokerError[] } = { assigned: [], revoked: [], fatal: [] };
  const listener = {
    onAssigned: async (p: readonly TopicPartition[]) => void seen.assigned.push([...p]),
    onRevoked: async (p: readonly TopicPartition[], lost: boolean) => void seen.revoked.push({ partitions: [...p], lost }),
    onRecords: async () => undefined,
    onFatal: (err: BrokerError) => void seen.fatal.push(err),
  };
  return { member, listener, seen };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Regression: during a broker restart kafkajs crashed the consumer with
// KafkaJSNonRetriableError("Failed to find group coordinator") and did not restart it; the
// processor treated every such crash as fatal and `sagaflow start` exited (found by the soak).
describe('kafkajs group member after a consumer crash kafkajs does not recover from', () => {
  it('reports its partitions lost, restarts the consumer and regains them through the next join', async () => {
    const { consumer, calls, emit } = fakeConsumer();
    const { member, listener, seen } = memberWith(consumer);
    await member.start(listener);
    emit(events.GROUP_JOIN, { memberId: 'm1', memberAssignment: { events: [0, 1] } });
    await until(() => seen.assigned.length === 1);
    expect(seen.assigned[0]?.map((tp) => tp.partition)).toEqual([0, 1]);
    const coordinatorLost = Object.assign(new Error('Failed to find group coordinator'), {
      name: 'KafkaJSNonRetriableError',
      cause: Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' }),
    });
    calls.length = 0;
    emit(events.CRASH, { error: coordinatorLost, restart: false });
    await until(() => calls.includes('run'));
    expect(calls).toEqual(['disconnect', 'connect', 'run']);
    expect(seen.revoked).toEqual([{ partitions: [{ topic: 'events', partition: 0 }, { topic: 'events', partition: 1 }], lost: true }]);
    expect(seen.fatal).toEqual([]);
    expect(member.restarts).toBe(1);
    expect(member.memberId()).toBeUndefined();
    emit(events.GROUP_JOIN, { memberId: 'm2', memberAssignment: { events: [1] } });
    await until(() => seen.assigned.length === 2);
    expect(seen.assigned[1]).toEqual([{ topic: 'events', partition: 1 }]);
    expect(member.memberId()).toBe('m2');
    await member.stop();
    expect(seen.revoked.at(-1)).toEqual({ partitions: [{ topic: 'events', partition: 1 }], lost: false });
  });

  it('stops for good when the brokers refuse its credentials or permissions', async () => {
    const { consumer, emit } = fakeConsumer();
    const { member, listener, seen } = memberWith(consumer);
    await member.start(listener);
    const denied = Object.assign(new Error('Not authorized to access group'), { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED' });
    emit(events.CRASH, { error: denied, restart: false });
    expect(seen.fatal.map((e) => [e.kind, e.reason])).toEqual([['permanent', 'authorization']]);
    expect(member.restarts).toBe(0);
    await member.stop();
  });
});

// Regression: in the network-fault test an instance's kafkajs consumer stopped heartbeating
// and the group gave its partitions to the other instance, which kafkajs never told it: it
// went on serving reads of them from stores that no longer moved (revision 9 after 73).
describe('kafkajs group member that the coordinator has not answered for a session timeout', () => {
  const SESSION_MS = 400;

  it('keeps its partitions while heartbeats are answered, then reports them lost and restarts the consumer', async () => {
    const { consumer, calls, emit } = fakeConsumer();
    const { member, listener, seen } = memberWith(consumer, SESSION_MS);
    await member.start(listener);
    emit(events.GROUP_JOIN, { memberId: 'm1', memberAssignment: { events: [0, 1] } });
    await until(() => seen.assigned.length === 1);
    calls.length = 0;
    const beats = setInterval(() => emit(events.HEARTBEAT, {}), 100);
    await new Promise((r) => setTimeout(r, 3 * SESSION_MS));
    clearInterval(beats);
    expect(seen.revoked).toEqual([]);
    expect(member.restarts).toBe(0);
    // Silence: past the session timeout the partitions are lost and the consumer rejoins.
    await until(() => calls.includes('run'));
    expect(calls).toEqual(['disconnect', 'connect', 'run']);
    expect(seen.revoked).toEqual([{ partitions: [{ topic: 'events', partition: 0 }, { topic: 'events', partition: 1 }], lost: true }]);
    expect(member.restarts).toBe(1);
    expect(member.memberId()).toBeUndefined();
    emit(events.GROUP_JOIN, { memberId: 'm2', memberAssignment: { events: [0] } });
    await until(() => seen.assigned.length === 2);
    expect(seen.assigned[1]).toEqual([{ topic: 'events', partition: 0 }]);
    await member.stop();
  });

  it('gives a join under way the coordinator\'s rebalance timeout before giving up', async () => {
    const { consumer, emit } = fakeConsumer();
    const { member, listener, seen } = memberWith(consumer, SESSION_MS);
    await member.start(listener);
    emit(events.GROUP_JOIN, { memberId: 'm1', memberAssignment: { events: [0] } });
    await until(() => seen.assigned.length === 1);
    emit(events.REBALANCING, {});
    await new Promise((r) => setTimeout(r, 4 * SESSION_MS));
    expect(seen.revoked).toEqual([]);
    expect(member.restarts).toBe(0);
    await member.stop();
  });

  it('owns nothing: nothing to give up, no restart', async () => {
    const { consumer } = fakeConsumer();
    const { member, listener } = memberWith(consumer, SESSION_MS);
    await member.start(listener);
    await new Promise((r) => setTimeout(r, 3 * SESSION_MS));
    expect(member.restarts).toBe(0);
    await member.stop();
  });
});

describe('kafkajs error classification', () => {
  it('classifies where the error enters: fenced, permanent with a reason, or retryable', () => {
    const c = (e: object) => {
      const b = classifyKafkajsError(Object.assign(new Error('x'), e));
      return [b.kind, b.reason];
    };
    expect(c({ name: 'KafkaJSProducerFencedError' })).toEqual(['fenced', 'other']);
    expect(c({ type: 'INVALID_PRODUCER_EPOCH' })).toEqual(['fenced', 'other']);
    expect(c({ name: 'KafkaJSSASLAuthenticationError' })).toEqual(['permanent', 'authentication']);
    expect(c({ type: 'TOPIC_AUTHORIZATION_FAILED' })).toEqual(['permanent', 'authorization']);
    expect(c({ type: 'MESSAGE_TOO_LARGE' })).toEqual(['permanent', 'record-too-large']);
    expect(c({ name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'RECORD_LIST_TOO_LARGE' } })).toEqual(['permanent', 'record-too-large']);
    expect(c({ type: 'INVALID_REPLICATION_FACTOR' })).toEqual(['permanent', 'invalid-replication-factor']);
    expect(c({ name: 'KafkaJSConnectionError' })).toEqual(['retryable', 'unreachable']);
    expect(c({ type: 'CONCURRENT_TRANSACTIONS' })).toEqual(['retryable', 'other']);
  });
});
