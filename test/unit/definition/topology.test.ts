import { describe, expect, it } from 'vitest';
import { IssueList } from '../../../src/definition/issues.ts';
import { ENVIRONMENT_CHANNEL_ID, checkTopology, kafkaLayout } from '../../../src/definition/topology.ts';
import { validConfig } from './fixtures.ts';

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
