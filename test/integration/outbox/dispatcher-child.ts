// An outbox dispatcher in its own process, for the kill test: it delivers an application's
// outbox to one rest channel and prints "started" once it has joined its group. The parent
// kills it with SIGKILL while requests are in flight. Configuration comes from the environment.
import pino from 'pino';
import { createBrokerClient } from '../../../src/adapters/select.ts';
import type { ClientName } from '../../../src/broker/ports.ts';
import { Dispatcher } from '../../../src/outbox/dispatcher.ts';
import { DEFAULT_KAFKA_CLIENT } from '../../../src/runtime/env.ts';
import { silenceKnownKafkajsWarnings } from '../../../src/runtime/warnings.ts';

silenceKnownKafkajsWarnings();

const names = ['KAFKA_BROKERS', 'APPLICATION_ID', 'CHANNEL', 'PORT', 'PARTITIONS'] as const;
const env = Object.fromEntries(
  names.map((name) => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`dispatcher-child: ${name} is not set`);
    return [name, value];
  }),
) as Record<(typeof names)[number], string>;
const logger = pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'silent' });
const client = await createBrokerClient((process.env.SAGAFLOW_KAFKA_CLIENT as ClientName | undefined) ?? DEFAULT_KAFKA_CLIENT, {
  brokers: env.KAFKA_BROKERS.split(','),
  clientId: 'dispatcher-child',
  logger,
});
const app = env.APPLICATION_ID;
const dispatcher = new Dispatcher({
  client,
  applicationId: app,
  outboxTopic: `${app}-outbox`,
  eventsTopic: `${app}-events`,
  deadLetterTopic: { topic: `${app}-dead-letter`, partitions: Number(env.PARTITIONS) },
  channels: new Map([[env.CHANNEL, { id: env.CHANNEL, type: 'rest', configurations: { endpoint: '127.0.0.1', port: Number(env.PORT), path: '/validate' } }]]),
  codec: { encodeEvent: async (_topic, envelope) => Buffer.from(JSON.stringify(envelope)) },
  producer: await client.producer(),
  logger,
  concurrency: 4,
  sessionTimeoutMs: 6_000,
});
await dispatcher.start();
process.stdout.write('started\n');
