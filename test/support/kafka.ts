import { Kafka, logLevel } from 'kafkajs';
import type { Admin, AdminConfig, Consumer, ConsumerConfig, KafkaConfig, Producer, ProducerConfig } from 'kafkajs';
import pino from 'pino';
import { KafkajsBrokerClient } from '../../src/adapters/kafkajs/client.ts';
import { LibrdkafkaBrokerClient } from '../../src/adapters/librdkafka/client.ts';
import type { BrokerClient, ClientName } from '../../src/broker/ports.ts';
import { DEFAULT_KAFKA_CLIENT } from '../../src/runtime/env.ts';
import { registerCleanup } from './cleanup.ts';
import { uniqueName } from './names.ts';
import { services } from './services.ts';

/** A kafkajs client whose producers, consumers and admins are disconnected after the test file. */
class TestKafka extends Kafka {
  override producer(config?: ProducerConfig): Producer {
    const producer = super.producer(config);
    registerCleanup(() => producer.disconnect());
    return producer;
  }

  // A consumer's disconnect waits for its in-flight fetch, which the broker holds for up to
  // maxWaitTimeInMs (kafkajs default 5 s) when there is nothing new: keep that short in tests.
  override consumer(config: ConsumerConfig): Consumer {
    const consumer = super.consumer({ maxWaitTimeInMs: 500, ...config });
    registerCleanup(() => consumer.disconnect());
    return consumer;
  }

  override admin(config?: AdminConfig): Admin {
    const admin = super.admin(config);
    registerCleanup(() => admin.disconnect());
    return admin;
  }
}

/**
 * A kafkajs client for the test broker with logging off (pass `logLevel` to see it) and a
 * unique client id. Everything created from it is disconnected after the test file; its
 * consumers default to `maxWaitTimeInMs: 500`.
 */
export function kafkaClient(overrides: Partial<KafkaConfig> = {}): Kafka {
  return new TestKafka({
    clientId: uniqueName('test-client'),
    brokers: services().kafkaBrokers,
    logLevel: logLevel.NOTHING,
    ...overrides,
  });
}

let sharedAdmin: Promise<Admin> | undefined;

/** One admin connection per test file for the factories below; closed after all their cleanups. */
function admin(): Promise<Admin> {
  sharedAdmin ??= (async () => {
    const client = new Kafka({ clientId: uniqueName('test-admin'), brokers: services().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    // Registered first, so it runs after every cleanup that needs the admin (LIFO).
    registerCleanup(async () => {
      sharedAdmin = undefined;
      await client.disconnect();
    });
    await client.connect();
    return client;
  })();
  return sharedAdmin;
}

export interface TopicOptions {
  /** Name prefix; a unique suffix is added. */
  prefix?: string;
  partitions?: number;
  /** Topic configuration, e.g. `{ 'cleanup.policy': 'compact' }`. */
  config?: Record<string, string>;
}

/** Creates a topic with a unique name (waiting for its leaders) and deletes it after the test file. */
export async function createTopic(options: TopicOptions = {}): Promise<string> {
  const topic = uniqueName(options.prefix ?? 'topic');
  const client = await admin();
  const created = await client.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: options.partitions ?? 1,
        replicationFactor: 1,
        configEntries: Object.entries(options.config ?? {}).map(([name, value]) => ({ name, value })),
      },
    ],
  });
  if (!created) throw new Error(`topic ${topic} already existed`);
  registerCleanup(async () => {
    await (await admin()).deleteTopics({ topics: [topic], timeout: 10_000 });
  });
  return topic;
}

/** A unique consumer group id; the group is deleted after the test file (once its members have left). */
export function uniqueGroupId(prefix = 'group'): string {
  const groupId = uniqueName(prefix);
  registerCleanup(async () => {
    try {
      await (await admin()).deleteGroups([groupId]);
    } catch {
      // Never joined (no such group) or a member still connected: nothing to clean up.
    }
  });
  return groupId;
}

/**
 * A broker-port client for the test broker, on the client the tests run with
 * (SAGAFLOW_KAFKA_CLIENT, else sagaflow's default); closed after the test file.
 */
export function testBrokerClient(name: ClientName = (process.env.SAGAFLOW_KAFKA_CLIENT as ClientName | undefined) ?? DEFAULT_KAFKA_CLIENT): BrokerClient {
  const config = { brokers: services().kafkaBrokers, clientId: uniqueName('test-client'), logger: pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'silent' }) };
  const client: BrokerClient = name === 'kafkajs' ? new KafkajsBrokerClient(config) : new LibrdkafkaBrokerClient(config);
  registerCleanup(() => client.close());
  return client;
}
