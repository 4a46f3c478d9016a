import { SagaflowError } from '../../errors.ts';

/**
 * Turns values of one kind into record bytes and back, per topic (the topic picks the schema
 * registry subject in Avro). `deserialize` rejects with SAGAFLOW_DECODE_FAILED when the bytes
 * can never be decoded (the record belongs in a dead-letter topic; `details.reason` says why),
 * and with a retryable error when an outside service is unavailable (do not dead-letter).
 */
export interface Serde<T> {
  serialize(topic: string, value: T): Promise<Buffer>;
  deserialize(topic: string, buffer: Buffer | null): Promise<T>;
}

/**
 * The Flow Manager message envelope of events and commands. `eventId` (duplicate detection)
 * and `timestamp` (ISO-8601, set by the sender) are optional sagaflow extensions that the
 * JSON form passes through and the Avro form carries as optional fields.
 */
export interface MessageEnvelope {
  messageLabel: string;
  messagePayload: unknown;
  eventId?: string;
  timestamp?: string;
}

export interface DecodeFailureDetails {
  topic: string;
  /** Why the bytes cannot be decoded, for the dead-letter record and the logs. */
  reason: string;
}

export const DECODE_FAILED = 'SAGAFLOW_DECODE_FAILED';
export const ENCODE_FAILED = 'SAGAFLOW_ENCODE_FAILED';

/** A record whose value can never be decoded: not retryable, send it to the dead-letter topic. */
export function decodeFailed(topic: string, reason: string, cause?: unknown): SagaflowError {
  const details: DecodeFailureDetails = { topic, reason };
  return new SagaflowError(DECODE_FAILED, {
    message: `cannot decode a record of topic ${topic}: ${reason}`,
    retryable: false,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A value that cannot be written with the topic's format: a bug or a payload JSON cannot carry. */
export function encodeFailed(topic: string, reason: string, cause?: unknown): SagaflowError {
  return new SagaflowError(ENCODE_FAILED, {
    message: `cannot encode a record for topic ${topic}: ${reason}`,
    retryable: false,
    details: { topic, reason },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The reason of a SAGAFLOW_DECODE_FAILED error, or undefined for any other error. */
export function decodeFailureReason(error: unknown): string | undefined {
  if (!(error instanceof SagaflowError) || error.code !== DECODE_FAILED) return undefined;
  return (error.details as DecodeFailureDetails | undefined)?.reason;
}

/** A JSON value's type for error reasons: "an array", "null", "a number"... */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' || type === 'undefined' ? `an ${type}` : `a ${type}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
