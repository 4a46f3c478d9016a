import { SagaflowError } from '../errors.ts';
import { IssueList } from './issues.ts';
import type { PathSegment } from './issues.ts';
import { isSecretPlaceholder } from './secrets.ts';
import type { CommandSpec, KafkaProtocol, SagaConfig } from './types.ts';

// The topology `sagaflow start` derives from a saga.json: which kafka channel carries the
// events, the application id, and the topic of each command channel. Pure (no broker access):
// `sagaflow validate` runs the same checks, so its verdict is the one start reaches before it
// connects anywhere.

export interface KafkaLayout {
  channel: KafkaProtocol;
  applicationId: string;
  eventsTopic: string;
  /**
   * Every other input topic of every kafka channel, with the path that names it. Each must
   * have the events topic's partition count (checked at start, against the brokers): the task
   * of partition p reads partition p of each and forwards its events to the events topic.
   */
  otherInputTopics: { topic: string; path: string }[];
  commandTopics: Map<string, string>;
}

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
  ]);
}

/**
 * Checks the Kafka side of a saga.json as `sagaflow start` needs it and records every problem
 * in `issues` (codes SAGAFLOW_CONFIG_INVALID and SAGAFLOW_CHANNEL_UNSUPPORTED). Returns the
 * layout when there is none. Brokers left as `<secret ...>` placeholders (secrets not
 * resolved) are not checked.
 */
export function checkTopology(config: SagaConfig, issues: IssueList): KafkaLayout | undefined {
  const before = issues.errors.length;
  const kafkaChannels = config.communicationProtocols.filter((p): p is KafkaProtocol => p.type === 'kafka');
  const channel = kafkaChannels.find((p) => (p.configurations.inputTopics?.length ?? 0) > 0);
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
    if (!isSecretPlaceholder(broker) && !/^[^\s:/]+:\d{1,5}$/.test(broker)) {
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

  const commands = commandsOf(config);
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
  for (const { command, path } of commands) {
    const target = config.communicationProtocols.find((p) => p.id === command.channel);
    if (target !== undefined && target.type !== 'kafka') {
      issues.error(
        path,
        `"${command.label}" is sent on channel "${command.channel}", which is not a kafka channel; sagaflow start sends commands on kafka channels only for now`,
        'SAGAFLOW_CHANNEL_UNSUPPORTED',
      );
    }
  }
  if (issues.errors.length > before || !applicationId) return undefined;
  return { channel, applicationId, eventsTopic, otherInputTopics, commandTopics };
}

/**
 * The Kafka side of a saga.json: the events channel and a topic per command channel.
 * @throws SagaflowError with the code, path and message of the first problem checkTopology finds.
 */
export function kafkaLayout(config: SagaConfig): KafkaLayout {
  const issues = new IssueList();
  const layout = checkTopology(config, issues);
  const first = issues.errors[0];
  if (first !== undefined || layout === undefined) {
    throw new SagaflowError(first?.code ?? 'SAGAFLOW_CONFIG_INVALID', {
      message: first === undefined ? 'the kafka topology is invalid' : `${first.path}: ${first.message}`,
      path: first?.path ?? 'communicationProtocols',
    });
  }
  return layout;
}
