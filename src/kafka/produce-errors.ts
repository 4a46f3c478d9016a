import { isBrokerError } from '../broker/errors.ts';
import { SagaflowError, isSagaflowError } from '../errors.ts';

/**
 * What a failed produce of an ingress event means for the caller. Client messages name broker
 * addresses (which may be secrets), so they never reach a response: a record the broker refuses
 * for its size is the request's fault (413); anything else is the event log being unavailable
 * now (503, retry). Encoding failures are SagaflowErrors already and pass through.
 */
export function produceError(err: unknown): SagaflowError {
  if (isSagaflowError(err)) return err;
  if (isBrokerError(err) && err.reason === 'record-too-large') return new SagaflowError('SAGAFLOW_EVENT_TOO_LARGE', { cause: err });
  return new SagaflowError('SAGAFLOW_EVENTS_UNAVAILABLE', { cause: err });
}
