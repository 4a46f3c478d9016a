// A projector in its own process, for the kill test: it projects a changelog into MongoDB
// and, after its Nth sink write and before committing it, prints "written N" and hangs
// until the parent kills it with SIGKILL. Configuration comes from the environment.
import { createBrokerClient } from '../../../src/adapters/select.ts';
import type { ClientName } from '../../../src/broker/ports.ts';
import { DEFAULT_KAFKA_CLIENT } from '../../../src/runtime/env.ts';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import type { KafkaProtocol } from '../../../src/definition/types.ts';
import { createProcessorCodec } from '../../../src/kafka/codec-factory.ts';
import { MongoSagaSink } from '../../../src/projection/mongo-sink.ts';
import { Projector } from '../../../src/projection/projector.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`kill-child: ${name} is not set`);
  return value;
}
const env = Object.fromEntries(
  ['KAFKA_BROKERS', 'MONGODB_URL', 'DB', 'COLLECTION', 'TOPIC', 'GROUP', 'CHUNK_SIZE', 'HANG_AFTER'].map((name) => [name, required(name)]),
) as Record<'KAFKA_BROKERS' | 'MONGODB_URL' | 'DB' | 'COLLECTION' | 'TOPIC' | 'GROUP' | 'CHUNK_SIZE' | 'HANG_AFTER', string>;
const brokers = env.KAFKA_BROKERS.split(',');
let writes = 0;
const channel: KafkaProtocol = { id: 'kafka', type: 'kafka', configurations: { brokers, serialization: 'json' } };
const client = new MongoClient(env.MONGODB_URL);
const projector = new Projector({
  client: await createBrokerClient((process.env.SAGAFLOW_KAFKA_CLIENT as ClientName | undefined) ?? DEFAULT_KAFKA_CLIENT, { brokers, clientId: 'kill-child', logger: pino({ level: 'silent' }) }),
  applicationId: 'kill-child',
  changelogTopic: env.TOPIC,
  groupId: env.GROUP,
  codec: await createProcessorCodec(channel, { events: '', changelog: '', deadLetter: '', commands: [] }),
  sink: new MongoSagaSink(client.db(env.DB).collection<SagaDocument>(env.COLLECTION), { client }),
  logger: pino({ level: 'silent' }),
  chunkSize: Number(env.CHUNK_SIZE),
  sessionTimeout: 6_000,
  lagIntervalMs: 0,
  afterWrite: async () => {
    writes += 1;
    if (writes < Number(env.HANG_AFTER)) return;
    process.stdout.write(`written ${writes}\n`);
    await new Promise(() => undefined);
  },
});
await projector.start();
