/** Plain JSON object: not null, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Flow Manager's default merge of an event payload into saga metadata, without touching either
 * input: each first-level key of the payload replaces the metadata's. (The deep merge,
 * settings.deepMergeMetadata, is lodash's and comes with the compiled definition.)
 *
 * The payload's values are copied; the metadata's other values are shared with the input, not
 * copied: saga documents are values nobody changes once built (the transition builds a new
 * one, hooks run on copies in their sandbox), so a revision can share what it did not change
 * with the revision before, and a transition costs what the event changed, not the size of the
 * metadata. A key `__proto__` is stored as data and never changes a prototype.
 */
export function shallowMergeMetadata(metadata: Record<string, unknown>, payload: Record<string, unknown>): Record<string, unknown> {
  // Spread defines own data properties (a `__proto__` key stays data).
  const result: Record<string, unknown> = { ...metadata };
  for (const key of Object.keys(payload)) define(result, key, cloneJson(payload[key]));
  return result;
}

/** A deep copy of JSON-like data (own enumerable keys; `__proto__` kept as data). */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  if (isPlainObject(value)) return copyObject(value) as T;
  return value;
}

function copyObject(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) define(copy, key, cloneJson(source[key]));
  return copy;
}

/**
 * Sets an own data property. Plain assignment is several times cheaper than defineProperty
 * and equivalent on these objects (own or no such key, no setters), except for `__proto__`,
 * where assignment would change the prototype.
 */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
