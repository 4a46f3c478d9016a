import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { avroSchemaText, registerSchemas, valueSubject } from '../../../src/kafka/serdes/avro.ts';
import { createSerdes } from '../../../src/kafka/serdes/create.ts';
import type { Serdes } from '../../../src/kafka/serdes/create.ts';
import { decodeFailureReason } from '../../../src/kafka/serdes/serde.ts';
import type { MessageEnvelope } from '../../../src/kafka/serdes/serde.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { schemaRegistry } from '../../support/registry.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { fullSaga, minimalSaga } from '../../unit/kafka/serdes/fixtures.ts';

/**
 * A topic name whose value subject is deleted after the file (soft then permanent delete,
 * as the Confluent API requires). No topic is created: the serdes only need the subject.
 */
function subjectTopic(registryUrl: string, prefix: string): string {
  const topic = uniqueName(prefix);
  registerCleanup(async () => {
    const subject = encodeURIComponent(valueSubject(topic));
    await fetch(`${registryUrl}/subjects/${subject}`, { method: 'DELETE' });
    await fetch(`${registryUrl}/subjects/${subject}?permanent=true`, { method: 'DELETE' });
  });
  return topic;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('Avro serdes against the schema registry', () => {
  const registryUrl = services().schemaRegistryUrl;
  const registry = schemaRegistry();
  const events = subjectTopic(registryUrl, 'serdes-events');
  const commands = subjectTopic(registryUrl, 'serdes-commands');
  const changelog = subjectTopic(registryUrl, 'serdes-changelog');
  const other = subjectTopic(registryUrl, 'serdes-other');
  const impostor = subjectTopic(registryUrl, 'serdes-impostor');
  let ids: Map<string, number>;
  let serdes: Serdes;

  beforeAll(async () => {
    ids = await registerSchemas(registry, [
      { topic: events, kind: 'event' },
      { topic: commands, kind: 'command' },
      { topic: changelog, kind: 'saga' },
    ]);
    serdes = createSerdes({ serialization: 'avro' }, registry);
  });

  it('registers each schema under <topic>-value, idempotently', async () => {
    for (const topic of [events, commands, changelog]) {
      const id = ids.get(topic);
      expect(id).toBeGreaterThan(0);
      expect(await registry.getLatestSchemaId(valueSubject(topic))).toBe(id);
    }
    const again = await registerSchemas(registry, [{ topic: events, kind: 'event' }]);
    expect(again.get(events)).toBe(ids.get(events));
  });

  it('writes the Confluent wire header: magic byte 0 and the schema id', async () => {
    const bytes = await serdes.event.serialize(events, { messageLabel: 'PAID', messagePayload: { amount: 3 } });
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(ids.get(events));
    const commandBytes = await serdes.command.serialize(commands, { messageLabel: 'CHARGE', messagePayload: {} });
    expect(commandBytes.readInt32BE(1)).toBe(ids.get(commands));
  });

  it('round-trips events, commands and saga documents', async () => {
    const event: MessageEnvelope = {
      messageLabel: 'ORDER_VALIDATED',
      messagePayload: { amount: 12.5, items: [{ sku: 'a' }], none: null },
      eventId: 'evt-1',
      timestamp: '2025-01-01T00:00:00.000Z',
    };
    expect(await serdes.event.deserialize(events, await serdes.event.serialize(events, event))).toEqual(event);
    const bare: MessageEnvelope = { messageLabel: 'PING', messagePayload: undefined };
    expect(await serdes.event.deserialize(events, await serdes.event.serialize(events, bare))).toEqual(bare);
    const command: MessageEnvelope = { messageLabel: 'CHARGE', messagePayload: { orderId: 'o-1' } };
    expect(await serdes.command.deserialize(commands, await serdes.command.serialize(commands, command))).toEqual(command);
    for (const saga of [fullSaga(), minimalSaga()]) {
      const decoded = await serdes.saga.deserialize(changelog, await serdes.saga.serialize(changelog, saga));
      expect(JSON.stringify(decoded)).toBe(JSON.stringify(saga));
    }
  });

  it('fails with SAGAFLOW_DECODE_FAILED on an unknown schema id', async () => {
    const bytes = await serdes.event.serialize(events, { messageLabel: 'PAID', messagePayload: {} });
    bytes.writeInt32BE(2_000_000_000, 1);
    const error = await failure(serdes.event.deserialize(events, bytes));
    expect(isSagaflowError(error, 'SAGAFLOW_DECODE_FAILED')).toBe(true);
    expect(decodeFailureReason(error)).toMatch(/^unknown schema id 2000000000/);
  });

  it('fails with SAGAFLOW_DECODE_FAILED on a wrong magic byte', async () => {
    const bytes = await serdes.event.serialize(events, { messageLabel: 'PAID', messagePayload: {} });
    bytes[0] = 1;
    expect(decodeFailureReason(await failure(serdes.event.deserialize(events, bytes)))).toMatch(/^wrong magic byte 1/);
  });

  it('fails with SAGAFLOW_DECODE_FAILED on a body its schema cannot read', async () => {
    const bytes = await serdes.event.serialize(events, { messageLabel: 'PAID', messagePayload: {} });
    const truncated = bytes.subarray(0, 7);
    expect(decodeFailureReason(await failure(serdes.event.deserialize(events, truncated)))).toMatch(
      new RegExp(`^the Avro body does not match its writer schema \\(id ${ids.get(events)}\\)`),
    );
  });

  it('fails with SAGAFLOW_DECODE_FAILED on valid Avro of another record', async () => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'Other', namespace: 'io.example', fields: [{ name: 'x', type: 'int' }] }) },
      { subject: valueSubject(other) },
    );
    const bytes = await registry.encode(id, { x: 1 });
    const error = await failure(serdes.event.deserialize(events, bytes));
    expect(isSagaflowError(error, 'SAGAFLOW_DECODE_FAILED')).toBe(true);
    expect(decodeFailureReason(error)).toMatch(new RegExp(`^writer schema id ${id} \\(io\\.example\\.Other\\) cannot be read as io\\.sagaflow\\.EventEnvelope`));
    // A saga document is not an event either.
    const sagaBytes = await serdes.saga.serialize(changelog, minimalSaga());
    expect(decodeFailureReason(await failure(serdes.event.deserialize(events, sagaBytes)))).toMatch(/cannot be read as io\.sagaflow\.EventEnvelope/);
  });

  it('fails with SAGAFLOW_DECODE_FAILED on a record of the same name but another shape', async () => {
    const sameName = { type: 'record', name: 'EventEnvelope', namespace: 'io.sagaflow', fields: [{ name: 'messageLabel', type: 'int' }] };
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(sameName) }, { subject: valueSubject(impostor) });
    const bytes = await registry.encode(id, { messageLabel: 5 });
    expect(decodeFailureReason(await failure(serdes.event.deserialize(events, bytes)))).toMatch(
      new RegExp(`^writer schema id ${id} \\(io\\.sagaflow\\.EventEnvelope\\) cannot be read as io\\.sagaflow\\.EventEnvelope`),
    );
  });

  it('decodes a newer version of the subject that added an optional field', async () => {
    const v1 = JSON.parse(await avroSchemaText('event')) as { fields: unknown[] };
    const v2 = { ...v1, fields: [...v1.fields, { name: 'traceId', type: ['null', 'string'], default: null }] };
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject: valueSubject(events) });
    expect(id).not.toBe(ids.get(events));
    expect(await registry.getLatestSchemaId(valueSubject(events))).toBe(id);
    const bytes = await registry.encode(id, {
      messageLabel: 'PAID',
      messagePayloadJson: '{"amount":1}',
      eventId: 'evt-9',
      timestamp: null,
      traceId: 'trace-1',
    });
    expect(bytes.readInt32BE(1)).toBe(id);
    expect(await serdes.event.deserialize(events, bytes)).toEqual({ messageLabel: 'PAID', messagePayload: { amount: 1 }, eventId: 'evt-9' });
    // Writers created after the evolution still write, and read, the version they know.
    const fresh = createSerdes({ serialization: 'avro' }, registry);
    const written = await fresh.event.serialize(events, { messageLabel: 'X', messagePayload: 1 });
    expect(written.readInt32BE(1)).toBe(ids.get(events));
  });

  it('refuses a value the schema cannot carry with SAGAFLOW_ENCODE_FAILED', async () => {
    const saga = { ...minimalSaga(), businessStateId: 1.5 };
    const error = await failure(serdes.saga.serialize(changelog, saga));
    expect(isSagaflowError(error, 'SAGAFLOW_ENCODE_FAILED')).toBe(true);
  });
});
