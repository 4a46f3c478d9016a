import { resolvePointer } from '../definition/choreography.ts';
import type { CompiledDefinition } from '../definition/compile.ts';
import { isSagaflowError } from '../errors.ts';
import type { KnownErrorCode } from '../errors.ts';
import type { Envelope } from '../kafka/codec.ts';
import { DELIVERY_FAILED_EVENT, parseDeliveryFailure } from '../saga/delivery-failure.ts';
import { transition } from '../saga/transition.ts';
import type { SagaDocument, SagaInput, TransitionResult } from '../saga/types.ts';

/** A record the engine does not apply: it goes to the dead-letter topic with this code and reason. */
export interface DeadLetterVerdict {
  code: KnownErrorCode;
  reason: string;
}

export type IngressResult = { input: SagaInput } | { deadLetter: DeadLetterVerdict };

/**
 * The one mapping from an event record (its key, decoded envelope and timestamp) to a saga
 * input, or to a dead-letter verdict when the record cannot be one. The engine's partition
 * tasks and `sagaflow simulate` both take records through it, and the HTTP routes build the
 * records it takes (`creationEnvelope`, src/http/event-request.ts), so the offline answer and
 * the real one cannot drift apart.
 */
export function toSagaInput(definition: CompiledDefinition, key: string | null, envelope: Envelope, timestampMs: number): IngressResult {
  if (key === null || key === '') return { deadLetter: MISSING_KEY };
  const timestamp = new Date(timestampMs).toISOString();
  if (envelope.messageLabel === definition.creationEvent) {
    const payload = envelope.messagePayload as { associatedEntityId?: unknown; metadata?: unknown } | null;
    if (
      !payload ||
      typeof payload !== 'object' ||
      typeof payload.associatedEntityId !== 'string' ||
      !payload.metadata ||
      typeof payload.metadata !== 'object' ||
      Array.isArray(payload.metadata)
    ) {
      return {
        deadLetter: {
          code: 'SAGAFLOW_INVALID_CREATION',
          reason: `a "${definition.creationEvent}" event needs a payload {associatedEntityId: string, metadata: object}`,
        },
      };
    }
    return { input: { kind: 'create', sagaId: key, associatedEntityId: payload.associatedEntityId, metadata: payload.metadata as Record<string, unknown>, timestamp } };
  }
  if (envelope.messageLabel === DELIVERY_FAILED_EVENT) {
    const parsed = parseDeliveryFailure(envelope.messagePayload);
    if ('error' in parsed) return { deadLetter: { code: 'SAGAFLOW_DELIVERY_REPORT_INVALID', reason: parsed.error } };
    const input: SagaInput = { kind: 'delivery-failed', sagaId: key, failure: parsed.failure, timestamp };
    if (envelope.eventId !== undefined) input.eventId = envelope.eventId;
    return { input };
  }
  const input: SagaInput = { kind: 'event', sagaId: key, label: envelope.messageLabel, payload: envelope.messagePayload, timestamp };
  if (envelope.eventId !== undefined) input.eventId = envelope.eventId;
  return { input };
}

/**
 * Choreography: the saga of a record of an observed topic (its channel has a `correlation`):
 * the string at the channel's pointer into the decoded value, whatever the record's key.
 * Undefined for a topic that is not observed (its records are keyed by sagaId); a verdict
 * when the pointer finds no non-empty string. The engine forwards the record to the saga's
 * home partition of the events topic, keyed by that id, and applies it there.
 */
export function correlate(definition: CompiledDefinition, topic: string, envelope: Envelope): { sagaId: string } | { deadLetter: DeadLetterVerdict } | undefined {
  const observed = definition.observed.get(topic);
  if (observed === undefined) return undefined;
  const found = resolvePointer(envelope, observed.segments);
  if (typeof found === 'string' && found !== '') return { sagaId: found };
  const what = found === undefined ? 'nothing' : found === '' ? 'an empty string' : `a ${found === null ? 'null' : Array.isArray(found) ? 'array' : typeof found}`;
  return {
    deadLetter: {
      code: 'SAGAFLOW_CORRELATION_MISSING',
      reason: `the event "${envelope.messageLabel}" of observed topic "${topic}" has ${what} at ${JSON.stringify(observed.pointer)} (correlation.sagaId of channel "${observed.channel}"), where its saga id must be a non-empty string`,
    },
  };
}

const MISSING_KEY: DeadLetterVerdict = { code: 'SAGAFLOW_EVENT_MISSING_KEY', reason: 'the record has no key; the key must be the sagaId' };

/**
 * The verdict on a record whose value cannot be decoded (not one that may decode later: a
 * registry that is down is retried, not dead-lettered). A record without a key is reported as
 * such first, whatever its value, as for a record that decodes; not on an observed topic
 * (`keyed` false), whose key is not the sagaId.
 */
export function undecodableVerdict(key: string | null, err: unknown, keyed = true): DeadLetterVerdict {
  if (keyed && (key === null || key === '')) return MISSING_KEY;
  const code: KnownErrorCode = isSagaflowError(err) ? (err.code as KnownErrorCode) : 'SAGAFLOW_DECODE_FAILED';
  return { code, reason: err instanceof Error ? err.message : String(err) };
}

/**
 * A saga input applied to the saga as stored: the transition's result, and the verdict when
 * the record goes to the dead-letter topic instead (an outcome that changes nothing and must
 * not be lost, or a transition that threw).
 */
export type Applied = { result: TransitionResult; deadLetter?: DeadLetterVerdict } | { result?: undefined; deadLetter: DeadLetterVerdict };

export function applyInput(definition: CompiledDefinition, saga: SagaDocument | undefined, input: SagaInput): Applied {
  let result: TransitionResult;
  try {
    result = transition(definition, saga, input);
  } catch (err) {
    return { deadLetter: { code: 'SAGAFLOW_INTERNAL_ERROR', reason: `transition failed: ${(err as Error).message}` } };
  }
  const code = deadLetterCodeOf(result);
  return code ? { result, deadLetter: { code, reason: result.reason ?? result.outcome } } : { result };
}

/** The creation record `POST /saga` produces (and `sagaflow simulate`'s `create` lines stand for). */
export function creationEnvelope(definition: CompiledDefinition, associatedEntityId: unknown, metadata: unknown): Envelope {
  return { messageLabel: definition.creationEvent, messagePayload: { associatedEntityId, metadata } };
}

/** Outcomes that leave the saga untouched and send the record to the dead-letter topic instead. */
export function deadLetterCodeOf(result: Pick<TransitionResult, 'outcome' | 'changed'>): KnownErrorCode | undefined {
  // A creation whose hook failed created nothing: the event is kept in the dead-letter topic
  // (a failing hook on an existing saga is recorded in its history instead).
  if (result.outcome === 'hook-failed' && !result.changed) return 'SAGAFLOW_HOOK_FAILED';
  switch (result.outcome) {
    case 'duplicate':
      return 'SAGAFLOW_DUPLICATE_EVENT';
    case 'unknown-saga':
      return 'SAGAFLOW_UNKNOWN_SAGA';
    case 'already-exists':
      return 'SAGAFLOW_SAGA_EXISTS';
    case 'invalid-start':
      return 'SAGAFLOW_INVALID_START';
    default:
      return undefined;
  }
}
