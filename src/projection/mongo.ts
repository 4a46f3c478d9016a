import { MongoClient } from 'mongodb';
import type { Collection, IndexDescription } from 'mongodb';
import { SagaflowError } from '../errors.ts';
import type { SagaDocument } from '../saga/types.ts';

export type SagaCollection = Collection<SagaDocument>;

/**
 * Indexes of the saga collection. The unique sagaId index is what makes a lost upsert race
 * end in a duplicate-key error instead of a second document. The others serve GET /sagas:
 * each filter followed by the keyset sort (createdAt or updatedAt, then sagaId). They are
 * ascending although the default sort is descending: a server reads an index backwards as
 * well, and SecantusDB 0.5.3 drops the boundary of a `$gte` on a descending field after an
 * equality (`{isFinal: true, updatedAt: {$gte: t}}` missed the sagas updated exactly at t).
 * Earlier releases created the same indexes descending under the names without `_asc`;
 * they still work and may be dropped.
 */
const sagaIdIndex: IndexDescription = { key: { sagaId: 1 }, name: 'sagaflow_sagaId_unique', unique: true };
const indexes: IndexDescription[] = [
  sagaIdIndex,
  { key: { createdAt: 1, sagaId: 1 }, name: 'sagaflow_createdAt_asc' },
  { key: { updatedAt: 1, sagaId: 1 }, name: 'sagaflow_updatedAt_asc' },
  { key: { currentState: 1, createdAt: 1, sagaId: 1 }, name: 'sagaflow_currentState_asc' },
  { key: { businessStateId: 1, createdAt: 1, sagaId: 1 }, name: 'sagaflow_businessStateId_asc' },
  { key: { associatedEntityId: 1, createdAt: 1, sagaId: 1 }, name: 'sagaflow_associatedEntityId_asc' },
  { key: { isFinal: 1, updatedAt: 1, sagaId: 1 }, name: 'sagaflow_isFinal_asc' },
];
export const SAGA_INDEXES: readonly IndexDescription[] = Object.freeze(indexes);

/**
 * Serves the compare-and-set filter `{sagaId, revision}` on servers that use an index only
 * for a filter naming exactly its fields (see MongoWriteStrategy in mongo-sink.ts). Unique
 * because sagaId alone is; mongo-java-server looks unique indexes up by key.
 */
export const REVISION_INDEX: IndexDescription = Object.freeze({ key: { sagaId: 1, revision: 1 }, name: 'sagaflow_sagaId_revision', unique: true });

function sameKey(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(Object.entries(a)) === JSON.stringify(Object.entries(b));
}

/**
 * Refuses an index list without a unique index on exactly the sagaId key of SAGA_INDEXES: the
 * revision guard relies on it (a lost upsert race ends in a duplicate key instead of a
 * second document).
 */
export function checkIndexes(indexes: readonly IndexDescription[]): void {
  const key = sagaIdIndex.key as Record<string, unknown>;
  if (indexes.some((index) => index.unique === true && sameKey(index.key as Record<string, unknown>, key))) return;
  throw new SagaflowError('SAGAFLOW_PROJECTION_INDEX_CONFLICT', {
    message: `the sink's indexes (${indexes.map((i) => i.name ?? JSON.stringify(i.key)).join(', ') || 'none'}) lack the unique index on sagaId that guards revisions; add { key: { sagaId: 1 }, unique: true }`,
    retryable: false,
  });
}

/**
 * Creates the missing indexes. An index on the same keys under another name is kept
 * (Flow Manager's CRUD tutorial names its unique index `sagaIdIndex`; creating ours beside it
 * fails with IndexOptionsConflict), but a sagaId index that is not unique is refused: without
 * it two projectors racing on a new saga could insert it twice.
 */
export async function ensureSagaIndexes(collection: SagaCollection, opts: { revisionIndex?: boolean; indexes?: readonly IndexDescription[] } = {}): Promise<void> {
  let existing: { key: Record<string, unknown>; unique?: boolean }[] = [];
  try {
    existing = (await collection.listIndexes().toArray()) as typeof existing;
  } catch (err) {
    // NamespaceNotFound: the collection does not exist yet, so it has no index.
    if ((err as { code?: number }).code !== 26) throw storeError('listing the indexes', err);
  }
  const missing: IndexDescription[] = [];
  const wanted = opts.indexes ?? SAGA_INDEXES;
  for (const index of opts.revisionIndex ? [...wanted, REVISION_INDEX] : wanted) {
    const key = index.key as Record<string, unknown>;
    const found = existing.find((e) => sameKey(e.key, key));
    if (!found) missing.push(index);
    else if (index.unique && !found.unique) {
      throw new SagaflowError('SAGAFLOW_PROJECTION_INDEX_CONFLICT', {
        message: `collection "${collection.collectionName}" has a non-unique index on sagaId; drop it (sagaflow creates a unique one) or make it unique`,
        retryable: false,
      });
    }
  }
  if (missing.length === 0) return;
  try {
    await collection.createIndexes(missing);
  } catch (err) {
    throw storeError('creating the indexes', err);
  }
}

/**
 * A client and the saga collection named in persistencyManagement (mongo). The client is not
 * connected here: the driver connects on first use, and a server that is down then fails
 * that operation (retryable) rather than the caller's start.
 */
export function openSagaCollection(
  connectionUri: string,
  collectionName: string,
  opts: { serverSelectionTimeoutMS?: number } = {},
): { client: MongoClient; collection: SagaCollection } {
  let client: MongoClient;
  try {
    client = new MongoClient(connectionUri, {
      serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
      // Every write here is an idempotent guarded upsert: driver-level write retries add
      // nothing, and FerretDB does not support retryable writes.
      retryWrites: false,
    });
  } catch (err) {
    // The URI may carry credentials: never put it in the message.
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: `persistencyManagement.configurations.connectionUri: not a MongoDB connection string (${(err as Error).name})`,
      path: 'persistencyManagement.configurations.connectionUri',
    });
  }
  // The database is the one named in the URI path (Flow Manager uses the URI's default too).
  return { client, collection: client.db().collection<SagaDocument>(collectionName) };
}

export function storeError(doing: string, err: unknown): SagaflowError {
  return new SagaflowError('SAGAFLOW_PROJECTION_STORE_UNAVAILABLE', {
    message: `MongoDB failed while ${doing}: ${(err as Error).message ?? String(err)}`,
    retryable: true,
    cause: err,
  });
}
