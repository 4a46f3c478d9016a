import { SagaflowError } from '../errors.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { KeyValueStore, WriteBatch } from './key-value-store.ts';

/**
 * Version of the on-disk layout (key names + value encoding), stored inside the marker.
 *
 * To change the value encoding (say JSON to Avro or MessagePack): replace `encodeSaga` /
 * `decodeSaga` and bump this number. A store written with another version then has no
 * valid marker, so the task wipes it and restores it from the changelog, which stays the
 * source of truth. No migration code is needed, at the price of one full restore per
 * partition after the upgrade.
 */
export const STORE_FORMAT = 1;

const SAGA_PREFIX = 's:';
/** `m:` cannot collide with `s:<sagaId>` whatever the sagaId. */
const MARKER_KEY = 'm:changelog-offset';
/**
 * `t:<due time, ms, 15 digits>:<sagaId>`: the timer index, ordered by due time, so the next due
 * timers are found without scanning the documents. Entries are hints: written with every
 * document that has timers, removed when the timer fires or when a hint is found whose
 * document no longer waits on anything due then.
 */
const TIMER_PREFIX = 't:';
const DUE_DIGITS = 15;

function timerKey(dueMs: number, sagaId: string): string {
  return `${TIMER_PREFIX}${String(Math.max(0, Math.floor(dueMs))).padStart(DUE_DIGITS, '0')}:${sagaId}`;
}

/** A hint of the timer index: a saga with a timer due at `dueMs`. */
export interface TimerHint {
  key: string;
  dueMs: number;
  sagaId: string;
}

function hintsOf(saga: SagaDocument): string[] {
  return [...new Set((saga.timers ?? []).map((t) => timerKey(Date.parse(t.dueAt), saga.sagaId)))];
}

interface MarkerValue {
  format: number;
  offset: string;
}

const EMPTY = Buffer.alloc(0);

function sagaKey(sagaId: string): string {
  return SAGA_PREFIX + sagaId;
}

function encodeSaga(saga: SagaDocument): Buffer {
  return Buffer.from(JSON.stringify(saga), 'utf8');
}

function decodeSaga(sagaId: string, value: Buffer): SagaDocument {
  try {
    return JSON.parse(value.toString('utf8')) as SagaDocument;
  } catch (err) {
    throw new SagaflowError('SAGAFLOW_STORE_CORRUPT', {
      message: `the state store holds an unreadable document for saga ${sagaId}; wipe the store and restore it from the changelog`,
      retryable: false,
      cause: err,
    });
  }
}

function encodeMarker(offset: bigint): Buffer {
  const marker: MarkerValue = { format: STORE_FORMAT, offset: offset.toString() };
  return Buffer.from(JSON.stringify(marker), 'utf8');
}

function decodeMarker(value: Buffer): bigint | undefined {
  try {
    const marker = JSON.parse(value.toString('utf8')) as Partial<MarkerValue> | null;
    if (marker?.format !== STORE_FORMAT || typeof marker.offset !== 'string') return undefined;
    return BigInt(marker.offset);
  } catch {
    return undefined;
  }
}

/** A changelog record as restore reads it: key = sagaId, value null = tombstone. */
export interface RestoredRecord {
  key: string;
  value: SagaDocument | null;
  /** The record's bytes when they are the document as the store keeps it (JSON changelog): stored as they are. */
  json?: Buffer;
}

/**
 * The stored bytes of a committed document when the caller has them already (the changelog
 * value of a JSON changelog is exactly the document's JSON text): undefined, and the store
 * encodes it. The bytes must be `JSON.stringify(saga)` of that very document.
 */
export type EncodedSagas = (saga: SagaDocument) => Buffer | null | undefined;

/**
 * The state of one owned input partition, over a `KeyValueStore` of its own.
 *
 * It only ever holds committed data (architecture notes, "State store"): the processor keeps
 * a transaction's changes in a `TransactionOverlay` and calls `applyCommitted` after the
 * Kafka transaction committed, writing the documents and the changelog offset marker in one
 * atomic batch. The marker therefore always names the changelog position the data reflects,
 * like Kafka Streams' checkpoint file but without the window between data and checkpoint.
 *
 * Layout: `s:<sagaId>` = the saga document (JSON), `m:changelog-offset` = the marker,
 * `t:<due ms>:<sagaId>` = the timer index (empty values).
 */
export class PartitionStore {
  readonly #kv: KeyValueStore;

  constructor(kv: KeyValueStore) {
    this.#kv = kv;
  }

  async getSaga(sagaId: string): Promise<SagaDocument | undefined> {
    const value = await this.#kv.get(sagaKey(sagaId));
    return value === undefined ? undefined : decodeSaga(sagaId, value);
  }

  /** The committed documents of `sagaIds` that exist, read in one go. */
  async getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>> {
    const values = await this.#kv.getMany(sagaIds.map(sagaKey));
    const found = new Map<string, SagaDocument>();
    sagaIds.forEach((sagaId, i) => {
      const value = values[i];
      if (value !== undefined) found.set(sagaId, decodeSaga(sagaId, value));
    });
    return found;
  }

  /**
   * Offset of the last changelog record the store reflects, or undefined when the store has
   * no marker or one written in another `STORE_FORMAT` (either way: wipe and restore).
   */
  async readChangelogMarker(): Promise<bigint | undefined> {
    const value = await this.#kv.get(MARKER_KEY);
    return value === undefined ? undefined : decodeMarker(value);
  }

  /**
   * Writes the documents of a committed transaction and `changelogOffset` (offset of the last
   * changelog record that transaction wrote) in one atomic batch. Call only after
   * `transaction.commit()` resolved.
   */
  async applyCommitted(sagas: Iterable<SagaDocument>, changelogOffset: bigint, firedHints: readonly string[] = [], encoded?: EncodedSagas): Promise<void> {
    const batch: WriteBatch = { puts: [], deletes: [...firedHints] };
    for (const saga of sagas) {
      batch.puts.push([sagaKey(saga.sagaId), encoded?.(saga) ?? encodeSaga(saga)]);
      for (const hint of hintsOf(saga)) batch.puts.push([hint, EMPTY]);
    }
    batch.puts.push([MARKER_KEY, encodeMarker(changelogOffset)]);
    await this.#kv.write(batch);
  }

  /** Hints of the timer index due before `beforeMs` (exclusive), soonest first, at most `limit`. */
  async dueTimers(beforeMs: number, limit: number): Promise<TimerHint[]> {
    const out: TimerHint[] = [];
    for await (const [key] of this.#kv.iterate({ prefix: TIMER_PREFIX, lt: timerKey(beforeMs, '') })) {
      const due = key.slice(TIMER_PREFIX.length, TIMER_PREFIX.length + DUE_DIGITS);
      out.push({ key, dueMs: Number(due), sagaId: key.slice(TIMER_PREFIX.length + DUE_DIGITS + 1) });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Due time of the soonest hint of the timer index, undefined when it is empty. */
  async nextTimerDueMs(): Promise<number | undefined> {
    for await (const [key] of this.#kv.iterate({ prefix: TIMER_PREFIX })) return Number(key.slice(TIMER_PREFIX.length, TIMER_PREFIX.length + DUE_DIGITS));
    return undefined;
  }

  /** Removes hints whose committed document waits on nothing due then (stale: derived data only). */
  async dropTimerHints(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#kv.write({ puts: [], deletes: [...keys] });
  }

  /**
   * Applies records read from the changelog, in changelog order, with `lastOffset` (offset of
   * the last record read) as the new marker, in one atomic batch. A null value is a tombstone.
   * Within the batch the last record of a key wins, as compaction would decide.
   */
  async applyRestored(records: readonly RestoredRecord[], lastOffset: bigint): Promise<void> {
    const latest = new Map<string, RestoredRecord>();
    for (const record of records) {
      latest.delete(record.key);
      latest.set(record.key, record);
    }
    const batch: WriteBatch = { puts: [], deletes: [] };
    for (const [sagaId, { value: saga, json }] of latest) {
      if (saga === null) batch.deletes.push(sagaKey(sagaId));
      else {
        batch.puts.push([sagaKey(sagaId), json ?? encodeSaga(saga)]);
        for (const hint of hintsOf(saga)) batch.puts.push([hint, EMPTY]);
      }
    }
    batch.puts.push([MARKER_KEY, encodeMarker(lastOffset)]);
    await this.#kv.write(batch);
  }

  /** Removes every document and the marker, atomically. */
  async wipe(): Promise<void> {
    await this.#kv.clear();
  }

  /** Every saga document, in key order. For tests, tooling and full scans. */
  async *sagas(): AsyncIterableIterator<SagaDocument> {
    for await (const [key, value] of this.#kv.iterate({ prefix: SAGA_PREFIX })) {
      yield decodeSaga(key.slice(SAGA_PREFIX.length), value);
    }
  }

  async close(): Promise<void> {
    await this.#kv.close();
  }
}
