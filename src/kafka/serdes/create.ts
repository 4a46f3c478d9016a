import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaProtocol } from '../../definition/types.ts';
import { SagaflowError } from '../../errors.ts';
import type { SagaDocument } from '../../saga/types.ts';
import { avroEnvelopeSerde, avroSagaSerde } from './avro.ts';
import { jsonEnvelopeSerde, jsonSagaSerde } from './json.ts';
import type { MessageEnvelope, Serde } from './serde.ts';

/** The part of a kafka channel's `configurations` that decides its wire format. */
export type SerializationConfig = Pick<KafkaProtocol['configurations'], 'serialization' | 'schemaRegistry'>;

export interface Serdes {
  format: 'json' | 'avro';
  event: Serde<MessageEnvelope>;
  command: Serde<MessageEnvelope>;
  /** Changelog values. */
  saga: Serde<SagaDocument>;
  /** The registry the Avro serdes use, for `registerSchemas` at start. */
  registry?: SchemaRegistry;
}

type RegistryMiddleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

/**
 * How long one registry request may take. The client has no limit of its own: a registry that
 * accepts the connection and never answers would hold the start (or a partition's first
 * decode of a schema id) for good. Past it the request fails as a timeout, which is transient
 * (src/kafka/serdes/avro.ts), so the caller's retry policy asks again.
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

/** Gives every request `timeoutMs`, unless the call set its own. */
function requestTimeout(timeoutMs: number): RegistryMiddleware {
  return () => ({
    async prepareRequest(next) {
      const request = await next();
      return request.timeout() ? request : request.enhance({ timeout: timeoutMs });
    },
  });
}

export function createSchemaRegistry(config: NonNullable<SerializationConfig['schemaRegistry']>, timeoutMs = REGISTRY_REQUEST_TIMEOUT_MS): SchemaRegistry {
  return new SchemaRegistry({
    host: config.url,
    clientId: 'sagaflow',
    middlewares: [requestTimeout(timeoutMs)],
    ...(config.auth === undefined ? {} : { auth: { username: config.auth.username, password: config.auth.password } }),
  });
}

/**
 * The serdes of a kafka channel: Flow Manager's JSON unless `serialization` is "avro", then
 * Confluent Avro through `registry` or, when none is given, the channel's `schemaRegistry`.
 */
export function createSerdes(config: SerializationConfig, registry?: SchemaRegistry): Serdes {
  const format = config.serialization ?? 'json';
  if (format === 'json') {
    return { format, event: jsonEnvelopeSerde, command: jsonEnvelopeSerde, saga: jsonSagaSerde };
  }
  const client = registry ?? (config.schemaRegistry ? createSchemaRegistry(config.schemaRegistry) : undefined);
  if (client === undefined) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: 'configurations.schemaRegistry: required when "serialization" is "avro"; give the registry url',
      path: 'configurations.schemaRegistry',
    });
  }
  return {
    format,
    event: avroEnvelopeSerde(client, 'event'),
    command: avroEnvelopeSerde(client, 'command'),
    saga: avroSagaSerde(client),
    registry: client,
  };
}
