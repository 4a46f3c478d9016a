import { describe, expect, it } from 'vitest';
import { IssueList } from '../../../src/definition/issues.ts';
import { ENVIRONMENT_CHANNEL_ID, checkTopology, kafkaLayout } from '../../../src/definition/topology.ts';
import { set, validConfig } from './fixtures.ts';

type Json = Record<string, unknown>;

/** The fixture with its REST side effect dropped (kafka commands only) and `edit` applied. */
function config(edit: (raw: Json) => void) {
  return validConfig((raw) => {
    set(raw, 'machineDefinition.states[0].sideEffects', []);
    edit(raw);
  });
}

const secondKafka = (brokers: string[], inputTopics: string[]) => ({ id: 'other', type: 'kafka', configurations: { brokers, inputTopics, outputTopics: ['other-commands'], consumerGroup: 'g' } });

describe('the kafka topology of a saga.json', () => {
  it('reads every input topic of every kafka channel: the first of the events channel is the events topic, the others are listed once with their path', () => {
    const issues = new IssueList();
    const layout = checkTopology(
      config((raw) => {
        set(raw, 'communicationProtocols[0].configurations.inputTopics', ['events', 'payments']);
        (raw.communicationProtocols as unknown[]).push(secondKafka(['localhost:9092'], ['payments', 'refunds', 'events']));
      }),
      issues,
    );
    expect(issues.errors).toEqual([]);
    expect(layout?.eventsTopic).toBe('events');
    expect(layout?.otherInputTopics).toEqual([
      { topic: 'payments', path: 'communicationProtocols[0].configurations.inputTopics[1]' },
      { topic: 'refunds', path: 'communicationProtocols[2].configurations.inputTopics[1]' },
    ]);
  });

  it('refuses an input topic on another cluster than the events channel, with its path', () => {
    const issues = new IssueList();
    const layout = checkTopology(config((raw) => void (raw.communicationProtocols as unknown[]).push(secondKafka(['elsewhere:9092'], ['refunds']))), issues);
    expect(layout).toBeUndefined();
    expect(issues.errors).toEqual([
      {
        path: 'communicationProtocols[2].configurations.inputTopics[0]',
        code: 'SAGAFLOW_CHANNEL_UNSUPPORTED',
        message:
          'channel "other" reads events on other brokers, credentials or wire format than the events channel "bus"; sagaflow reads every input topic with one client: give it the same brokers, authenticationProperties, serialization and schemaRegistry',
      },
    ]);
  });

  it('warns that output topics after the first receive nothing', () => {
    const issues = new IssueList();
    const layout = checkTopology(config((raw) => set(raw, 'communicationProtocols[0].configurations.outputTopics', ['commands', 'audit'])), issues);
    expect(layout?.commandTopics).toEqual(new Map([['bus', 'commands']]));
    expect(issues.warnings).toEqual([{ path: 'communicationProtocols[0].configurations.outputTopics[1]', message: '"audit" receives nothing: commands of channel "bus" go to its first output topic only' }]);
  });
});

describe('the topology start derives', () => {
  it('sends kafka commands to their topic and lists the rest channels that carry commands for the outbox', () => {
    const layout = kafkaLayout(
      validConfig((raw) => {
        const protocols = raw.communicationProtocols as Record<string, unknown>[];
        protocols.push({ id: 'unused', type: 'rest', configurations: { endpoint: 'nobody' } });
      }),
    );
    expect(layout.applicationId).toBe('g');
    expect(layout.eventsTopic).toBe('events');
    expect(layout.channelPath).toBe('communicationProtocols[0].configurations');
    expect(layout.commandTopics).toEqual(new Map([['bus', 'commands']]));
    expect([...layout.restChannels.keys()]).toEqual(['hook']);
    expect(layout.restChannels.get('hook')?.configurations.endpoint).toBe('audit-service');
  });

  it('counts the commands of parallel branches: a rest channel only a branch uses goes through the outbox, a kafka one gets its topic', () => {
    const layout = kafkaLayout(
      config((raw) => {
        (raw.communicationProtocols as Json[]).push(
          { id: 'mail', type: 'rest', configurations: { endpoint: 'mail-service' } },
          { id: 'storage', type: 'kafka', configurations: { brokers: ['localhost:9092'], outputTopics: ['storage-commands'] } },
        );
        set(raw, 'machineDefinition.states[0].parallel', {
          branches: [
            { command: { label: 'provisionMailbox', channel: 'mail' }, done: ['mailboxReady'] },
            { command: { label: 'createHomeFolder', channel: 'storage' }, done: ['homeFolderCreated'] },
          ],
          join: 'all',
          onJoin: { targetState: 'done' },
        });
      }),
    );
    expect([...layout.restChannels.keys()]).toEqual(['mail']);
    expect(layout.commandTopics.get('storage')).toBe('storage-commands');
  });

  it('takes the brokers and application id of a saga.json without kafka channels from the environment', () => {
    const restOnly = validConfig((raw) => {
      raw.communicationProtocols = [{ id: 'hook', type: 'rest', configurations: { endpoint: 'audit-service' } }];
      const [first] = (raw.machineDefinition as { states: { outputCommand?: { channel: string } }[] }).states;
      if (first?.outputCommand) first.outputCommand.channel = 'hook';
    });
    const layout = kafkaLayout(restOnly, { brokers: ' kafka-0:9092,kafka-1:9093 ', applicationId: 'audit-saga' });
    expect(layout.channel).toEqual({
      id: ENVIRONMENT_CHANNEL_ID,
      type: 'kafka',
      configurations: { brokers: ['kafka-0:9092', 'kafka-1:9093'], inputTopics: ['audit-saga-events'], consumerGroup: 'audit-saga' },
    });
    expect(layout.channelPath).toBe('env.KAFKA_BROKERS');
    expect(layout.eventsTopic).toBe('audit-saga-events');
    expect(layout.commandTopics.size).toBe(0);
    expect([...layout.restChannels.keys()]).toEqual(['hook']);

    const issues = new IssueList();
    expect(checkTopology(restOnly, issues, { brokers: '' })).toBeUndefined();
    expect(issues.errors.map((e) => [e.code, e.path])).toEqual([
      ['SAGAFLOW_CONFIG_INVALID', 'env.KAFKA_BROKERS'],
      ['SAGAFLOW_CONFIG_INVALID', 'env.SAGAFLOW_APPLICATION_ID'],
    ]);
    expect(() => kafkaLayout(restOnly, { brokers: 'kafka', applicationId: 'a' })).toThrow(
      expect.objectContaining({ code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.KAFKA_BROKERS', message: expect.stringContaining('entry 1 is not a host:port address') }),
    );
  });

  it('ignores the environment when the saga.json has a kafka channel', () => {
    const layout = kafkaLayout(validConfig(), { brokers: 'elsewhere:1', applicationId: 'other' });
    expect(layout.channel.configurations.brokers).toEqual(['localhost:9092']);
    expect(layout.applicationId).toBe('g');
  });
});
