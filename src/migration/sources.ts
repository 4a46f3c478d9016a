import { MongoClient } from 'mongodb';
import type { PersistencyManagement } from '../definition/types.ts';
import { SagaflowError } from '../errors.ts';
import { backoffDelay, sleep } from '../projection/backoff.ts';

/** A document as a Flow Manager store returned it, and the sagaId it was asked for (REST). */
export interface SourceDocument {
  raw: unknown;
  /** Set when the store was asked for one saga and answered that it has none. */
  missing?: string;
}

/** Where Flow Manager kept its sagas: its persistencyManagement, read side. */
export interface SagaSource {
  /** `mongo`, `crud` or `rest`. */
  readonly kind: string;
  /** How many documents `read` will yield, when the store can tell. */
  total(): Promise<number | undefined>;
  read(): AsyncIterable<SourceDocument>;
  close(): Promise<void>;
}

const PAGE = 200;

function sourceError(what: string, err: unknown): SagaflowError {
  return new SagaflowError('SAGAFLOW_IMPORT_SOURCE_FAILED', {
    message: `the Flow Manager store could not be read: ${what}: ${(err as Error).message ?? String(err)}`,
    retryable: true,
    cause: err,
  });
}

/**
 * Flow Manager's `mongo` persistency: the collection of `connectionUri`'s database, in `_id`
 * order (insertion order for ObjectIds), or only the given sagaIds.
 */
export function mongoSource(config: { connectionUri: string; collectionName: string }, ids: readonly string[] | undefined): SagaSource {
  const client = new MongoClient(config.connectionUri, { serverSelectionTimeoutMS: 10_000, retryWrites: false });
  const collection = client.db().collection(config.collectionName);
  const filter = ids ? { sagaId: { $in: [...ids] } } : {};
  return {
    kind: 'mongo',
    async total() {
      try {
        return await collection.countDocuments(filter);
      } catch (err) {
        throw sourceError(`counting collection "${config.collectionName}"`, err);
      }
    },
    async *read() {
      const cursor = collection.find(filter, { sort: { _id: 1 }, projection: { _id: 0 }, batchSize: PAGE });
      try {
        for (;;) {
          let doc;
          try {
            doc = await cursor.next();
          } catch (err) {
            throw sourceError(`reading collection "${config.collectionName}"`, err);
          }
          if (doc === null) return;
          yield { raw: doc };
        }
      } finally {
        await cursor.close().catch(() => undefined);
      }
    },
    close: () => client.close(),
  };
}

/** GET returning JSON, retried on network failures and 5xx, 404 as undefined. */
async function getJson(url: string, headers: Record<string, string>, what: string, fetchImpl: typeof fetch): Promise<unknown> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 4; attempt += 1) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, { initialMs: 200, maxMs: 2_000, factor: 2 }));
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      lastError = err;
      continue;
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      lastError = new Error(`${what} answered ${res.status}`);
      await res.body?.cancel().catch(() => undefined);
      continue;
    }
    if (res.status < 200 || res.status >= 300) throw sourceError(what, new Error(`answered ${res.status}: ${(await res.text()).slice(0, 200)}`));
    try {
      return await res.json();
    } catch (err) {
      throw sourceError(what, new Error(`answered something that is not JSON (${(err as Error).message})`));
    }
  }
  throw sourceError(what, lastError);
}

/**
 * Flow Manager's `crud` persistency, through the CRUD service's REST API: `GET /<collection>/count`,
 * then pages of `GET /<collection>/?_l=&_sk=&_s=_id` (or `?sagaId=` for each given sagaId).
 * Defaults as Flow Manager's: http, host crud-service, port 80.
 */
export function crudSource(config: Extract<PersistencyManagement, { type: 'crud' }>['configurations'], ids: readonly string[] | undefined, fetchImpl: typeof fetch = fetch): SagaSource {
  const base = `${config.protocol ?? 'http'}://${config.host || 'crud-service'}:${config.port ?? 80}/${config.collectionName.replace(/^\/+|\/+$/g, '')}`;
  const headers = config.headers ?? {};
  return {
    kind: 'crud',
    async total() {
      if (ids) return ids.length;
      const n = await getJson(`${base}/count`, headers, 'the CRUD service (count)', fetchImpl);
      return typeof n === 'number' ? n : undefined;
    },
    async *read() {
      if (ids) {
        for (const id of ids) {
          const found = await getJson(`${base}/?sagaId=${encodeURIComponent(id)}`, headers, 'the CRUD service', fetchImpl);
          const doc = Array.isArray(found) ? found[0] : undefined;
          yield doc === undefined ? { raw: undefined, missing: id } : { raw: doc };
        }
        return;
      }
      for (let skip = 0; ; skip += PAGE) {
        const page = await getJson(`${base}/?_l=${PAGE}&_sk=${skip}&_s=_id`, headers, 'the CRUD service', fetchImpl);
        if (!Array.isArray(page)) throw sourceError('the CRUD service', new Error('the list route did not answer an array'));
        for (const doc of page) yield { raw: doc };
        if (page.length < PAGE) return;
      }
    },
    close: async () => undefined,
  };
}

/**
 * Flow Manager's `rest` persistency: `GET <protocol>://<endpoint>:<port><path>/<sagaId>` per
 * saga. Flow Manager defines no listing route for it, so the sagaIds must be given; the
 * answer may omit `sagaId` (Flow Manager's contract lists currentState, metadata, history).
 */
export function restSource(config: Extract<PersistencyManagement, { type: 'rest' }>['configurations'], ids: readonly string[], fetchImpl: typeof fetch = fetch): SagaSource {
  const port = config.port === undefined ? '' : `:${config.port}`;
  const path = (config.path ?? '/').replace(/^\/+|\/+$/g, '');
  const base = `${config.protocol ?? 'http'}://${config.endpoint}${port}${path ? `/${path}` : ''}`;
  return {
    kind: 'rest',
    total: async () => ids.length,
    async *read() {
      for (const id of ids) {
        const doc = await getJson(`${base}/${encodeURIComponent(id)}`, config.headers ?? {}, 'the REST persistency', fetchImpl);
        if (doc === undefined) yield { raw: undefined, missing: id };
        else yield { raw: typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? { sagaId: id, ...doc } : doc };
      }
    },
    close: async () => undefined,
  };
}

/** The source for a saga.json's persistencyManagement. */
export function sourceFor(persistency: PersistencyManagement, ids: readonly string[] | undefined, fetchImpl: typeof fetch = fetch): SagaSource {
  if (!('type' in persistency)) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', { message: 'persistencyManagement: no type; import reads the Flow Manager store it names (mongo, crud or rest)', path: 'persistencyManagement' });
  }
  switch (persistency.type) {
    case 'mongo':
      return mongoSource(persistency.configurations, ids);
    case 'crud':
      return crudSource(persistency.configurations, ids, fetchImpl);
    case 'rest':
      if (!ids) {
        throw new SagaflowError('SAGAFLOW_CLI_USAGE', {
          message: 'persistencyManagement is rest: Flow Manager defines no route that lists sagas there, so pass the sagaIds with --ids <file> (one per line); run `sagaflow import --help`',
        });
      }
      return restSource(persistency.configurations, ids, fetchImpl);
  }
  throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', { message: `persistencyManagement.type: "${(persistency as { type: string }).type}" is not one of mongo, crud, rest`, path: 'persistencyManagement.type' });
}
