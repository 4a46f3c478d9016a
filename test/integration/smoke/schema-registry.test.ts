import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { schemaRegistry, uniqueSubject } from '../../support/registry.ts';

const reservationV1 = {
  type: 'record',
  name: 'Reservation',
  namespace: 'sagaflow.smoke',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'seats', type: 'int' },
  ],
};

describe('schema registry (Confluent API)', () => {
  it('registers an Avro schema under <topic>-value and round-trips a record in the wire format', async () => {
    const registry = schemaRegistry();
    const { subject } = uniqueSubject('smoke-sr');

    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(reservationV1) }, { subject });
    expect(id).toBeGreaterThan(0);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const record = { id: 'r-1', seats: 3 };
    const encoded = await registry.encode(id, record);
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(encoded.length).toBeGreaterThan(5);

    // A fresh client has no cache: decoding fetches the schema by the id in bytes 1-4.
    const decoded: unknown = await schemaRegistry().decode(encoded);
    expect(decoded).toEqual(record);

    // BACKWARD: adding a field with a default is accepted...
    const v2 = { ...reservationV1, fields: [...reservationV1.fields, { name: 'note', type: 'string', default: '' }] };
    const second = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });
    expect(second.id).not.toBe(id);

    // ...changing a field's type is not: the registry answers 409.
    const incompatible = { ...reservationV1, fields: [{ name: 'id', type: 'string' }, { name: 'seats', type: 'string' }] };
    const rejection = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) }, { subject }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(rejection).toBeInstanceOf(Error);
    expect((rejection as { status?: number }).status).toBe(409);
    expect(await registry.getLatestSchemaId(subject)).toBe(second.id);
  });
});
