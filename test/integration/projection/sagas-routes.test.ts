import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { beforeAll, describe, expect, it } from 'vitest';
import { sagasRoutes } from '../../../src/http/sagas-routes.ts';
import { MongoSagaRepository } from '../../../src/projection/mongo-repository.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';
import { mongoSink } from './support.ts';

const COUNT = 3_000;
const STATES = [
  { currentState: 'reservationCreated', businessStateId: 0, businessStateDescription: 'in progress', isFinal: false },
  { currentState: 'reservationValidated', businessStateId: 0, businessStateDescription: 'in progress', isFinal: false },
  { currentState: 'reservationConfirmed', businessStateId: 1, businessStateDescription: 'confirmed', isFinal: true },
  { currentState: 'reservationFailed', businessStateId: 2, businessStateDescription: 'failed', isFinal: true },
  // A business id stored as a string: `businessStateId=7` must find it too.
  { currentState: 'reservationOnHold', businessStateId: '7', businessStateDescription: 'on hold', isFinal: false },
] as const;
const BASE = Date.UTC(2024, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();

/** Triples share a createdAt, so pages must break ties on sagaId. */
function makeSaga(i: number): SagaDocument {
  const state = STATES[(i * 7) % STATES.length] as (typeof STATES)[number];
  return sagaDoc({
    sagaId: `route-${String((i * 7919) % COUNT).padStart(5, '0')}`,
    associatedEntityId: `entity-${i % 37}`,
    ...state,
    revision: 1 + (i % 4),
    createdAt: iso(BASE + Math.floor(i / 3) * 60_000),
    updatedAt: iso(BASE + Math.floor(i / 3) * 60_000 + (i % 11) * 3_600_000),
  });
}

const sagas = Array.from({ length: COUNT }, (_, i) => makeSaga(i));
let app: FastifyInstance;
let repository: MongoSagaRepository;

beforeAll(async () => {
  const collection = await mongoCollection<SagaDocument>('routes');
  const sink = await mongoSink(collection);
  await sink.init();
  for (let i = 0; i < sagas.length; i += 500) await sink.write(sagas.slice(i, i + 500));
  repository = new MongoSagaRepository(collection);
  app = Fastify();
  await app.register(swagger, { openapi: { openapi: '3.0.3', info: { title: 't', version: '0' } } });
  await app.register(sagasRoutes, { repository });
  await app.ready();
  registerCleanup(() => app.close());
});

type Order = 'asc' | 'desc';
function expectedOrder(list: SagaDocument[], sort: 'createdAt' | 'updatedAt' | 'sagaId', order: Order): string[] {
  const dir = order === 'asc' ? 1 : -1;
  return [...list]
    .sort((a, b) => {
      if (sort !== 'sagaId' && a[sort] !== b[sort]) return a[sort] < b[sort] ? -dir : dir;
      return a.sagaId < b.sagaId ? -dir : a.sagaId > b.sagaId ? dir : 0;
    })
    .map((s) => s.sagaId);
}

/** Reads every page of a query, checking each page's size. */
async function readAll(query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const url = `/sagas?${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await app.inject(url);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { items: SagaDocument[]; nextCursor?: string };
    ids.push(...body.items.map((s) => s.sagaId));
    if (!body.nextCursor) return ids;
    expect(body.items).toHaveLength(limit);
    cursor = body.nextCursor;
  }
  throw new Error('pagination did not end');
}

describe(`GET /sagas on ${COUNT} sagas in the MongoDB-compatible server`, () => {
  it('pages through everything, newest first, each saga exactly once', async () => {
    const ids = await readAll('', 250);
    expect(ids).toHaveLength(COUNT);
    expect(ids).toEqual(expectedOrder(sagas, 'createdAt', 'desc'));
  });

  it('filters by state and business state, sorted by updatedAt ascending', async () => {
    const ids = await readAll('currentState=reservationFailed&currentState=reservationConfirmed&businessStateId=2&sort=updatedAt&order=asc', 97);
    const expected = sagas.filter((s) => s.currentState === 'reservationFailed' && s.businessStateId === 2);
    expect(ids).toEqual(expectedOrder(expected, 'updatedAt', 'asc'));
    expect(ids.length).toBeGreaterThan(97);
  });

  it('matches a numeric business id stored as a string', async () => {
    const ids = await readAll('businessStateId=7', 500);
    expect(new Set(ids)).toEqual(new Set(sagas.filter((s) => s.businessStateId === '7').map((s) => s.sagaId)));
  });

  it('combines isFinal, entity ids and a created range (from inclusive, to exclusive)', async () => {
    const from = iso(BASE + 100 * 60_000);
    const to = iso(BASE + 600 * 60_000);
    const ids = await readAll(`isFinal=false&associatedEntityId=entity-3&associatedEntityId=entity-4&createdFrom=${from}&createdTo=${to}&sort=sagaId&order=asc`, 20);
    const expected = sagas.filter(
      (s) => !s.isFinal && ['entity-3', 'entity-4'].includes(s.associatedEntityId) && s.createdAt >= from && s.createdAt < to,
    );
    expect(expected.length).toBeGreaterThan(20);
    expect(ids).toEqual(expectedOrder(expected, 'sagaId', 'asc'));
  });

  it('filters on an updated range given with a time zone offset', async () => {
    const ids = await readAll('updatedFrom=2024-01-01T10:00:00%2B02:00&updatedTo=2024-01-01T12:00:00Z&isFinal=true', 100);
    const from = '2024-01-01T08:00:00.000Z';
    const to = '2024-01-01T12:00:00.000Z';
    const expected = sagas.filter((s) => s.isFinal && s.updatedAt >= from && s.updatedAt < to);
    expect(expected.length).toBeGreaterThan(0);
    expect(ids).toEqual(expectedOrder(expected, 'createdAt', 'desc'));
  });

  it('answers 400 to a cursor used with another order', async () => {
    const first = (await app.inject('/sagas?limit=5')).json() as { nextCursor: string };
    const res = await app.inject(`/sagas?limit=5&order=asc&cursor=${encodeURIComponent(first.nextCursor)}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_BAD_REQUEST' });
  });
});

describe('GET /sagas/stats and findById', () => {
  it('counts per state and per business state', async () => {
    const res = await app.inject('/sagas/stats');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { total: number; byState: { currentState: string; isFinal: boolean; count: number }[]; byBusinessState: { businessStateId: unknown; count: number }[] };
    expect(body.total).toBe(COUNT);
    for (const state of STATES) {
      const count = sagas.filter((s) => s.currentState === state.currentState).length;
      expect(body.byState).toContainEqual({ currentState: state.currentState, isFinal: state.isFinal, count });
    }
    const business = new Map<unknown, number>();
    for (const s of sagas) business.set(s.businessStateId, (business.get(s.businessStateId) ?? 0) + 1);
    expect(body.byBusinessState.map((b) => [b.businessStateId, b.count]).sort()).toEqual([...business.entries()].sort());
  });

  it('applies filters to the counts', async () => {
    const res = await app.inject('/sagas/stats?isFinal=true&associatedEntityId=entity-1');
    const expected = sagas.filter((s) => s.isFinal && s.associatedEntityId === 'entity-1');
    expect((res.json() as { total: number }).total).toBe(expected.length);
  });

  it('finds one saga by id for the GET /saga fallback', async () => {
    const saga = sagas[42] as SagaDocument;
    expect(await repository.findById(saga.sagaId)).toEqual(saga);
    expect(await repository.findById('no-such-saga')).toBeUndefined();
  });
});
