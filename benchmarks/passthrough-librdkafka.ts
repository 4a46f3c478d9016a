/**
 * Stateless transactional pass-through on librdkafka (@confluentinc/kafka-javascript, the
 * low-level API sagaflow's librdkafka adapter uses): the ceiling of a librdkafka processor on
 * this broker. A consumer group over the input topic (cooperative-sticky, read_committed) and
 * one transactional producer for the process (exactly-once v2, KIP-447 offsets with the
 * consumer's group metadata); each record copied to the output topic (same key, same
 * partition) inside a transaction committed every --commit-ms (100, as sagaflow and Kafka
 * Streams default to).
 *
 *   node benchmarks/passthrough-librdkafka.ts --input <topic> --output <topic> [--group id]
 *     [--brokers 127.0.0.1:9092] [--commit-ms 100] [--report-ms 1000]
 *
 * Prints RUNNING once partitions are assigned and COUNTS lines periodically.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type * as Rdkafka from '@confluentinc/kafka-javascript';

const rdkafka = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as typeof Rdkafka;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    input: { type: 'string' },
    output: { type: 'string' },
    group: { type: 'string', default: 'sagaflow-passthrough-librdkafka' },
    'commit-ms': { type: 'string', default: '100' },
    'report-ms': { type: 'string', default: '1000' },
  },
});
if (!values.input || !values.output) {
  console.error('passthrough-librdkafka: --input and --output are required');
  process.exit(2);
}
const input = values.input;
const output = values.output;
const group = values.group;
const commitMs = Number(values['commit-ms']);

const consumer = new rdkafka.KafkaConsumer(
  {
    'bootstrap.servers': values.brokers,
    'broker.address.family': 'v4',
    'group.id': group,
    'enable.auto.commit': false,
    'isolation.level': 'read_committed',
    'partition.assignment.strategy': 'cooperative-sticky',
    'fetch.wait.max.ms': 100,
    'queued.max.messages.kbytes': 16_384,
    rebalance_cb: true,
  },
  { 'auto.offset.reset': 'earliest' },
);
const producer = new rdkafka.Producer({
  'bootstrap.servers': values.brokers,
  'broker.address.family': 'v4',
  'transactional.id': `${group}-tx`,
  'enable.idempotence': true,
  'linger.ms': 5,
  'queue.buffering.max.kbytes': 65_536,
  'batch.size': 1_000_000,
});

const call = (fn: (cb: (err: unknown) => void) => void) => new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
await call((cb) => producer.connect({}, cb));
producer.setPollInBackground(true);
await call((cb) => producer.initTransactions(30_000, cb));
await call((cb) => consumer.connect({}, cb));
consumer.setDefaultConsumeTimeout(100);
consumer.on('rebalance', (err) => {
  if (err.code === rdkafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) console.log(`RUNNING group=${group}`);
});
consumer.subscribe([input]);

let processed = 0;
let transactions = 0;
let open = false;
let openedAt = 0;
const positions = new Map<number, number>();
let stopping = false;

async function commit(): Promise<void> {
  if (!open) return;
  const offsets = [...positions].map(([partition, offset]) => ({ topic: input, partition, offset }));
  await call((cb) => producer.sendOffsetsToTransaction(offsets, consumer, 30_000, cb));
  await call((cb) => producer.commitTransaction(30_000, cb));
  open = false;
  transactions += 1;
}

const report = setInterval(() => console.log(`COUNTS processed=${processed} transactions=${transactions}`), Number(values['report-ms']));

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(report);
  await commit().catch(() => undefined);
  consumer.disconnect();
  producer.disconnect();
  console.log(`COUNTS processed=${processed} transactions=${transactions}`);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

while (!stopping) {
  const messages = await new Promise<Rdkafka.Message[]>((resolve, reject) => consumer.consume(1_000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
  if (messages.length > 0 && !open) {
    await call((cb) => producer.beginTransaction(cb));
    open = true;
    openedAt = Date.now();
  }
  for (const m of messages) {
    for (;;) {
      try {
        producer.produce(output, m.partition, m.value, m.key, null);
        break;
      } catch (err) {
        if ((err as { code?: number }).code !== rdkafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    positions.set(m.partition, m.offset + 1);
    processed += 1;
  }
  if (open && Date.now() - openedAt >= commitMs) await commit();
}
