import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import type { AnyBulkWriteOperation, Filter, MongoClient } from 'mongodb';
import type { SagaDocument } from '../saga/types.ts';
import { ensureSagaIndexes, storeError } from './mongo.ts';
import type { SagaCollection } from './mongo.ts';
import type { SagaSink, SinkWriteResult } from './sink.ts';

const DUPLICATE_KEY = 11000;

/**
 * Statements per bulk write. FerretDB 1.24 (SQLite backend) hangs, and stays hung, on an
 * update command of 100 statements or more (seen here: 99 completes, 100 never answers).
 */
export const MAX_BULK_STATEMENTS = 50;

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
 * Projects sagas into a MongoDB collection with revision-guarded writes. One round trip
 * reads the stored revisions, so replays skip what is already there without provoking
 * errors. Sagas not stored yet are inserted with one `insertMany`; older stored ones are
 * replaced with guarded `replaceOne`s in one ordered bulk write (Flow Manager's mongo
 * persistency uses replaceOne too, without the guard). A duplicate-key error means another
 * writer got there first with the same or a newer revision: counted as stale, not failed.
 * Writes of one sink are serialized: FerretDB's SQLite backend answers concurrent writers
 * with "database is locked", and one large bulk write at a time is what MongoDB prefers too.
 */
export class MongoSagaSink implements SagaSink {
  readonly kind = 'mongo';
  private readonly collection: SagaCollection;
  private readonly client: MongoClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** `client`, when given, is closed by `close()`. */
  constructor(collection: SagaCollection, client?: MongoClient) {
    this.collection = collection;
    this.client = client;
  }

  async init(): Promise<void> {
    await ensureSagaIndexes(this.collection);
  }

  write(sagas: readonly SagaDocument[]): Promise<SinkWriteResult> {
    const run = this.queue.then(() => this.writeNow(sagas));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.client?.close();
  }

  private async writeNow(sagas: readonly SagaDocument[]): Promise<SinkWriteResult> {
    if (sagas.length === 0) return { written: 0, stale: 0 };
    let stored: Map<string, number | undefined>;
    try {
      const rows = await this.collection
        .find({ sagaId: { $in: sagas.map((s) => s.sagaId) } }, { projection: { _id: 0, sagaId: 1, revision: 1 } })
        .toArray();
      stored = new Map(rows.map((r) => [r.sagaId, typeof r.revision === 'number' ? r.revision : undefined]));
    } catch (err) {
      throw storeError('reading stored revisions', err);
    }
    const fresh: SagaDocument[] = [];
    const older: SagaDocument[] = [];
    for (const saga of sagas) {
      if (!stored.has(saga.sagaId)) fresh.push(saga);
      else if ((stored.get(saga.sagaId) ?? -Infinity) < saga.revision) older.push(saga);
    }
    const result: SinkWriteResult = { written: 0, stale: sagas.length - fresh.length - older.length };
    const lost: SagaDocument[] = [];
    if (fresh.length > 0) {
      try {
        // Copies: the driver adds _id to the documents it inserts, and these are the caller's.
        await this.collection.insertMany(fresh.map((saga) => ({ ...withoutId(saga) })), { ordered: true });
        result.written += fresh.length;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError('inserting sagas', err);
        lost.push(...fresh);
      }
    }
    if (older.length > 0) {
      for (let i = 0; i < older.length; i += MAX_BULK_STATEMENTS) {
        const slice = older.slice(i, i + MAX_BULK_STATEMENTS);
        const ops: AnyBulkWriteOperation<SagaDocument>[] = slice.map((saga) => ({
          replaceOne: { filter: olderThan(saga.sagaId, saga.revision), replacement: withoutId(saga), upsert: true },
        }));
        try {
          await this.collection.bulkWrite(ops, { ordered: true });
          result.written += slice.length;
        } catch (err) {
          if (!isDuplicateKey(err)) throw storeError('replacing sagas', err);
          lost.push(...slice);
        }
      }
    }
    // A race was lost somewhere. Which operations ran is not reliable across servers
    // (FerretDB reports the wrong index and stops even when unordered), so apply these one
    // by one: each guarded upsert is idempotent, a duplicate key means "newer is there".
    for (const saga of lost) {
      try {
        await this.collection.replaceOne(olderThan(saga.sagaId, saga.revision), withoutId(saga), { upsert: true });
        result.written += 1;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError('writing sagas', err);
        result.stale += 1;
      }
    }
    return result;
  }
}
