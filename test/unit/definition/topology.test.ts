import { describe, expect, it } from 'vitest';
import { IssueList } from '../../../src/definition/issues.ts';
import { checkTopology } from '../../../src/definition/topology.ts';
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
