import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../../src/errors.ts';
import { jsonEnvelopeSerde, jsonSagaSerde } from '../../../../src/kafka/serdes/json.ts';
import { decodeFailureReason } from '../../../../src/kafka/serdes/serde.ts';
import { fullSaga, minimalSaga } from './fixtures.ts';

const topic = 'orders-events';

async function failure(promise: Promise<unknown>): Promise<{ code: string | undefined; retryable: boolean | undefined; reason: string | undefined }> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, 'expected a rejection').toBeDefined();
  return {
    code: isSagaflowError(error) ? error.code : undefined,
    retryable: isSagaflowError(error) ? error.retryable : undefined,
    reason: decodeFailureReason(error),
  };
}

describe('jsonEnvelopeSerde', () => {
  it('writes Flow Manager JSON', async () => {
    const bytes = await jsonEnvelopeSerde.serialize(topic, { messageLabel: 'PAID', messagePayload: { amount: 3 } });
    expect(bytes.toString('utf8')).toBe('{"messageLabel":"PAID","messagePayload":{"amount":3}}');
  });

  it('round-trips eventId and timestamp when set', async () => {
    const envelope = { messageLabel: 'PAID', messagePayload: [1, 'x'], eventId: 'e-1', timestamp: '2025-01-01T00:00:00.000Z' };
    const bytes = await jsonEnvelopeSerde.serialize(topic, envelope);
    expect(await jsonEnvelopeSerde.deserialize(topic, bytes)).toEqual(envelope);
  });

  it('reads what Flow Manager services send, ignoring unknown fields', async () => {
    const bytes = Buffer.from('{"messageLabel":"ORDER_OK","messagePayload":{"a":{"b":null}},"extra":true}');
    expect(await jsonEnvelopeSerde.deserialize(topic, bytes)).toEqual({ messageLabel: 'ORDER_OK', messagePayload: { a: { b: null } } });
  });

  it('accepts a missing or null payload', async () => {
    expect(await jsonEnvelopeSerde.deserialize(topic, Buffer.from('{"messageLabel":"X"}'))).toEqual({ messageLabel: 'X', messagePayload: undefined });
    expect(await jsonEnvelopeSerde.deserialize(topic, Buffer.from('{"messageLabel":"X","messagePayload":null}'))).toEqual({
      messageLabel: 'X',
      messagePayload: null,
    });
  });

  it('refuses a payload JSON cannot carry with SAGAFLOW_ENCODE_FAILED', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const error = await failure(jsonEnvelopeSerde.serialize(topic, { messageLabel: 'X', messagePayload: circular }));
    expect(error.code).toBe('SAGAFLOW_ENCODE_FAILED');
    const big = await failure(jsonEnvelopeSerde.serialize(topic, { messageLabel: 'X', messagePayload: 10n }));
    expect(big.code).toBe('SAGAFLOW_ENCODE_FAILED');
  });

  const cases: [name: string, value: Buffer | null, reason: RegExp][] = [
    ['a tombstone', null, /^empty value: the record has no value/],
    ['an empty value', Buffer.alloc(0), /^empty value: the record value is empty$/],
    ['Confluent Avro bytes', Buffer.from([0, 0, 0, 0, 1, 2, 3]), /^not JSON: the value starts with byte 0.*"serialization": "avro"/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /^not JSON: the value is not valid UTF-8$/],
    ['text that is not JSON', Buffer.from('hello'), /^not JSON: /],
    ['truncated JSON', Buffer.from('{"messageLabel":"X"'), /^not JSON: /],
    ['a JSON array', Buffer.from('[1,2]'), /^not a JSON object but an array$/],
    ['a JSON string', Buffer.from('"PAID"'), /^not a JSON object but a string$/],
    ['JSON null', Buffer.from('null'), /^not a JSON object but null$/],
    ['a missing messageLabel', Buffer.from('{"messagePayload":{}}'), /^missing messageLabel$/],
    ['a numeric messageLabel', Buffer.from('{"messageLabel":5}'), /^messageLabel is not a string but a number$/],
    ['an empty messageLabel', Buffer.from('{"messageLabel":""}'), /^messageLabel is empty$/],
    ['a numeric eventId', Buffer.from('{"messageLabel":"X","eventId":1}'), /^eventId is not a string but a number$/],
    ['an object timestamp', Buffer.from('{"messageLabel":"X","timestamp":{}}'), /^timestamp is not a string but an object$/],
  ];

  for (const [name, value, reason] of cases) {
    it(`fails with SAGAFLOW_DECODE_FAILED on ${name}`, async () => {
      const error = await failure(jsonEnvelopeSerde.deserialize(topic, value));
      expect(error.code).toBe('SAGAFLOW_DECODE_FAILED');
      expect(error.retryable).toBe(false);
      expect(error.reason).toMatch(reason);
    });
  }

  it('names the topic and the reason in the message', async () => {
    const error: unknown = await jsonEnvelopeSerde.deserialize(topic, Buffer.from('[]')).catch((err: unknown) => err);
    expect((error as Error).message).toBe('cannot decode a record of topic orders-events: not a JSON object but an array');
    expect(isSagaflowError(error) && error.details).toEqual({ topic, reason: 'not a JSON object but an array' });
  });
});

describe('jsonSagaSerde', () => {
  it('round-trips full and minimal documents to the same JSON', async () => {
    for (const saga of [fullSaga(), minimalSaga()]) {
      const bytes = await jsonSagaSerde.serialize('changelog', saga);
      expect(bytes.toString('utf8')).toBe(JSON.stringify(saga));
      expect(await jsonSagaSerde.deserialize('changelog', bytes)).toEqual(saga);
    }
  });

  const cases: [name: string, value: Buffer | null, reason: RegExp][] = [
    ['a tombstone', null, /^empty value: the record has no value \(a tombstone\)$/],
    ['not JSON', Buffer.from('{'), /^not JSON: /],
    ['an array', Buffer.from('[]'), /^not a JSON object/],
    ['an envelope', Buffer.from('{"messageLabel":"X"}'), /^not a saga document: missing sagaId$/],
    ['a numeric sagaId', Buffer.from(JSON.stringify({ ...minimalSaga(), sagaId: 1 })), /^not a saga document: sagaId is not a string but a number$/],
    ['a string revision', Buffer.from(JSON.stringify({ ...minimalSaga(), revision: '1' })), /^not a saga document: revision is not a number but a string$/],
    ['array metadata', Buffer.from(JSON.stringify({ ...minimalSaga(), metadata: [] })), /^not a saga document: metadata is not an object but an array$/],
    ['a broken history', Buffer.from(JSON.stringify({ ...minimalSaga(), history: { states: [] } })), /^not a saga document: history must be/],
  ];

  for (const [name, value, reason] of cases) {
    it(`fails with SAGAFLOW_DECODE_FAILED on ${name}`, async () => {
      const error = await failure(jsonSagaSerde.deserialize('changelog', value));
      expect(error.code).toBe('SAGAFLOW_DECODE_FAILED');
      expect(error.reason).toMatch(reason);
    });
  }
});
