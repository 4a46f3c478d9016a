import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../../src/errors.ts';
import { avroEnvelopeSerde, avroSagaSerde, valueSubject } from '../../../../src/kafka/serdes/avro.ts';
import { decodeFailureReason } from '../../../../src/kafka/serdes/serde.ts';

// Nothing listens on port 9 here: every registry call fails at once (no retries).
const unreachable = new SchemaRegistry({ host: 'http://127.0.0.1:9', retry: { retries: 0 } });

describe('Avro serdes without a registry round trip', () => {
  const serde = avroEnvelopeSerde(unreachable, 'event');

  const cases: [name: string, value: Buffer | null, reason: RegExp][] = [
    ['a tombstone', null, /^empty value: the record has no value/],
    ['an empty value', Buffer.alloc(0), /^empty value: the record value is empty$/],
    ['JSON bytes', Buffer.from('{"messageLabel":"X"}'), /^wrong magic byte 123: .*looks like JSON/],
    ['another magic byte', Buffer.from([1, 0, 0, 0, 1, 2]), /^wrong magic byte 1: the Confluent wire format starts with 0$/],
    ['a truncated header', Buffer.from([0, 0, 0]), /^truncated value: 3 bytes, shorter than the 5-byte Confluent header$/],
  ];

  for (const [name, value, reason] of cases) {
    it(`fails with SAGAFLOW_DECODE_FAILED on ${name}, before asking the registry`, async () => {
      const error: unknown = await serde.deserialize('events', value).catch((err: unknown) => err);
      expect(isSagaflowError(error, 'SAGAFLOW_DECODE_FAILED')).toBe(true);
      expect(decodeFailureReason(error)).toMatch(reason);
    });
  }

  it('reports an unreachable registry as retryable, never as a decode failure', async () => {
    const header = Buffer.from([0, 0, 0, 0, 7, 2]);
    for (const attempt of [
      () => serde.deserialize('events', header),
      () => serde.serialize('events', { messageLabel: 'X', messagePayload: {} }),
      () => avroSagaSerde(unreachable).deserialize('changelog', header),
    ]) {
      const error: unknown = await attempt().catch((err: unknown) => err);
      expect(isSagaflowError(error, 'SAGAFLOW_SCHEMA_REGISTRY_FAILED')).toBe(true);
      expect(isSagaflowError(error) && error.retryable).toBe(true);
    }
  });

  it('uses TopicNameStrategy subjects', () => {
    expect(valueSubject('orders-events')).toBe('orders-events-value');
  });
});
