/**
 * Stateless transactional pass-through written with kafkajs: the ceiling of any kafkajs
 * processor on this broker. It does what sagaflow's hot path does minus decoding, the
 * transition and the store: a consumer group over the input topic, and per batch one
 * transaction holding the records copied to the output topic (same key, same partition)
 * plus sendOffsets, on one transactional producer per input partition
 * (transactionalId = <app>-<topic>-<partition>, the "EOS v1" fencing sagaflow uses).
 *
 *   node benchmarks/passthrough.ts --input <topic> --output <topic> [--group id]
 *     [--brokers 127.0.0.1:9092] [--concurrency 12] [--report-ms 1000]
 *
 * Prints RUNNING once the group is joined and COUNTS lines periodically.
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { silenceKafkajsTimeoutWarnings } from './kafka.ts';

silenceKafkajsTimeoutWarnings();

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    input: { type: 'string' },
    output: { type: 'string' },
    group: { type: 'string', default: 'sagaflow-passthrough' },
    concurrency: { type: 'string', default: '12' },
    'report-ms': { type: 'string', default: '1000' },
  },
});
if (!values.input || !values.output) {
  console.error('passthrough: --input and --output are required');
  process.exit(2);
}
const input = values.input;
const output = values.output;
const group = values.group;

const kafka = new Kafka({ clientId: group, brokers: values.brokers.split(','), logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: group, readUncommitted: false, maxBytesPerPartition: 1024 * 1024 });
const producers = new Map<number, Promise<Producer>>();
let processed = 0;
let transactions = 0;

function producerFor(partition: number): Promise<Producer> {
  let p = producers.get(partition);
  if (!p) {
    p = (async () => {
      const producer = kafka.producer({
        transactionalId: `${group}-${input}-${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
      });
      await producer.connect();
      // InitProducerId (fencing any previous owner) happens on the first transaction().
      const fence = await producer.transaction();
      await fence.abort();
      return producer;
    })();
    producers.set(partition, p);
  }
  return p;
}

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const assigned = Object.values(e.payload.memberAssignment).reduce((n, ps) => n + ps.length, 0);
  console.log(`RUNNING group=${group} partitions=${assigned}`);
});

await consumer.connect();
await consumer.subscribe({ topics: [input], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: Math.max(1, Number(values.concurrency)),
  eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
    const last = batch.messages[batch.messages.length - 1];
    if (!last || !isRunning() || isStale()) return;
    const producer = await producerFor(batch.partition);
    const transaction = await producer.transaction();
    try {
      await transaction.send({
        topic: output,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, partition: batch.partition })),
      });
      await transaction.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
      });
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      // Drop the producer: the next batch re-fences with a fresh one.
      producers.delete(batch.partition);
      throw err;
    }
    resolveOffset(last.offset);
    processed += batch.messages.length;
    transactions++;
    await heartbeat();
  },
});

const report = setInterval(() => console.log(`COUNTS processed=${processed} transactions=${transactions}`), Number(values['report-ms']));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(report);
  await consumer.disconnect().catch(() => undefined);
  for (const p of producers.values()) await (await p).disconnect().catch(() => undefined);
  console.log(`COUNTS processed=${processed} transactions=${transactions}`);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
