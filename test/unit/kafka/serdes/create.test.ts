import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../../src/errors.ts';
import { AvroSerde } from '../../../../src/kafka/serdes/avro.ts';
import { createSerdes } from '../../../../src/kafka/serdes/create.ts';
import { jsonEnvelopeSerde, jsonSagaSerde } from '../../../../src/kafka/serdes/json.ts';

describe('createSerdes', () => {
  it('uses Flow Manager JSON when serialization is absent or "json"', () => {
    for (const config of [{}, { serialization: 'json' as const }]) {
      const serdes = createSerdes(config);
      expect(serdes.format).toBe('json');
      expect(serdes.event).toBe(jsonEnvelopeSerde);
      expect(serdes.command).toBe(jsonEnvelopeSerde);
      expect(serdes.saga).toBe(jsonSagaSerde);
      expect(serdes.registry).toBeUndefined();
    }
  });

  it('uses Avro with the given registry', () => {
    const registry = new SchemaRegistry({ host: 'http://127.0.0.1:9' });
    const serdes = createSerdes({ serialization: 'avro' }, registry);
    expect(serdes.format).toBe('avro');
    expect(serdes.event).toBeInstanceOf(AvroSerde);
    expect(serdes.saga).toBeInstanceOf(AvroSerde);
    expect(serdes.registry).toBe(registry);
  });

  it("builds the registry client from the channel's schemaRegistry", () => {
    const serdes = createSerdes({ serialization: 'avro', schemaRegistry: { url: 'http://127.0.0.1:9', auth: { username: 'u', password: 'p' } } });
    expect(serdes.registry).toBeInstanceOf(SchemaRegistry);
  });

  it('refuses Avro without a registry', () => {
    let error: unknown;
    try {
      createSerdes({ serialization: 'avro' });
    } catch (err) {
      error = err;
    }
    expect(isSagaflowError(error, 'SAGAFLOW_CONFIG_INVALID')).toBe(true);
    expect(isSagaflowError(error) && error.path).toBe('configurations.schemaRegistry');
  });
});
