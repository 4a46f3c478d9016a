import { EventEmitter } from 'node:events';
import type { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import type { ProcessorCodec } from '../../../src/kafka/codec.ts';
import { Processor, isPermanentKafkaFailure } from '../../../src/kafka/processor.ts';

const events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' } as const;

/** A kafkajs consumer that records connect/run calls and lets the test emit its events. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const calls: string[] = [];
  const consumer = {
    events,
    on: (name: string, listener: (e: unknown) => void) => emitter.on(name, listener),
    connect: async () => void calls.push('connect'),
    disconnect: async () => void calls.push('disconnect'),
    subscribe: async () => void calls.push('subscribe'),
    run: async () => void calls.push('run'),
    pause: () => undefined,
    resume: () => undefined,
    seek: () => undefined,
  };
  return { consumer, calls, emit: (name: string, payload: unknown) => emitter.emit(name, { payload }) };
}

function processorWith(consumer: unknown): Processor {
  return new Processor({
    applicationId: 'app',
    eventsTopic: 'events',
    changelogTopic: 'changelog',
    deadLetterTopic: 'dlq',
    commandTopics: new Map(),
    partitions: 2,
    definition: {} as CompiledDefinition,
    codec: {} as ProcessorCodec,
    kafka: { consumer: () => consumer } as unknown as Kafka,
    admin: {} as Admin,
    advertisedUrl: () => 'http://self:1',
    openStore: async () => {
      throw new Error('not used');
    },
    logger: pino({ level: 'silent' }),
    changelogReader: { readPartition: async () => ({ records: 0, lastOffset: undefined, durationMs: 0 }) },
  });
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
describe('processor after a consumer crash kafkajs does not recover from', () => {
  it('restarts the consumer when the crash is about reaching Kafka, and stops being ready until it rejoins', async () => {
    const { consumer, calls, emit } = fakeConsumer();
    const processor = processorWith(consumer);
    let fatal: Error | undefined;
    processor.fatal = (err) => (fatal = err);
    await processor.start();
    emit(events.GROUP_JOIN, { memberId: 'm1', memberAssignment: { events: [] } });
    expect(processor.isReady()).toBe(true);
    const coordinatorLost = Object.assign(new Error('Failed to find group coordinator'), {
      name: 'KafkaJSNonRetriableError',
      cause: Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' }),
    });
    calls.length = 0;
    emit(events.CRASH, { error: coordinatorLost, restart: false });
    expect(processor.isReady()).toBe(false);
    await until(() => calls.includes('run'));
    expect(calls).toEqual(['disconnect', 'connect', 'run']);
    expect(fatal).toBeUndefined();
    expect(processor.restarts).toBe(1);
    emit(events.GROUP_JOIN, { memberId: 'm2', memberAssignment: { events: [] } });
    expect(processor.isReady()).toBe(true);
    await processor.stop();
  });

  it('ends the instance when the brokers refuse its credentials or permissions', async () => {
    const { consumer, emit } = fakeConsumer();
    const processor = processorWith(consumer);
    let fatal: Error | undefined;
    processor.fatal = (err) => (fatal = err);
    await processor.start();
    const denied = Object.assign(new Error('Not authorized to access group'), { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED' });
    emit(events.CRASH, { error: denied, restart: false });
    expect(fatal).toBe(denied);
    expect(processor.restarts).toBe(0);
    expect(isPermanentKafkaFailure(Object.assign(new Error('x'), { name: 'KafkaJSSASLAuthenticationError' }))).toBe(true);
    expect(isPermanentKafkaFailure(Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' }))).toBe(false);
    await processor.stop();
  });
});
