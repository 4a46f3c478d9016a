/**
 * The one classification of Kafka client failures, made by each adapter where a client error
 * enters sagaflow's code. Callers branch on `kind` (and `reason` where a caller must tell two
 * permanent failures apart), never on a client's error names or message text.
 *
 * - `fenced`: this producer or member lost its right to write for the partitions it holds
 *   (a newer producer with the same transactional id, or a newer group generation: KIP-447).
 *   The work in progress is dropped; the partitions are re-gained or left.
 * - `retryable`: trying the same thing again later can succeed (broker unreachable, leader
 *   moving, coordinator loading, a timeout, an abortable transaction error).
 * - `permanent`: configuration or input must change first (credentials, authorization, a
 *   record larger than the broker accepts, an unknown topic).
 */
export type BrokerErrorKind = 'fenced' | 'retryable' | 'permanent';

/** Finer reasons some callers act on; `other` for everything else. */
export type BrokerErrorReason =
  | 'authentication'
  | 'authorization'
  | 'record-too-large'
  | 'invalid-replication-factor'
  | 'unknown-topic'
  | 'topic-exists'
  | 'transaction-timeout'
  | 'unreachable'
  | 'other';

export class BrokerError extends Error {
  readonly kind: BrokerErrorKind;
  readonly reason: BrokerErrorReason;
  /** Which client raised it, for logs. */
  readonly client: string;

  constructor(kind: BrokerErrorKind, reason: BrokerErrorReason, message: string, opts: { client: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BrokerError';
    this.kind = kind;
    this.reason = reason;
    this.client = opts.client;
  }
}

export function isBrokerError(err: unknown, kind?: BrokerErrorKind): err is BrokerError {
  return err instanceof BrokerError && (kind === undefined || err.kind === kind);
}

/** The kind of any error: a BrokerError's own, `retryable` for anything an adapter did not classify. */
export function kindOf(err: unknown): BrokerErrorKind {
  return isBrokerError(err) ? err.kind : 'retryable';
}
