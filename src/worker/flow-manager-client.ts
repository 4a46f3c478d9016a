import pino from 'pino';
import type { Logger } from 'pino';
import type { ClientName } from '../broker/ports.ts';
import { SagaflowError } from '../errors.ts';
import { codecOf } from '../kafka/codec-factory.ts';
import { createSerdes } from '../kafka/serdes/create.ts';
import { SagaWorker } from './client.ts';
import type { CommandOutcome } from './client.ts';

// The builder and client of Mia-Platform's @mia-platform/flow-manager-client (1.x), on top of
// SagaWorker: a service written against that library moves over by changing its import.
// Shapes, defaults and messages follow the library; what differs is written where it does.

/** The library's `kafkaConfig`: brokers as a comma-separated string; SASL (with SSL) when username and password are set. */
export interface KafkaConfig {
  clientId: string;
  brokers: string;
  authMechanism?: string;
  username?: string;
  password?: string;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  /** sagaflow: the Kafka client (default: sagaflow's default, as SAGAFLOW_KAFKA_CLIENT). */
  client?: ClientName;
}

export interface ConsumerConfig {
  groupId: string;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  allowAutoTopicCreation?: boolean;
}

export interface ProducerConfig {
  allowAutoTopicCreation?: boolean;
}

export type EventEmitter = (event: string, metadata?: Record<string, unknown>) => Promise<void>;
export type Heartbeat = () => Promise<void>;
export type CommandExecutor<Payload = Record<string, unknown>> = (sagaId: string, payload: Payload, emitEvent: EventEmitter, heartbeat: Heartbeat) => unknown;
export type CommitCallback = () => Promise<void>;
export type CommandErrorHandler = (sagaId: string, error: Error, commit: CommitCallback) => unknown;

/** A prom-client-like counter (the library takes the service's own prom-client). */
interface CounterLike {
  inc(labels: Record<string, string>, value?: number): void;
}

export interface FlowManagerClientMetrics {
  commandsExecuted?: CounterLike;
  eventsEmitted?: CounterLike;
}

/** The library's `getMetrics(prometheusClient)`: the same metric names and labels. */
export function getMetrics(prometheusClient: { Counter: new (config: { name: string; help: string; labelNames: string[] }) => CounterLike }): Required<FlowManagerClientMetrics> {
  return {
    commandsExecuted: new prometheusClient.Counter({ name: 'fm_client_commands_total', help: 'count how many commands issued by the Flow Manager have been processed', labelNames: ['command', 'result'] }),
    eventsEmitted: new prometheusClient.Counter({ name: 'fm_client_events_total', help: 'count how many events have been sent to the Flow Manager', labelNames: ['event'] }),
  };
}

/** The logger a service hands over (lc39's, pino); anything without pino's methods gets sagaflow's own. */
function asLogger(log: unknown): Logger {
  const l = log as Partial<Logger> | undefined;
  return l && typeof l.child === 'function' && typeof l.warn === 'function' && typeof l.error === 'function' && typeof l.info === 'function' ? (l as Logger) : pino({ level: 'warn' });
}

interface BuiltConfig {
  kafka: KafkaConfig;
  commands?: { topic: string; consumer: ConsumerConfig };
  events?: { topic: string; producer?: ProducerConfig };
}

/** The checks the library's JSON Schema makes, with the path of the first that fails. */
function invalidReason(c: BuiltConfig): string | undefined {
  const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
  if (!nonEmpty(c.kafka?.clientId)) return 'kafkaConf.clientId must be a non-empty string';
  if (!nonEmpty(c.kafka?.brokers)) return 'kafkaConf.brokers must be a non-empty string of comma-separated brokers';
  if (c.commands && typeof c.commands.topic !== 'string') return 'components.commandsExecutor.commandsTopic must be a string';
  if (c.commands && typeof c.commands.consumer?.groupId !== 'string') return 'components.commandsExecutor.consumerConf.groupId must be a string';
  if (c.events && typeof c.events.topic !== 'string') return 'components.eventsEmitter.eventsTopic must be a string';
  return undefined;
}

/** `new FMClientBuilder(log, kafkaConfig).configureCommandsExecutor(...).configureEventsEmitter(...).build()`. */
export class FMClientBuilder {
  log: unknown;
  kafkaConfig: KafkaConfig;
  metrics: FlowManagerClientMetrics = {};
  private commands: BuiltConfig['commands'];
  private events: BuiltConfig['events'];

  constructor(log: unknown, kafkaConfig: KafkaConfig) {
    this.log = log;
    this.kafkaConfig = kafkaConfig;
  }

  configureCommandsExecutor(commandsTopic: string, consumerConfig: ConsumerConfig): this {
    this.commands = { topic: commandsTopic, consumer: consumerConfig };
    return this;
  }

  configureEventsEmitter(eventsTopic: string, producerConfig?: ProducerConfig): this {
    this.events = { topic: eventsTopic, ...(producerConfig ? { producer: producerConfig } : {}) };
    return this;
  }

  enableMetrics(prometheusMetrics: FlowManagerClientMetrics): this {
    this.metrics = prometheusMetrics;
    return this;
  }

  /** @throws SagaflowError SAGAFLOW_CONFIG_INVALID ("impossible to initialize Flow Manager Client: <reason>"), logged first as the library does. */
  build(): FlowManagerClient {
    const config: BuiltConfig = { kafka: this.kafkaConfig, ...(this.commands ? { commands: this.commands } : {}), ...(this.events ? { events: this.events } : {}) };
    const reason = invalidReason(config);
    if (reason !== undefined) {
      const message = 'impossible to initialize Flow Manager Client';
      asLogger(this.log).error({ cause: reason }, message);
      throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', { message: `${message}: ${reason}` });
    }
    return new FlowManagerClient(this.log, config, this.metrics);
  }
}

/** How long `start` waits for the command reader to join its group. */
const START_TIMEOUT_MS = 60_000;

/**
 * The library's client, executed by a SagaWorker: commands are read with read_committed (a
 * command of an aborted orchestrator transaction is never executed) and events are written
 * to their saga's partition (murmur2 of the sagaId), where the library's kafkajs 1.x
 * partitioner scatters them. As in the library: a command without key, without an executor
 * or that is not JSON is skipped and committed; an executor that throws is counted as ERROR,
 * its error handler gets `(sagaId, error, commit)` and the command stays uncommitted unless
 * the handler calls `commit` (a later command of the same partition moves the position past
 * it anyway; the library behaves the same). Differences: `heartbeat()` resolves at once,
 * both Kafka clients heartbeat in the background while an executor runs; commits happen at
 * the end of each fetched batch, not per message.
 */
export class FlowManagerClient {
  readonly log: Logger;
  readonly metrics: FlowManagerClientMetrics;
  private readonly config: BuiltConfig;
  private readonly worker: SagaWorker;
  private readonly executors = new Map<string, { executor: CommandExecutor; errorHandler?: CommandErrorHandler }>();
  private stopped = false;

  constructor(log: unknown, config: BuiltConfig, metrics: FlowManagerClientMetrics = {}) {
    this.log = asLogger(log);
    this.metrics = metrics;
    this.config = config;
    const { kafka } = config;
    const brokers = kafka.brokers.split(',').map((b) => b.trim()).filter((b) => b.length > 0);
    const sasl = kafka.username && kafka.password ? { mechanism: (kafka.authMechanism || 'plain').toLowerCase(), username: kafka.username, password: kafka.password } : undefined;
    this.worker = new SagaWorker({
      brokers,
      clientId: kafka.clientId,
      ...(kafka.client ? { client: kafka.client } : {}),
      ...(sasl ? { sasl, ssl: true } : {}),
      // The library's wire format: JSON envelopes.
      codec: codecOf(createSerdes({})),
      ...(config.commands ? { commandsTopic: config.commands.topic, groupId: config.commands.consumer.groupId } : {}),
      ...(config.events ? { eventsTopic: config.events.topic } : {}),
      logger: this.log,
      skipUndecodable: true,
      onSkipped: () => this.metrics.commandsExecuted?.inc({ command: 'undefined', result: 'SKIPPED' }),
    });
  }

  isHealthy(): boolean {
    return !this.stopped && this.worker.isHealthy();
  }

  isReady(): boolean {
    return !this.stopped && this.worker.isReady();
  }

  async start(): Promise<void> {
    await this.worker.start();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!this.worker.isReady()) {
      if (!this.worker.isHealthy() || Date.now() > deadline) throw new Error('unable to become ready in reasonable amount of time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.worker.stop();
      this.log.info('disconnected kafka components');
    } catch {
      this.log.error('error disconnecting kafka components');
    }
  }

  onCommand<Payload = Record<string, unknown>>(command: string, executor: CommandExecutor<Payload>, errorHandler?: CommandErrorHandler): void {
    if (!this.config.commands) throw new Error('commands executor component not configured');
    this.executors.set(command, { executor: executor as CommandExecutor, ...(errorHandler ? { errorHandler } : {}) });
    // Registered after start(): the worker learns it at once.
    this.worker.onCommand(command, (c) => this.execute(command, c.sagaId, c.payload));
  }

  async emit(event: string, sagaId: string, metadata: Record<string, unknown> = {}): Promise<void> {
    if (!this.config.events) throw new Error('events emitter component not configured');
    try {
      await this.worker.emit(event, sagaId, metadata);
      this.log.info({ topic: this.config.events.topic, sagaId, event }, 'event sent');
      this.metrics.eventsEmitted?.inc({ event });
    } catch (error) {
      this.log.warn({ topic: this.config.events.topic, sagaId, event, error }, 'error sending event');
      throw error;
    }
  }

  private async execute(command: string, sagaId: string, payload: unknown): Promise<CommandOutcome | undefined> {
    const entry = this.executors.get(command);
    if (!entry) return undefined;
    const log = this.log.child({ sagaId, command });
    try {
      await entry.executor(sagaId, payload as Record<string, unknown>, (event, metadata) => this.emit(event, sagaId, metadata), async () => undefined);
    } catch (error) {
      log.error({ error: (error as Error)?.message ?? error }, 'error executing command');
      this.metrics.commandsExecuted?.inc({ command, result: 'ERROR' });
      let committed = false;
      await entry.errorHandler?.(sagaId, error as Error, async () => {
        committed = true;
      });
      return { commit: committed };
    }
    log.info('command executed successfully');
    this.metrics.commandsExecuted?.inc({ command, result: 'SUCCESS' });
    return undefined;
  }
}
