import { describe, expect, it } from 'vitest';
import type { KafkaProtocol } from '../../../src/definition/types.ts';
import { TUTORIAL_SAGA, parse, parseEdited, readJson, set, validRaw } from './fixtures.ts';

const step = (n: number): URL => new URL(`./fixtures/tutorial/step-${n}.json`, import.meta.url);

describe('parseSagaConfig', () => {
  it('accepts the tutorial saga.json verbatim, without warnings, and keeps its content', () => {
    const raw = readJson(TUTORIAL_SAGA);
    const result = parse(raw);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.config).toEqual(raw);
  });

  it('follows the tutorial step by step: only the incomplete steps are refused, for the right reason', () => {
    const steps = [1, 2, 3, 4, 5, 6].map((n) => parse(readJson(step(n))));
    expect(steps.map((s) => s.config !== undefined)).toEqual([false, true, true, true, false, true]);
    // Step 1 has states but no transitions yet.
    expect(steps[0]?.errors.map((e) => e.path)).toEqual([
      'machineDefinition.states[0].outgoingTransitions',
      'machineDefinition.states[1].outgoingTransitions',
    ]);
    // Step 5 adds commands before the channel they are sent on exists.
    expect(steps[4]?.errors).toEqual([
      { path: 'machineDefinition.states[0].outputCommand.channel', message: 'is required: set it to the id of one of communicationProtocols' },
      { path: 'machineDefinition.states[1].outputCommand.channel', message: 'is required: set it to the id of one of communicationProtocols' },
    ]);
  });

  it('does not modify its input', () => {
    const raw = validRaw();
    set(raw, 'communicationProtocols[0].configurations.brokers', '${B}');
    const before = JSON.stringify(raw);
    parse(raw, { env: { B: 'a:1,b:2' } });
    expect(JSON.stringify(raw)).toBe(before);
  });

  it('returns a deeply frozen configuration', () => {
    const config = parse(validRaw()).config;
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config?.machineDefinition.states[0]?.outgoingTransitions?.[0])).toBe(true);
    expect(Object.isFrozen((config?.communicationProtocols[0] as KafkaProtocol).configurations.brokers)).toBe(true);
  });

  it('normalises brokers given as a comma-separated string to an array', () => {
    const result = parseEdited((r) => set(r, 'communicationProtocols[0].configurations.brokers', ' a:9092 ,b:9092,, '));
    expect((result.config?.communicationProtocols[0] as KafkaProtocol).configurations.brokers).toEqual(['a:9092', 'b:9092']);
  });

  it('returns no config but every issue when there are errors', () => {
    const result = parseEdited((r) => set(r, 'machineDefinition.initialState', 'nope'));
    expect(result.config).toBeUndefined();
    expect(result.errors).toHaveLength(1);
  });
});
