import type { PersistencyManagement } from '../definition/types.ts';
import { SagaflowError } from '../errors.ts';
import type { SagaDocument } from '../saga/types.ts';
import { DEFAULT_BACKOFF, backoffDelay, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import type { SagaSink, SinkWriteResult } from './sink.ts';

export type CrudPersistency = Extract<PersistencyManagement, { type: 'crud' }>['configurations'];
export type RestPersistency = Extract<PersistencyManagement, { type: 'rest' }>['configurations'];

/** One HTTP call that upserts one saga. */
export interface SagaRequest {
  method: 'POST' | 'PUT' | 'PATCH';
  url: string;
  body: Record<string, unknown>;
}

/**
 * The saga as Flow Manager sends it to its persistency managers: its own fields only, so
 * that a CRUD collection created from Flow Manager's schema accepts it. `all` adds
 * sagaflow's fields (revision, createdAt, updatedAt, commands, ignoredEvents), which lets a
 * target guard against replays by revision.
 */
export function flowManagerFields(saga: SagaDocument, fields: 'flow-manager' | 'all' = 'flow-manager'): Record<string, unknown> {
  const body: Record<string, unknown> = {
    sagaId: saga.sagaId,
    latestEvent: saga.latestEvent,
    history: saga.history,
    currentState: saga.currentState,
    associatedEntityId: saga.associatedEntityId,
    isFinal: saga.isFinal,
    businessStateId: saga.businessStateId,
    businessStateDescription: saga.businessStateDescription,
    metadata: saga.metadata,
  };
  if (fields === 'all') {
    Object.assign(body, {
      revision: saga.revision,
      createdAt: saga.createdAt,
      updatedAt: saga.updatedAt,
      commands: saga.commands,
      ignoredEvents: saga.ignoredEvents,
    });
  }
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

/**
 * Flow Manager's CRUD persistency: `POST {protocol}://{host}:{port}/{collectionName}/upsert-one?sagaId={sagaId}`
 * with body `{"$set": {...saga}}`. Defaults as Flow Manager's: http, host crud-service, port 80.
 */
export function crudRequest(config: CrudPersistency, saga: SagaDocument, fields: 'flow-manager' | 'all' = 'flow-manager'): SagaRequest {
  const protocol = config.protocol ?? 'http';
  const host = config.host || 'crud-service';
  const port = config.port ?? 80;
  const collection = config.collectionName.replace(/^\/+|\/+$/g, '');
  return {
    method: 'POST',
    url: `${protocol}://${host}:${port}/${collection}/upsert-one?sagaId=${encodeURIComponent(saga.sagaId)}`,
    body: { $set: flowManagerFields(saga, fields) },
  };
}

/**
 * Flow Manager's REST persistency: `{method} {protocol}://{endpoint}:{port}{path}/{sagaId}`
 * with the saga fields as the body (Flow Manager's body has no sagaId: it is in the URL).
 */
export function restRequest(config: RestPersistency, saga: SagaDocument, fields: 'flow-manager' | 'all' = 'flow-manager'): SagaRequest {
  const protocol = config.protocol ?? 'http';
  const port = config.port === undefined ? '' : `:${config.port}`;
  const path = (config.path ?? '/').replace(/^\/+|\/+$/g, '');
  const { sagaId: _sagaId, ...body } = flowManagerFields(saga, fields);
  return {
    method: config.method ?? 'POST',
    url: `${protocol}://${config.endpoint}${port}${path ? `/${path}` : ''}/${encodeURIComponent(saga.sagaId)}`,
    body,
  };
}

export interface HttpSinkOptions {
  /** Requests in flight at once (different sagas; one saga is never sent twice at once). */
  concurrency?: number;
  /** Tries per request inside one `write`, before the write fails and the projector backs off. */
  attempts?: number;
  backoff?: BackoffOptions;
  timeoutMs?: number;
  fields?: 'flow-manager' | 'all';
  /** How many sagas' last written revision to remember (skips replays and retried batches). */
  rememberRevisions?: number;
  fetchImpl?: typeof fetch;
}

/** Statuses for which the same request can succeed later. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * A sink that upserts each saga with one HTTP request, as Flow Manager does. Requests are
 * retried with exponential backoff; a write resolves only when every saga was accepted
 * (2xx). The last revision written per saga is remembered (bounded) so that a retried batch
 * or a replay in the same process does not send a saga again, or send an older revision
 * after a newer one. Across restarts delivery is at least once, in changelog order per saga:
 * the target sees a saga again if the projector stopped after writing and before committing.
 */
export class HttpSagaSink implements SagaSink {
  readonly kind: string;
  private readonly toRequest: (saga: SagaDocument) => SagaRequest;
  private readonly headers: Record<string, string>;
  private readonly opts: Required<Omit<HttpSinkOptions, 'fields'>>;
  private readonly written = new Map<string, number>();

  constructor(kind: string, toRequest: (saga: SagaDocument) => SagaRequest, headers: Record<string, string> | undefined, opts: HttpSinkOptions = {}) {
    this.kind = kind;
    this.toRequest = toRequest;
    this.headers = { 'content-type': 'application/json', ...headers };
    this.opts = {
      concurrency: opts.concurrency ?? 8,
      attempts: opts.attempts ?? 3,
      backoff: opts.backoff ?? { ...DEFAULT_BACKOFF, maxMs: 2_000 },
      timeoutMs: opts.timeoutMs ?? 10_000,
      rememberRevisions: opts.rememberRevisions ?? 100_000,
      fetchImpl: opts.fetchImpl ?? fetch,
    };
  }

  async init(): Promise<void> {}

  async write(sagas: readonly SagaDocument[], options: { signal?: AbortSignal } = {}): Promise<SinkWriteResult> {
    const pending = sagas.filter((s) => (this.written.get(s.sagaId) ?? -Infinity) < s.revision);
    const result: SinkWriteResult = { written: 0, stale: sagas.length - pending.length };
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < pending.length) {
        const saga = pending[next++] as SagaDocument;
        try {
          await this.send(saga, options.signal);
          this.remember(saga);
          result.written += 1;
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, pending.length) }, worker));
    if (failure !== undefined) throw failure;
    return result;
  }

  async close(): Promise<void> {}

  private remember(saga: SagaDocument): void {
    this.written.delete(saga.sagaId);
    this.written.set(saga.sagaId, saga.revision);
    if (this.written.size > this.opts.rememberRevisions) {
      const oldest = this.written.keys().next();
      if (!oldest.done) this.written.delete(oldest.value);
    }
  }

  private async send(saga: SagaDocument, signal: AbortSignal | undefined): Promise<void> {
    const request = this.toRequest(saga);
    const url = new URL(request.url);
    // Origin and path only: no query string, never the headers (they may carry secrets).
    const target = `${request.method} ${url.origin}${url.pathname}`;
    let last: SagaflowError | undefined;
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      if (attempt > 1) {
        await sleep(backoffDelay(attempt - 1, this.opts.backoff), signal);
        if (signal?.aborted) break;
      }
      try {
        const signals = [AbortSignal.timeout(this.opts.timeoutMs), ...(signal ? [signal] : [])];
        const res = await this.opts.fetchImpl(request.url, {
          method: request.method,
          headers: this.headers,
          body: JSON.stringify(request.body),
          signal: AbortSignal.any(signals),
        });
        // Drain the body so the connection is reused.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        last = new SagaflowError('SAGAFLOW_PROJECTION_TARGET_FAILED', {
          message: `${this.kind} persistency answered ${res.status} to ${target} for saga "${saga.sagaId}"`,
          retryable: retryableStatus(res.status),
          details: { status: res.status, sagaId: saga.sagaId, revision: saga.revision },
        });
        if (!last.retryable) break;
      } catch (err) {
        last = new SagaflowError('SAGAFLOW_PROJECTION_TARGET_FAILED', {
          message: `${this.kind} persistency unreachable at ${target} for saga "${saga.sagaId}": ${(err as Error).message}`,
          retryable: true,
          details: { sagaId: saga.sagaId, revision: saga.revision },
          cause: err,
        });
      }
    }
    throw last ?? new SagaflowError('SAGAFLOW_PROJECTION_TARGET_FAILED', { message: `${this.kind} persistency write aborted`, retryable: true });
  }
}

export function crudSagaSink(config: CrudPersistency, opts: HttpSinkOptions = {}): HttpSagaSink {
  return new HttpSagaSink('crud', (saga) => crudRequest(config, saga, opts.fields), config.headers, opts);
}

export function restSagaSink(config: RestPersistency, opts: HttpSinkOptions = {}): HttpSagaSink {
  return new HttpSagaSink('rest', (saga) => restRequest(config, saga, opts.fields), config.headers, opts);
}
