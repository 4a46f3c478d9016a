import { describe, expect, it } from 'vitest';
import { Simulator } from '../../../src/cli/simulator.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { TUTORIAL_SAGA, parse, readJson } from '../definition/fixtures.ts';

const tutorialConfig = parse(readJson(TUTORIAL_SAGA)).config as SagaConfig;
const tutorial = await compileDefinition(tutorialConfig);
const throwing = await compileDefinition({ ...tutorialConfig, settings: { throwOnUnexpectedEvents: true } });

const at = (line: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, line)).toISOString();

function simulator(def = tutorial): Simulator {
  let n = 0;
  return new Simulator(def, { timestampOf: at, newSagaId: () => `gen-${(n += 1)}` });
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
    expect(sim.summaries().map((s) => [s.sagaId, s.state, s.revision, s.metadata])).toEqual([
      ['gen-1', 'reservationConfirmed', 3, { x: 1, y: 2 }],
      ['k2', 'reservationCreated', 1, {}],
    ]);
    // The documents are the engine's: timestamps from the lines, the eventId remembered.
    const [first] = sim.documents();
    expect(first).toMatchObject({ createdAt: at(1), updatedAt: at(3), recentEventIds: ['e'], latestEvent: 'checkOK' });
    expect(first?.history.events.map((e) => [e.event, e.timestamp])).toEqual([
      ['__created__', at(1)],
      ['validationOK', at(2)],
      ['checkOK', at(3)],
    ]);
  });

  it('explains the lines it cannot understand', () => {
    const sim = simulator();
    const reasons = [
      '[1]',
      '{"create": 1}',
      '{"create": {"sagaId": 5, "associatedEntityId": "a", "metadata": {}}}',
      '{"sagaId": "s"}',
      '{"sagaId": 5, "messageLabel": "validationOK"}',
      '{"key": "s", "value": 1}',
      '{"key": "", "value": {"messageLabel": "validationOK"}}',
      '{"key": "s", "value": {"messagePayload": {}}}',
      '{"key": "s", "value": {"messageLabel": "validationOK", "eventId": 7}}',
    ].map((line, i) => {
      const result = sim.run(line, i + 1).at(-1);
      expect(result?.outcome).toBe('invalid-input');
      return result?.reason;
    });
    expect(reasons).toEqual([
      'not a JSON object',
      '"create" must be an object {sagaId?, associatedEntityId, metadata}',
      '"sagaId" must be a non-empty string',
      'missing "messageLabel" (or "create")',
      '"sagaId" must be a string',
      '"value" must be an object {messageLabel, messagePayload}',
      '"key" must be a non-empty string (the sagaId)',
      '"value.messageLabel" must be a non-empty string',
      '"value.eventId" must be a non-empty string',
    ]);
    expect(sim.documents()).toEqual([]);
  });

  it('dead-letters what the engine dead-letters, with its code, instead of guessing', () => {
    const sim = simulator();
    const lines = [
      // A creation without metadata is the engine's SAGAFLOW_INVALID_CREATION, not a saga with {}.
      '{"create": {"sagaId": "s", "associatedEntityId": "a"}}',
      '{"create": {"sagaId": "s", "associatedEntityId": "a", "metadata": []}}',
      '{"create": {"sagaId": "s", "metadata": {}}}',
      '{"sagaId": "s", "messageLabel": "__created__"}',
      // A record without a key, whatever its value.
      '{"messageLabel": "validationOK"}',
      '{"sagaId": "", "messageLabel": 5}',
      // A value the codecs refuse.
      '{"sagaId": "s", "messageLabel": "validationOK", "eventId": 1}',
      '{"sagaId": "s", "messageLabel": ""}',
      '{"sagaId": "s", "messageLabel": "__delivery_failed__", "messagePayload": {}}',
      '{"sagaId": "s", "messageLabel": "validationOK"}',
    ];
    const results = lines.map((line, i) => sim.run(line, i + 1).at(-1));
    expect(results.map((r) => [r?.outcome, r?.deadLetter])).toEqual([
      ['dead-letter', 'SAGAFLOW_INVALID_CREATION'],
      ['dead-letter', 'SAGAFLOW_INVALID_CREATION'],
      ['dead-letter', 'SAGAFLOW_INVALID_CREATION'],
      ['dead-letter', 'SAGAFLOW_INVALID_CREATION'],
      ['dead-letter', 'SAGAFLOW_EVENT_MISSING_KEY'],
      ['dead-letter', 'SAGAFLOW_EVENT_MISSING_KEY'],
      ['dead-letter', 'SAGAFLOW_DECODE_FAILED'],
      ['dead-letter', 'SAGAFLOW_DECODE_FAILED'],
      ['dead-letter', 'SAGAFLOW_DELIVERY_REPORT_INVALID'],
      ['unknown-saga', 'SAGAFLOW_UNKNOWN_SAGA'],
    ]);
    expect(results[0]).toEqual({
      line: 1,
      sagaId: 's',
      event: '__created__',
      outcome: 'dead-letter',
      deadLetter: 'SAGAFLOW_INVALID_CREATION',
      commands: [],
      reason: 'a "__created__" event needs a payload {associatedEntityId: string, metadata: object}',
    });
    expect(results[4]).toEqual({ line: 5, event: 'validationOK', outcome: 'dead-letter', deadLetter: 'SAGAFLOW_EVENT_MISSING_KEY', commands: [], reason: 'the record has no key; the key must be the sagaId' });
    expect(results[6]?.reason).toBe('cannot decode a record of topic simulate: eventId is not a string but a number');
    expect(results[8]?.reason).toBe('__delivery_failed__: channel must be a non-empty string');
    expect(sim.documents()).toEqual([]);

    // A second creation of the same saga, and a duplicate eventId, leave it as it was.
    sim.run('{"create": {"sagaId": "s", "associatedEntityId": "a", "metadata": {}}}', 11);
    sim.run('{"sagaId": "s", "messageLabel": "validationOK", "eventId": "e1"}', 12);
    expect(sim.run('{"create": {"sagaId": "s", "associatedEntityId": "b", "metadata": {}}}', 13).at(-1)).toMatchObject({
      outcome: 'already-exists',
      deadLetter: 'SAGAFLOW_SAGA_EXISTS',
      reason: 'saga "s" already exists (state "reservationValidated")',
    });
    expect(sim.run('{"sagaId": "s", "messageLabel": "validationOK", "eventId": "e1"}', 14).at(-1)).toMatchObject({
      outcome: 'duplicate',
      deadLetter: 'SAGAFLOW_DUPLICATE_EVENT',
      reason: 'event "validationOK" with eventId "e1" was already processed',
    });
    expect(sim.summaries()).toMatchObject([{ sagaId: 's', associatedEntityId: 'a', revision: 2, ignoredEvents: 0 }]);
  });

  it('records a reported failed delivery as the engine does', () => {
    const sim = simulator();
    sim.run('{"create": {"sagaId": "s", "associatedEntityId": "a", "metadata": {}}}', 1);
    const report = { channel: 'kafkaChannel', label: 'validateReservation', revision: 1, status: 400, reason: 'answered 400' };
    expect(sim.run(JSON.stringify({ sagaId: 's', messageLabel: '__delivery_failed__', messagePayload: report, eventId: 'k' }), 2).at(-1)).toMatchObject({
      event: '__delivery_failed__',
      outcome: 'delivery-failed',
      state: 'reservationCreated',
      commands: [],
    });
    expect(sim.run(JSON.stringify({ sagaId: 's', messageLabel: '__delivery_failed__', messagePayload: report, eventId: 'k' }), 3).at(-1)).toMatchObject({ outcome: 'duplicate', deadLetter: 'SAGAFLOW_DUPLICATE_EVENT' });
    expect(sim.documents()[0]).toMatchObject({ revision: 2, deliveryFailures: [{ ...report, state: 'reservationCreated', timestamp: at(2) }] });
  });

  it('refuses POST /event bodies as the route does, and with throwOnUnexpectedEvents asks the core', () => {
    const open = simulator();
    open.run('{"create": {"sagaId": "s", "associatedEntityId": "a", "metadata": {}}}', 1);
    expect(open.run('{"key": "s", "value": {"messageLabel": "__cancel__", "messagePayload": {"by": "x", "reason": "y"}}}', 2).at(-1)).toMatchObject({
      sagaId: 's',
      event: '__cancel__',
      outcome: 'refused',
      refused: 'SAGAFLOW_BAD_REQUEST',
      reason: '"__cancel__" is reserved for cancels; use POST /saga/s/cancel with the admin token',
    });
    expect(open.run('{"key": "s", "value": {"messageLabel": "__delivery_failed__"}}', 3).at(-1)).toMatchObject({ outcome: 'refused', refused: 'SAGAFLOW_BAD_REQUEST' });
    // Without the setting an unexpected event reaches the saga and is recorded there.
    expect(open.run('{"key": "s", "value": {"messageLabel": "checkOK"}}', 4).at(-1)).toMatchObject({ outcome: 'unexpected', state: 'reservationCreated' });
    expect(open.summaries()[0]).toMatchObject({ revision: 2, ignoredEvents: 1 });

    const strict = simulator(throwing);
    expect(strict.run('{"key": "s", "value": {"messageLabel": "__created__", "messagePayload": {"associatedEntityId": "a", "metadata": {}}}}', 1).at(-1)).toMatchObject({ outcome: 'created' });
    expect(strict.run('{"key": "s", "value": {"messageLabel": "checkOK"}}', 2).at(-1)).toEqual({
      line: 2,
      sagaId: 's',
      event: 'checkOK',
      outcome: 'refused',
      refused: 'SAGAFLOW_UNEXPECTED_EVENT',
      commands: [],
      reason: 'saga "s" is in state "reservationCreated", which does not accept "checkOK": state "reservationCreated" has no transition for event "checkOK" (it accepts "validationOK", "validationKO")',
    });
    expect(strict.run('{"key": "nope", "value": {"messageLabel": "checkOK"}}', 3).at(-1)).toMatchObject({ outcome: 'refused', refused: 'SAGAFLOW_SAGA_NOT_FOUND', reason: 'saga "nope" does not exist' });
    // A record on the events topic is not a POST /event: the setting does not stop it.
    expect(strict.run('{"sagaId": "s", "messageLabel": "checkOK"}', 4).at(-1)).toMatchObject({ outcome: 'unexpected' });
    expect(strict.summaries()[0]).toMatchObject({ state: 'reservationCreated', revision: 2, ignoredEvents: 1 });
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

describe('Simulator, records on named topics', () => {
  const observedConfig: SagaConfig = {
    ...tutorialConfig,
    machineDefinition: { ...tutorialConfig.machineDefinition, startOn: ['reservationOpened'] },
    communicationProtocols: [
      ...tutorialConfig.communicationProtocols,
      { id: 'domain', type: 'kafka', configurations: { brokers: ['k:9092'], inputTopics: ['bookings'], correlation: { sagaId: '/messagePayload/booking/id' } } },
    ],
  };

  it('finds the saga of an observed record in its value, whatever its key, and keys other topics by sagaId', async () => {
    const sim = simulator(await compileDefinition(observedConfig));
    expect(sim.run('{"topic": "bookings", "key": "random-1", "value": {"messageLabel": "reservationOpened", "messagePayload": {"booking": {"id": "b-1"}}}}', 1).at(-1)).toMatchObject({ sagaId: 'b-1', outcome: 'created', state: 'reservationCreated' });
    expect(sim.run('{"topic": "bookings", "value": {"messageLabel": "validationOK", "messagePayload": {"booking": {"id": "b-1"}}}}', 2).at(-1)).toMatchObject({ sagaId: 'b-1', outcome: 'applied' });
    expect(sim.run('{"topic": "elsewhere", "key": "b-1", "value": {"messageLabel": "checkOK"}}', 3).at(-1)).toMatchObject({ sagaId: 'b-1', outcome: 'applied', isFinal: true });
    expect(sim.document('b-1')).toMatchObject({ associatedEntityId: 'b-1', metadata: { booking: { id: 'b-1' } } });
  });

  it('dead-letters what the engine dead-letters, and refuses lines of no accepted shape', async () => {
    const sim = simulator(await compileDefinition(observedConfig));
    expect(sim.run('{"topic": "bookings", "key": "x", "value": {"messageLabel": "validationOK", "messagePayload": {"booking": {}}}}', 1)).toEqual([
      {
        line: 1,
        event: 'validationOK',
        outcome: 'dead-letter',
        deadLetter: 'SAGAFLOW_CORRELATION_MISSING',
        commands: [],
        reason: 'the event "validationOK" of observed topic "bookings" has nothing at "/messagePayload/booking/id" (correlation.sagaId of channel "domain"), where its saga id must be a non-empty string',
      },
    ]);
    // On an observed topic a record without a key is no fault: what does not decode is reported as such.
    expect(sim.run('{"topic": "bookings", "value": {"messageLabel": 3}}', 2).at(-1)).toMatchObject({ outcome: 'dead-letter', deadLetter: 'SAGAFLOW_DECODE_FAILED' });
    expect(sim.run('{"topic": "elsewhere", "value": {"messageLabel": "checkOK"}}', 3).at(-1)).toMatchObject({ outcome: 'dead-letter', deadLetter: 'SAGAFLOW_EVENT_MISSING_KEY' });
    expect(sim.run('{"topic": "bookings", "key": "x", "value": {"messageLabel": "reservationOpened", "messagePayload": {"booking": {"id": "b-2"}, "n": 1}}}', 4).at(-1)).toMatchObject({ sagaId: 'b-2', outcome: 'created' });
    expect(sim.run('{"topic": "", "value": {}}', 5).at(-1)).toMatchObject({ outcome: 'invalid-input', reason: '"topic" must be a non-empty string' });
    expect(sim.run('{"topic": "bookings", "key": 4, "value": {}}', 6).at(-1)).toMatchObject({ outcome: 'invalid-input', reason: '"key" must be a string or null' });
    expect(sim.run('{"topic": "bookings", "value": "text"}', 7).at(-1)).toMatchObject({ outcome: 'invalid-input', reason: '"value" must be an object {messageLabel, messagePayload}' });
  });
});
