import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { SagaflowError } from '../errors.ts';
import { toByteRange } from './key-value-store.ts';
import type { IterateOptions, KeyValueStore, WriteBatch } from './key-value-store.ts';

/*
 * The part of rocksdb-native (holepunchto, Apache-2.0; it ships no type declarations) that
 * this adapter uses, as read from its index.js, lib/batch.js and lib/iterator.js (3.18):
 * - `db.write()` collects operations and `flush()` hands them to librocksdb, which applies
 *   them as ONE rocksdb::WriteBatch through DB::Write: atomic, WAL on, no fsync per write.
 * - An iterator is a streamx Readable of {key, value}; it holds a reference on the database
 *   that `close()` waits for, so open iterators must be destroyed before closing.
 * - An empty Buffer as a bound means "no bound".
 */
interface NativeWriteBatch {
  tryPut(key: Buffer, value: Buffer): void;
  tryDelete(key: Buffer): void;
  tryDeleteRange(start: Buffer, end: Buffer): void;
  flush(): Promise<void>;
  destroy(): void;
}

interface NativeReadBatch {
  get(key: Buffer): Promise<Buffer | null>;
  tryFlush(): void;
}

interface NativeIterator extends AsyncIterable<{ key: Buffer; value: Buffer }> {
  destroy(): void;
}

interface NativeDatabase {
  readonly closed: boolean;
  ready(): Promise<void>;
  get(key: Buffer): Promise<Buffer | null>;
  /** A batch of reads handed to librocksdb in one call on flush (what `get` does for one key). */
  read(options?: { capacity?: number; autoDestroy?: boolean }): NativeReadBatch;
  write(options?: { capacity?: number }): NativeWriteBatch;
  iterator(range: { gte?: Buffer; lt?: Buffer }): NativeIterator;
  close(): Promise<void>;
}

type NativeDatabaseConstructor = new (path: string, options?: { writeBufferSize?: number; maxWriteBufferNumber?: number }) => NativeDatabase;

/**
 * Memtable size per partition store. rocksdb-native's default (64 MB, two of them) kept up
 * to 128 MB of saga documents in memory per partition, so an instance owning 12 partitions
 * grew its RSS with the number of live sagas (about 850 KB per 1,000, measured up to 1M)
 * until the memtables flushed. 16 MB is Kafka Streams' own default for its RocksDB stores.
 */
const WRITE_BUFFER_BYTES = 16 * 1024 * 1024;

const RocksDB = createRequire(import.meta.url)('rocksdb-native') as NativeDatabaseConstructor;

/** Every key is UTF-8, and UTF-8 never contains the byte 0xff: [empty, 0xff) covers all keys. */
const ALL_KEYS_START = Buffer.alloc(0);
const ALL_KEYS_END = Buffer.from([0xff]);

function closedError(): SagaflowError {
  return new SagaflowError('SAGAFLOW_STORE_CLOSED', { message: 'the state store is closed', retryable: false });
}

function storeFailed(operation: string, dir: string, cause: unknown): SagaflowError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  // librocksdb reports the errno only in its message ("IO error: No space left on device").
  if (/no space left on device|ENOSPC/i.test(detail)) {
    return new SagaflowError('SAGAFLOW_STORE_NO_SPACE', {
      message: `RocksDB ${operation} failed in ${dir}: the file system is full (${detail}); free space or grow the volume, the partition resumes by itself`,
      retryable: true,
      cause,
    });
  }
  return new SagaflowError('SAGAFLOW_STORE_FAILED', {
    message: `RocksDB ${operation} failed in ${dir}: ${detail}`,
    retryable: false,
    cause,
  });
}

/** `KeyValueStore` over RocksDB through the `rocksdb-native` binding. Open with `openRocksDbStore`. */
export class RocksDbStore implements KeyValueStore {
  readonly dir: string;
  readonly #db: NativeDatabase;
  readonly #openIterators = new Set<NativeIterator>();
  #closing: Promise<void> | undefined;

  /** Use `openRocksDbStore`, which waits for the database to be open. */
  constructor(dir: string, db: NativeDatabase) {
    this.dir = dir;
    this.#db = db;
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.#assertOpen();
    try {
      const value = await this.#db.get(Buffer.from(key, 'utf8'));
      return value ?? undefined;
    } catch (err) {
      throw storeFailed('get', this.dir, err);
    }
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    if (keys.length === 0) return [];
    try {
      // One read batch for all keys: a profile showed per-key `get` (a batch of one each)
      // among the largest costs of the hot path.
      const batch = this.#db.read({ capacity: keys.length, autoDestroy: true });
      const values = keys.map((key) => batch.get(Buffer.from(key, 'utf8')));
      batch.tryFlush();
      return (await Promise.all(values)).map((value) => value ?? undefined);
    } catch (err) {
      throw storeFailed('get', this.dir, err);
    }
  }

  async write(batch: WriteBatch): Promise<void> {
    this.#assertOpen();
    if (batch.puts.length === 0 && batch.deletes.length === 0) return;
    const native = this.#db.write({ capacity: batch.puts.length + batch.deletes.length });
    try {
      // Operations of a rocksdb::WriteBatch apply in order: deletes first, as the port says.
      for (const key of batch.deletes) native.tryDelete(Buffer.from(key, 'utf8'));
      for (const [key, value] of batch.puts) native.tryPut(Buffer.from(key, 'utf8'), value);
      await native.flush();
    } catch (err) {
      throw storeFailed('write', this.dir, err);
    } finally {
      native.destroy();
    }
  }

  async *iterate(options: IterateOptions = {}): AsyncIterableIterator<[string, Buffer]> {
    this.#assertOpen();
    const range = toByteRange(options);
    if (range.empty) return;
    const iterator = this.#db.iterator({
      ...(range.gte === undefined ? {} : { gte: range.gte }),
      ...(range.lt === undefined ? {} : { lt: range.lt }),
    });
    this.#openIterators.add(iterator);
    try {
      for await (const { key, value } of iterator) yield [key.toString('utf8'), value];
    } catch (err) {
      if (this.#closing !== undefined) throw closedError();
      throw storeFailed('iterate', this.dir, err);
    } finally {
      this.#openIterators.delete(iterator);
      iterator.destroy();
    }
    // A closed store ends its iterators early: report that instead of a silently short range.
    if (this.#closing !== undefined) throw closedError();
  }

  async clear(): Promise<void> {
    this.#assertOpen();
    const native = this.#db.write({ capacity: 1 });
    try {
      native.tryDeleteRange(ALL_KEYS_START, ALL_KEYS_END);
      await native.flush();
    } catch (err) {
      throw storeFailed('clear', this.dir, err);
    } finally {
      native.destroy();
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const iterator of this.#openIterators) iterator.destroy();
      this.#openIterators.clear();
      await this.#db.close();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }
}

/**
 * Opens (creating it if missing) the RocksDB database in `dir`. One process can hold a
 * directory at a time: opening it again before the previous store is closed fails with
 * SAGAFLOW_STORE_LOCKED, retryable because the previous owner is expected to close it
 * (a partition moving between tasks of the same process during a rebalance).
 */
export async function openRocksDbStore(dir: string): Promise<RocksDbStore> {
  await mkdir(dir, { recursive: true });
  const db = new RocksDB(dir, { writeBufferSize: WRITE_BUFFER_BYTES, maxWriteBufferNumber: 2 });
  try {
    await db.ready();
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    if (/\block\b/i.test(detail)) {
      throw new SagaflowError('SAGAFLOW_STORE_LOCKED', {
        message: `the state store directory ${dir} is in use by another open store: ${detail}`,
        retryable: true,
        cause: err,
      });
    }
    throw storeFailed('open', dir, err);
  }
  return new RocksDbStore(dir, db);
}
