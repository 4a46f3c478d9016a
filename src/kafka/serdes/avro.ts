import { readFile } from 'node:fs/promises';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SagaflowError } from '../../errors.ts';
import { backoffDelay, sleep } from '../../projection/backoff.ts';
import type { BackoffOptions } from '../../projection/backoff.ts';
import type { SagaDocument } from '../../saga/types.ts';
import { envelopeFromAvro, envelopeToAvro, sagaFromAvro, sagaToAvro } from './avro-records.ts';
import type { AvroEnvelope, AvroSagaDocument } from './avro-records.ts';
import { decodeFailed, encodeFailed } from './serde.ts';
import type { MessageEnvelope, Serde } from './serde.ts';

/** Which of sagaflow's schemas a topic carries. */
export type AvroSchemaKind = 'event' | 'command' | 'saga';

export const AVRO_SCHEMA_FILES: Readonly<Record<AvroSchemaKind, string>> = {
  event: 'event-envelope.avsc',
  command: 'command-envelope.avsc',
  saga: 'saga-document.avsc',
};

/** The schemas directory is at the same depth from src/ and from the compiled dist/. */
const SCHEMA_DIR = new URL('../../../schemas/avro/', import.meta.url);

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro body. */
const WIRE_HEADER_BYTES = 5;
const MAGIC_BYTE = 0;

type RegistrySchema = Awaited<ReturnType<SchemaRegistry['getSchema']>>;
type AvroType = Extract<RegistrySchema, { createResolver: unknown }>;
type AvroResolver = ReturnType<AvroType['createResolver']>;
/** The client types the registry's schemas apart from avsc's Type; at run time they are one. */
type AvroTypeArgument = Parameters<AvroType['createResolver']>[0];

const schemaTexts = new Map<AvroSchemaKind, Promise<string>>();

/** The schema text of `kind`, read once from schemas/avro/. */
export function avroSchemaText(kind: AvroSchemaKind): Promise<string> {
  let text = schemaTexts.get(kind);
  if (text === undefined) {
    text = readFile(new URL(AVRO_SCHEMA_FILES[kind], SCHEMA_DIR), 'utf8');
    schemaTexts.set(kind, text);
  }
  return text;
}

/** TopicNameStrategy, the Confluent default: the value schema of topic T is subject `T-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

function httpStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/*
 * The registry client (mappersmith) reports network failures as HTTP 400 responses whose
 * text is the socket error, so they are recognised by that text.
 */
const NETWORK_FAILURE = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)\b|socket hang up|timeout/i;

/** True when asking again later can give another answer: network, timeout, throttling, 5xx. */
function isTransient(err: unknown): boolean {
  const status = httpStatus(err);
  if (status === undefined || status >= 500 || status === 408 || status === 429) return true;
  return NETWORK_FAILURE.test(errorText(err));
}

function registryFailed(action: string, err: unknown): SagaflowError {
  const status = httpStatus(err);
  const retryable = isTransient(err);
  return new SagaflowError('SAGAFLOW_SCHEMA_REGISTRY_FAILED', {
    message: `the schema registry could not ${action}: ${errorText(err)}`,
    retryable,
    details: { status },
    cause: err,
  });
}

/**
 * Registers the schema of `kind` under `<topic>-value` and returns its id. Registering a
 * schema the subject already has is idempotent and returns the existing id. Compatibility
 * is checked by the registry (BACKWARD, set on the subject at first registration).
 */
export async function registerSchema(registry: SchemaRegistry, topic: string, kind: AvroSchemaKind): Promise<number> {
  const subject = valueSubject(topic);
  const schema = { type: SchemaType.AVRO, schema: await avroSchemaText(kind) } as const;
  try {
    const { id } = await registry.register(schema, { subject, compatibility: COMPATIBILITY.BACKWARD });
    return id;
  } catch (err) {
    if (err instanceof Error && err.name === 'ConfluentSchemaRegistryCompatibilityError') {
      // The client refuses to register under a subject whose compatibility level is not
      // BACKWARD (an operator may have chosen FULL). Accept the subject if it already has
      // our schema, rather than forcing its configuration.
      try {
        return await registry.getRegistryIdBySchema(subject, schema);
      } catch {
        throw new SagaflowError('SAGAFLOW_SCHEMA_REGISTRATION_FAILED', {
          message: `subject ${subject}: ${errorText(err)}; register ${AVRO_SCHEMA_FILES[kind]} under it or set its compatibility to BACKWARD`,
          retryable: false,
          cause: err,
        });
      }
    }
    const status = httpStatus(err);
    if (!isTransient(err)) {
      throw new SagaflowError('SAGAFLOW_SCHEMA_REGISTRATION_FAILED', {
        message: `subject ${subject} refused ${AVRO_SCHEMA_FILES[kind]} (HTTP ${status}): ${errorText(err)}`,
        retryable: false,
        details: { status },
        cause: err,
      });
    }
    throw registryFailed(`register ${AVRO_SCHEMA_FILES[kind]} under ${subject}`, err);
  }
}

export interface TopicSchema {
  topic: string;
  kind: AvroSchemaKind;
}

/**
 * How often a start asks the registry for one subject before giving up, and how long it waits
 * between asks. A registry that is briefly unreachable, or one request it never answers (the
 * client gives up after REGISTRY_REQUEST_TIMEOUT_MS), should not end a start; a registry that
 * stays away should, with the reason, rather than hold the start for good.
 */
export const REGISTRATION_ATTEMPTS = 3;
const REGISTRATION_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 500, maxMs: 5_000, factor: 2 });

/**
 * Registers, at start, the schema of every topic under its subject, so that an incompatible
 * schema stops the service before it consumes anything. Returns the id per topic. Transient
 * failures (network, timeout, 5xx) are asked again up to `attempts` times per subject;
 * a refusal (incompatible schema, 4xx) is not.
 */
export async function registerSchemas(registry: SchemaRegistry, topics: readonly TopicSchema[], attempts = REGISTRATION_ATTEMPTS): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const { topic, kind } of topics) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        ids.set(topic, await registerSchema(registry, topic, kind));
        break;
      } catch (err) {
        if (!(err instanceof SagaflowError && err.retryable) || attempt >= attempts) throw err;
        await sleep(backoffDelay(attempt, REGISTRATION_BACKOFF));
      }
    }
  }
  return ids;
}

interface AvroMapping<T, R> {
  toAvro(topic: string, value: T): R;
  fromAvro(topic: string, record: R): T;
}

/**
 * Confluent-framed Avro through a schema registry. Writes with sagaflow's schema of `kind`
 * (registered under `<topic>-value` on first use; `registerSchemas` does it at start).
 * Reads any writer schema the registry knows by id, resolved into sagaflow's schema with
 * Avro schema resolution: older or newer versions of the subject decode as long as they are
 * compatible; anything else is a SAGAFLOW_DECODE_FAILED with the reason.
 */
export class AvroSerde<T, R> implements Serde<T> {
  readonly #registry: SchemaRegistry;
  readonly #kind: AvroSchemaKind;
  readonly #mapping: AvroMapping<T, R>;
  readonly #ids = new Map<string, Promise<number>>();
  readonly #resolvers = new Map<string, Promise<AvroResolver | undefined>>();

  constructor(registry: SchemaRegistry, kind: AvroSchemaKind, mapping: AvroMapping<T, R>) {
    this.#registry = registry;
    this.#kind = kind;
    this.#mapping = mapping;
  }

  async serialize(topic: string, value: T): Promise<Buffer> {
    const id = await this.#schemaId(topic);
    const record = this.#mapping.toAvro(topic, value);
    try {
      return await this.#registry.encode(id, record);
    } catch (err) {
      const paths = (err as { paths?: unknown } | null)?.paths;
      if (err instanceof Error && err.name === 'ConfluentSchemaRegistryValidationError') {
        const where = Array.isArray(paths) && paths.length > 0 ? ` at ${JSON.stringify(paths)}` : '';
        throw encodeFailed(topic, `the value does not fit ${AVRO_SCHEMA_FILES[this.#kind]}${where}`, err);
      }
      throw registryFailed(`encode with schema id ${id}`, err);
    }
  }

  async deserialize(topic: string, buffer: Buffer | null): Promise<T> {
    if (buffer === null) throw decodeFailed(topic, 'empty value: the record has no value (a tombstone)');
    if (buffer.length === 0) throw decodeFailed(topic, 'empty value: the record value is empty');
    if (buffer[0] !== MAGIC_BYTE) {
      const hint = buffer[0] === 0x7b ? ' (the value looks like JSON: set "serialization": "json" on the channel or fix the producer)' : '';
      throw decodeFailed(topic, `wrong magic byte ${buffer[0]}: the Confluent wire format starts with 0${hint}`);
    }
    if (buffer.length < WIRE_HEADER_BYTES) {
      throw decodeFailed(topic, `truncated value: ${buffer.length} bytes, shorter than the 5-byte Confluent header`);
    }
    const writerId = buffer.readInt32BE(1);
    const readerId = await this.#schemaId(topic);
    const reader = await this.#schema(readerId, topic, 'reader');
    const resolver = await this.#resolver(topic, reader, readerId, writerId);
    let record: R;
    try {
      record = reader.fromBuffer(buffer.subarray(WIRE_HEADER_BYTES), resolver) as R;
    } catch (err) {
      throw decodeFailed(topic, `the Avro body does not match its writer schema (id ${writerId}): ${errorText(err)}`, err);
    }
    return this.#mapping.fromAvro(topic, record);
  }

  #schemaId(topic: string): Promise<number> {
    let id = this.#ids.get(topic);
    if (id === undefined) {
      id = registerSchema(this.#registry, topic, this.#kind);
      // A failed registration (registry down) must be retried by the next call, not cached.
      id.catch(() => this.#ids.delete(topic));
      this.#ids.set(topic, id);
    }
    return id;
  }

  async #schema(id: number, topic: string, role: 'reader' | 'writer'): Promise<AvroType> {
    let schema: RegistrySchema;
    try {
      schema = await this.#registry.getSchema(id);
    } catch (err) {
      if (role === 'writer' && httpStatus(err) === 404 && !isTransient(err)) {
        throw decodeFailed(topic, `unknown schema id ${id}: the schema registry has no schema with this id`, err);
      }
      throw registryFailed(`return schema id ${id}`, err);
    }
    if (!('createResolver' in schema)) {
      throw decodeFailed(topic, `schema id ${id} is not an Avro schema (JSON Schema or Protobuf)`);
    }
    return schema;
  }

  /** undefined when writer and reader are the same schema: no resolution needed. */
  #resolver(topic: string, reader: AvroType, readerId: number, writerId: number): Promise<AvroResolver | undefined> {
    if (writerId === readerId) return Promise.resolve(undefined);
    const key = `${readerId}:${writerId}`;
    let resolver = this.#resolvers.get(key);
    if (resolver === undefined) {
      resolver = (async () => {
        const writer = await this.#schema(writerId, topic, 'writer');
        try {
          return reader.createResolver(writer as unknown as AvroTypeArgument);
        } catch (err) {
          throw decodeFailed(
            topic,
            `writer schema id ${writerId} (${writer.name}) cannot be read as ${reader.name}: ${errorText(err)}`,
            err,
          );
        }
      })();
      // Only a definite answer is cached: registry outages are retried on the next record.
      resolver.catch((err: unknown) => {
        if (!(err instanceof SagaflowError && err.code === 'SAGAFLOW_DECODE_FAILED')) this.#resolvers.delete(key);
      });
      this.#resolvers.set(key, resolver);
    }
    return resolver;
  }
}

export function avroEnvelopeSerde(registry: SchemaRegistry, kind: 'event' | 'command'): Serde<MessageEnvelope> {
  return new AvroSerde<MessageEnvelope, AvroEnvelope>(registry, kind, { toAvro: envelopeToAvro, fromAvro: envelopeFromAvro });
}

export function avroSagaSerde(registry: SchemaRegistry): Serde<SagaDocument> {
  return new AvroSerde<SagaDocument, AvroSagaDocument>(registry, 'saga', { toAvro: sagaToAvro, fromAvro: sagaFromAvro });
}
