import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { compileDefinition } from '../definition/compile.ts';
import type { SagaConfig } from '../definition/types.ts';
import { kafkaLayout } from '../definition/topology.ts';
import { isSagaflowError } from '../errors.ts';
import { buildHttpApp } from '../http/app.ts';
import type { HttpDeps } from '../http/app.ts';
import { createProcessorCodec } from '../kafka/codec-factory.ts';
import { BatchingSender } from '../kafka/batching-sender.ts';
import { Processor } from '../kafka/processor.ts';
import { produceError } from '../kafka/produce-errors.ts';
import { changelogTopicName, deadLetterTopicName, ensureTopics } from '../kafka/topics.ts';
import { PartitionStore } from '../store/partition-store.ts';
import { openRocksDbStore } from '../store/rocksdb-store.ts';
import { kafkaClient } from './kafka-client.ts';
import { kafkaStartError, listenError, stateDirError } from './start-errors.ts';
import { hasPersistency, startProjection } from '../projection/run.ts';
import type { ProjectionHandle } from '../projection/run.ts';
import type { RuntimeEnv } from './env.ts';
import { KafkajsDeadLetterStore } from '../adapters/kafkajs/dead-letters.ts';
import { KafkajsGroupView } from '../adapters/kafkajs/group-view.ts';
import { KafkajsSagaEventLog } from '../adapters/kafkajs/saga-events.ts';

export interface Instance {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly processor: Processor;
  /** The projection into persistencyManagement, when saga.json configures one. */
  readonly projection: ProjectionHandle | undefined;
  readonly applicationId: string;
  readonly topics: { events: string; changelog: string; deadLetter: string; commands: string[] };
  stop(): Promise<void>;
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
  beforeCommit?: (partition: number) => Promise<void> | void;
}): Promise<Instance> {
  const { env, config, logger } = opts;
  const definition = compileDefinition(config);
  const layout = kafkaLayout(config);
  const kafka = kafkaClient(layout.channel, `sagaflow-${layout.applicationId}`, logger);
  const admin: Admin = kafka.admin();
  let producer: Producer | undefined;
  let processor: Processor | undefined;
  let app: FastifyInstance | undefined;
  let projection: ProjectionHandle | undefined;
  let deadLetters: KafkajsDeadLetterStore | undefined;
  const channelPath = `communicationProtocols[${config.communicationProtocols.indexOf(layout.channel)}].configurations`;
  const sasl = layout.channel.configurations.authenticationProperties?.sasl;
  const secrets = [...layout.channel.configurations.brokers, ...(sasl ? [sasl.username, sasl.password] : [])];
  // Checked before connecting anywhere: a state directory that cannot be written fails now.
  const stateDir = join(env.stateDir, layout.applicationId);
  await mkdir(stateDir, { recursive: true }).catch((err: unknown) => {
    throw stateDirError(err, stateDir);
  });
  try {
    await admin.connect().catch((err: unknown) => {
      throw kafkaStartError(err, channelPath, secrets);
    });
    const topics = {
      events: layout.eventsTopic,
      changelog: changelogTopicName(layout.applicationId),
      deadLetter: deadLetterTopicName(layout.applicationId),
      commands: [...new Set(layout.commandTopics.values())],
    };
    const { partitions } = await ensureTopics(admin, topics, {
      defaultPartitions: env.defaultPartitions,
      replicationFactor: env.replicationFactor ?? -1,
    }).catch((err: unknown) => {
      throw isSagaflowError(err) ? err : kafkaStartError(err, channelPath, secrets);
    });
    const codec = await createProcessorCodec(layout.channel, topics);
    deadLetters = new KafkajsDeadLetterStore({
      kafka,
      admin,
      applicationId: layout.applicationId,
      deadLetterTopic: topics.deadLetter,
      eventsTopic: topics.events,
      logger,
      replicationFactor: env.replicationFactor ?? -1,
    });
    let advertised = env.advertisedUrl;
    processor = new Processor({
      applicationId: layout.applicationId,
      eventsTopic: topics.events,
      changelogTopic: topics.changelog,
      deadLetterTopic: topics.deadLetter,
      commandTopics: layout.commandTopics,
      partitions,
      definition,
      codec,
      kafka,
      admin,
      advertisedUrl: () => advertised,
      openStore: async (p) => new PartitionStore(await openRocksDbStore(join(stateDir, `${topics.events}-${p}`))),
      logger,
      ...(opts.beforeCommit ? { beforeCommit: opts.beforeCommit } : {}),
    });
    const ingress = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    producer = ingress;
    await ingress.connect();
    const sender = new BatchingSender(ingress);
    const proc = processor;
    // The projection (persistencyManagement) runs beside the processor; its consumer group
    // is its own, so it never delays sagas. Mongo persistency also gives the read API.
    if (env.projection && hasPersistency(config.persistencyManagement)) {
      projection = startProjection({
        persistency: config.persistencyManagement,
        kafka,
        applicationId: layout.applicationId,
        codec,
        logger: logger.child({ component: 'projection' }),
      });
    }
    app = await buildHttpApp({
      definition,
      machineDefinition: config.machineDefinition,
      sagaIdPrefix: env.sagaIdPrefix,
      ingress: {
        async produce(sagaId, envelope) {
          const value = await codec.encodeEvent(topics.events, envelope);
          try {
            await sender.send(topics.events, { key: sagaId, value });
          } catch (err) {
            const mapped = produceError(err);
            logger.warn({ err, code: mapped.code }, 'event not produced');
            throw mapped;
          }
        },
      },
      queries: proc,
      metrics: () =>
        proc.metrics.toPrometheus({ sagaflow_ready: proc.isReady() ? 1 : 0, ...(projection ? projection.projector.metrics() : {}) }),
      logger,
      ...(projection?.repository ? { repository: projection.repository } : {}),
      ...(env.admin ? { admin: env.admin } : {}),
      deadLetters: { store: deadLetters, decodeEvent: (value) => codec.decodeEvent(topics.events, value) },
      console: {
        applicationId: layout.applicationId,
        selfUrl: () => advertised,
        group: new KafkajsGroupView({ admin, groupId: layout.applicationId, topic: topics.events }),
        events: new KafkajsSagaEventLog({
          kafka,
          admin,
          topic: topics.events,
          partitions,
          groupPrefix: layout.applicationId,
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
    await processor.start();
    logger.info({ url, applicationId: layout.applicationId, partitions, events: topics.events }, 'sagaflow started');
    const httpApp = app;
    const projectionHandle = projection;
    const deadLetterStore = deadLetters;
    return {
      url,
      app: httpApp,
      processor: proc,
      projection: projectionHandle,
      applicationId: layout.applicationId,
      topics,
      async stop() {
        await httpApp.close().catch(() => undefined);
        await proc.stop();
        await projectionHandle?.stop().catch(() => undefined);
        await deadLetterStore.close();
        await ingress.disconnect().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await processor?.stop().catch(() => undefined);
    await projection?.stop().catch(() => undefined);
    await deadLetters?.close();
    await producer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    throw err;
  }
}
