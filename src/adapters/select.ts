import type { BrokerClient, BrokerClientConfig, ClientName } from '../broker/ports.ts';

export const CLIENT_NAMES: readonly ClientName[] = ['librdkafka', 'kafkajs'];

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
  return LibrdkafkaBrokerClient.create(config);
}
