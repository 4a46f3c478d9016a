import type { SagaDocument } from '../../saga/types.ts';
import { decodeFailed, describeType, encodeFailed, isPlainObject } from './serde.ts';
import type { MessageEnvelope, Serde } from './serde.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a record value as one JSON object, or fails with the precise reason. */
function parseJsonObject(topic: string, buffer: Buffer | null): Record<string, unknown> {
  if (buffer === null) return failEmpty(topic, 'the record has no value (a tombstone)');
  if (buffer.length === 0) return failEmpty(topic, 'the record value is empty');
  if (buffer[0] === 0) {
    throw decodeFailed(
      topic,
      'not JSON: the value starts with byte 0, the magic byte of the Confluent Avro wire format; set "serialization": "avro" on the channel or fix the producer',
    );
  }
  let text: string;
  try {
    text = utf8.decode(buffer);
  } catch (err) {
    throw decodeFailed(topic, 'not JSON: the value is not valid UTF-8', err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw decodeFailed(topic, `not JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (!isPlainObject(value)) throw decodeFailed(topic, `not a JSON object but ${describeType(value)}`);
  return value;
}

function failEmpty(topic: string, reason: string): never {
  throw decodeFailed(topic, `empty value: ${reason}`);
}

function stringify(topic: string, value: unknown, what: string): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw encodeFailed(topic, `${what} cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (text === undefined) throw encodeFailed(topic, `${what} cannot be written as JSON`);
  return Buffer.from(text, 'utf8');
}

/**
 * Checks the envelope fields of a decoded object (JSON) or record (Avro) and builds the
 * envelope. Unknown fields are dropped; a missing `messagePayload` stays undefined.
 */
export function toEnvelope(topic: string, value: Record<string, unknown>): MessageEnvelope {
  const { messageLabel, messagePayload, eventId, timestamp } = value;
  if (messageLabel === undefined) throw decodeFailed(topic, 'missing messageLabel');
  if (typeof messageLabel !== 'string') throw decodeFailed(topic, `messageLabel is not a string but ${describeType(messageLabel)}`);
  if (messageLabel.length === 0) throw decodeFailed(topic, 'messageLabel is empty');
  const envelope: MessageEnvelope = { messageLabel, messagePayload };
  if (eventId !== undefined && eventId !== null) {
    if (typeof eventId !== 'string') throw decodeFailed(topic, `eventId is not a string but ${describeType(eventId)}`);
    envelope.eventId = eventId;
  }
  if (timestamp !== undefined && timestamp !== null) {
    if (typeof timestamp !== 'string') throw decodeFailed(topic, `timestamp is not a string but ${describeType(timestamp)}`);
    envelope.timestamp = timestamp;
  }
  return envelope;
}

/**
 * Flow Manager's JSON form of events and commands: `{"messageLabel": "...", "messagePayload": ...}`,
 * plus `eventId` and `timestamp` when set.
 */
export const jsonEnvelopeSerde: Serde<MessageEnvelope> = {
  async serialize(topic, envelope) {
    const { messageLabel, messagePayload, eventId, timestamp } = envelope;
    return stringify(
      topic,
      {
        messageLabel,
        messagePayload,
        ...(eventId === undefined ? {} : { eventId }),
        ...(timestamp === undefined ? {} : { timestamp }),
      },
      `the payload of "${messageLabel}"`,
    );
  },
  async deserialize(topic, buffer) {
    return toEnvelope(topic, parseJsonObject(topic, buffer));
  },
};

/**
 * Checks the fields every reader of a saga document relies on. Not a full validation: the
 * changelog is written by sagaflow itself, and restore reads every record of it.
 */
export function checkSagaDocument(topic: string, value: Record<string, unknown>): SagaDocument {
  const requireType = (field: string, type: 'string' | 'number' | 'boolean'): void => {
    const v = value[field];
    if (v === undefined) throw decodeFailed(topic, `not a saga document: missing ${field}`);
    if (typeof v !== type) throw decodeFailed(topic, `not a saga document: ${field} is not a ${type} but ${describeType(v)}`);
  };
  requireType('sagaId', 'string');
  requireType('currentState', 'string');
  requireType('revision', 'number');
  requireType('isFinal', 'boolean');
  if (!isPlainObject(value.metadata)) throw decodeFailed(topic, `not a saga document: metadata is not an object but ${describeType(value.metadata)}`);
  const history = value.history;
  if (!isPlainObject(history) || !Array.isArray(history.states) || !Array.isArray(history.events)) {
    throw decodeFailed(topic, 'not a saga document: history must be {states: [...], events: [...]}');
  }
  return value as unknown as SagaDocument;
}

/** The saga document as JSON, as stored in the changelog (and by Flow Manager's persistency). */
export const jsonSagaSerde: Serde<SagaDocument> = {
  async serialize(topic, saga) {
    return stringify(topic, saga, `saga ${saga.sagaId}`);
  },
  async deserialize(topic, buffer) {
    return checkSagaDocument(topic, parseJsonObject(topic, buffer));
  },
};
