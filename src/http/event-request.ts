import type { CompiledDefinition } from '../definition/compile.ts';
import type { Envelope } from '../kafka/codec.ts';
import { CANCEL_EVENT } from '../saga/cancel.ts';
import { DELIVERY_FAILED_EVENT } from '../saga/delivery-failure.ts';
import { acceptance } from '../saga/transition.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { HttpErrorCode } from './errors.ts';

/*
 * What POST /event does with a body before it produces the record, as pure functions: the
 * route calls them, and so does `sagaflow simulate` for its POST /event lines.
 */

/** Why `POST /event` refuses a body instead of producing it: the HTTP error code and message. */
export interface Refusal {
  code: Extract<HttpErrorCode, 'SAGAFLOW_BAD_REQUEST' | 'SAGAFLOW_SAGA_NOT_FOUND' | 'SAGAFLOW_UNEXPECTED_EVENT'>;
  message: string;
}

/** The `value` of a `POST /event` body (its shape already checked against the route's schema). */
export interface EventRequestValue {
  messageLabel: string;
  messagePayload?: unknown;
  eventId?: string;
}

/**
 * The record `POST /event` produces for a body, or why it refuses it before looking at the
 * saga: the labels sagaflow reserves for its own inputs are not taken from the open ingress.
 * A missing `messagePayload` is sent as `{}`, as Flow Manager does.
 */
export function eventRequestEnvelope(key: string, value: EventRequestValue): { envelope: Envelope } | { refused: Refusal } {
  if (value.messageLabel === DELIVERY_FAILED_EVENT) {
    // Only the outbox dispatcher reports failed deliveries, on the events topic.
    return { refused: { code: 'SAGAFLOW_BAD_REQUEST', message: `"${DELIVERY_FAILED_EVENT}" is reserved for failed deliveries that sagaflow reports itself; it cannot be sent over HTTP` } };
  }
  if (value.messageLabel === CANCEL_EVENT) {
    // A cancel is an operator action: it goes through the admin token, not the open ingress.
    return { refused: { code: 'SAGAFLOW_BAD_REQUEST', message: `"${CANCEL_EVENT}" is reserved for cancels; use POST /saga/${encodeURIComponent(key)}/cancel with the admin token` } };
  }
  const envelope: Envelope = { messageLabel: value.messageLabel, messagePayload: value.messagePayload ?? {} };
  if (value.eventId !== undefined) envelope.eventId = value.eventId;
  return { envelope };
}

/**
 * With `throwOnUnexpectedEvents`, `POST /event` refuses an event the saga would not take, as
 * the core answers it (see `acceptance`): 404 for a saga that does not exist, 409 otherwise.
 */
export function unexpectedEventRefusal(definition: CompiledDefinition, key: string, saga: SagaDocument | undefined, label: string): Refusal | undefined {
  const answer = acceptance(definition, key, saga, label);
  if (answer.accepted) return undefined;
  if (answer.outcome === 'unknown-saga') return { code: 'SAGAFLOW_SAGA_NOT_FOUND', message: answer.reason };
  const where = saga ? `saga "${key}" is in state "${saga.currentState}", which does not accept "${label}"` : `saga "${key}" does not accept "${label}"`;
  return { code: 'SAGAFLOW_UNEXPECTED_EVENT', message: `${where}: ${answer.reason}` };
}
