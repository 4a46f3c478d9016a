import { SagaflowError } from '../errors.ts';
import { toByteRange } from './key-value-store.ts';
import type { IterateOptions, KeyValueStore, WriteBatch } from './key-value-store.ts';

interface Entry {
  key: string;
  bytes: Buffer;
  value: Buffer;
}

function closedError(): SagaflowError {
  return new SagaflowError('SAGAFLOW_STORE_CLOSED', { message: 'the state store is closed', retryable: false });
}

/**
 * In-memory `KeyValueStore` for unit tests and the topology test driver. Keys are ordered by
 * their UTF-8 bytes like RocksDB (JavaScript's own string order differs for characters
 * beyond the Basic Multilingual Plane). Values are copied in and out, as a real store would.
 */
export class MemoryStore implements KeyValueStore {
  readonly #entries = new Map<string, Entry>();
  /** Entries sorted by key bytes; rebuilt lazily after a key is added or removed. */
  #sorted: Entry[] | undefined = [];
  #closed = false;

  async get(key: string): Promise<Buffer | undefined> {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    return entry === undefined ? undefined : Buffer.from(entry.value);
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    return keys.map((key) => {
      const entry = this.#entries.get(key);
      return entry === undefined ? undefined : Buffer.from(entry.value);
    });
  }

  async write(batch: WriteBatch): Promise<void> {
    this.#assertOpen();
    for (const key of batch.deletes) {
      if (this.#entries.delete(key)) this.#sorted = undefined;
    }
    for (const [key, value] of batch.puts) {
      const existing = this.#entries.get(key);
      if (existing === undefined) {
        this.#entries.set(key, { key, bytes: Buffer.from(key, 'utf8'), value: Buffer.from(value) });
        this.#sorted = undefined;
      } else {
        existing.value = Buffer.from(value);
      }
    }
  }

  async *iterate(options: IterateOptions = {}): AsyncIterableIterator<[string, Buffer]> {
    this.#assertOpen();
    const range = toByteRange(options);
    if (range.empty) return;
    const sorted = this.#sortedEntries();
    const start = range.gte === undefined ? 0 : lowerBound(sorted, range.gte);
    const end = range.lt === undefined ? sorted.length : lowerBound(sorted, range.lt);
    // Snapshot the range now: values are replaced in place by later writes.
    const snapshot = sorted.slice(start, end).map((e): [string, Buffer] => [e.key, e.value]);
    for (const [key, value] of snapshot) {
      this.#assertOpen();
      yield [key, Buffer.from(value)];
    }
  }

  async clear(): Promise<void> {
    this.#assertOpen();
    this.#entries.clear();
    this.#sorted = [];
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #sortedEntries(): Entry[] {
    this.#sorted ??= [...this.#entries.values()].sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    return this.#sorted;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

/** Index of the first entry whose key is >= `bound`. */
function lowerBound(sorted: Entry[], bound: Buffer): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const entry = sorted[mid] as Entry;
    if (Buffer.compare(entry.bytes, bound) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
