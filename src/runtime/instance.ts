import type { Clock } from '../engine/clock.ts';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createBrokerClient, readMaxMessageBytes } from '../adapters/select.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, RecordProducer, TopicAdmin } from '../broker/ports.ts';
import { compileDefinition } from '../definition/compile.ts';
import type { SagaConfig } from '../definition/types.ts';
import { kafkaLayout } from '../definition/topology.ts';
import { Processor } from '../engine/processor.ts';
import { isSagaflowError } from '../errors.ts';
import { buildHttpApp } from '../http/app.ts';
import type { HttpDeps } from '../http/app.ts';
import { createProcessorCodec } from '../kafka/codec-factory.ts';
import { KafkaDeadLetterStore } from '../kafka/dead-letter-store.ts';
import { KafkaGroupView } from '../kafka/group-view.ts';
import { produceError } from '../kafka/produce-errors.ts';
import { KafkaSagaEventLog } from '../kafka/saga-event-log.ts';
import { changelogTopicName, deadLetterTopicName, ensureTopics, outboxTopicName, recordLimits } from '../kafka/topics.ts';
import { PartitionStore } from '../store/partition-store.ts';
import { openRocksDbStore } from '../store/rocksdb-store.ts';
import { brokerConfigOf } from './broker-config.ts';
import { runCheckUp } from '../http/check-up.ts';
import { dependencyChecks } from './dependency-checks.ts';
import { kafkaStartError, listenError, stateDirError } from './start-errors.ts';
import { Dispatcher } from '../outbox/dispatcher.ts';
import { hasPersistency, startProjection } from '../projection/run.ts';
import type { ProjectionHandle } from '../projection/run.ts';
import type { RuntimeEnv } from './env.ts';

export interface Instance {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly processor: Processor;
  /** The projection into persistencyManagement, when saga.json configures one. */
  readonly projection: ProjectionHandle | undefined;
  /** The outbox dispatcher, when states send commands on rest channels and SAGAFLOW_REST_DISPATCHER is not false. */
  readonly dispatcher: Dispatcher | undefined;
  readonly applicationId: string;
  readonly topics: { events: string; changelog: string; deadLetter: string; commands: string[]; outbox?: string };
  /** Which Kafka client the instance runs on. */
  readonly client: BrokerClient['name'];
  stop(): Promise<void>;
}

/**
 * This instance's id, kept in its state directory: a restarted instance keeps its v2
 * transactional id, so its first InitProducerId fences its own previous incarnation at once
 * instead of leaving that one's open transaction to time out (Kafka Streams keeps its process
 * id in the state directory for the same reason).
 */
async function instanceId(stateDir: string): Promise<string> {
  const file = join(stateDir, 'instance-id');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f-]{36}$/.test(existing)) return existing;
  const id = randomUUID();
  await writeFile(file, `${id}\n`);
  return id;
}

/**
 * Starts one sagaflow instance: topics, processor, ingress producer and HTTP API.
 * Used by `sagaflow start`, the demo and the integration tests.
 */
export async function startInstance(opts: {
  env: RuntimeEnv;
  config: SagaConfig;
  logger: Logger;
  httpExtras?: Partial<HttpDeps>;
  /** Fault injection for tests (see Processor). */
  beforeCommit?: (partitions: number[]) => Promise<void> | void;
  /** The processor's clock, which timers fire by: tests step it to run timers in virtual time. */
  clock?: Clock;
}): Promise<Instance> {
  const { env, config, logger } = opts;
  const definition = await compileDefinition(config);
  const layout = kafkaLayout(config, env.engineKafka);
  const brokerConfig = brokerConfigOf(layout.channel, `sagaflow-${layout.applicationId}`, logger, env.librdkafkaDebug);
  let client: BrokerClient | undefined;
  let admin: TopicAdmin | undefined;
  let producer: RecordProducer | undefined;
  let processor: Processor | undefined;
  let app: FastifyInstance | undefined;
  let projection: ProjectionHandle | undefined;
  let dispatcher: Dispatcher | undefined;
  let deadLetters: KafkaDeadLetterStore | undefined;
  const channelPath = layout.channelPath;
  const sasl = layout.channel.configurations.authenticationProperties?.sasl;
  const secrets = [...layout.channel.configurations.brokers, ...(sasl ? [sasl.username, sasl.password] : [])];
  // Checked before connecting anywhere: a state directory that cannot be written fails now.
  const stateDir = join(env.stateDir, layout.applicationId);
  await mkdir(stateDir, { recursive: true }).catch((err: unknown) => {
    throw stateDirError(err, stateDir);
  });
  const id = await instanceId(stateDir).catch((err: unknown) => {
    throw stateDirError(err, stateDir);
  });
  try {
    client = await createBrokerClient(env.kafkaClient, brokerConfig);
    const kafka = client;
    admin = await kafka.admin().catch((err: unknown) => {
      throw kafkaStartError(err, channelPath, secrets);
    });
    const topics = {
      events: layout.eventsTopic,
      otherInputs: layout.otherInputTopics,
      changelog: changelogTopicName(layout.applicationId),
      deadLetter: deadLetterTopicName(layout.applicationId),
      commands: [...new Set(layout.commandTopics.values())],
      ...(layout.restChannels.size > 0 ? { outbox: outboxTopicName(layout.applicationId) } : {}),
    };
    const { partitions, counts } = await ensureTopics(admin, topics, {
      defaultPartitions: env.defaultPartitions,
      replicationFactor: env.replicationFactor,
    }).catch((err: unknown) => {
      throw isSagaflowError(err) ? err : kafkaStartError(err, channelPath, secrets);
    });
    const codec = await createProcessorCodec(layout.channel, topics);
    const kafkaAdmin = admin;
    const countOf = (topic: string) => counts.get(topic) ?? partitions;
    // The console reads Kafka through the client the engine runs on.
    deadLetters = new KafkaDeadLetterStore({
      client: kafka,
      admin,
      applicationId: layout.applicationId,
      deadLetterTopic: topics.deadLetter,
      eventsTopic: topics.events,
      logger,
      ...(env.replicationFactor === undefined ? {} : { replicationFactor: env.replicationFactor }),
    });
    // Dead letters are cut to what their topic takes, and events too large for the events topic
    // are not forwarded there; without DescribeConfigs (an ACL) only the producer's cap is known.
    const limited = [topics.events, topics.deadLetter];
    const topicMaxBytes = await readMaxMessageBytes(kafkaAdmin, brokerConfig, limited).catch((err: unknown) => {
      logger.warn({ err, topics: limited }, 'the topics\' max.message.bytes cannot be read; dead letters are cut to the producer\'s limit only');
      return new Map<string, number>();
    });
    const limits = recordLimits(limited, topicMaxBytes ?? new Map(), kafka.maxRecordBytes);
    let advertised = env.advertisedUrl;
    processor = new Processor({
      applicationId: layout.applicationId,
      eventsTopic: topics.events,
      coPartitioned: layout.otherInputTopics.map((t) => t.topic),
      changelogTopic: topics.changelog,
      deadLetterTopic: { topic: topics.deadLetter, partitions: countOf(topics.deadLetter) },
      commandTopics: new Map([...layout.commandTopics].map(([channel, topic]) => [channel, { topic, partitions: countOf(topic) }])),
      ...(topics.outbox ? { outbox: { topic: topics.outbox, channels: new Set(layout.restChannels.keys()) } } : {}),
      partitions,
      definition,
      codec,
      client: kafka,
      admin,
      advertisedUrl: () => advertised,
      instanceId: id,
      openStore: async (p) => new PartitionStore(await openRocksDbStore(join(stateDir, `${topics.events}-${p}`))),
      logger,
      ...(env.commitIntervalMs === undefined ? {} : { commitIntervalMs: env.commitIntervalMs }),
      sessionTimeoutMs: env.sessionTimeoutMs,
      ...(opts.beforeCommit ? { beforeCommit: opts.beforeCommit } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      recordLimits: limits,
    });
    const ingress = await kafka.producer().catch((err: unknown) => {
      throw kafkaStartError(err, channelPath, secrets);
    });
    producer = ingress;
    const proc = processor;
    // The projection (persistencyManagement) runs beside the processor; its consumer group
    // is its own, so it never delays sagas. Mongo persistency also gives the read API.
    if (env.projection && hasPersistency(config.persistencyManagement)) {
      projection = startProjection({
        persistency: config.persistencyManagement,
        client: kafka,
        applicationId: layout.applicationId,
        codec,
        logger: logger.child({ component: 'projection' }),
      });
    }
    if (topics.outbox && env.rest.dispatcher) {
      dispatcher = new Dispatcher({
        client: kafka,
        applicationId: layout.applicationId,
        outboxTopic: topics.outbox,
        eventsTopic: topics.events,
        deadLetterTopic: { topic: topics.deadLetter, partitions: countOf(topics.deadLetter) },
        ...(limits.has(topics.deadLetter) ? { deadLetterMaxBytes: limits.get(topics.deadLetter) } : {}),
        channels: layout.restChannels,
        codec,
        producer: ingress,
        logger,
        concurrency: env.rest.concurrency,
        timeoutMs: env.rest.timeoutMs,
        retryForMs: env.rest.retryForMs,
      });
    }
    const outbox = dispatcher;
    app = await buildHttpApp({
      definition,
      instanceId: id,
      machineDefinition: config.machineDefinition,
      sagaIdPrefix: env.sagaIdPrefix,
      ingress: {
        async produce(sagaId, envelope) {
          const value = await codec.encodeEvent(topics.events, envelope);
          try {
            await ingress.send([{ topic: topics.events, partition: partitionForKey(sagaId, partitions), key: sagaId, value }]);
          } catch (err) {
            const mapped = produceError(err);
            logger.warn({ err, code: mapped.code }, 'event not produced');
            throw mapped;
          }
        },
      },
      queries: proc,
      metrics: async () =>
        (await proc.metrics.toPrometheus({ sagaflow_ready: proc.isReady() ? 1 : 0, ...(projection ? projection.projector.metrics() : {}) })) + (outbox ? await outbox.prometheus() : ''),
      checkUp: () => runCheckUp(dependencyChecks({ admin: kafkaAdmin, eventsTopic: topics.events, channel: layout.channel, persistency: config.persistencyManagement, projection })),
      logger,
      ...(projection?.repository ? { repository: projection.repository } : {}),
      ...(env.admin ? { admin: env.admin } : {}),
      deadLetters: { store: deadLetters, decodeEvent: (value) => codec.decodeEvent(topics.events, value) },
      console: {
        applicationId: layout.applicationId,
        selfUrl: () => advertised,
        group: new KafkaGroupView({ admin, owners: () => proc.partitionOwners(), groupId: layout.applicationId, topic: topics.events }),
        events: new KafkaSagaEventLog({
          admin,
          reader: kafka.changelogReader(),
          topic: topics.events,
          partitions,
          decode: (value) => codec.decodeEvent(topics.events, value),
        }),
        counters: () => ({
          events: proc.metrics.eventsProcessed,
          commands: proc.metrics.commandsSent,
          deadLetters: proc.metrics.deadLettered,
          transactions: proc.metrics.transactions,
        }),
      },
      ...opts.httpExtras,
    });
    await app.listen({ host: env.httpHost, port: env.httpPort }).catch((err: unknown) => {
      throw listenError(err, env.httpHost, env.httpPort);
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : env.httpPort;
    // With HTTP_PORT=0 (tests) the port is known only now; advertise the real one.
    const url = env.httpPort === 0 ? env.advertisedUrl.replace(/:\d+$/, `:${port}`) : env.advertisedUrl;
    advertised = url;
    await processor.start().catch((err: unknown) => {
      throw isSagaflowError(err) ? err : kafkaStartError(err, channelPath, secrets);
    });
    if (outbox) {
      // A consumer of the outbox that stops for good stops the instance, as the processor's does.
      outbox.onFatal = (err) => proc.fatal?.(err);
      await outbox.start().catch((err: unknown) => {
        throw isSagaflowError(err) ? err : kafkaStartError(err, channelPath, secrets);
      });
    }
    logger.info({ url, applicationId: layout.applicationId, partitions, events: topics.events, client: kafka.name }, 'sagaflow started');
    const httpApp = app;
    const projectionHandle = projection;
    const topicAdmin = admin;
    const deadLetterStore = deadLetters;
    return {
      url,
      app: httpApp,
      processor: proc,
      projection: projectionHandle,
      dispatcher: outbox,
      applicationId: layout.applicationId,
      topics,
      client: kafka.name,
      async stop() {
        await httpApp.close().catch(() => undefined);
        // The dispatcher waits for its requests in flight meanwhile; it writes failure reports with the ingress producer.
        await Promise.all([proc.stop(), outbox?.stop()]);
        await projectionHandle?.stop().catch(() => undefined);
        await deadLetterStore.close();
        await ingress.close().catch(() => undefined);
        await topicAdmin.close().catch(() => undefined);
        await kafka.close().catch(() => undefined);
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await processor?.stop().catch(() => undefined);
    await dispatcher?.stop().catch(() => undefined);
    await projection?.stop().catch(() => undefined);
    await deadLetters?.close();
    await producer?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    throw err;
  }
}
