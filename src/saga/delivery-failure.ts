import { DELIVERY_FAILED_EVENT } from '../definition/types.ts';
import { isPlainObject } from './merge.ts';
import type { DeliveryFailure } from './types.ts';

// The outbox dispatcher sends DELIVERY_FAILED_EVENT to a saga's partition when a command on a
// rest channel could not be delivered. It does not own the saga and never writes its
// changelog: the saga's owner records the failure like any other input, in order with the
// saga's other events, without changing its state.
export { DELIVERY_FAILED_EVENT };

/** Longest `reason` kept in a saga document; the dead-letter record keeps the full one. */
export const MAX_DELIVERY_REASON_LENGTH = 2_000;

/** The failure a `__delivery_failed__` payload reports, or why the payload is not one. */
export function parseDeliveryFailure(payload: unknown): { failure: DeliveryFailure } | { error: string } {
  if (!isPlainObject(payload)) return { error: `a "${DELIVERY_FAILED_EVENT}" event needs a payload {channel, label, revision, reason, status?, attempt?}` };
  const { channel, label, revision, reason, status, attempt } = payload;
  if (typeof channel !== 'string' || channel === '') return { error: `${DELIVERY_FAILED_EVENT}: channel must be a non-empty string` };
  if (typeof label !== 'string' || label === '') return { error: `${DELIVERY_FAILED_EVENT}: label must be a non-empty string` };
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) return { error: `${DELIVERY_FAILED_EVENT}: revision must be an integer >= 0` };
  if (typeof reason !== 'string' || reason === '') return { error: `${DELIVERY_FAILED_EVENT}: reason must be a non-empty string` };
  if (status !== undefined && (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599)) {
    return { error: `${DELIVERY_FAILED_EVENT}: status must be an HTTP status (100-599) when present` };
  }
  if (attempt !== undefined && (!Number.isSafeInteger(attempt) || (attempt as number) < 1)) {
    return { error: `${DELIVERY_FAILED_EVENT}: attempt must be an integer >= 1 when present` };
  }
  const failure: DeliveryFailure = {
    channel,
    label,
    revision: revision as number,
    reason: reason.length > MAX_DELIVERY_REASON_LENGTH ? `${reason.slice(0, MAX_DELIVERY_REASON_LENGTH)}…` : reason,
  };
  if (attempt !== undefined) failure.attempt = attempt as number;
  if (status !== undefined) failure.status = status as number;
  return { failure };
}
