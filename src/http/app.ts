import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { CompiledDefinition } from '../definition/compile.ts';
import type { MachineDefinition } from '../definition/types.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { Envelope } from '../kafka/codec.ts';
import type { SagaLocation } from '../engine/processor.ts';
import { HTTP_ERRORS, sendError } from './errors.ts';
import type { HttpErrorCode } from './errors.ts';
import { schemas } from './schemas.ts';
import { sagasRoutes } from './sagas-routes.ts';
import type { SagaRepository } from '../projection/repository.ts';
import type { CheckUpReport } from './check-up.ts';
import { SERVICE_NAME, serviceVersion } from './service-info.ts';
import { creationEnvelope } from '../engine/ingress.ts';
import { eventRequestEnvelope, unexpectedEventRefusal } from './event-request.ts';
import { adminGuard, forwardedAuthorization, readGuard } from './auth.ts';
import type { AdminAccess } from './auth.ts';
import { cancelRoute } from './cancel-route.ts';
import type { DeadLetterStore, GroupView, ProcessorCounters, SagaEventLog } from './console/ports.ts';
import { consolePlugin } from './console/plugin.ts';
import { deadLettersRoutes } from './dead-letters-routes.ts';

/** Header set on forwarded queries so an instance never forwards twice. */
export const FORWARDED_HEADER = 'x-sagaflow-forwarded';

/**
 * Header of a GET /saga answer that may lag the owner's live store: `possibly` on a copy from
 * the projection, STALE_RESTORING on the committed copy of a store still being restored,
 * STALE_UNCONFIRMED on one of a store whose instance cannot vouch that it still owns it.
 */
export const STALE_HEADER = 'x-sagaflow-stale';
/**
 * STALE_HEADER's value on a copy from a store being restored: committed, but it may be older
 * than a copy served before (another instance's store was further along), unlike the
 * projection's copies (`possibly`), which never go back.
 */
export const STALE_RESTORING = 'restoring';
/**
 * STALE_HEADER's value on a copy from the store of a partition its instance may have lost
 * without knowing yet (cut off from the group coordinator, or busy past a heartbeat interval):
 * committed, but possibly older than what the partition's new owner served.
 */
export const STALE_UNCONFIRMED = 'unconfirmed';
/** Header of a GET /saga answer naming the instance whose store or projection answered it. */
export const INSTANCE_HEADER = 'x-sagaflow-instance';

export interface SagaQueries {
  locate(sagaId: string): Promise<SagaLocation>;
  isReady(): boolean;
  ownedPartitions(): { partition: number; state: string }[];
}

export interface EventIngress {
  /** Produces an event (or a creation) to the events topic, keyed by sagaId. */
  produce(sagaId: string, envelope: Envelope): Promise<void>;
}

export interface HttpDeps {
  definition: CompiledDefinition;
  machineDefinition: MachineDefinition;
  sagaIdPrefix: string;
  ingress: EventIngress;
  queries: SagaQueries;
  /** The Prometheus text of /-/metrics. */
  metrics: () => string | Promise<string>;
  /** Checks the dependencies for GET /-/check-up; absent: no dependency to check. */
  checkUp?: () => Promise<CheckUpReport>;
  logger: Logger;
  /** Where a saga is stored when its owner cannot be reached (the MongoDB projection). */
  fallback?: (sagaId: string) => Promise<SagaDocument | undefined>;
  /** The MongoDB projection's read side: serves GET /sagas and GET /sagas/stats when present. */
  repository?: SagaRepository;
  /** The operator token (SAGAFLOW_ADMIN_TOKEN): operator actions are off without it. */
  admin?: AdminAccess;
  /** The dead-letter topic: serves /dead-letters when present. */
  deadLetters?: { store: DeadLetterStore; decodeEvent?: (value: Buffer) => Promise<Envelope> };
  /** The web console at /console, when present. */
  console?: {
    applicationId: string;
    /** This instance's advertised URL (known once it listens). */
    selfUrl: () => string;
    group?: GroupView;
    counters?: () => ProcessorCounters;
    events?: SagaEventLog;
    sampleIntervalMs?: number;
    liveIntervalMs?: number;
  };
  newSagaId?: () => string;
  bodyLimit?: number;
  waitTimeoutMs?: number;
  /** This instance's id, named in GET /saga answers it served (INSTANCE_HEADER). */
  instanceId?: string;
  /** How long a query forwarded to the saga's owner may take (default FORWARD_TIMEOUT_MS). */
  forwardTimeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** How long the owner of a saga has to answer a forwarded GET /saga/:sagaId. */
export const FORWARD_TIMEOUT_MS = 5_000;

/** Deepest nesting of objects and arrays a request body may have. */
export const MAX_BODY_DEPTH = 64;

/** Whether `value` nests objects or arrays more than `max` levels deep (iterative: any depth is safe). */
export function nestingDepthExceeds(value: unknown, max: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, depth } = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) stack.push({ node: child, depth: depth + 1 });
  }
  return false;
}

/** Where a saga was found, as GET /saga/:sagaId finds it. */
export type SagaLookup =
  | { kind: 'found'; saga: SagaDocument; servedBy: 'local' | 'owner' | 'projection' | 'restoring' | 'unconfirmed'; instance?: string }
  | { kind: 'not-found' }
  | { kind: 'unavailable'; code: HttpErrorCode; message: string };
type Lookup = SagaLookup;

/**
 * Builds the HTTP API without listening, so tests use `app.inject()`. Routes mirror
 * Flow Manager's (`POST /saga`, `POST /event`, `GET /machine-definition`) plus saga queries.
 */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    // sagaIds may have up to 512 characters (schemas.ts); Fastify's default of 100 answered
    // 414 for longer ones, percent-encoded, before validation could say anything. (Set through
    // routerOptions: the top-level option prints a deprecation warning at every start.)
    routerOptions: { maxParamLength: 8 * 1024 },
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  });
  const log = deps.logger.child({ component: 'http' });
  const fetchImpl = deps.fetchImpl ?? fetch;
  const newSagaId = deps.newSagaId ?? (() => (deps.sagaIdPrefix ? `${deps.sagaIdPrefix}-${randomUUID()}` : randomUUID()));
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: SERVICE_NAME, version: serviceVersion(), description: 'Saga orchestrator HTTP API (Flow Manager compatible)' },
      components: {
        securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'SAGAFLOW_ADMIN_TOKEN; operator actions are off without it' } },
      },
    },
  });

  // Bodies nest a few levels at most; a deeper one (e.g. 100 000 nested arrays, well under the
  // size limit) overflowed the stack of JSON.stringify when the event was encoded: a 500.
  app.addHook('preValidation', async (req, reply) => {
    if (nestingDepthExceeds(req.body, MAX_BODY_DEPTH)) {
      return sendError(reply, 'SAGAFLOW_BAD_REQUEST', `the body nests deeper than ${MAX_BODY_DEPTH} levels`);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, _req, reply) => {
    if (err.validation) return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.code === 'SAGAFLOW_EVENT_TOO_LARGE') return sendError(reply, 'SAGAFLOW_BODY_TOO_LARGE', err.message);
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 'SAGAFLOW_UNSUPPORTED_MEDIA_TYPE', err.message);
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    }
    log.error({ err }, 'request failed');
    const retryable = (err as { retryable?: boolean }).retryable === true;
    return sendError(reply, retryable ? 'SAGAFLOW_UNAVAILABLE' : 'SAGAFLOW_INTERNAL_ERROR', retryable ? err.message : 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'SAGAFLOW_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url}`));

  async function lookup(sagaId: string, forwarded: boolean): Promise<Lookup> {
    const where = await deps.queries.locate(sagaId);
    if (where.kind === 'local') return where.saga ? { kind: 'found', saga: where.saga, servedBy: 'local' } : { kind: 'not-found' };
    // A restoring store's committed copy, possibly behind: marked stale. Its absence proves
    // nothing until the restore is done (the projection may still have the saga).
    if ((where.kind === 'restoring' || where.kind === 'unconfirmed') && where.saga) return { kind: 'found', saga: where.saga, servedBy: where.kind };
    const asked = where.kind === 'remote' && !forwarded ? await askOwner(where.url, sagaId, where.partition) : undefined;
    if (asked && (asked.kind === 'found' || asked.kind === 'not-found')) return asked;
    const fallback = deps.fallback ?? (deps.repository ? (id: string) => (deps.repository as SagaRepository).findById(id) : undefined);
    const fromProjection = fallback ? await fallback(sagaId).catch(() => undefined) : undefined;
    if (fromProjection) return { kind: 'found', saga: fromProjection, servedBy: 'projection' };
    if (where.kind === 'restoring') return { kind: 'unavailable', code: 'SAGAFLOW_RESTORING', message: `partition ${where.partition} is being restored` };
    if (where.kind === 'unconfirmed') return { kind: 'unavailable', code: 'SAGAFLOW_OWNER_UNAVAILABLE', message: `this instance cannot confirm that it still owns partition ${where.partition}` };
    if (asked) return { kind: 'unavailable', code: asked.code, message: asked.message };
    return { kind: 'unavailable', code: 'SAGAFLOW_OWNER_UNAVAILABLE', message: 'no reachable instance owns this saga now' };
  }

  /**
   * GET /saga/:sagaId on the instance that owns the saga's partition (see the README's table
   * of its answers). The owner's own answers (the document, not found, restoring) are passed
   * on; anything else is a failure the caller may cover with the projection's copy.
   */
  async function askOwner(url: string, sagaId: string, partition: number): Promise<Lookup | { kind: 'failed'; code: HttpErrorCode; message: string }> {
    const timeoutMs = deps.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS;
    const owner = `the instance owning partition ${partition} (${url})`;
    let status: number;
    let body: unknown;
    let stale: string | null;
    let ownerInstance: string | null;
    try {
      const res = await fetchImpl(`${url}/saga/${encodeURIComponent(sagaId)}`, {
        headers: { [FORWARDED_HEADER]: '1', ...forwardedAuthorization(deps.admin) },
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      stale = res.headers.get(STALE_HEADER);
      ownerInstance = res.headers.get(INSTANCE_HEADER);
      const text = await res.text();
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = undefined;
      }
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      log.warn({ err, partition, url }, timedOut ? 'owner did not answer in time' : 'owner unreachable');
      return { kind: 'failed', code: 'SAGAFLOW_OWNER_UNAVAILABLE', message: timedOut ? `${owner} did not answer within ${timeoutMs} ms` : `${owner} cannot be reached` };
    }
    const code = typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string' ? body.code : undefined;
    // The instance asked may be restoring, or have lost the partition meanwhile and answered
    // from the projection: the copy keeps its mark.
    if (status === 200 && typeof body === 'object' && body !== null && 'sagaId' in body && body.sagaId === sagaId) {
      const servedBy = stale === null ? 'owner' : stale === STALE_RESTORING ? 'restoring' : stale === STALE_UNCONFIRMED ? 'unconfirmed' : 'projection';
      return { kind: 'found', saga: body as SagaDocument, servedBy, ...(ownerInstance ? { instance: ownerInstance } : {}) };
    }
    // Only sagaflow's own "no such saga" is an answer: a 404 of another route or server (a
    // wrong advertised URL) says nothing about the saga.
    if (status === 404 && code === 'SAGAFLOW_SAGA_NOT_FOUND') return { kind: 'not-found' };
    if (status === 503 && (code === 'SAGAFLOW_RESTORING' || code === 'SAGAFLOW_OWNER_UNAVAILABLE')) {
      return { kind: 'unavailable', code, message: code === 'SAGAFLOW_RESTORING' ? `the owner of partition ${partition} is restoring` : `${owner} no longer owns it and has no copy` };
    }
    log.warn({ partition, url, status, code }, 'owner answered a forwarded query with an error');
    const answered = `${owner} answered ${status}${code ? ` ${code}` : ''}`;
    return { kind: 'failed', code: status === 503 ? 'SAGAFLOW_OWNER_UNAVAILABLE' : 'SAGAFLOW_OWNER_FAILED', message: answered };
  }

  /** Polls the saga until `done` holds or the wait timeout passes; the last saga seen. */
  async function waitFor(sagaId: string, done: (saga: SagaDocument) => boolean): Promise<SagaDocument | undefined> {
    const deadline = Date.now() + (deps.waitTimeoutMs ?? 15_000);
    let seen: SagaDocument | undefined;
    while (Date.now() < deadline) {
      const found = await lookup(sagaId, false);
      if (found.kind === 'found') {
        seen = found.saga;
        if (done(seen)) return seen;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return seen;
  }

  function replyLookup(reply: FastifyReply, result: Lookup, sagaId: string) {
    if (result.kind === 'found') {
      // A projection copy may lag the owner's store: say so.
      if (result.servedBy === 'projection') reply.header(STALE_HEADER, 'possibly');
      if (result.servedBy === 'restoring') reply.header(STALE_HEADER, STALE_RESTORING);
      if (result.servedBy === 'unconfirmed') reply.header(STALE_HEADER, STALE_UNCONFIRMED);
      const instance = result.instance ?? (result.servedBy === 'owner' ? undefined : deps.instanceId);
      if (instance) reply.header(INSTANCE_HEADER, instance);
      return reply.code(200).send(result.saga);
    }
    if (result.kind === 'not-found') return sendError(reply, 'SAGAFLOW_SAGA_NOT_FOUND', `saga "${sagaId}" does not exist`);
    reply.header('retry-after', '1');
    return sendError(reply, result.code, result.message);
  }

  app.post<{ Body: { associatedEntityId: string; metadata: Record<string, unknown> }; Querystring: { wait?: 'true' | 'false' } }>(
    '/saga',
    { schema: schemas.createSaga },
    async (req, reply) => {
      const sagaId = newSagaId();
      await deps.ingress.produce(sagaId, creationEnvelope(deps.definition, req.body.associatedEntityId, req.body.metadata));
      if (req.query.wait !== 'true') return reply.code(201).send({ sagaId });
      const saga = await waitFor(sagaId, () => true);
      if (saga) return reply.code(201).send({ sagaId, saga });
      // Produced (it will be created), but not visible in time: answer 202 with the id.
      return reply.code(202).send({ sagaId });
    },
  );

  app.post<{ Body: { key: string; value: { messageLabel: string; messagePayload?: unknown; eventId?: string } } }>(
    '/event',
    { schema: schemas.postEvent },
    async (req, reply) => {
      const { key, value } = req.body;
      const request = eventRequestEnvelope(key, value);
      if ('refused' in request) return sendError(reply, request.refused.code, request.refused.message);
      if (deps.definition.settings.throwOnUnexpectedEvents) {
        const found = await lookup(key, false);
        if (found.kind === 'unavailable') {
          reply.header('retry-after', '1');
          return sendError(reply, found.code, found.message);
        }
        const refused = unexpectedEventRefusal(deps.definition, key, found.kind === 'found' ? found.saga : undefined, value.messageLabel);
        if (refused) return sendError(reply, refused.code, refused.message);
      }
      const { envelope } = request;
      await deps.ingress.produce(key, envelope);
      return reply.code(202).send({ accepted: true, sagaId: key });
    },
  );

  const reads = readGuard(deps.admin);
  app.get<{ Params: { sagaId: string } }>('/saga/:sagaId', { schema: schemas.getSaga, onRequest: reads }, async (req, reply) => {
    const forwarded = req.headers[FORWARDED_HEADER] !== undefined;
    return replyLookup(reply, await lookup(req.params.sagaId, forwarded), req.params.sagaId);
  });

  await app.register(cancelRoute, {
    definition: deps.definition,
    ingress: deps.ingress,
    lookup: (sagaId) => lookup(sagaId, false),
    waitFor,
    guard: adminGuard(deps.admin),
  });

  if (deps.deadLetters) {
    const { store, decodeEvent } = deps.deadLetters;
    await app.register(deadLettersRoutes, { store, reads, admin: adminGuard(deps.admin), ...(decodeEvent ? { decodeEvent } : {}) });
  }

  if (deps.repository) {
    const repository = deps.repository;
    await app.register(async (scope) => {
      scope.addHook('onRequest', reads);
      await scope.register(sagasRoutes, { repository });
    });
  }

  if (deps.console) {
    const c = deps.console;
    await app.register(consolePlugin, {
      definition: deps.definition,
      applicationId: c.applicationId,
      ...(deps.admin ? { admin: deps.admin } : {}),
      ...(deps.repository ? { repository: deps.repository } : {}),
      lookup: (sagaId) => lookup(sagaId, false),
      local: () => ({ url: c.selfUrl(), ready: deps.queries.isReady(), partitions: deps.queries.ownedPartitions() }),
      ...(c.group ? { group: c.group } : {}),
      ...(c.counters ? { counters: c.counters } : {}),
      ...(c.events ? { events: c.events } : {}),
      ...(c.sampleIntervalMs ? { sampleIntervalMs: c.sampleIntervalMs } : {}),
      ...(c.liveIntervalMs ? { liveIntervalMs: c.liveIntervalMs } : {}),
      deadLetters: deps.deadLetters !== undefined,
      logger: deps.logger,
      fetchImpl,
    });
  }

  app.get('/machine-definition', { schema: schemas.machineDefinition }, async () => deps.machineDefinition);

  app.get('/-/healthz', { schema: schemas.health }, async () => ({ status: 'OK' }));
  app.get('/-/ready', { schema: schemas.ready }, async (_req, reply) => {
    const ready = deps.queries.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'OK' : 'KO', partitions: deps.queries.ownedPartitions() });
  });
  app.get('/-/check-up', { schema: schemas.checkUp }, async (_req, reply) => {
    const report = deps.checkUp ? await deps.checkUp() : { ok: true, checks: [] };
    return reply.code(report.ok ? 200 : 503).send({ status: report.ok ? 'OK' : 'KO', name: SERVICE_NAME, version: serviceVersion(), checks: report.checks });
  });
  app.get('/-/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(await deps.metrics()),
  );
  app.get('/documentation/json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

export { HTTP_ERRORS };
