import { MongoClient } from 'mongodb';
import type { Collection, Db, Document } from 'mongodb';
import type { SagaDocument } from '../../src/saga/types.ts';
import { registerCleanup } from './cleanup.ts';
import { uniqueName } from './names.ts';
import { services } from './services.ts';

let shared: Promise<MongoClient> | undefined;

/** One MongoDB client per test file, closed after every cleanup that uses it. */
export function mongoClient(): Promise<MongoClient> {
  shared ??= (async () => {
    const client = new MongoClient(services().mongodbUrl, { serverSelectionTimeoutMS: 10_000 });
    registerCleanup(async () => {
      shared = undefined;
      await client.close();
    });
    await client.connect();
    return client;
  })();
  return shared;
}

/** The tests' database. */
export async function testDb(): Promise<Db> {
  return (await mongoClient()).db('sagaflow_test');
}

/**
 * A saga.json `persistencyManagement` of type mongo writing to a unique collection of the
 * tests' database (dropped after the test file), and that collection to read what was projected.
 */
export async function mongoPersistency(prefix = 'sagas'): Promise<{
  persistency: { type: 'mongo'; configurations: { connectionUri: string; collectionName: string } };
  collection: Collection<SagaDocument>;
}> {
  const collection = await mongoCollection<SagaDocument>(prefix);
  const uri = new URL(services().mongodbUrl);
  // The projection writes to the database named in the URI path.
  uri.pathname = `/${collection.dbName}`;
  return { persistency: { type: 'mongo', configurations: { connectionUri: uri.toString(), collectionName: collection.collectionName } }, collection };
}

/** A collection with a unique name, dropped after the test file. */
export async function mongoCollection<T extends Document = Document>(prefix = 'coll'): Promise<Collection<T>> {
  const db = await testDb();
  const name = uniqueName(prefix).replaceAll('-', '_');
  registerCleanup(async () => {
    await db.collection(name).drop().catch(() => undefined);
  });
  return db.collection<T>(name);
}
