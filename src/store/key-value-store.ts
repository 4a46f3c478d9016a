/** Changes applied by `KeyValueStore.write`, all or nothing. */
export interface WriteBatch {
  puts: [key: string, value: Buffer][];
  deletes: string[];
}

/**
 * Bounds of `KeyValueStore.iterate`. All given bounds apply together: a key is yielded when it
 * is >= `gte`, < `lt` and starts with `prefix`.
 */
export interface IterateOptions {
  gte?: string;
  lt?: string;
  prefix?: string;
}

/**
 * The key-value port the state store is built on. Keys are strings, compared as their UTF-8
 * bytes (RocksDB's default bytewise order); values are opaque bytes.
 *
 * Contract, checked by the conformance suite in test/unit/store/conformance.ts:
 * - `write` is atomic: after a crash either every change of the batch is visible or none is.
 *   Deletes of a batch are applied before its puts, so a key in both ends up put.
 * - Once `write` resolves, `get` and `iterate` see its changes (read-your-writes).
 * - `iterate` yields in ascending key order and reads a snapshot taken when iteration starts
 *   (on the first `next()`); writes made while iterating are not seen.
 * - `clear` removes every key atomically.
 * - After `close` resolves every call rejects with SAGAFLOW_STORE_CLOSED; `close` is idempotent
 *   and ends iterations still open.
 */
export interface KeyValueStore {
  get(key: string): Promise<Buffer | undefined>;
  /** `get` of several keys at once (one native call for RocksDB), values in `keys` order. */
  getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]>;
  write(batch: WriteBatch): Promise<void>;
  iterate(options?: IterateOptions): AsyncIterableIterator<[key: string, value: Buffer]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Byte-level bounds, both optional: lower is inclusive, upper exclusive. */
export interface ByteRange {
  gte: Buffer | undefined;
  lt: Buffer | undefined;
  /** True when the bounds admit no key at all. */
  empty: boolean;
}

/**
 * The smallest byte string greater than every string starting with `prefix`, or undefined
 * when there is none (a prefix of only 0xff bytes, which UTF-8 keys never contain).
 */
export function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end -= 1;
  if (end === 0) return undefined;
  const bound = Buffer.from(prefix.subarray(0, end));
  bound[end - 1] = (bound[end - 1] ?? 0) + 1;
  return bound;
}

/** Folds `gte`, `lt` and `prefix` into one byte range, shared by every adapter. */
export function toByteRange(options: IterateOptions = {}): ByteRange {
  let gte: Buffer | undefined = options.gte === undefined ? undefined : Buffer.from(options.gte, 'utf8');
  let lt: Buffer | undefined = options.lt === undefined ? undefined : Buffer.from(options.lt, 'utf8');
  if (options.prefix !== undefined && options.prefix !== '') {
    const prefix = Buffer.from(options.prefix, 'utf8');
    if (gte === undefined || Buffer.compare(prefix, gte) > 0) gte = prefix;
    const upper = prefixUpperBound(prefix);
    if (upper !== undefined && (lt === undefined || Buffer.compare(upper, lt) < 0)) lt = upper;
  }
  const empty = lt !== undefined && (lt.length === 0 || (gte !== undefined && Buffer.compare(gte, lt) >= 0));
  return { gte, lt, empty };
}
