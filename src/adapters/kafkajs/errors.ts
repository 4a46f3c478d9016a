import { BrokerError } from '../../broker/errors.ts';
import type { BrokerErrorKind, BrokerErrorReason } from '../../broker/errors.ts';

interface KafkajsErrorShape {
  name?: string;
  type?: string;
  message?: string;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

/** Every error name and broker error type in an error, its causes and its retried attempts. */
function signals(err: unknown): { names: Set<string>; types: Set<string> } {
  const names = new Set<string>();
  const types = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 10) return;
    seen.add(e);
    const x = e as KafkajsErrorShape;
    if (typeof x.name === 'string') names.add(x.name);
    if (typeof x.type === 'string') types.add(x.type);
    visit(x.cause, depth + 1);
    visit(x.originalError, depth + 1);
    for (const inner of x.errors ?? []) visit(inner, depth + 1);
  };
  visit(err, 0);
  return { names, types };
}

/** kafkajs failures as the engine sees them (see src/broker/errors.ts). */
export function classifyKafkajsError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const { names, types } = signals(err);
  const message = (err as KafkajsErrorShape | null)?.message ?? String(err);
  const make = (kind: BrokerErrorKind, reason: BrokerErrorReason) => new BrokerError(kind, reason, message, { client: 'kafkajs', cause: err });
  const hasType = (...wanted: string[]) => wanted.some((t) => types.has(t));
  if (names.has('KafkaJSProducerFencedError') || hasType('INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED')) return make('fenced', 'other');
  if (names.has('KafkaJSSASLAuthenticationError') || hasType('SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE')) return make('permanent', 'authentication');
  if ([...types].some((t) => t.endsWith('AUTHORIZATION_FAILED'))) return make('permanent', 'authorization');
  if (hasType('MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE')) return make('permanent', 'record-too-large');
  if (hasType('INVALID_REPLICATION_FACTOR')) return make('permanent', 'invalid-replication-factor');
  if (hasType('TOPIC_ALREADY_EXISTS')) return make('permanent', 'topic-exists');
  if (names.has('KafkaJSConnectionError') || names.has('KafkaJSNumberOfRetriesExceeded') || names.has('KafkaJSBrokerNotFound')) return make('retryable', 'unreachable');
  return make('retryable', 'other');
}

/** Runs a kafkajs call; whatever it throws leaves as a classified BrokerError. */
export async function kafkajsCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyKafkajsError(err);
  }
}
