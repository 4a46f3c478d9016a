import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { HttpDeps } from '../../../src/http/app.ts';
import { CONSOLE_CSP } from '../../../src/http/console/pages.ts';
import type { SagaRepository, SagaStats } from '../../../src/projection/repository.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { ADMIN_TOKEN, bearer, operatorApp, sagaDoc } from './console-fixtures.ts';

const STATS: SagaStats = {
  total: 5,
  byState: [
    { currentState: 'reservationCreated', isFinal: false, count: 2 },
    { currentState: 'reservationConfirmed', isFinal: true, count: 3 },
  ],
  byBusinessState: [{ businessStateId: 0, businessStateDescription: 'in progress', count: 2 }],
};

const repository: SagaRepository = {
  findById: async () => undefined,
  list: async () => ({ items: [] }),
  stats: async () => STATS,
};

function consoleDeps(extra: Partial<NonNullable<HttpDeps['console']>> = {}): Partial<HttpDeps> {
  return {
    repository,
    console: {
      applicationId: 'shop-app',
      selfUrl: () => 'http://127.0.0.1:3000',
      counters: () => ({ events: 10, commands: 4, deadLetters: 0, transactions: 2 }),
      ...extra,
    },
  };
}

async function consoleApp(opts: { admin?: HttpDeps['admin']; sagas?: Map<string, SagaDocument> } = {}) {
  return (await operatorApp({ ...opts, extra: consoleDeps() })).app;
}

const ASSETS = new URL('../../../src/http/console/assets/', import.meta.url);

describe('console pages', () => {
  it('redirects /console to /console/ and serves each page as a shell with a strict CSP', async () => {
    const app = await consoleApp({ admin: { token: ADMIN_TOKEN, protectReads: true } });
    const redirect = await app.inject({ method: 'GET', url: '/console' });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('/console/');
    for (const [url, page] of [
      ['/console/', 'overview'],
      ['/console/sagas', 'sagas'],
      ['/console/sagas/some%20saga', 'saga'],
      ['/console/dead-letters', 'dead-letters'],
    ]) {
      // Pages carry no data: they are served without the token even when reads are protected.
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.body).toContain(`<body data-page="${page}">`);
      expect(res.body).toContain('<script type="module" src="/console/assets/console.js"></script>');
      expect(res.body).toContain('shop-app');
      expect(res.body).not.toContain(ADMIN_TOKEN);
      // Nothing from another origin, nothing inline.
      expect(res.body).not.toMatch(/(src|href)="(https?:)?\/\//);
      expect(res.body).not.toMatch(/<script>|<style>| style="/);
    }
  });

  it('serves its assets with their types, and nothing else from that folder', async () => {
    const app = await consoleApp();
    const js = await app.inject({ method: 'GET', url: '/console/assets/console.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await app.inject({ method: 'GET', url: '/console/assets/console.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await app.inject({ method: 'GET', url: '/console/assets/favicon.svg' })).headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    for (const url of ['/console/assets/nope.js', '/console/assets/..%2Fplugin.ts', '/console/assets/%2E%2E%2Fpages.ts']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
  });

  it('has every module the scripts import, and the scripts load nothing from another origin', () => {
    const names = new Set(readdirSync(ASSETS));
    for (const name of [...names].filter((n) => n.endsWith('.js'))) {
      const text = readFileSync(new URL(name, ASSETS), 'utf8');
      for (const m of text.matchAll(/from '\.\/([^']+)'/g)) expect(names.has(m[1] as string), `${name} imports ${m[1]}`).toBe(true);
      expect(text, name).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      expect(text, name).not.toMatch(/\.innerHTML|insertAdjacentHTML|document\.write|eval\(/);
    }
  });
});

describe('console API', () => {
  it('describes the machine and what is switched on', async () => {
    const app = await consoleApp({ admin: { token: ADMIN_TOKEN, protectReads: false } });
    const res = await app.inject({ method: 'GET', url: '/console/api/model' });
    expect(res.statusCode).toBe(200);
    const model = res.json<{ states: { id: string; events: { event: string }[] }[]; features: Record<string, boolean>; cancel: { event: string; state: string } }>();
    expect(model.features).toEqual({ admin: true, protectReads: false, projection: true, deadLetters: false, rates: true, eventPayloads: false });
    expect(model.cancel).toEqual({ event: '__cancel__', state: '__cancelled__', declared: false });
    expect(model.states.find((s) => s.id === 'reservationCreated')?.events.map((e) => e.event)).toEqual(['validationOK', 'validationKO']);
    expect(res.body).not.toContain(ADMIN_TOKEN);
  });

  it('keeps its data behind the token with SAGAFLOW_PROTECT_READS', async () => {
    const app = await consoleApp({ admin: { token: ADMIN_TOKEN, protectReads: true } });
    for (const url of ['/console/api/graph.svg', '/console/api/overview', '/console/api/local', '/console/api/live', '/console/api/sagas/x']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/console/api/graph.svg', headers: bearer() })).statusCode).toBe(200);
    // The model holds the machine (public at GET /machine-definition too) and the switches, no saga data.
    const model = await app.inject({ method: 'GET', url: '/console/api/model' });
    expect(model.statusCode).toBe(200);
    expect(model.json<{ features: { protectReads: boolean } }>().features.protectReads).toBe(true);
  });

  it('draws the machine with the counts of GET /sagas/stats', async () => {
    const app = await consoleApp();
    const res = await app.inject({ method: 'GET', url: '/console/api/graph.svg' });
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(res.body).toContain('data-count-for="reservationCreated" data-count="2"');
    expect(res.body).toContain('data-count-for="reservationConfirmed" data-count="3"');
    expect(res.body).toContain('data-count-for="reservationValidated" data-count="0"');
  });

  it('serves a saga with its path and timeline, and its highlighted graph; 404 for an unknown one', async () => {
    const doc = sagaDoc('s-1');
    const app = await consoleApp({ sagas: new Map([['s-1', doc]]) });
    const res = await app.inject({ method: 'GET', url: '/console/api/sagas/s-1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ saga: { sagaId: 's-1' }, servedBy: 'local', path: { states: ['reservationCreated'], steps: [], current: 'reservationCreated' }, timeline: [{ kind: 'state', step: 0 }] });
    const svg = await app.inject({ method: 'GET', url: '/console/api/sagas/s-1/graph.svg' });
    expect(svg.body).toMatch(/class="node initial visited current" data-state="reservationCreated"/);
    expect((await app.inject({ method: 'GET', url: '/console/api/sagas/nope' })).json()).toMatchObject({ statusCode: 404, code: 'SAGAFLOW_SAGA_NOT_FOUND' });
    expect((await app.inject({ method: 'GET', url: '/console/api/sagas/nope/graph.svg' })).statusCode).toBe(404);
  });

  it("attaches the payloads the event log reads back to a saga's timeline", async () => {
    const doc = sagaDoc('s-1');
    const asked: string[][] = [];
    const { app } = await operatorApp({
      sagas: new Map([['s-1', doc]]),
      extra: consoleDeps({
        events: {
          eventsOf: async (sagaId, since, until) => {
            asked.push([sagaId, since, until]);
            return { events: [{ partition: 0, offset: '7', timestamp: doc.createdAt, label: '__created__', payload: { metadata: { a: 1 } } }], complete: true, scanned: 40 };
          },
        },
      }),
    });
    const res = await app.inject({ method: 'GET', url: '/console/api/sagas/s-1/events' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      timeline: [{ kind: 'state', at: doc.createdAt, step: 0, state: 'reservationCreated', event: '__created__', payload: { metadata: { a: 1 } }, offset: '7' }],
      unmatched: [],
      complete: true,
      scanned: 40,
    });
    expect(asked).toEqual([['s-1', doc.createdAt, doc.updatedAt]]);
    expect((await app.inject({ method: 'GET', url: '/console/api/model' })).json<{ features: { eventPayloads: boolean } }>().features.eventPayloads).toBe(true);
  });

  it('gives an overview: stats, this instance, its partitions and rates', async () => {
    const app = await consoleApp();
    const body = (await app.inject({ method: 'GET', url: '/console/api/overview' })).json<{ stats: SagaStats; cluster: { instances: { url: string; self: boolean }[]; partitions: { partition: number; state: string }[] } }>();
    expect(body.stats).toEqual(STATS);
    expect(body.cluster.instances).toMatchObject([{ url: 'http://127.0.0.1:3000', self: true, ready: true }]);
    expect(body.cluster.partitions).toMatchObject([{ partition: 0, state: 'ready', owner: null }]);
  });

  it('says why there are no counts without mongo persistency', async () => {
    const { app } = await operatorApp({ extra: { console: { applicationId: 'a', selfUrl: () => 'http://x' } } });
    const body = (await app.inject({ method: 'GET', url: '/console/api/overview' })).json<{ stats: null; statsProblem: string }>();
    expect(body.stats).toBeNull();
    expect(body.statsProblem).toContain('mongo persistency');
    expect((await app.inject({ method: 'GET', url: '/console/api/graph.svg' })).body).not.toContain('data-count-for');
  });

  it('streams overview snapshots as server-sent events, and ends the stream when the server closes', async () => {
    const { app } = await operatorApp({ extra: { ...consoleDeps({ liveIntervalMs: 100 }) } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const res = await fetch(`http://127.0.0.1:${port}/console/api/live`);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while ((text.match(/event: overview/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    const frames = text.split('\n\n').filter((f) => f.startsWith('event: overview'));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const data = JSON.parse((frames[0] as string).split('\n')[1]?.replace(/^data: /, '') ?? 'null') as { stats: SagaStats };
    expect(data.stats.total).toBe(5);
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  });
});
