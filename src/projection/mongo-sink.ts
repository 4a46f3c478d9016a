import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import type { AnyBulkWriteOperation, Filter, MongoClient } from 'mongodb';
import type { SagaDocument } from '../saga/types.ts';
import { ensureSagaIndexes, storeError } from './mongo.ts';
import type { SagaCollection } from './mongo.ts';
import type { SagaSink, SinkWriteResult } from './sink.ts';

const DUPLICATE_KEY = 11000;

/**
 * Matches the stored copy of a saga only when it is older than `revision`. Documents written
 * by Flow Manager itself have no revision: they count as older, so a migration overwrites
 * them once. When nothing matches, the upsert inserts, and the unique sagaId index turns an
 * insert over an existing (same or newer) revision into a duplicate-key error.
 */
export function olderThan(sagaId: string, revision: number): Filter<SagaDocument> {
  return { sagaId, $or: [{ revision: { $lt: revision } }, { revision: { $exists: false } }] };
}

function isDuplicateKey(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY);
  }
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

function withoutId(saga: SagaDocument): SagaDocument {
  if (!('_id' in saga)) return saga;
  const { _id: _ignored, ...rest } = saga as SagaDocument & { _id?: unknown };
  return rest;
}

/**
 * Projects sagas into a MongoDB collection with revision-guarded upserts (`replaceOne`,
 * like Flow Manager's mongo persistency, plus the guard). One round trip reads the stored
 * revisions so that replays skip what is already there without provoking errors; one
 * ordered bulk write then replaces the older ones. A duplicate-key error means another
 * writer got there first with the same or a newer revision: counted as stale, not failed.
 */
export class MongoSagaSink implements SagaSink {
  readonly kind = 'mongo';
  private readonly collection: SagaCollection;
  private readonly client: MongoClient | undefined;

  /** `client`, when given, is closed by `close()`. */
  constructor(collection: SagaCollection, client?: MongoClient) {
    this.collection = collection;
    this.client = client;
  }

  async init(): Promise<void> {
    await ensureSagaIndexes(this.collection);
  }

  async write(sagas: readonly SagaDocument[]): Promise<SinkWriteResult> {
    if (sagas.length === 0) return { written: 0, stale: 0 };
    let stored: Map<string, number>;
    try {
      const rows = await this.collection
        .find({ sagaId: { $in: sagas.map((s) => s.sagaId) } }, { projection: { _id: 0, sagaId: 1, revision: 1 } })
        .toArray();
      stored = new Map(rows.filter((r) => typeof r.revision === 'number').map((r) => [r.sagaId, r.revision]));
    } catch (err) {
      throw storeError('reading stored revisions', err);
    }
    const newer = sagas.filter((s) => (stored.get(s.sagaId) ?? -Infinity) < s.revision);
    let stale = sagas.length - newer.length;
    if (newer.length === 0) return { written: 0, stale };
    const ops: AnyBulkWriteOperation<SagaDocument>[] = newer.map((saga) => ({
      replaceOne: { filter: olderThan(saga.sagaId, saga.revision), replacement: withoutId(saga), upsert: true },
    }));
    try {
      await this.collection.bulkWrite(ops, { ordered: true });
      return { written: newer.length, stale };
    } catch (err) {
      if (!isDuplicateKey(err)) throw storeError('writing sagas', err);
    }
    // A race was lost somewhere in the batch. Which operations ran is not reliable across
    // servers (FerretDB reports the wrong index and stops even when unordered), so replay
    // them one by one: each is idempotent under the revision guard.
    let written = 0;
    for (const saga of newer) {
      try {
        await this.collection.replaceOne(olderThan(saga.sagaId, saga.revision), withoutId(saga), { upsert: true });
        written += 1;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError('writing sagas', err);
        stale += 1;
      }
    }
    return { written, stale };
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
