import type { BrokerClient, BrokerClientConfig, ClientName, TopicAdmin } from '../broker/ports.ts';

export const CLIENT_NAMES: readonly ClientName[] = ['librdkafka', 'kafkajs'];

// For checking SAGAFLOW_LIBRDKAFKA_DEBUG where the environment is read (config.ts loads no binding).
export { LIBRDKAFKA_DEBUG_CONTEXTS } from './librdkafka/config.ts';

/**
 * The Kafka client behind the broker ports, chosen by SAGAFLOW_KAFKA_CLIENT. Each adapter is
 * loaded only when chosen: a machine without the librdkafka binding still runs on kafkajs.
 */
export async function createBrokerClient(name: ClientName, config: BrokerClientConfig): Promise<BrokerClient> {
  if (name === 'kafkajs') {
    const { KafkajsBrokerClient } = await import('./kafkajs/client.ts');
    return new KafkajsBrokerClient(config);
  }
  const { LibrdkafkaBrokerClient } = await import('./librdkafka/client.ts');
  return new LibrdkafkaBrokerClient(config);
}

/**
 * The topics' `max.message.bytes` (DescribeConfigs). librdkafka's binding has no
 * DescribeConfigs, so a client without it asks through a short-lived kafkajs admin, which
 * reads a broker config and never the group coordinator.
 */
export async function readMaxMessageBytes(admin: TopicAdmin, config: BrokerClientConfig, topics: readonly string[]): Promise<Map<string, number>> {
  if (admin.maxMessageBytes) return admin.maxMessageBytes(topics);
  const { KafkajsBrokerClient } = await import('./kafkajs/client.ts');
  const other = new KafkajsBrokerClient(config);
  try {
    const configs = await other.admin();
    try {
      return (await configs.maxMessageBytes?.(topics)) ?? new Map();
    } finally {
      await configs.close().catch(() => undefined);
    }
  } finally {
    await other.close().catch(() => undefined);
  }
}
