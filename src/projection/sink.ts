import type { SagaDocument } from '../saga/types.ts';

/** What one `SagaSink.write` did. */
export interface SinkWriteResult {
  /** Documents the target accepted (inserted or replaced). */
  written: number;
  /** Documents skipped because the target already holds the same or a newer revision. */
  stale: number;
}

/**
 * Where the projector puts saga documents: MongoDB, a CRUD service or a REST service.
 * `write` receives at most one document per sagaId and resolves only once the target has
 * accepted every document (or holds a newer revision of it). It throws when it could not;
 * the projector then retries the same documents, so writes must be idempotent.
 */
export interface SagaSink {
  /** `mongo`, `crud` or `rest`: for logs and metrics. */
  readonly kind: string;
  /** Prepares the target (indexes, connection). Safe to call more than once. */
  init(): Promise<void>;
  /** `signal` aborts when the projector stops: a sink waiting to retry gives up early. */
  write(sagas: readonly SagaDocument[], options?: { signal?: AbortSignal }): Promise<SinkWriteResult>;
  close(): Promise<void>;
}

/**
 * Keeps the highest revision of each saga, in first-seen order. A changelog batch often
 * holds several revisions of one saga; only the last one needs writing.
 */
export function latestRevisions(sagas: Iterable<SagaDocument>): SagaDocument[] {
  const latest = new Map<string, SagaDocument>();
  for (const saga of sagas) {
    const seen = latest.get(saga.sagaId);
    if (!seen || saga.revision > seen.revision) latest.set(saga.sagaId, saga);
  }
  return [...latest.values()];
}
