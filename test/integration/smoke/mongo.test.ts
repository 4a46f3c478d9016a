import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { mongoCollection } from '../../support/mongo.ts';

interface SagaRow {
  _id: string;
  state: string;
  version: number;
}

describe('MongoDB-compatible server', () => {
  it('inserts, enforces a unique index, queries, upserts, bulk-writes, counts and groups', async () => {
    const sagas = await mongoCollection<SagaRow>('smoke_sagas');
    await sagas.insertMany([
      { _id: 'a', state: 'created', version: 1 },
      { _id: 'b', state: 'validated', version: 2 },
      { _id: 'c', state: 'validated', version: 5 },
    ]);

    const byState = await mongoCollection<{ sagaId: string; key: string }>('smoke_keys');
    await byState.createIndex({ key: 1 }, { unique: true });
    await byState.insertOne({ sagaId: 'a', key: 'k-1' });
    const duplicate = await byState.insertOne({ sagaId: 'b', key: 'k-1' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(duplicate).toBeInstanceOf(MongoServerError);
    expect((duplicate as MongoServerError).code).toBe(11000);
    expect(await byState.countDocuments()).toBe(1);

    const validated = await sagas.find({ state: 'validated', version: { $gte: 2 } }).sort({ version: -1 }).toArray();
    expect(validated.map((row) => row._id)).toEqual(['c', 'b']);

    // Upsert guarded by a version filter, as a projection writer does it.
    const stale = await sagas.updateOne({ _id: 'c', version: { $lt: 4 } }, { $set: { state: 'stale', version: 4 } });
    expect(stale.matchedCount).toBe(0);
    const inserted = await sagas.updateOne({ _id: 'd', version: { $lt: 1 } }, { $set: { state: 'created', version: 1 } }, { upsert: true });
    expect(inserted.upsertedId).toBe('d');

    const bulk = await sagas.bulkWrite([
      { updateOne: { filter: { _id: 'a' }, update: { $set: { state: 'validated', version: 2 } } } },
      { updateOne: { filter: { _id: 'e' }, update: { $set: { state: 'created', version: 1 } }, upsert: true } },
      { deleteOne: { filter: { _id: 'b' } } },
    ]);
    expect(bulk.modifiedCount).toBe(1);
    expect(bulk.upsertedCount).toBe(1);
    expect(bulk.deletedCount).toBe(1);

    expect(await sagas.countDocuments({ state: 'validated' })).toBe(2);
    const perState = await sagas.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$state', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray();
    expect(perState).toEqual([
      { _id: 'created', n: 2 },
      { _id: 'validated', n: 2 },
    ]);
  });
});
