import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import type { AnyBulkWriteOperation, Filter, IndexDescription, MongoClient, WriteError } from 'mongodb';
import type { SagaDocument } from '../saga/types.ts';
import { checkIndexes, ensureSagaIndexes, storeError } from './mongo.ts';
import type { SagaCollection } from './mongo.ts';
import { latestRevisions } from './sink.ts';
import type { SagaSink, SinkWriteResult } from './sink.ts';

const DUPLICATE_KEY = 11000;

/**
 * Statements per bulk write on FerretDB: 1.24 (SQLite backend) hangs, and stays hung, on an
 * update command of 100 statements or more (seen here: 99 completes, 100 never answers).
 */
export const FERRETDB_BULK_STATEMENTS = 50;

/** Statements per bulk write elsewhere: fewer round trips, well below the 100,000 a batch may hold. */
export const MAX_BULK_STATEMENTS = 1_000;

/**
 * Matches the stored copy of a saga only when it is older than `revision`. Documents written
 * by Flow Manager itself have no revision: they count as older, so a migration overwrites
 * them once. When nothing matches, the upsert inserts, and the unique sagaId index turns an
 * insert over an existing (same or newer) revision into a duplicate-key error.
 * `$not: {$gte}` rather than `$or: [{$lt}, {$exists: false}]`, which means the same: some
 * planners (SecantusDB's) give up the sagaId index for a top-level `$or` and scan.
 */
export function olderThan(sagaId: string, revision: number): Filter<SagaDocument> {
  return { sagaId, revision: { $not: { $gte: revision } } };
}

/** The statement errors of a failed bulk write (none for any other error). */
function bulkWriteErrors(err: unknown): readonly WriteError[] {
  if (!(err instanceof MongoBulkWriteError)) return [];
  const errors = err.writeErrors;
  return Array.isArray(errors) ? errors : [errors as WriteError];
}

function isDuplicateKey(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const errors = bulkWriteErrors(err);
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
 * How a stored saga is replaced by a newer revision. Either way one statement replaces one
 * document, atomically: a reader finds the old revision or the new one, never none, and a
 * statement never puts an older revision over a newer one, whoever else writes meanwhile.
 * - `replace`: the statement's filter is the revision guard (`olderThan`: sagaId, and a
 *   revision below ours). MongoDB serves it from the unique sagaId index.
 * - `compare-and-set`: the filter is the sagaId and the exact revision read just before
 *   (`sameRevision`); a saga changed since the read matches nothing and goes the guarded way.
 *   For servers that use an index only when the filter names exactly an index's fields
 *   with plain values, and scan the whole collection for `$or` or `$lt` (mongo-java-server;
 *   FerretDB 1.x pushes down nothing but `_id`): the unique (sagaId, revision) index that
 *   `init` adds serves this filter.
 * - `auto` (default): `replace` on MongoDB and SecantusDB (buildInfo names a gitVersion and
 *   no ferretdbVersion), `compare-and-set` on any other server.
 */
export type MongoWriteStrategy = 'replace' | 'compare-and-set';

/** Matches the stored copy only while it still has the revision read (none: written by Flow Manager). */
export function sameRevision(sagaId: string, revision: number | undefined): Filter<SagaDocument> {
  // null matches a missing field too, and stays a plain value the index can serve.
  return { sagaId, revision: revision ?? (null as unknown as number) };
}

export interface MongoSagaSinkOptions {
  /** Asked what server this is when `strategy` is `auto` (not closed by the sink: its opener owns it). */
  client?: MongoClient;
  strategy?: MongoWriteStrategy | 'auto';
  /**
   * Bulk writes in order (stop at the first error) or not (every statement runs, and the
   * server may apply them as it likes). Default: unordered, ordered on FerretDB (see below).
   */
  ordered?: boolean;
  /**
   * With `replace`: write without reading the stored revisions first (see `writeInsertFirst`).
   * Default: on SecantusDB, where the read was measured to cost a fifth of a write; off
   * elsewhere (MongoDB keeps the path it always had; FerretDB's bulk errors do not reliably
   * name the statements that failed).
   */
  insertFirst?: boolean;
  /** Writes in flight at once (default 1; see `write`). */
  concurrency?: number;
  /**
   * The indexes `init` creates (default SAGA_INDEXES). For measuring what each index costs a
   * write (benchmarks/projection-levers.ts). Must hold the unique sagaId index (`checkIndexes`).
   */
  indexes?: readonly IndexDescription[];
}

/**
 * Sagas this sink stored lately, oldest first, at most `limit`: they are replaced without
 * trying an insert first. A hint only: a saga missing from it (evicted, or stored by another
 * projector) costs a refused insert, one wrongly in it (its document deleted since) an upsert.
 */
export class RecentSagas {
  private readonly ids = new Set<string>();
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  has(sagaId: string): boolean {
    return this.ids.has(sagaId);
  }

  add(sagaId: string): void {
    // Deleted and added again: a Set keeps insertion order, so the first one is the oldest.
    this.ids.delete(sagaId);
    this.ids.add(sagaId);
    if (this.ids.size <= this.limit) return;
    for (const oldest of this.ids) {
      this.ids.delete(oldest);
      break;
    }
  }

  get size(): number {
    return this.ids.size;
  }
}

/** About 100 bytes each: 10 MB, and the active sagas of a busy projection. */
export const RECENT_SAGAS = 100_000;

/**
 * Runs an unordered bulk write; returns the indexes of its statements the unique sagaId index
 * refused (none when it succeeded). Any other failure leaves as a store error.
 */
async function refusedAsDuplicates(what: string, write: () => Promise<unknown>): Promise<number[]> {
  try {
    await write();
    return [];
  } catch (err) {
    const errors = bulkWriteErrors(err);
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw storeError(what, err);
    return errors.map((e) => e.index);
  }
}

/**
 * What the server says it is in buildInfo: FerretDB and SecantusDB name their own versions;
 * MongoDB names a gitVersion (SecantusDB too: it is as capable for what the sink does);
 * mongo-java-server names neither.
 */
export async function serverKind(client: MongoClient): Promise<'mongodb' | 'secantusdb' | 'ferretdb' | 'other'> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  if ('ferretdbVersion' in info) return 'ferretdb';
  if ('secantusVersion' in info) return 'secantusdb';
  return typeof info.gitVersion === 'string' ? 'mongodb' : 'other';
}

/**
 * Projects sagas into a MongoDB collection with revision-guarded writes. One round trip
 * reads the stored revisions, so replays skip what is already there without provoking
 * errors. Sagas not stored yet are inserted with one `insertMany`; older stored ones are
 * replaced by the strategy above (Flow Manager's mongo persistency uses replaceOne, without
 * a guard). A duplicate-key error means another writer got there first with the same or a
 * newer revision: counted as stale, not failed. Writes of one sink are serialized:
 * FerretDB's SQLite backend answers concurrent writers with "database is locked", and one
 * large bulk write at a time is what MongoDB prefers too.
 */
export class MongoSagaSink implements SagaSink {
  readonly kind = 'mongo';
  private readonly collection: SagaCollection;
  private readonly client: MongoClient | undefined;
  private readonly wanted: MongoWriteStrategy | 'auto';
  private chosen: MongoWriteStrategy | undefined;
  /** Until the server is known, the size every server takes. */
  private bulkStatements = FERRETDB_BULK_STATEMENTS;
  private pending: { sagas: readonly SagaDocument[]; resolve: (r: SinkWriteResult) => void; reject: (e: unknown) => void }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly concurrency: number;
  private readonly wantedOrdered: boolean | undefined;
  private ordered = true;
  private readonly wantedInsertFirst: boolean | undefined;
  private insertFirst = false;
  private readonly recent = new RecentSagas(RECENT_SAGAS);
  private readonly indexes: readonly IndexDescription[] | undefined;

  constructor(collection: SagaCollection, options: MongoSagaSinkOptions = {}) {
    this.collection = collection;
    this.client = options.client;
    this.wanted = options.strategy ?? 'auto';
    this.wantedOrdered = options.ordered;
    this.wantedInsertFirst = options.insertFirst;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    if (options.indexes) checkIndexes(options.indexes);
    this.indexes = options.indexes;
  }

  /** The strategy in use (known after `init`). */
  get strategy(): MongoWriteStrategy {
    return this.chosen ?? (this.wanted === 'auto' ? 'replace' : this.wanted);
  }

  async init(): Promise<void> {
    let kind: Awaited<ReturnType<typeof serverKind>> | undefined;
    if (this.client) {
      try {
        kind = await serverKind(this.client);
      } catch (err) {
        throw storeError('asking the server what it is', err);
      }
    }
    const likeMongodb = kind === 'mongodb' || kind === 'secantusdb';
    if (kind !== undefined && kind !== 'ferretdb') this.bulkStatements = MAX_BULK_STATEMENTS;
    // A statement that fails does not stop the others: a lost race is sorted out one by one
    // below either way. FerretDB stays ordered, the way it was measured to work.
    this.ordered = this.wantedOrdered ?? kind === 'ferretdb';
    if (this.wanted !== 'auto') this.chosen = this.wanted;
    else this.chosen = kind === undefined || likeMongodb ? 'replace' : 'compare-and-set';
    this.insertFirst = this.chosen === 'replace' && (this.wantedInsertFirst ?? kind === 'secantusdb');
    await ensureSagaIndexes(this.collection, { revisionIndex: this.chosen === 'compare-and-set', indexes: this.indexes });
  }

  /**
   * At most `concurrency` writes are in flight (one by default), and the ones that arrive
   * meanwhile are merged into the next one (group commit): the projector writes several
   * partitions at once, and each statement costs FerretDB a collection scan (and MongoDB a
   * round trip) however many documents it carries. Concurrent writers come from different
   * partitions, so their sagaIds never overlap, neither in one write nor in two in flight;
   * each caller gets the counts of its own sagas.
   */
  write(sagas: readonly SagaDocument[]): Promise<SinkWriteResult> {
    const done = new Promise<SinkWriteResult>((resolve, reject) => this.pending.push({ sagas, resolve, reject }));
    this.pump();
    return done;
  }

  private pump(): void {
    while (this.inFlight.size < this.concurrency && this.pending.length > 0) {
      const group = this.pending.splice(0);
      const run: Promise<void> = this.writeGroup(group).finally(() => {
        this.inFlight.delete(run);
        this.pump();
      });
      this.inFlight.add(run);
    }
  }

  private async writeGroup(group: typeof this.pending): Promise<void> {
    try {
      const merged = latestRevisions(group.flatMap((g) => g.sagas));
      const notWritten = await this.writeNow(merged);
      const kept = new Set(merged);
      for (const caller of group) {
        const staleHere = caller.sagas.filter((saga) => !kept.has(saga) || notWritten.has(saga)).length;
        caller.resolve({ written: caller.sagas.length - staleHere, stale: staleHere });
      }
    } catch (err) {
      for (const caller of group) caller.reject(err);
    }
  }

  /** Waits for the writes in progress and queued; the collection's client stays open. */
  async close(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** Writes at most one document per saga; returns the ones not written (same or newer stored). */
  private async writeNow(sagas: readonly SagaDocument[]): Promise<Set<SagaDocument>> {
    if (this.insertFirst) return this.writeInsertFirst(sagas);
    const notWritten = new Set<SagaDocument>();
    if (sagas.length === 0) return notWritten;
    const stored = await this.storedRevisions(sagas);
    const fresh: SagaDocument[] = [];
    const older: SagaDocument[] = [];
    for (const saga of sagas) {
      if (!stored.has(saga.sagaId)) fresh.push(saga);
      else if ((stored.get(saga.sagaId) ?? -Infinity) < saga.revision) older.push(saga);
      else notWritten.add(saga);
    }
    const lost: SagaDocument[] = [];
    await this.insert(fresh, lost);
    await this.replace(older, stored, lost, notWritten);
    // A race was lost somewhere. Which operations ran is not reliable across servers
    // (FerretDB reports the wrong index and stops even when unordered), so apply these one
    // by one: each guarded upsert is idempotent, a duplicate key means "newer is there".
    for (const saga of lost) {
      try {
        await this.collection.replaceOne(olderThan(saga.sagaId, saga.revision), withoutId(saga), { upsert: true });
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError('writing sagas', err);
        notWritten.add(saga);
      }
    }
    return notWritten;
  }

  /**
   * The `replace` strategy without the read: sagas this sink has not stored lately are
   * inserted, and those the unique sagaId index refuses (stored already) join the recent
   * ones in guarded upserts (`olderThan`), where a duplicate key means the same or a newer
   * revision is stored. Each statement still replaces one document atomically and never puts
   * an older revision over a newer one. On a replay from an empty collection nearly every
   * saga is an insert, and the read of the stored revisions was a fifth of the write's time
   * on SecantusDB (benchmarks/README.md). Needs bulk errors that name their statements.
   */
  private async writeInsertFirst(sagas: readonly SagaDocument[]): Promise<Set<SagaDocument>> {
    const notWritten = new Set<SagaDocument>();
    const upserts: SagaDocument[] = [];
    const inserts: SagaDocument[] = [];
    for (const saga of sagas) (this.recent.has(saga.sagaId) ? upserts : inserts).push(saga);
    if (inserts.length > 0) {
      const refused = await refusedAsDuplicates('inserting sagas', () => this.collection.insertMany(inserts.map((saga) => ({ ...withoutId(saga) })), { ordered: false }));
      for (const i of refused) if (inserts[i]) upserts.push(inserts[i]);
    }
    for (let i = 0; i < upserts.length; i += this.bulkStatements) {
      const slice = upserts.slice(i, i + this.bulkStatements);
      const ops: AnyBulkWriteOperation<SagaDocument>[] = slice.map((saga) => ({
        replaceOne: { filter: olderThan(saga.sagaId, saga.revision), replacement: withoutId(saga), upsert: true },
      }));
      const refused = await refusedAsDuplicates('replacing sagas', () => this.collection.bulkWrite(ops, { ordered: false }));
      for (const j of refused) if (slice[j]) notWritten.add(slice[j]);
    }
    for (const saga of sagas) this.recent.add(saga.sagaId);
    return notWritten;
  }

  /** sagaId -> stored revision (undefined: stored without one) of the sagas that are stored. */
  private async storedRevisions(sagas: readonly SagaDocument[]): Promise<Map<string, number | undefined>> {
    try {
      const rows = await this.collection
        .find({ sagaId: { $in: sagas.map((s) => s.sagaId) } }, { projection: { _id: 0, sagaId: 1, revision: 1 } })
        .toArray();
      return new Map(rows.map((r) => [r.sagaId, typeof r.revision === 'number' ? r.revision : undefined]));
    } catch (err) {
      throw storeError('reading stored revisions', err);
    }
  }

  private async insert(sagas: SagaDocument[], lost: SagaDocument[]): Promise<void> {
    if (sagas.length === 0) return;
    try {
      // Copies: the driver adds _id to the documents it inserts, and these are the caller's.
      await this.collection.insertMany(sagas.map((saga) => ({ ...withoutId(saga) })), { ordered: this.ordered });
    } catch (err) {
      if (!isDuplicateKey(err)) throw storeError('inserting sagas', err);
      lost.push(...sagas);
    }
  }

  private async replace(sagas: SagaDocument[], stored: Map<string, number | undefined>, lost: SagaDocument[], notWritten: Set<SagaDocument>): Promise<void> {
    const cas = this.strategy === 'compare-and-set';
    for (let i = 0; i < sagas.length; i += this.bulkStatements) {
      const slice = sagas.slice(i, i + this.bulkStatements);
      const ops: AnyBulkWriteOperation<SagaDocument>[] = slice.map((saga) => ({
        replaceOne: cas
          ? { filter: sameRevision(saga.sagaId, stored.get(saga.sagaId)), replacement: withoutId(saga) }
          : { filter: olderThan(saga.sagaId, saga.revision), replacement: withoutId(saga), upsert: true },
      }));
      let matched: number;
      try {
        matched = (await this.collection.bulkWrite(ops, { ordered: this.ordered })).matchedCount;
      } catch (err) {
        if (!isDuplicateKey(err)) throw storeError('replacing sagas', err);
        lost.push(...slice);
        continue;
      }
      if (cas && matched < slice.length) await this.sortOutMismatches(slice, lost, notWritten);
    }
  }

  /**
   * Some compare-and-set statements of a bulk matched nothing (the bulk result does not say
   * which): another writer changed those sagas since the read. Read them again: the ones at
   * our revision are done, newer ones are stale, older ones go the guarded way.
   */
  private async sortOutMismatches(slice: SagaDocument[], lost: SagaDocument[], notWritten: Set<SagaDocument>): Promise<void> {
    const now = await this.storedRevisions(slice);
    for (const saga of slice) {
      const revision = now.get(saga.sagaId) ?? -Infinity;
      if (revision > saga.revision) notWritten.add(saga);
      else if (revision < saga.revision) lost.push(saga);
    }
  }
}
