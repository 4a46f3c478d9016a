import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { ensureSagaIndexes, REVISION_INDEX, SAGA_INDEXES } from '../../../src/projection/mongo.ts';
import type { SagaCollection } from '../../../src/projection/mongo.ts';
import { MongoSagaSink, RecentSagas, serverKind } from '../../../src/projection/mongo-sink.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoClient, mongoCollection } from '../../support/mongo.ts';
import { services } from '../../support/services.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';
import { storedSagas } from './support.ts';

async function sagaCollection() {
  return mongoCollection<SagaDocument>('sagas');
}

/** [sagaId, revision] of every stored saga, in sagaId order. */
async function storedRevisions(collection: SagaCollection): Promise<[string, number][]> {
  return [...(await storedSagas(collection)).values()].map((s): [string, number] => [s.sagaId, s.revision]).sort(([a], [b]) => a.localeCompare(b));
}

function rev(sagaId: string, revision: number): SagaDocument {
  return sagaDoc({ sagaId, revision, currentState: `state-${revision}`, updatedAt: new Date(Date.UTC(2024, 0, 1, 0, revision)).toISOString() });
}

// `replace` reading the stored revisions first, `replace` inserting first, `compare-and-set`.
const VARIANTS = [
  { strategy: 'replace', insertFirst: false },
  { strategy: 'replace', insertFirst: true },
  { strategy: 'compare-and-set', insertFirst: false },
] as const;

describe.each(VARIANTS)('MongoSagaSink, strategy $strategy, insert first $insertFirst (real MongoDB-compatible server)', ({ strategy, insertFirst }) => {
  const options = { strategy, insertFirst };
  it('reports the strategy it was given', async () => {
    const sink = new MongoSagaSink(await sagaCollection(), options);
    await sink.init();
    expect(sink.strategy).toBe(strategy);
  });

  it('creates the unique sagaId index and the query indexes, and tolerates a unique one of another name', async () => {
    const collection = await sagaCollection();
    await collection.createIndex({ sagaId: 1 }, { name: 'sagaIdIndex', unique: true });
    await new MongoSagaSink(collection, options).init();
    await new MongoSagaSink(collection, options).init();
    const indexes = await collection.listIndexes().toArray();
    const names = indexes.map((i) => i.name as string);
    expect(names).toContain('sagaIdIndex');
    expect(names).not.toContain('sagaflow_sagaId_unique');
    for (const index of SAGA_INDEXES.slice(1)) expect(names).toContain(index.name);
    if (strategy === 'compare-and-set') expect(names).toContain(REVISION_INDEX.name);
    else expect(names).not.toContain(REVISION_INDEX.name);
  });

  it('creates only the indexes it is given (the benchmark lever), and still guards revisions with the unique sagaId one', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, { ...options, indexes: SAGA_INDEXES.slice(0, 1) });
    await sink.init();
    const names = (await collection.listIndexes().toArray()).map((i) => i.name as string).sort();
    const expected = ['_id_', 'sagaflow_sagaId_unique', ...(strategy === 'compare-and-set' ? [REVISION_INDEX.name as string] : [])].sort();
    expect(names).toEqual(expected);
    expect(await sink.write([rev('i', 2)])).toEqual({ written: 1, stale: 0 });
    expect(await sink.write([rev('i', 1)])).toEqual({ written: 0, stale: 1 });
    expect((await storedSagas(collection)).get('i')).toEqual(rev('i', 2));
  });

  it('refuses a non-unique sagaId index', async () => {
    const collection = await sagaCollection();
    await collection.createIndex({ sagaId: 1 }, { name: 'plain' });
    const error = await ensureSagaIndexes(collection).catch((e: unknown) => e);
    expect(isSagaflowError(error, 'SAGAFLOW_PROJECTION_INDEX_CONFLICT')).toBe(true);
  });

  it('ignores an older revision arriving after a newer one, within and across writes', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, options);
    await sink.init();
    expect(await sink.write([rev('a', 3), rev('b', 1)])).toEqual({ written: 2, stale: 0 });
    expect(await sink.write([rev('a', 2), rev('b', 2)])).toEqual({ written: 1, stale: 1 });
    expect(await sink.write([rev('a', 3)])).toEqual({ written: 0, stale: 1 });
    const stored = await storedSagas(collection);
    expect(stored.get('a')).toEqual(rev('a', 3));
    expect(stored.get('b')).toEqual(rev('b', 2));
  });

  it('merges writes that arrive together and gives each caller the counts of its own sagas', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, options);
    await sink.init();
    await sink.write([rev('m1', 2)]);
    const results = await Promise.all([
      sink.write([rev('m1', 1), rev('m2', 1)]),
      sink.write([rev('m3', 1)]),
      sink.write([rev('m4', 3), rev('m5', 1)]),
    ]);
    expect(results).toEqual([
      { written: 1, stale: 1 },
      { written: 1, stale: 0 },
      { written: 2, stale: 0 },
    ]);
    const stored = await storedSagas(collection);
    expect([...stored.values()].map((s) => [s.sagaId, s.revision]).sort()).toEqual([
      ['m1', 2],
      ['m2', 1],
      ['m3', 1],
      ['m4', 3],
      ['m5', 1],
    ]);
  });

  it('leaves the documents it is given unchanged (the driver adds _id to what it inserts)', async () => {
    const collection = await sagaCollection();
    const saga = rev('fresh', 1);
    const copy = structuredClone(saga);
    await new MongoSagaSink(collection, options).write([saga]);
    expect(saga).toEqual(copy);
  });

  it('overwrites a document Flow Manager wrote (no revision) once', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, options);
    await sink.init();
    await collection.insertOne({ sagaId: 'legacy', currentState: 'fromFlowManager' } as unknown as SagaDocument);
    expect(await sink.write([rev('legacy', 1)])).toEqual({ written: 1, stale: 0 });
    expect((await storedSagas(collection)).get('legacy')).toEqual(rev('legacy', 1));
    expect(await collection.countDocuments({ sagaId: 'legacy' })).toBe(1);
  });

  it('turns a lost race (another writer stored a newer revision after the read) into stale, not an error', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, options);
    await sink.init();
    await sink.write([rev('x', 5), rev('y', 1)]);
    // A collection whose revision read sees nothing: exactly what a writer that read just
    // before another one wrote sees. The guarded upserts then meet the unique index.
    const blind = Object.assign(Object.create(collection) as SagaCollection, {
      find: () => ({ toArray: async () => [] }),
    });
    const result = await new MongoSagaSink(blind, options).write([rev('x', 4), rev('y', 2), rev('z', 1)]);
    expect(result).toEqual({ written: 2, stale: 1 });
    const stored = await storedSagas(collection);
    expect([...stored.values()].map((s) => [s.sagaId, s.revision]).sort()).toEqual([
      ['x', 5],
      ['y', 2],
      ['z', 1],
    ]);
  });

  it('keeps the highest revision when several writers race on the same sagas (duplicate keys count as stale)', async () => {
    const collection = await sagaCollection();
    await new MongoSagaSink(collection, options).init();
    // Separate clients, so the writes really interleave on the server.
    const writers = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const client = new MongoClient(services().mongodbUrl, { serverSelectionTimeoutMS: 10_000 });
        registerCleanup(() => client.close());
        return new MongoSagaSink(client.db(collection.dbName).collection<SagaDocument>(collection.collectionName), options);
      }),
    );
    const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const totals = { written: 0, stale: 0 };
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        writers.map((sink, w) => sink.write(ids.map((id, i) => rev(id, 1 + ((i + w + round) % 5))))),
      );
      for (const r of results) {
        totals.written += r.written;
        totals.stale += r.stale;
      }
    }
    expect(totals.written + totals.stale).toBe(ids.length * writers.length * 3);
    const stored = await storedSagas(collection);
    expect(stored.size).toBe(ids.length);
    for (const id of ids) expect(stored.get(id)?.revision).toBe(5);
    expect(await collection.countDocuments({})).toBe(ids.length);
  });
});

describe('MongoSagaSink strategy compare-and-set', () => {
  it('does not overwrite a saga another writer changed between its read and its replace', async () => {
    const collection = await sagaCollection();
    const sink = new MongoSagaSink(collection, { strategy: 'compare-and-set' });
    await sink.init();
    await sink.write([rev('c1', 1), rev('c2', 1), rev('c3', 1)]);
    // Another writer moves c1 to 6 and c2 to 3 right after our read: the first read still
    // answers revision 1 for every saga, later reads see the truth.
    let reads = 0;
    const late = Object.assign(Object.create(collection) as SagaCollection, {
      find: (...args: Parameters<SagaCollection['find']>) => {
        reads += 1;
        if (reads > 1) return collection.find(...args);
        return { toArray: async () => ['c1', 'c2', 'c3'].map((sagaId) => ({ sagaId, revision: 1 })) };
      },
    });
    await collection.replaceOne({ sagaId: 'c1' }, rev('c1', 6));
    await collection.replaceOne({ sagaId: 'c2' }, rev('c2', 3));
    const result = await new MongoSagaSink(late, { strategy: 'compare-and-set' }).write([rev('c1', 5), rev('c2', 4), rev('c3', 2)]);
    expect(result).toEqual({ written: 2, stale: 1 });
    expect(reads).toBeGreaterThan(1);
    const stored = await storedSagas(collection);
    expect([...stored.values()].map((s) => [s.sagaId, s.revision]).sort()).toEqual([
      ['c1', 6],
      ['c2', 4],
      ['c3', 2],
    ]);
  });
});

describe('MongoSagaSink inserting first', () => {
  /** The collection, counting the documents each insertMany and bulkWrite is given. */
  function counting(collection: SagaCollection) {
    const calls = { inserted: 0, upserted: 0 };
    const wrapped = Object.assign(Object.create(collection) as SagaCollection, {
      insertMany: (docs: SagaDocument[], options: Parameters<SagaCollection['insertMany']>[1]) => {
        calls.inserted += docs.length;
        return collection.insertMany(docs, options);
      },
      bulkWrite: (ops: Parameters<SagaCollection['bulkWrite']>[0], options: Parameters<SagaCollection['bulkWrite']>[1]) => {
        calls.upserted += ops.length;
        return collection.bulkWrite(ops, options);
      },
    });
    return { wrapped, calls };
  }

  it('sorts out sagas another writer stored (older, same, newer and without a revision) from the refused inserts', async () => {
    const collection = await sagaCollection();
    await new MongoSagaSink(collection, { strategy: 'replace' }).write([rev('older', 1), rev('same', 2), rev('newer', 5)]);
    await collection.insertOne({ sagaId: 'legacy', currentState: 'fromFlowManager' } as unknown as SagaDocument);
    const { wrapped, calls } = counting(collection);
    const sink = new MongoSagaSink(wrapped, { strategy: 'replace', insertFirst: true });
    await sink.init();
    const result = await sink.write([rev('older', 3), rev('same', 2), rev('newer', 4), rev('legacy', 1), rev('new', 1)]);
    expect(result).toEqual({ written: 3, stale: 2 });
    // Every saga was tried as an insert (none stored by this sink), the four refused ones were upserted.
    expect(calls).toEqual({ inserted: 5, upserted: 4 });
    expect(await storedRevisions(collection)).toEqual([
      ['legacy', 1],
      ['new', 1],
      ['newer', 5],
      ['older', 3],
      ['same', 2],
    ]);
    expect(await collection.countDocuments({})).toBe(5);
  });

  it('replaces the sagas it stored lately without trying an insert, and still upserts one deleted since', async () => {
    const collection = await sagaCollection();
    const { wrapped, calls } = counting(collection);
    const sink = new MongoSagaSink(wrapped, { strategy: 'replace', insertFirst: true });
    await sink.init();
    expect(await sink.write([rev('r1', 1), rev('r2', 1)])).toEqual({ written: 2, stale: 0 });
    expect(calls).toEqual({ inserted: 2, upserted: 0 });
    await collection.deleteOne({ sagaId: 'r2' });
    expect(await sink.write([rev('r1', 2), rev('r2', 2), rev('r1x', 1)])).toEqual({ written: 3, stale: 0 });
    expect(calls).toEqual({ inserted: 3, upserted: 2 });
    expect(await sink.write([rev('r1', 2)])).toEqual({ written: 0, stale: 1 });
    expect(await storedRevisions(collection)).toEqual([
      ['r1', 2],
      ['r1x', 1],
      ['r2', 2],
    ]);
  });

  it('is what auto chooses on SecantusDB, and only there', async () => {
    const client = await mongoClient();
    const collection = await sagaCollection();
    const { wrapped, calls } = counting(collection);
    await new MongoSagaSink(collection, { strategy: 'replace' }).write([rev('auto', 1)]);
    const sink = new MongoSagaSink(wrapped, { client });
    await sink.init();
    expect(await sink.write([rev('auto', 2)])).toEqual({ written: 1, stale: 0 });
    // Inserting first, a saga stored by another sink is tried as an insert, then replaced;
    // reading first (MongoDB and the rest), it is only replaced.
    const secantus = (await serverKind(client)) === 'secantusdb';
    expect(calls).toEqual({ inserted: secantus ? 1 : 0, upserted: 1 });
  });
});

describe('RecentSagas', () => {
  it('keeps the latest sagas up to its limit, a saga added again counting as new', () => {
    const recent = new RecentSagas(3);
    for (const id of ['a', 'b', 'c']) recent.add(id);
    recent.add('a');
    recent.add('d');
    expect(['a', 'b', 'c', 'd'].map((id) => recent.has(id))).toEqual([true, false, true, true]);
    expect(recent.size).toBe(3);
  });
});

describe('MongoSagaSink strategy auto', () => {
  it('replaces with the guarded filter on MongoDB and compares and sets elsewhere, as the server reports itself', async () => {
    const client = await mongoClient();
    const sink = new MongoSagaSink(await sagaCollection(), { client });
    await sink.init();
    expect(sink.strategy).toBe(['mongodb', 'secantusdb'].includes(await serverKind(client)) ? 'replace' : 'compare-and-set');
  });
});
