import { describe, expect, it } from 'vitest';
import { Simulator } from '../../../src/cli/simulator.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { TUTORIAL_SAGA, parse, readJson } from '../definition/fixtures.ts';

const tutorial = await compileDefinition(parse(readJson(TUTORIAL_SAGA)).config as SagaConfig);

function simulator(): Simulator {
  let n = 0;
  return new Simulator(tutorial, { timestampOf: (line) => `t${line}`, newSagaId: () => `gen-${(n += 1)}` });
}

describe('Simulator', () => {
  it('understands creations, events, entity references and POST /event bodies', () => {
    const sim = simulator();
    expect(sim.run('{"create": {"associatedEntityId": "a", "metadata": {"x": 1}}}', 1).at(-1)).toMatchObject({ sagaId: 'gen-1', outcome: 'created' });
    expect(sim.run('{"key": "gen-1", "value": {"messageLabel": "validationOK", "messagePayload": {"y": 2}}}', 2).at(-1)).toMatchObject({ outcome: 'applied' });
    expect(sim.run('{"associatedEntityId": "a", "messageLabel": "checkOK", "eventId": "e"}', 3).at(-1)).toMatchObject({ outcome: 'applied', isFinal: true });
    expect(sim.run('{"key": "k2", "value": {"messageLabel": "__created__", "messagePayload": {"associatedEntityId": "b", "metadata": {}}}}', 4).at(-1)).toMatchObject({
      sagaId: 'k2',
      outcome: 'created',
    });
    expect(sim.run('   ', 5)).toEqual([]);
    expect(sim.summaries().map((s) => [s.sagaId, s.state, s.metadata])).toEqual([
      ['gen-1', 'reservationConfirmed', { x: 1, y: 2 }],
      ['k2', 'reservationCreated', {}],
    ]);
  });

  it('explains the lines it cannot understand', () => {
    const sim = simulator();
    const reasons = [
      '[1]',
      '{"create": 1}',
      '{"create": {"sagaId": 5, "associatedEntityId": "a"}}',
      '{"create": {"metadata": {}}}',
      '{"create": {"associatedEntityId": "a", "metadata": []}}',
      '{"sagaId": "s"}',
      '{"key": "s", "value": 1}',
      '{"sagaId": "s", "messageLabel": "__created__"}',
      '{"sagaId": "s", "messageLabel": "validationOK", "eventId": 1}',
    ].map((line, i) => sim.run(line, i + 1).at(-1)?.reason);
    expect(reasons).toEqual([
      'not a JSON object',
      '"create" must be an object {sagaId?, associatedEntityId, metadata?}',
      '"sagaId" must be a non-empty string',
      'a creation needs "associatedEntityId" (a string)',
      '"metadata" must be an object',
      'missing "messageLabel" (or "create")',
      '"value" must be an object {messageLabel, messagePayload}',
      'a "__created__" message needs a messagePayload {associatedEntityId, metadata}',
      '"eventId" must be a string',
    ]);
  });

  it('records a reported failed delivery as the engine does, and explains a bad report', () => {
    const sim = simulator();
    sim.run('{"create": {"sagaId": "s", "associatedEntityId": "a"}}', 1);
    const report = { channel: 'kafkaChannel', label: 'validateReservation', revision: 1, status: 400, reason: 'answered 400' };
    expect(sim.run(JSON.stringify({ sagaId: 's', messageLabel: '__delivery_failed__', messagePayload: report, eventId: 'k' }), 2).at(-1)).toMatchObject({
      event: '__delivery_failed__',
      outcome: 'delivery-failed',
      state: 'reservationCreated',
      commands: [],
    });
    expect(sim.run(JSON.stringify({ sagaId: 's', messageLabel: '__delivery_failed__', messagePayload: report, eventId: 'k' }), 3).at(-1)).toMatchObject({ outcome: 'duplicate' });
    expect(sim.run('{"sagaId": "s", "messageLabel": "__delivery_failed__", "messagePayload": {}}', 4).at(-1)?.reason).toBe('__delivery_failed__: channel must be a non-empty string');
  });

  it('answers unknown-saga for an entity without a saga', () => {
    expect(simulator().run('{"associatedEntityId": "nobody", "messageLabel": "checkOK"}', 1).at(-1)).toEqual({
      line: 1,
      outcome: 'unknown-saga',
      commands: [],
      reason: 'no saga was created for associatedEntityId "nobody"',
    });
  });
});
