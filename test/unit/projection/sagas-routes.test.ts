import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { afterEach, describe, expect, it } from 'vitest';
import { SagaflowError } from '../../../src/errors.ts';
import { sagasRoutes } from '../../../src/http/sagas-routes.ts';
import type { SagaFilter, SagaListRequest } from '../../../src/projection/query.ts';
import type { SagaPage, SagaRepository, SagaStats } from '../../../src/projection/repository.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { sagaDoc } from './fixtures.ts';

/** Records what the routes asked for; answers with canned data. */
class StubRepository implements SagaRepository {
  lists: SagaListRequest[] = [];
  statsCalls: SagaFilter[] = [];
  fail: Error | undefined;

  async findById(): Promise<SagaDocument | undefined> {
    return undefined;
  }

  async list(request: SagaListRequest): Promise<SagaPage> {
    if (this.fail) throw this.fail;
    this.lists.push(request);
    return { items: [sagaDoc({ sagaId: 'a', metadata: { nested: { deep: [1, 2] } } })], nextCursor: 'next' };
  }

  async stats(filter: SagaFilter): Promise<SagaStats> {
    this.statsCalls.push(filter);
    return {
      total: 3,
      byState: [{ currentState: 's', isFinal: false, count: 3 }],
      byBusinessState: [
        { businessStateId: 0, businessStateDescription: 'zero', count: 2 },
        { businessStateId: null, businessStateDescription: null, count: 1 },
      ],
    };
  }
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(repository: SagaRepository, opts: { maxLimit?: number } = {}): Promise<FastifyInstance> {
  app = Fastify();
  await app.register(swagger, { openapi: { openapi: '3.0.3', info: { title: 't', version: '0' } } });
  await app.register(sagasRoutes, { repository, ...opts });
  await app.ready();
  return app;
}

describe('GET /sagas (validation and mapping, stub repository)', () => {
  it('coerces query parameters and applies defaults', async () => {
    const repo = new StubRepository();
    const server = await build(repo);
    const res = await server.inject('/sagas?currentState=a&currentState=b&businessStateId=1&isFinal=false&limit=10&createdFrom=2024-01-01T01:00:00%2B01:00');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [expect.objectContaining({ sagaId: 'a', metadata: { nested: { deep: [1, 2] } } })], nextCursor: 'next' });
    expect(repo.lists[0]).toEqual({
      filter: { currentState: ['a', 'b'], businessStateId: ['1'], isFinal: false, createdFrom: '2024-01-01T00:00:00.000Z' },
      limit: 10,
      sort: 'createdAt',
      order: 'desc',
    });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=ten', 'limit'],
    ['isFinal=maybe', 'isFinal'],
    ['createdFrom=yesterday', 'createdFrom'],
    ['sort=currentState', 'sort'],
    ['order=up', 'order'],
    ['unknownFilter=1', 'unknownFilter'],
    ['cursor=not-a-cursor', 'cursor'],
  ])('answers 400 SAGAFLOW_BAD_REQUEST to %s', async (query, mentioned) => {
    const repo = new StubRepository();
    const server = await build(repo);
    const res = await server.inject(`/sagas?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'SAGAFLOW_BAD_REQUEST', retryable: false });
    expect(res.json().message).toContain(mentioned === 'unknownFilter' ? 'additional properties' : mentioned);
    expect(repo.lists).toHaveLength(0);
  });

  it('honours a configured maximum limit', async () => {
    const server = await build(new StubRepository(), { maxLimit: 20 });
    expect((await server.inject('/sagas?limit=21')).statusCode).toBe(400);
    expect((await server.inject('/sagas?limit=20')).statusCode).toBe(200);
  });

  it('answers 503 with retry-after when the store is unavailable', async () => {
    const repo = new StubRepository();
    repo.fail = new SagaflowError('SAGAFLOW_PROJECTION_STORE_UNAVAILABLE', { message: 'MongoDB failed while listing sagas: down', retryable: true });
    const server = await build(repo);
    const res = await server.inject('/sagas');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_UNAVAILABLE', retryable: true });
  });
});

describe('GET /sagas/stats', () => {
  it('passes the filters and serializes null business states', async () => {
    const repo = new StubRepository();
    const server = await build(repo);
    const res = await server.inject('/sagas/stats?isFinal=true');
    expect(res.statusCode).toBe(200);
    expect(res.json().byBusinessState).toEqual([
      { businessStateId: 0, businessStateDescription: 'zero', count: 2 },
      { businessStateId: null, businessStateDescription: null, count: 1 },
    ]);
    expect(repo.statsCalls).toEqual([{ isFinal: true }]);
    expect((await server.inject('/sagas/stats?limit=3')).statusCode).toBe(400);
  });
});

describe('OpenAPI', () => {
  it('documents both routes with their query parameters', async () => {
    const server = await build(new StubRepository());
    const doc = server.swagger() as { paths: Record<string, { get: { parameters: { name: string }[] } }> };
    const names = (doc.paths['/sagas']?.get.parameters ?? []).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['currentState', 'businessStateId', 'associatedEntityId', 'isFinal', 'createdFrom', 'updatedTo', 'limit', 'cursor']));
    expect(doc.paths['/sagas/stats']).toBeDefined();
  });
});
