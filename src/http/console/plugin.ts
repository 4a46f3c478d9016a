import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { CompiledDefinition } from '../../definition/compile.ts';
import type { SagaRepository, SagaStats } from '../../projection/repository.ts';
import { CANCELLED_STATE, CANCEL_EVENT } from '../../saga/cancel.ts';
import type { SagaLookup } from '../app.ts';
import { forwardedAuthorization, readGuard } from '../auth.ts';
import type { AdminAccess } from '../auth.ts';
import { sendError } from '../errors.ts';
import { clusterSnapshot } from './cluster.ts';
import type { ClusterSnapshot, LocalView } from './cluster.ts';
import { layoutMachine } from './graph.ts';
import { renderGraphSvg } from './graph-svg.ts';
import { CONSOLE_BASE, CONSOLE_CSP, renderPage } from './pages.ts';
import type { ConsolePage } from './pages.ts';
import type { GroupView, ProcessorCounters, SagaEventLog } from './ports.ts';
import { RateSampler } from './rates.ts';
import { sagaPath } from './saga-path.ts';
import { attachPayloads, sagaTimeline } from './saga-timeline.ts';

export interface ConsoleOptions {
  definition: CompiledDefinition;
  applicationId: string;
  admin?: AdminAccess;
  /** The MongoDB projection: live counts per state come from its stats. */
  repository?: SagaRepository;
  lookup: (sagaId: string) => Promise<SagaLookup>;
  /** This instance: its advertised URL, readiness and owned partitions. */
  local: () => Omit<LocalView, 'rates'>;
  group?: GroupView;
  counters?: () => ProcessorCounters;
  /** Reads a saga's events back from the events topic, for their payloads. */
  events?: SagaEventLog;
  deadLetters: boolean;
  logger: Logger;
  fetchImpl?: typeof fetch;
  /** How often the processor's counters are sampled, and how often the live feed pushes. */
  sampleIntervalMs?: number;
  liveIntervalMs?: number;
}

export interface OverviewSnapshot {
  at: string;
  stats: SagaStats | null;
  /** Why there are no counts: no MongoDB persistency, or the projection cannot be read now. */
  statsProblem?: string;
  cluster: ClusterSnapshot;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
};

/**
 * The console's static files, read once, from the folder next to this module (`npm run build`
 * copies it into dist/: scripts/copy-console-assets.ts).
 */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const dir = new URL('./assets/', import.meta.url);
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(new URL(name, dir)), type });
  }
  return assets;
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/** The model the console script draws forms and filters from: states, events, business states, what is switched on. */
function consoleModel(opts: ConsoleOptions) {
  const def = opts.definition;
  return {
    applicationId: opts.applicationId,
    initialState: def.initialState,
    creationEvent: def.creationEvent,
    cancel: { event: CANCEL_EVENT, state: CANCELLED_STATE, declared: def.states.has(CANCELLED_STATE) },
    states: [...def.states.values()].map((s) => ({
      id: s.id,
      description: s.description ?? null,
      isFinal: s.isFinal,
      businessStateId: s.businessStateId ?? null,
      businessStateDescription: s.businessStateDescription ?? null,
      events: s.outgoingTransitions.map((t) => ({ event: t.inputEvent, targetState: t.targetState })),
      commands: s.commands.map((c) => ({ label: c.label, channel: c.channel, kind: c.kind })),
    })),
    businessStates: (def.machineDefinition.businessStates ?? []).map((b) => ({ id: b.id, description: b.description ?? null })),
    features: {
      admin: opts.admin !== undefined,
      protectReads: opts.admin?.protectReads === true,
      projection: opts.repository !== undefined,
      deadLetters: opts.deadLetters,
      rates: opts.counters !== undefined,
      eventPayloads: opts.events !== undefined,
    },
  };
}

/**
 * The web console at /console: pages (shells with no data), their script and styles, and the
 * JSON, SVG and server-sent events they read. Register after @fastify/swagger.
 */
export async function consolePlugin(app: FastifyInstance, opts: ConsoleOptions): Promise<void> {
  const assets = loadAssets();
  const layout = layoutMachine(opts.definition);
  const reads = readGuard(opts.admin);
  const fetchImpl = opts.fetchImpl ?? fetch;
  const log = opts.logger.child({ component: 'console' });
  const sampler = opts.counters ? new RateSampler(opts.counters, { intervalMs: opts.sampleIntervalMs ?? 5_000 }) : undefined;
  const emptyRates = { intervalMs: opts.sampleIntervalMs ?? 5_000, windowMs: 10 * 60_000, points: [] };
  let sampling: NodeJS.Timeout | undefined;
  if (sampler) {
    sampler.sample(Date.now());
    sampling = setInterval(() => sampler.sample(Date.now()), sampler.intervalMs);
    sampling.unref();
  }
  const localView = (): LocalView => ({ ...opts.local(), rates: sampler?.series() ?? emptyRates });
  const stateHref = (state: string) => `${CONSOLE_BASE}/sagas?currentState=${encodeURIComponent(state)}`;

  async function fetchLocal(url: string): Promise<LocalView> {
    const res = await fetchImpl(`${url}${CONSOLE_BASE}/api/local`, { headers: forwardedAuthorization(opts.admin), signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return (await res.json()) as LocalView;
  }

  /** The saga as GET /saga/:sagaId finds it, or undefined once the error answer is sent. */
  async function sagaOr404(sagaId: string, reply: FastifyReply): Promise<Extract<SagaLookup, { kind: 'found' }> | undefined> {
    const found = await opts.lookup(sagaId);
    if (found.kind === 'found') return found;
    if (found.kind === 'not-found') sendError(reply, 'SAGAFLOW_SAGA_NOT_FOUND', `saga "${sagaId}" does not exist`);
    else {
      reply.header('retry-after', '1');
      sendError(reply, found.code, found.message);
    }
    return undefined;
  }

  async function stats(): Promise<{ stats: SagaStats | null; problem?: string }> {
    if (!opts.repository) return { stats: null, problem: 'live counts need mongo persistency (persistencyManagement type "mongo"): GET /sagas/stats is off' };
    try {
      return { stats: await opts.repository.stats({}) };
    } catch (err) {
      log.warn({ err }, 'saga stats unavailable');
      return { stats: null, problem: 'the projection database cannot be read now' };
    }
  }

  async function overview(): Promise<OverviewSnapshot> {
    const [counted, cluster] = await Promise.all([stats(), clusterSnapshot({ self: localView(), ...(opts.group ? { group: opts.group } : {}), fetchLocal })]);
    const snapshot: OverviewSnapshot = { at: new Date().toISOString(), stats: counted.stats, cluster };
    if (counted.problem) snapshot.statsProblem = counted.problem;
    return snapshot;
  }

  // One snapshot per interval, shared by every open live feed.
  const streams = new Set<ServerResponse>();
  let feed: NodeJS.Timeout | undefined;
  const push = async () => {
    const snapshot = await overview().catch((err: unknown) => {
      log.warn({ err }, 'overview snapshot failed');
      return undefined;
    });
    const frame = snapshot ? `event: overview\ndata: ${JSON.stringify(snapshot)}\n\n` : ': snapshot unavailable\n\n';
    for (const stream of streams) stream.write(frame);
  };
  const stopFeed = () => {
    if (feed) clearInterval(feed);
    feed = undefined;
  };

  app.addHook('preClose', async () => {
    stopFeed();
    if (sampling) clearInterval(sampling);
    for (const stream of streams) stream.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    if (sampling) clearInterval(sampling);
  });

  const page = (name: ConsolePage) => async (_req: unknown, reply: FastifyReply) =>
    secure(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(renderPage(name, opts.applicationId));
  const hidden = { schema: { hide: true } };

  app.get(CONSOLE_BASE, hidden, async (_req, reply) => reply.redirect(`${CONSOLE_BASE}/`));
  app.get(`${CONSOLE_BASE}/`, hidden, page('overview'));
  app.get(`${CONSOLE_BASE}/sagas`, hidden, page('sagas'));
  app.get(`${CONSOLE_BASE}/sagas/:sagaId`, hidden, page('saga'));
  app.get(`${CONSOLE_BASE}/dead-letters`, hidden, page('dead-letters'));
  app.get<{ Params: { name: string } }>(`${CONSOLE_BASE}/assets/:name`, hidden, async (req, reply) => {
    const asset = assets.get(req.params.name);
    if (!asset) return sendError(reply, 'SAGAFLOW_ROUTE_NOT_FOUND', `no console asset "${req.params.name}"`);
    return secure(reply).header('cache-control', 'no-cache').type(asset.type).send(asset.body);
  });

  // The machine and the switches, no saga data: GET /machine-definition serves the machine to
  // anyone too. Open, so the console can ask for the token before calling anything guarded.
  app.get(`${CONSOLE_BASE}/api/model`, hidden, async (_req, reply) => reply.header('cache-control', 'no-store').send(consoleModel(opts)));

  await app.register(async (api) => {
    api.addHook('onRequest', reads);
    api.addHook('onSend', async (_req, reply) => {
      reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
    });

    api.get(`${CONSOLE_BASE}/api/graph.svg`, hidden, async (_req, reply) => {
      const counted = await stats();
      const counts = counted.stats ? new Map(counted.stats.byState.map((s) => [s.currentState, s.count])) : undefined;
      return reply.type('image/svg+xml; charset=utf-8').send(renderGraphSvg(layout, { ...(counts ? { counts } : {}), stateHref }));
    });

    api.get<{ Params: { sagaId: string } }>(`${CONSOLE_BASE}/api/sagas/:sagaId`, hidden, async (req, reply) => {
      const found = await sagaOr404(req.params.sagaId, reply);
      if (!found) return reply;
      return { saga: found.saga, servedBy: found.servedBy, path: sagaPath(found.saga), timeline: sagaTimeline(found.saga) };
    });

    api.get<{ Params: { sagaId: string } }>(`${CONSOLE_BASE}/api/sagas/:sagaId/events`, hidden, async (req, reply) => {
      if (!opts.events) return sendError(reply, 'SAGAFLOW_ROUTE_NOT_FOUND', 'this instance cannot read the events topic');
      const found = await sagaOr404(req.params.sagaId, reply);
      if (!found) return reply;
      let page;
      try {
        page = await opts.events.eventsOf(found.saga.sagaId, found.saga.createdAt, found.saga.updatedAt);
      } catch (err) {
        log.warn({ err }, 'saga events unavailable');
        reply.header('retry-after', '1');
        return sendError(reply, 'SAGAFLOW_UNAVAILABLE', 'the events topic cannot be read now');
      }
      const { timeline, unmatched } = attachPayloads(sagaTimeline(found.saga), page.events);
      return { timeline, unmatched, complete: page.complete, scanned: page.scanned };
    });

    api.get<{ Params: { sagaId: string } }>(`${CONSOLE_BASE}/api/sagas/:sagaId/graph.svg`, hidden, async (req, reply) => {
      const found = await sagaOr404(req.params.sagaId, reply);
      if (!found) return reply;
      return reply.type('image/svg+xml; charset=utf-8').send(renderGraphSvg(layout, { path: sagaPath(found.saga), stateHref }));
    });

    api.get(`${CONSOLE_BASE}/api/overview`, hidden, async () => overview());
    api.get(`${CONSOLE_BASE}/api/local`, hidden, async () => localView());

    // Server-sent events. The console reads them with fetch (not EventSource), so the
    // Authorization header travels when reads are protected.
    api.get(`${CONSOLE_BASE}/api/live`, hidden, async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        connection: 'keep-alive',
      });
      res.write(`retry: 3000\n\n`);
      streams.add(res);
      req.raw.once('close', () => {
        streams.delete(res);
        if (streams.size === 0) stopFeed();
      });
      feed ??= setInterval(() => void push(), opts.liveIntervalMs ?? 2_000);
      const first = await overview().catch(() => undefined);
      if (first && streams.has(res)) res.write(`event: overview\ndata: ${JSON.stringify(first)}\n\n`);
    });
  });
}
