import pino from 'pino';
import type { Logger } from 'pino';
import { loadSagaConfigFile } from '../definition/load.ts';
import type { KafkaProtocol, PersistencyManagement, SagaConfig } from '../definition/types.ts';
import { SagaflowError, isSagaflowError } from '../errors.ts';
import { createProcessorCodec } from '../kafka/codec-factory.ts';
import type { ProcessorCodec } from '../kafka/codec.ts';
import { changelogTopicName, deadLetterTopicName } from '../kafka/topics.ts';
import { readRuntimeEnv } from '../runtime/env.ts';
import { createBrokerClient } from '../adapters/select.ts';
import type { BrokerClient } from '../broker/ports.ts';
import { brokerConfigOf } from '../runtime/broker-config.ts';
import { crudSagaSink, restSagaSink } from './http-sink.ts';
import type { HttpSinkOptions } from './http-sink.ts';
import { openSagaCollection } from './mongo.ts';
import { MongoSagaRepository } from './mongo-repository.ts';
import { MongoSagaSink } from './mongo-sink.ts';
import { Projector } from './projector.ts';
import type { ProjectorOptions } from './projector.ts';
import type { SagaRepository } from './repository.ts';
import type { SagaSink } from './sink.ts';

export interface ProjectionTarget {
  sink: SagaSink;
  /** The read side (GET /sagas, GET /saga fallback): only MongoDB persistency has one. */
  repository?: SagaRepository;
  /** Closes the sink and the repository (one shared MongoDB client). */
  close(): Promise<void>;
}

/** Whether saga.json asks for a projection at all (`persistencyManagement: {}` does not). */
export function hasPersistency(persistency: PersistencyManagement | undefined): boolean {
  return persistency !== undefined && 'type' in persistency && typeof persistency.type === 'string';
}

/**
 * The sink (and, for mongo, the repository) of a saga.json `persistencyManagement`. Nothing
 * connects here: MongoDB connects on first use, so a database that is down delays the
 * projection (retried, reported) instead of failing the caller.
 */
export function createProjectionTarget(persistency: PersistencyManagement, http: HttpSinkOptions = {}): ProjectionTarget {
  if (!hasPersistency(persistency)) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: 'persistencyManagement: no type; set {"type": "mongo" | "crud" | "rest", "configurations": {...}} to project sagas',
      path: 'persistencyManagement',
    });
  }
  const p = persistency as Exclude<PersistencyManagement, Record<string, never>>;
  switch (p.type) {
    case 'mongo': {
      const { client, collection } = openSagaCollection(p.configurations.connectionUri, p.configurations.collectionName);
      return {
        sink: new MongoSagaSink(collection, { client }),
        repository: new MongoSagaRepository(collection),
        close: () => client.close(),
      };
    }
    case 'crud': {
      const sink = crudSagaSink(p.configurations, http);
      return { sink, close: () => sink.close() };
    }
    case 'rest': {
      const sink = restSagaSink(p.configurations, http);
      return { sink, close: () => sink.close() };
    }
  }
  throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
    message: `persistencyManagement.type: "${(p as { type: string }).type}" is not one of mongo, crud, rest`,
    path: 'persistencyManagement.type',
  });
}

/** The kafka channel whose consumerGroup is the application id (same rule as `sagaflow start`). */
export function changelogSource(config: SagaConfig): { channel: KafkaProtocol; applicationId: string; eventsTopic: string } {
  const channel = config.communicationProtocols.find(
    (p): p is KafkaProtocol => p.type === 'kafka' && (p.configurations.inputTopics?.length ?? 0) > 0,
  );
  const applicationId = channel?.configurations.consumerGroup;
  if (!channel || !applicationId) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: 'communicationProtocols: no kafka channel with inputTopics and a consumerGroup; the projection reads the changelog of that application',
      path: 'communicationProtocols',
    });
  }
  return { channel, applicationId, eventsTopic: channel.configurations.inputTopics?.[0] as string };
}

export interface ProjectionHandle {
  projector: Projector;
  repository?: SagaRepository;
  /** Settles when the projector has joined its group (it waits for the topic and the sink first). */
  started: Promise<void>;
  stop(): Promise<void>;
}

export interface StartProjectionOptions {
  persistency: PersistencyManagement;
  client: BrokerClient;
  applicationId: string;
  codec: ProcessorCodec;
  logger: Logger;
  /** Tuning passed to the Projector (chunk size, backoff, hooks). */
  projector?: Partial<Omit<ProjectorOptions, 'client' | 'applicationId' | 'codec' | 'sink' | 'logger'>>;
  http?: HttpSinkOptions;
}

/**
 * Starts the projection of an application's changelog into its persistency, without
 * waiting for it to be up: `sagaflow start` calls this after its processor started and
 * serves `repository` (when present) at GET /sagas and as the GET /saga fallback.
 */
export function startProjection(opts: StartProjectionOptions): ProjectionHandle {
  const target = createProjectionTarget(opts.persistency, opts.http);
  const projector = new Projector({
    ...opts.projector,
    client: opts.client,
    applicationId: opts.applicationId,
    codec: opts.codec,
    sink: target.sink,
    logger: opts.logger,
  });
  const started = projector.start().catch((err: unknown) => {
    opts.logger.error({ err }, 'projection failed to start');
    throw err;
  });
  started.catch(() => undefined);
  const handle: ProjectionHandle = {
    projector,
    started,
    async stop() {
      await projector.stop();
      await target.close().catch(() => undefined);
    },
  };
  if (target.repository) handle.repository = target.repository;
  return handle;
}

/**
 * `sagaflow project`: runs only the projection of the application named by saga.json
 * (CONFIGURATIONS_FILE_PATH), until SIGINT/SIGTERM. Logs the lag every `lagLogMs`.
 * Exit code 0 on a signal, 1 on invalid configuration or a consumer that crashed for good.
 */
export async function runProject(
  env: Record<string, string | undefined>,
  cwd: string,
  stderr: (line: string) => void,
  opts: { lagLogMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  let logger: Logger;
  let handle: ProjectionHandle;
  let closeClient: () => Promise<void> = async () => undefined;
  try {
    const runtime = readRuntimeEnv(env, cwd);
    const config = loadSagaConfigFile(runtime.configurationsFilePath, env);
    if (!hasPersistency(config.persistencyManagement)) {
      throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
        message: 'persistencyManagement: sagaflow project needs a mongo, crud or rest persistency in saga.json',
        path: 'persistencyManagement',
      });
    }
    logger = pino({ level: runtime.logLevel, base: { service: 'sagaflow-projection' } });
    const { channel, applicationId, eventsTopic } = changelogSource(config);
    const codec = await createProcessorCodec(channel, {
      events: eventsTopic,
      changelog: changelogTopicName(applicationId),
      deadLetter: deadLetterTopicName(applicationId),
      commands: [],
    });
    const client = await createBrokerClient(runtime.kafkaClient, brokerConfigOf(channel, `sagaflow-${applicationId}-projection`, logger, runtime.librdkafkaDebug));
    handle = startProjection({ persistency: config.persistencyManagement, client, applicationId, codec, logger });
    closeClient = () => client.close();
  } catch (err) {
    stderr(isSagaflowError(err) ? `${err.code}: ${err.message}` : `SAGAFLOW_PROJECTION_START_FAILED: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
  const log = logger;
  const running = handle;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const timer = setInterval(() => {
      running.projector
        .lag()
        .then((lag) => log.info({ lag: lag.total, partitions: lag.partitions, failing: running.projector.status().failing }, 'projection lag'))
        .catch(() => undefined);
    }, opts.lagLogMs ?? 30_000);
    const onSignal = () => stop(0);
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      running
        .stop()
        .then(closeClient)
        .finally(() => resolve(code));
    };
    running.started.catch((err: unknown) => {
      stderr(`SAGAFLOW_PROJECTION_START_FAILED: ${(err as Error).message ?? String(err)}`);
      stop(1);
    });
    running.projector.onFatal = (err) => {
      log.fatal({ err }, 'projection stopped for good');
      stop(1);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (opts.signal?.aborted) stop(0);
    opts.signal?.addEventListener('abort', () => stop(0), { once: true });
  });
}
