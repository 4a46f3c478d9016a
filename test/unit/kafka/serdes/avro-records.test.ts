import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { IGNORED_OUTCOMES } from '../../../../src/saga/types.ts';
import { AVRO_SCHEMA_FILES } from '../../../../src/kafka/serdes/avro.ts';
import {
  COMMAND_FIELDS,
  DELIVERY_FAILURE_FIELDS,
  ENVELOPE_FIELDS,
  EVENT_HISTORY_FIELDS,
  IGNORED_EVENT_FIELDS,
  SAGA_FIELDS,
  STATE_HISTORY_FIELDS,
  envelopeFromAvro,
  envelopeToAvro,
  sagaFromAvro,
  sagaToAvro,
} from '../../../../src/kafka/serdes/avro-records.ts';
import { decodeFailureReason } from '../../../../src/kafka/serdes/serde.ts';
import { fullSaga, minimalSaga } from './fixtures.ts';

interface AvscField {
  name: string;
  type: unknown;
  default?: unknown;
}
interface AvscRecord {
  type: 'record';
  name: string;
  namespace?: string;
  fields: AvscField[];
}

async function loadAvsc(file: string): Promise<AvscRecord> {
  return JSON.parse(await readFile(new URL(`../../../../schemas/avro/${file}`, import.meta.url), 'utf8')) as AvscRecord;
}

/** Every named record of a schema, found by walking field types. */
function records(schema: unknown, found = new Map<string, AvscRecord>()): Map<string, AvscRecord> {
  if (Array.isArray(schema)) for (const branch of schema) records(branch, found);
  else if (typeof schema === 'object' && schema !== null) {
    const s = schema as { type?: unknown; items?: unknown; fields?: AvscField[]; name?: string };
    if (s.type === 'record' && s.name !== undefined && s.fields !== undefined) {
      found.set(s.name, schema as AvscRecord);
      for (const field of s.fields) records(field.type, found);
    } else if (s.type === 'array') records(s.items, found);
    else if (typeof s.type === 'object') records(s.type, found);
  }
  return found;
}

function fieldNames(record: AvscRecord | undefined): string[] {
  return (record?.fields ?? []).map((f) => f.name).sort();
}

describe('Avro schema files', () => {
  it('live in namespace io.sagaflow', async () => {
    for (const file of Object.values(AVRO_SCHEMA_FILES)) expect((await loadAvsc(file)).namespace).toBe('io.sagaflow');
  });

  it('give every optional field the type ["null", ...] and default null', async () => {
    for (const file of Object.values(AVRO_SCHEMA_FILES)) {
      for (const record of records(await loadAvsc(file)).values()) {
        for (const field of record.fields) {
          if (Array.isArray(field.type)) {
            expect(field.type[0], `${record.name}.${field.name}`).toBe('null');
            expect(field.default, `${record.name}.${field.name}`).toBeNull();
          }
        }
      }
    }
  });

  it('carry exactly the fields of the TypeScript types', async () => {
    const envelopeFields = Object.values(ENVELOPE_FIELDS).sort();
    expect(fieldNames(await loadAvsc(AVRO_SCHEMA_FILES.event))).toEqual(envelopeFields);
    expect(fieldNames(await loadAvsc(AVRO_SCHEMA_FILES.command))).toEqual(envelopeFields);
    const saga = records(await loadAvsc(AVRO_SCHEMA_FILES.saga));
    expect(fieldNames(saga.get('SagaDocument'))).toEqual(Object.values(SAGA_FIELDS).sort());
    expect(fieldNames(saga.get('SagaHistory'))).toEqual(['events', 'states']);
    expect(fieldNames(saga.get('StateHistoryEntry'))).toEqual(Object.values(STATE_HISTORY_FIELDS).sort());
    expect(fieldNames(saga.get('EventHistoryEntry'))).toEqual(Object.values(EVENT_HISTORY_FIELDS).sort());
    expect(fieldNames(saga.get('SentCommandRecord'))).toEqual(Object.values(COMMAND_FIELDS).sort());
    expect(fieldNames(saga.get('IgnoredEventRecord'))).toEqual(Object.values(IGNORED_EVENT_FIELDS).sort());
    expect(fieldNames(saga.get('DeliveryFailureRecord'))).toEqual(Object.values(DELIVERY_FAILURE_FIELDS).sort());
  });
});

describe('Avro record mapping', () => {
  it('round-trips envelopes, payload as JSON text', () => {
    const envelope = { messageLabel: 'PAID', messagePayload: { amount: 1.5, list: [null, 'x'] }, eventId: 'e', timestamp: 't' };
    const record = envelopeToAvro('t', envelope);
    expect(record).toEqual({ messageLabel: 'PAID', messagePayloadJson: '{"amount":1.5,"list":[null,"x"]}', eventId: 'e', timestamp: 't' });
    expect(envelopeFromAvro('t', record)).toEqual(envelope);
  });

  it('keeps an absent payload apart from a null one', () => {
    expect(envelopeToAvro('t', { messageLabel: 'X', messagePayload: undefined }).messagePayloadJson).toBeNull();
    expect(envelopeToAvro('t', { messageLabel: 'X', messagePayload: null }).messagePayloadJson).toBe('null');
    const absent = envelopeFromAvro('t', { messageLabel: 'X', messagePayloadJson: null, eventId: null, timestamp: null });
    expect(absent).toEqual({ messageLabel: 'X', messagePayload: undefined });
    expect(Object.keys(absent)).toEqual(['messageLabel', 'messagePayload']);
  });

  it('round-trips saga documents to the same JSON, optional fields absent rather than undefined', () => {
    for (const saga of [fullSaga(), minimalSaga()]) {
      expect(JSON.stringify(sagaFromAvro('c', sagaToAvro('c', saga)))).toBe(JSON.stringify(saga));
    }
    const minimal = sagaFromAvro('c', sagaToAvro('c', minimalSaga()));
    expect(Object.keys(minimal)).not.toContain('businessStateId');
  });

  it('reads a document written before deliveryFailures existed, and writes none for a saga without failures', () => {
    const { deliveryFailures: _failures, ...older } = sagaToAvro('c', fullSaga());
    expect(Object.keys(sagaFromAvro('c', older))).not.toContain('deliveryFailures');
    expect(sagaToAvro('c', minimalSaga()).deliveryFailures).toBeNull();
    expect(sagaFromAvro('c', sagaToAvro('c', fullSaga())).deliveryFailures?.map((f) => [f.status, f.attempt])).toEqual([
      [400, undefined],
      [undefined, 2],
    ]);
  });

  it('reads a document written before serviceSummaryJson existed, and writes null for a saga without one', () => {
    const { serviceSummaryJson: _summary, ...older } = sagaToAvro('c', fullSaga());
    expect(Object.keys(sagaFromAvro('c', older))).not.toContain('serviceSummary');
    expect(sagaToAvro('c', minimalSaga()).serviceSummaryJson).toBeNull();
    expect(sagaFromAvro('c', sagaToAvro('c', fullSaga())).serviceSummary).toEqual(fullSaga().serviceSummary);
  });

  it('fails with SAGAFLOW_DECODE_FAILED on JSON text that is not JSON', () => {
    let error: unknown;
    try {
      envelopeFromAvro('t', { messageLabel: 'X', messagePayloadJson: '{oops', eventId: null, timestamp: null });
    } catch (err) {
      error = err;
    }
    expect(decodeFailureReason(error)).toMatch(/^messagePayloadJson is not valid JSON: /);
    const record = { ...sagaToAvro('c', minimalSaga()), metadataJson: '[1]' };
    expect(() => sagaFromAvro('c', record)).toThrow(/metadataJson is not a JSON object but an array/);
  });

  it('keeps every ignored-event outcome the core records, hook-failed included', () => {
    for (const outcome of IGNORED_OUTCOMES) {
      const saga = fullSaga();
      saga.ignoredEvents = [{ event: 'X', timestamp: '2025-01-01T00:00:01.000Z', outcome, reason: 'r', state: 'CREATED' }];
      expect(sagaFromAvro('c', sagaToAvro('c', saga)).ignoredEvents[0]?.outcome).toBe(outcome);
    }
    expect(IGNORED_OUTCOMES).toContain('hook-failed');
  });

  it('refuses an unknown ignored-event outcome', () => {
    const record = sagaToAvro('c', fullSaga());
    const first = record.ignoredEvents[0];
    if (first) first.outcome = 'later-outcome';
    expect(() => sagaFromAvro('c', record)).toThrow(/outcome "later-outcome" is not a known outcome/);
  });
});
