import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { sagasRoutes } from '../../../src/http/sagas-routes.ts';
import type { SagaCollection } from '../../../src/projection/mongo.ts';
import { MongoSagaRepository } from '../../../src/projection/mongo-repository.ts';
import { MongoSagaSink } from '../../../src/projection/mongo-sink.ts';
import type { MongoWriteStrategy } from '../../../src/projection/mongo-sink.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';

const SAGAS = 40;
const ROUNDS = 4;
const ids = Array.from({ length: SAGAS }, (_, i) => `hidden-${String(i).padStart(4, '0')}`);

function revision(sagaId: string, n: number): SagaDocument {
  return sagaDoc({ sagaId, revision: n, currentState: `state-${n}`, updatedAt: new Date(Date.UTC(2024, 0, 1, 0, n)).toISOString() });
}

async function appOver(collection: SagaCollection): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(sagasRoutes, { repository: new MongoSagaRepository(collection), maxLimit: 1000 });
  await app.ready();
  registerCleanup(() => app.close());
  return app;
}

interface Watch {
  reads: number;
  /** Reads that lacked a saga (or counted fewer than all of them), with what was missing. */
  misses: string[];
}

/**
 * Reads GET /sagas (one page holding every saga) and GET /sagas/stats back to back until
 * `until` settles, noting every read that does not show all the sagas.
 */
async function watch(app: FastifyInstance, until: Promise<unknown>): Promise<Watch> {
  const seen: Watch = { reads: 0, misses: [] };
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    const [list, stats] = await Promise.all([
      app.inject({ method: 'GET', url: `/sagas?limit=1000&sort=sagaId&order=asc` }),
      app.inject({ method: 'GET', url: '/sagas/stats' }),
    ]);
    expect(list.statusCode).toBe(200);
    expect(stats.statusCode).toBe(200);
    const listed = new Set((list.json() as { items: SagaDocument[] }).items.map((s) => s.sagaId));
    const missing = ids.filter((id) => !listed.has(id));
    const total = (stats.json() as { total: number }).total;
    seen.reads += 1;
    if (missing.length > 0) seen.misses.push(`list lacked ${missing.length}: ${missing.slice(0, 3).join(', ')}`);
    if (total !== SAGAS) seen.misses.push(`stats counted ${total}`);
  }
  await until;
  return seen;
}

/** Every saga moves through ROUNDS more revisions, one write per round. */
async function updateRounds(write: (sagas: SagaDocument[]) => Promise<unknown>): Promise<void> {
  for (let n = 2; n <= ROUNDS + 1; n++) await write(ids.map((id) => revision(id, n)));
}

// Inserting first, with a new sink for each round: every update is first refused as an insert.
const WRITERS: readonly { strategy: MongoWriteStrategy; insertFirst: boolean; newSinkEachRound: boolean }[] = [
  { strategy: 'replace', insertFirst: false, newSinkEachRound: false },
  { strategy: 'replace', insertFirst: true, newSinkEachRound: false },
  { strategy: 'replace', insertFirst: true, newSinkEachRound: true },
  { strategy: 'compare-and-set', insertFirst: false, newSinkEachRound: false },
];

describe.each(WRITERS)(
  'GET /sagas while the projection replaces every saga, strategy $strategy, insert first $insertFirst, new sink each round $newSinkEachRound',
  ({ strategy, insertFirst, newSinkEachRound }) => {
    it('lists and counts every saga at every moment, and ends on the last revision', async () => {
      const collection = await mongoCollection<SagaDocument>('hidden');
      const sink = new MongoSagaSink(collection, { strategy, insertFirst });
      await sink.init();
      await sink.write(ids.map((id) => revision(id, 1)));
      const app = await appOver(collection);
      const write = (sagas: SagaDocument[]) => (newSinkEachRound ? new MongoSagaSink(collection, { strategy, insertFirst }) : sink).write(sagas);
      const seen = await watch(app, updateRounds(write));
      expect(seen.misses).toEqual([]);
      // Reads must really have overlapped the writes for the check to mean anything.
      expect(seen.reads).toBeGreaterThanOrEqual(ROUNDS);
      const stored = await collection.find({}, { projection: { _id: 0, sagaId: 1, revision: 1 } }).toArray();
      expect(stored).toHaveLength(SAGAS);
      expect(new Set(stored.map((s) => s.revision))).toEqual(new Set([ROUNDS + 1]));
    });
  },
);

describe('the same watch over a writer that deletes before it inserts', () => {
  it('sees sagas missing: the check can fail', async () => {
    const collection = await mongoCollection<SagaDocument>('hidden-swap');
    const sink = new MongoSagaSink(collection, { strategy: 'replace' });
    await sink.init();
    await sink.write(ids.map((id) => revision(id, 1)));
    const app = await appOver(collection);
    // The removed swap strategy's shape: delete the stored copies, then insert the new ones.
    const swap = async (sagas: SagaDocument[]) => {
      await collection.deleteMany({ sagaId: { $in: sagas.map((s) => s.sagaId) } });
      await new Promise((r) => setTimeout(r, 50));
      await collection.insertMany(sagas.map((s) => ({ ...s })));
    };
    const seen = await watch(app, updateRounds(swap));
    expect(seen.misses.length).toBeGreaterThan(0);
  });
});
