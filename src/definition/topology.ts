import { SagaflowError } from '../errors.ts';
import type { KafkaProtocol, SagaConfig } from './types.ts';

// The topology `sagaflow start` derives from a saga.json: which kafka channel carries the
// events, the application id, and the topic of each command channel. Pure (no broker access),
// so `sagaflow validate` can run the same checks.

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

/** Resolves the Kafka side of a saga.json: the events channel and a topic per command channel. */
export function kafkaLayout(config: SagaConfig): {
  channel: KafkaProtocol;
  applicationId: string;
  eventsTopic: string;
  commandTopics: Map<string, string>;
} {
  const kafkaChannels = config.communicationProtocols.filter((p): p is KafkaProtocol => p.type === 'kafka');
  const channel = kafkaChannels.find((p) => (p.configurations.inputTopics?.length ?? 0) > 0);
  const index = channel ? config.communicationProtocols.indexOf(channel) : -1;
  if (!channel) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: 'communicationProtocols: no kafka channel has inputTopics; add the events topic to a kafka channel\'s configurations.inputTopics',
      path: 'communicationProtocols',
    });
  }
  const applicationId = channel.configurations.consumerGroup;
  if (!applicationId) {
    throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: `communicationProtocols[${index}].configurations.consumerGroup: required by sagaflow start (it is the application id); set a consumer group name`,
      path: `communicationProtocols[${index}].configurations.consumerGroup`,
    });
  }
  channel.configurations.brokers.forEach((broker, i) => {
    // Brokers may be secrets: name the path, never the value.
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) {
      throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
        message: `communicationProtocols[${index}].configurations.brokers[${i}]: not a host:port address; set it to e.g. "kafka-0:9092"`,
        path: `communicationProtocols[${index}].configurations.brokers[${i}]`,
      });
    }
  });
  const commandTopics = new Map<string, string>();
  config.communicationProtocols.forEach((p, i) => {
    if (p.type !== 'kafka') return;
    const topic = p.configurations.outputTopics?.[0];
    const carriesCommands = config.machineDefinition.states.some((s) => s.outputCommand?.channel === p.id || s.sideEffects?.some((e) => e.channel === p.id));
    if (topic && carriesCommands && p !== channel && !sameCluster(p, channel)) {
      // Commands are written in the events channel's transaction, with its client: another
      // cluster's channel would silently get its commands (and topic) on the wrong cluster.
      throw new SagaflowError('SAGAFLOW_CHANNEL_UNSUPPORTED', {
        message: `communicationProtocols[${i}].configurations.brokers: channel "${p.id}" carries commands on other brokers, credentials or wire format than the events channel "${channel.id}"; sagaflow sends commands in the events transaction, with its client: give it the same brokers, authenticationProperties, serialization and schemaRegistry`,
        path: `communicationProtocols[${i}].configurations.brokers`,
      });
    }
    if (topic) commandTopics.set(p.id, topic);
    else if (config.machineDefinition.states.some((s) => s.outputCommand?.channel === p.id || s.sideEffects?.some((e) => e.channel === p.id))) {
      throw new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
        message: `communicationProtocols[${i}].configurations.outputTopics: channel "${p.id}" carries commands but names no output topic; add one`,
        path: `communicationProtocols[${i}].configurations.outputTopics`,
      });
    }
  });
  config.machineDefinition.states.forEach((s, i) => {
    for (const cmd of [s.outputCommand, ...(s.sideEffects ?? [])]) {
      if (cmd && !commandTopics.has(cmd.channel)) {
        throw new SagaflowError('SAGAFLOW_CHANNEL_UNSUPPORTED', {
          message: `machineDefinition.states[${i}] sends "${cmd.label}" on channel "${cmd.channel}", which is not a kafka channel; sagaflow start sends commands on kafka channels only for now`,
          path: `machineDefinition.states[${i}]`,
        });
      }
    }
  });
  return { channel, applicationId, eventsTopic: channel.configurations.inputTopics?.[0] as string, commandTopics };
}
