import { BrokerError } from '../../broker/errors.ts';
import type { BrokerErrorKind, BrokerErrorReason } from '../../broker/errors.ts';

/** librdkafka error codes sagaflow branches on (rdkafka.h; negative = client-side). */
export const RD = {
  FENCED: -144,
  PRODUCER_FENCED: 90,
  INVALID_PRODUCER_EPOCH: 47,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  FENCED_INSTANCE_ID: 82,
  AUTHENTICATION: -169,
  SASL_AUTHENTICATION_FAILED: 58,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  MSG_SIZE_TOO_LARGE: 10,
  RECORD_LIST_TOO_LARGE: 18,
  INVALID_REPLICATION_FACTOR: 38,
  TOPIC_ALREADY_EXISTS: 36,
  UNKNOWN_TOPIC_OR_PART: 3,
  UNKNOWN_TOPIC: -188,
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  RESOLVE: -193,
  TIMED_OUT: -185,
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  PARTITION_EOF: -191,
} as const;

interface RdError {
  message?: string;
  code?: number;
  isFatal?: boolean;
  isRetriable?: boolean;
  isTxnRequiresAbort?: boolean;
}

/**
 * librdkafka failures as the engine sees them (see src/broker/errors.ts). A producer fenced
 * by its transactional id and a member fenced by a newer group generation (KIP-447: the
 * broker refuses its transactional offsets) are both `fenced`: the work is dropped and the
 * partitions are re-gained or left.
 */
export function classifyRdkafkaError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const e = (err ?? {}) as RdError;
  const code = typeof e.code === 'number' ? e.code : undefined;
  const message = e.message ?? String(err);
  const make = (kind: BrokerErrorKind, reason: BrokerErrorReason) => new BrokerError(kind, reason, message, { client: 'librdkafka', cause: err });
  switch (code) {
    case RD.FENCED:
    case RD.PRODUCER_FENCED:
    case RD.INVALID_PRODUCER_EPOCH:
    case RD.ILLEGAL_GENERATION:
    case RD.UNKNOWN_MEMBER_ID:
    case RD.FENCED_INSTANCE_ID:
      return make('fenced', 'other');
    case RD.AUTHENTICATION:
    case RD.SASL_AUTHENTICATION_FAILED:
      return make('permanent', 'authentication');
    case RD.TOPIC_AUTHORIZATION_FAILED:
    case RD.GROUP_AUTHORIZATION_FAILED:
    case RD.CLUSTER_AUTHORIZATION_FAILED:
    case RD.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return make('permanent', 'authorization');
    case RD.MSG_SIZE_TOO_LARGE:
    case RD.RECORD_LIST_TOO_LARGE:
      return make('permanent', 'record-too-large');
    case RD.INVALID_REPLICATION_FACTOR:
      return make('permanent', 'invalid-replication-factor');
    case RD.TOPIC_ALREADY_EXISTS:
      return make('permanent', 'topic-exists');
    case RD.UNKNOWN_TOPIC_OR_PART:
    case RD.UNKNOWN_TOPIC:
      return make('retryable', 'unknown-topic');
    case RD.TRANSPORT:
    case RD.ALL_BROKERS_DOWN:
    case RD.RESOLVE:
      return make('retryable', 'unreachable');
    default:
      // A fatal producer error that is not a fence (e.g. an idempotence sequence gap) ends
      // that producer: the writer makes a new one on the next transaction.
      return make('retryable', code === RD.TIMED_OUT ? 'transaction-timeout' : 'other');
  }
}

/** Calls a callback-style librdkafka method; its error leaves classified. */
export function rdCall<T = void>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, value) => (err ? reject(classifyRdkafkaError(err)) : resolve(value as T)));
    } catch (err) {
      reject(classifyRdkafkaError(err));
    }
  });
}

/** Whether librdkafka marked the error fatal for its producer (a new producer is needed). */
export function isFatalRdError(err: unknown): boolean {
  const cause = err instanceof BrokerError ? err.cause : err;
  return (cause as RdError | undefined)?.isFatal === true;
}

/** Whether librdkafka says the operation may simply be called again (e.g. a commit that timed out). */
export function isRetriableRdError(err: unknown): boolean {
  const cause = err instanceof BrokerError ? err.cause : err;
  return (cause as RdError | undefined)?.isRetriable === true;
}
