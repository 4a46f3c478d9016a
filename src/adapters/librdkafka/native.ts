import { createRequire } from 'node:module';
import type * as Rdkafka from '@confluentinc/kafka-javascript';
import { BrokerError } from '../../broker/errors.ts';

export type RdkafkaModule = typeof Rdkafka;

let loaded: RdkafkaModule | undefined;

/**
 * The native module, loaded on first use so that choosing kafkajs never needs the binding.
 * A binding that was not built (install without a compiler, SAGAFLOW_KAFKA_CLIENT_BUILD=skip)
 * is a permanent, explained failure.
 */
export function rdkafka(): RdkafkaModule {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as RdkafkaModule;
    return loaded;
  } catch (err) {
    throw new BrokerError(
      'permanent',
      'other',
      `the librdkafka binding of @confluentinc/kafka-javascript does not load (${(err as Error).message.split('\n')[0]}); run \`npm rebuild\` or \`node scripts/kafka-client-native.ts\` to build it, or set SAGAFLOW_KAFKA_CLIENT=kafkajs`,
      { client: 'librdkafka', cause: err },
    );
  }
}
