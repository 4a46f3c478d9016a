import { SagaflowError } from '../errors.ts';
import { IssueList } from './issues.ts';
import type { PathSegment } from './issues.ts';
import { isSecretPlaceholder } from './secrets.ts';
import type { CommandSpec, KafkaProtocol, RestProtocol, SagaConfig } from './types.ts';
import { branchCommands } from './parallel.ts';

// The topology `sagaflow start` derives from a saga.json: which kafka channel carries the
// events, the application id, the topic of each kafka command channel and the rest channels
// whose commands go through the outbox. Pure (no broker access, no process environment: the
// caller passes the variables it read): `sagaflow validate` runs the same checks, so its
// verdict is the one start reaches before it connects anywhere.

export interface KafkaLayout {
  /** The events channel: a kafka channel of the saga.json, or one made from the environment. */
  channel: KafkaProtocol;
  /** Where the events channel is configured, for error messages. */
  channelPath: string;
  applicationId: string;
  eventsTopic: string;
  /**
   * Every other input topic of every kafka channel, with the path that names it. Each must
   * have the events topic's partition count (checked at start, against the brokers): the task
   * of partition p reads partition p of each and forwards its events to the events topic.
   */
  otherInputTopics: { topic: string; path: string }[];
  commandTopics: Map<string, string>;
  /** Rest channels that carry commands, by id: their commands are delivered through the outbox. */
  restChannels: Map<string, RestProtocol>;
}

/**
 * The variables a saga.json without any kafka channel needs (Flow Manager allows a file with
 * rest channels only): the engine's own topics live on `KAFKA_BROKERS` (comma-separated
 * host:port), under the application id `SAGAFLOW_APPLICATION_ID`.
 */
export interface EngineKafkaEnv {
  brokers?: string;
  applicationId?: string;
}

/** Id of the events channel made from the environment (it carries no commands). */
export const ENVIRONMENT_CHANNEL_ID = '(environment)';

/** The events topic of an application whose saga.json names none (rest channels only). */
export function environmentEventsTopic(applicationId: string): string {
  return `${applicationId}-events`;
}

const HOST_PORT = /^[^\s:/]+:\d{1,5}$/;
/** Kafka's legal topic characters: the application id prefixes every topic and group. */
const APPLICATION_ID = /^[a-zA-Z0-9._-]{1,200}$/;

/** Whether two kafka channels reach the same cluster the same way: brokers, credentials, wire format. */
function sameCluster(a: KafkaProtocol, b: KafkaProtocol): boolean {
  const key = (c: KafkaProtocol) =>
    JSON.stringify([
      [...c.configurations.brokers].sort(),
      c.configurations.authenticationProperties ?? {},
      c.configurations.serialization ?? 'json',
      c.configurations.schemaRegistry ?? {},
    ]);
  return key(a) === key(b);
}

/** Every command a state sends, with the path of its `channel`. */
function commandsOf(config: SagaConfig): { command: CommandSpec; path: PathSegment[] }[] {
  return config.machineDefinition.states.flatMap((state, i) => [
    ...(state.outputCommand ? [{ command: state.outputCommand, path: ['machineDefinition', 'states', i, 'outputCommand', 'channel'] }] : []),
    ...(state.sideEffects ?? []).map((command, j) => ({ command, path: ['machineDefinition', 'states', i, 'sideEffects', j, 'channel'] })),
    ...branchCommands(state, ['machineDefinition', 'states', i]).map(([command, path]) => ({ command, path: [...path, 'channel'] })),
  ]);
}

/**
 * Checks the Kafka side of a saga.json as `sagaflow start` needs it and records every problem
 * in `issues` (codes SAGAFLOW_CONFIG_INVALID and SAGAFLOW_CHANNEL_UNSUPPORTED). Returns the
 * layout when there is none. Brokers left as `<secret ...>` placeholders (secrets not
 * resolved) are not checked. `env` is read only when the saga.json has no kafka channel.
 */
export function checkTopology(config: SagaConfig, issues: IssueList, env: EngineKafkaEnv = {}): KafkaLayout | undefined {
  const before = issues.errors.length;
  const kafkaChannels = config.communicationProtocols.filter((p): p is KafkaProtocol => p.type === 'kafka');
  const restChannels = new Map<string, RestProtocol>();
  const commands = commandsOf(config);
  for (const p of config.communicationProtocols) {
    if (p.type === 'rest' && commands.some(({ command }) => command.channel === p.id)) restChannels.set(p.id, p);
  }
  if (kafkaChannels.length === 0) return environmentTopology(env, restChannels, issues);
  // Choreography: an observed channel's topics belong to other services; forwarded events go
  // to the saga's own events topic, the first input topic of a channel without correlation.
  const channel = kafkaChannels.find((p) => (p.configurations.inputTopics?.length ?? 0) > 0 && p.configurations.correlation === undefined);
  const observing = kafkaChannels.find((p) => p.configurations.correlation !== undefined && (p.configurations.inputTopics?.length ?? 0) > 0);
  if (!channel && observing) {
    issues.error(
      ['communicationProtocols', config.communicationProtocols.indexOf(observing), 'configurations', 'correlation'],
      `channel "${observing.id}" observes topics of other services, and the saga needs an events topic of its own that sagaflow forwards their events to: add a kafka channel without correlation whose inputTopics name it, e.g. "${observing.configurations.consumerGroup ?? 'saga'}-events"`,
      'SAGAFLOW_CONFIG_INVALID',
    );
    return undefined;
  }
  if (!channel) {
    issues.error(['communicationProtocols'], "no kafka channel has inputTopics; add the events topic to a kafka channel's configurations.inputTopics", 'SAGAFLOW_CONFIG_INVALID');
    return undefined;
  }
  const index = config.communicationProtocols.indexOf(channel);
  const applicationId = channel.configurations.consumerGroup;
  if (!applicationId) {
    issues.error(
      ['communicationProtocols', index, 'configurations', 'consumerGroup'],
      'is required by sagaflow start (it is the application id); set a consumer group name',
      'SAGAFLOW_CONFIG_INVALID',
    );
  }
  channel.configurations.brokers.forEach((broker, i) => {
    // Brokers may be secrets: name the path, never the value.
    if (!isSecretPlaceholder(broker) && !HOST_PORT.test(broker)) {
      issues.error(['communicationProtocols', index, 'configurations', 'brokers', i], 'is not a host:port address; set it to e.g. "kafka-0:9092"', 'SAGAFLOW_CONFIG_INVALID');
    }
  });

  const eventsTopic = channel.configurations.inputTopics?.[0] as string;
  const otherInputTopics: { topic: string; path: string }[] = [];
  config.communicationProtocols.forEach((p, i) => {
    if (p.type !== 'kafka') return;
    (p.configurations.inputTopics ?? []).forEach((topic, j) => {
      if (topic === eventsTopic || otherInputTopics.some((t) => t.topic === topic)) return;
      if (!sameCluster(p, channel)) {
        // Read with the events channel's client, in its transactions.
        issues.error(
          ['communicationProtocols', i, 'configurations', 'inputTopics', j],
          `channel "${p.id}" reads events on other brokers, credentials or wire format than the events channel "${channel.id}"; sagaflow reads every input topic with one client: give it the same brokers, authenticationProperties, serialization and schemaRegistry`,
          'SAGAFLOW_CHANNEL_UNSUPPORTED',
        );
        return;
      }
      otherInputTopics.push({ topic, path: `communicationProtocols[${i}].configurations.inputTopics[${j}]` });
    });
    (p.configurations.outputTopics ?? []).slice(1).forEach((topic, j) => {
      issues.warn(['communicationProtocols', i, 'configurations', 'outputTopics', j + 1], `"${topic}" receives nothing: commands of channel "${p.id}" go to its first output topic only`);
    });
  });

  const commandTopics = new Map<string, string>();
  config.communicationProtocols.forEach((p, i) => {
    if (p.type !== 'kafka') return;
    const topic = p.configurations.outputTopics?.[0];
    const carriesCommands = commands.some(({ command }) => command.channel === p.id);
    if (topic && carriesCommands && p !== channel && !sameCluster(p, channel)) {
      // Commands are written in the events channel's transaction, with its client: another
      // cluster's channel would silently get its commands (and topic) on the wrong cluster.
      issues.error(
        ['communicationProtocols', i, 'configurations', 'brokers'],
        `channel "${p.id}" carries commands on other brokers, credentials or wire format than the events channel "${channel.id}"; sagaflow sends commands in the events transaction, with its client: give it the same brokers, authenticationProperties, serialization and schemaRegistry`,
        'SAGAFLOW_CHANNEL_UNSUPPORTED',
      );
    }
    if (topic) commandTopics.set(p.id, topic);
    else if (carriesCommands) {
      issues.error(['communicationProtocols', i, 'configurations', 'outputTopics'], `channel "${p.id}" carries commands but names no output topic; add one`, 'SAGAFLOW_CONFIG_INVALID');
    }
  });
  if (issues.errors.length > before || !applicationId) return undefined;
  return {
    channel,
    channelPath: `communicationProtocols[${index}].configurations`,
    applicationId,
    eventsTopic,
    otherInputTopics,
    commandTopics,
    restChannels,
  };
}

/**
 * A saga.json without kafka channels: events arrive over HTTP (POST /event) and commands go
 * to rest channels; the engine's topics (events, changelog, outbox, dead letters) live on the
 * brokers the environment names.
 */
function environmentTopology(env: EngineKafkaEnv, restChannels: Map<string, RestProtocol>, issues: IssueList): KafkaLayout | undefined {
  const brokers = (env.brokers ?? '').split(',').map((b) => b.trim()).filter((b) => b !== '');
  const applicationId = env.applicationId?.trim() ?? '';
  const why = 'the saga.json has no kafka channel, so sagaflow keeps its own topics on the brokers of KAFKA_BROKERS under the application id SAGAFLOW_APPLICATION_ID';
  if (brokers.length === 0) {
    issues.error(['env', 'KAFKA_BROKERS'], `is not set: ${why}; set it to e.g. "kafka-0:9092,kafka-1:9092" (or add a kafka channel with inputTopics)`, 'SAGAFLOW_CONFIG_INVALID');
  }
  brokers.forEach((broker, i) => {
    if (!HOST_PORT.test(broker)) issues.error(['env', 'KAFKA_BROKERS'], `entry ${i + 1} is not a host:port address; set e.g. "kafka-0:9092,kafka-1:9092"`, 'SAGAFLOW_CONFIG_INVALID');
  });
  if (applicationId === '') {
    issues.error(['env', 'SAGAFLOW_APPLICATION_ID'], `is not set: ${why}; set a name unique on that cluster, e.g. "order-saga"`, 'SAGAFLOW_CONFIG_INVALID');
  } else if (!APPLICATION_ID.test(applicationId)) {
    issues.error(['env', 'SAGAFLOW_APPLICATION_ID'], 'may hold only letters, digits, ".", "_" and "-" (it prefixes topic names), at most 200 characters', 'SAGAFLOW_CONFIG_INVALID');
  }
  if (brokers.length === 0 || !brokers.every((b) => HOST_PORT.test(b)) || !APPLICATION_ID.test(applicationId)) return undefined;
  const eventsTopic = environmentEventsTopic(applicationId);
  return {
    channel: { id: ENVIRONMENT_CHANNEL_ID, type: 'kafka', configurations: { brokers, inputTopics: [eventsTopic], consumerGroup: applicationId } },
    channelPath: 'env.KAFKA_BROKERS',
    applicationId,
    eventsTopic,
    otherInputTopics: [],
    commandTopics: new Map(),
    restChannels,
  };
}

/**
 * The Kafka side of a saga.json: the events channel and a topic per command channel.
 * @throws SagaflowError with the code, path and message of the first problem checkTopology finds.
 */
export function kafkaLayout(config: SagaConfig, env: EngineKafkaEnv = {}): KafkaLayout {
  const issues = new IssueList();
  const layout = checkTopology(config, issues, env);
  const first = issues.errors[0];
  if (first !== undefined || layout === undefined) {
    throw new SagaflowError(first?.code ?? 'SAGAFLOW_CONFIG_INVALID', {
      message: first === undefined ? 'the kafka topology is invalid' : `${first.path}: ${first.message}`,
      path: first?.path ?? 'communicationProtocols',
    });
  }
  return layout;
}
