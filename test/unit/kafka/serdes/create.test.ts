import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../../src/errors.ts';
import { AvroSerde, registerSchema, registerSchemas } from '../../../../src/kafka/serdes/avro.ts';
import { createSchemaRegistry, createSerdes } from '../../../../src/kafka/serdes/create.ts';
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

  it('gives up on a registry that accepts the request and never answers, with a retryable error', async () => {
    const requests: string[] = [];
    const server = createServer((req) => void requests.push(`${req.method} ${req.url}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const registry = createSchemaRegistry({ url: `http://127.0.0.1:${port}` }, 300);
      const error = await registerSchema(registry, 'orders', 'event').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isSagaflowError(error, 'SAGAFLOW_SCHEMA_REGISTRY_FAILED')).toBe(true);
      expect(isSagaflowError(error) && error.retryable).toBe(true);
      expect((error as Error).message).toMatch(/Timeout \(300ms\)/);
      // The first request is the subject's compatibility; it got no answer, nothing followed.
      expect(requests).toEqual(['GET /config/orders-value']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('registers at start through one request the registry never answers, and stops at a refusal without asking again', async () => {
    const requests: string[] = [];
    let refuse = false;
    let hung = false;
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (!hung) return void (hung = true); // the first request hangs until the client gives up
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
        if (req.method === 'GET') return void res.end(JSON.stringify({ compatibilityLevel: 'BACKWARD' }));
        if (refuse) {
          res.statusCode = 422;
          return void res.end(JSON.stringify({ error_code: 42201, message: 'Invalid schema' }));
        }
        res.end(JSON.stringify({ id: 7 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const registry = createSchemaRegistry({ url: `http://127.0.0.1:${port}` }, 300);
      const ids = await registerSchemas(registry, [{ topic: 'orders', kind: 'event' }]);
      expect([...ids]).toEqual([['orders', 7]]);
      expect(requests).toEqual(['GET /config/orders-value', 'GET /config/orders-value', 'POST /subjects/orders-value/versions']);

      refuse = true;
      requests.length = 0;
      const error = await registerSchemas(registry, [{ topic: 'payments', kind: 'event' }]).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isSagaflowError(error, 'SAGAFLOW_SCHEMA_REGISTRATION_FAILED')).toBe(true);
      expect(requests).toEqual(['GET /config/payments-value', 'POST /subjects/payments-value/versions']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
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
