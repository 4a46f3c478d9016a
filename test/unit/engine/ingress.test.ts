import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { applyInput, creationEnvelope, deadLetterCodeOf, toSagaInput, undecodableVerdict } from '../../../src/engine/ingress.ts';
import { eventRequestEnvelope, unexpectedEventRefusal } from '../../../src/http/event-request.ts';
import { SagaflowError } from '../../../src/errors.ts';
import { decodeFailed } from '../../../src/kafka/serdes/serde.ts';
import { acceptance } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';
import { TUTORIAL_SAGA, parse, readJson } from '../definition/fixtures.ts';

const tutorialConfig = parse(readJson(TUTORIAL_SAGA)).config as SagaConfig;
const def = await compileDefinition(tutorialConfig);
const invoice = await compileDefinition(loadSagaConfigFile(new URL('../../../examples/invoice/saga.json', import.meta.url).pathname, {}, { resolveSecrets: false }));
const T = Date.UTC(2024, 0, 1);
const ISO = '2024-01-01T00:00:00.000Z';

const INVALID_CREATION = { code: 'SAGAFLOW_INVALID_CREATION', reason: 'a "__created__" event needs a payload {associatedEntityId: string, metadata: object}' };

function saga(apply: (SagaInput | undefined)[], d: CompiledDefinition = def): SagaDocument {
  let doc: SagaDocument | undefined;
  for (const input of apply) {
    if (!input) continue;
    const { result } = applyInput(d, doc, input);
    if (result?.changed && result.saga) doc = result.saga;
  }
  if (!doc) throw new Error('no saga');
  return doc;
}

function inputOf(key: string | null, messageLabel: string, messagePayload: unknown, eventId?: string): SagaInput {
  const result = toSagaInput(def, key, { messageLabel, messagePayload, ...(eventId === undefined ? {} : { eventId }) }, T);
  if (!('input' in result)) throw new Error(`dead-lettered: ${result.deadLetter.code}`);
  return result.input;
}

const created = () => inputOf('s', '__created__', { associatedEntityId: 'a', metadata: { x: 1 } });

describe('the ingress: a record to a saga input or a dead-letter verdict', () => {
  it('maps a creation, an event and a reported failed delivery, with the record timestamp and eventId', () => {
    expect(toSagaInput(def, 's', creationEnvelope(def, 'a', { x: 1 }), T)).toEqual({ input: { kind: 'create', sagaId: 's', associatedEntityId: 'a', metadata: { x: 1 }, timestamp: ISO } });
    expect(toSagaInput(def, 's', { messageLabel: 'validationOK', messagePayload: { y: 2 }, eventId: 'e' }, T)).toEqual({
      input: { kind: 'event', sagaId: 's', label: 'validationOK', payload: { y: 2 }, eventId: 'e', timestamp: ISO },
    });
    // A payload that is absent stays absent (the codecs keep it undefined): only POST /event sends {}.
    expect(toSagaInput(def, 's', { messageLabel: 'validationOK', messagePayload: undefined }, T)).toEqual({ input: { kind: 'event', sagaId: 's', label: 'validationOK', payload: undefined, timestamp: ISO } });
    const report = { channel: 'c', label: 'l', revision: 1, reason: 'r' };
    expect(toSagaInput(def, 's', { messageLabel: '__delivery_failed__', messagePayload: report }, T)).toEqual({ input: { kind: 'delivery-failed', sagaId: 's', failure: report, timestamp: ISO } });
    // A cancel on the wire is an event: the core reads its payload.
    expect(toSagaInput(def, 's', { messageLabel: '__cancel__', messagePayload: { by: 'ops', reason: 'r' } }, T)).toMatchObject({ input: { kind: 'event', label: '__cancel__' } });
  });

  it.each([
    ['a null key', null],
    ['an empty key', ''],
  ])('dead-letters %s as SAGAFLOW_EVENT_MISSING_KEY, whatever the value', (_name, key) => {
    const verdict = { code: 'SAGAFLOW_EVENT_MISSING_KEY', reason: 'the record has no key; the key must be the sagaId' };
    expect(toSagaInput(def, key, { messageLabel: 'validationOK', messagePayload: {} }, T)).toEqual({ deadLetter: verdict });
    expect(toSagaInput(def, key, { messageLabel: '__created__', messagePayload: null }, T)).toEqual({ deadLetter: verdict });
    expect(undecodableVerdict(key, decodeFailed('t', 'not JSON'))).toEqual(verdict);
  });

  it.each([
    ['no payload', undefined],
    ['a null payload', null],
    ['a string payload', 'x'],
    ['an array payload', [{ associatedEntityId: 'a', metadata: {} }]],
    ['no metadata', { associatedEntityId: 'a' }],
    ['null metadata', { associatedEntityId: 'a', metadata: null }],
    ['array metadata', { associatedEntityId: 'a', metadata: [] }],
    ['string metadata', { associatedEntityId: 'a', metadata: 'm' }],
    ['no associatedEntityId', { metadata: {} }],
    ['a numeric associatedEntityId', { associatedEntityId: 7, metadata: {} }],
  ])('dead-letters a creation with %s as SAGAFLOW_INVALID_CREATION', (_name, payload) => {
    expect(toSagaInput(def, 's', { messageLabel: '__created__', messagePayload: payload }, T)).toEqual({ deadLetter: INVALID_CREATION });
  });

  it('dead-letters a bad failed-delivery report as SAGAFLOW_DELIVERY_REPORT_INVALID', () => {
    expect(toSagaInput(def, 's', { messageLabel: '__delivery_failed__', messagePayload: { channel: 'c' } }, T)).toEqual({
      deadLetter: { code: 'SAGAFLOW_DELIVERY_REPORT_INVALID', reason: '__delivery_failed__: label must be a non-empty string' },
    });
  });

  it('dead-letters a value that does not decode with the codec error code, or SAGAFLOW_DECODE_FAILED', () => {
    expect(undecodableVerdict('s', decodeFailed('events', 'missing messageLabel'))).toEqual({ code: 'SAGAFLOW_DECODE_FAILED', reason: 'cannot decode a record of topic events: missing messageLabel' });
    expect(undecodableVerdict('s', new SagaflowError('SAGAFLOW_SCHEMA_NOT_FOUND', { message: 'schema 9 is not in the registry' }))).toEqual({ code: 'SAGAFLOW_SCHEMA_NOT_FOUND', reason: 'schema 9 is not in the registry' });
    expect(undecodableVerdict('s', new RangeError('bad varint'))).toEqual({ code: 'SAGAFLOW_DECODE_FAILED', reason: 'bad varint' });
    expect(undecodableVerdict('s', 'thrown string')).toEqual({ code: 'SAGAFLOW_DECODE_FAILED', reason: 'thrown string' });
  });
});

describe('applying a saga input: the outcomes the engine dead-letters', () => {
  it('applies without a verdict what changes the saga, ignored events included', () => {
    const s = saga([created()]);
    expect(applyInput(def, s, inputOf('s', 'validationOK', {}))).toMatchObject({ result: { outcome: 'applied' } });
    const unexpected = applyInput(def, s, inputOf('s', 'checkOK', {}));
    expect(unexpected).toMatchObject({ result: { outcome: 'unexpected', changed: true } });
    expect(unexpected.deadLetter).toBeUndefined();
  });

  it('dead-letters a duplicate eventId as SAGAFLOW_DUPLICATE_EVENT', () => {
    const s = saga([created(), inputOf('s', 'validationOK', {}, 'e1')]);
    expect(applyInput(def, s, inputOf('s', 'checkOK', {}, 'e1'))).toMatchObject({
      result: { outcome: 'duplicate', changed: false },
      deadLetter: { code: 'SAGAFLOW_DUPLICATE_EVENT', reason: 'event "checkOK" with eventId "e1" was already processed' },
    });
  });

  it('dead-letters an event for a saga that does not exist as SAGAFLOW_UNKNOWN_SAGA, a failed delivery too', () => {
    expect(applyInput(def, undefined, inputOf('s', 'validationOK', {})).deadLetter).toEqual({ code: 'SAGAFLOW_UNKNOWN_SAGA', reason: 'saga "s" does not exist' });
    expect(applyInput(def, undefined, inputOf('s', '__delivery_failed__', { channel: 'c', label: 'l', revision: 1, reason: 'r' })).deadLetter?.code).toBe('SAGAFLOW_UNKNOWN_SAGA');
  });

  it('dead-letters a second creation as SAGAFLOW_SAGA_EXISTS', () => {
    expect(applyInput(def, saga([created()]), created()).deadLetter).toEqual({ code: 'SAGAFLOW_SAGA_EXISTS', reason: 'saga "s" already exists (state "reservationCreated")' });
  });

  it('dead-letters a creation whose hook fails as SAGAFLOW_HOOK_FAILED; a failing hook of an existing saga is recorded in it', () => {
    const empty = toSagaInput(invoice, 'i', creationEnvelope(invoice, 'o', { customer: { id: 'c' }, lines: [] }), T);
    if (!('input' in empty)) throw new Error('expected an input');
    const applied = applyInput(invoice, undefined, empty.input);
    expect(applied.result).toMatchObject({ outcome: 'hook-failed', changed: false, saga: undefined });
    expect(applied.deadLetter?.code).toBe('SAGAFLOW_HOOK_FAILED');
    expect(applied.deadLetter?.reason).toMatch(/an invoice needs at least one line/);
  });

  it('dead-letters an input the core throws on as SAGAFLOW_INTERNAL_ERROR', () => {
    const broken: CompiledDefinition = { ...def, initialState: 'nowhere' };
    expect(applyInput(broken, undefined, created())).toEqual({
      deadLetter: { code: 'SAGAFLOW_INTERNAL_ERROR', reason: 'transition failed: initialState "nowhere" is not in the compiled definition' },
    });
  });

  it('deadLetterCodeOf names exactly the outcomes that change nothing', () => {
    const codes = (['created', 'applied', 'unexpected', 'rejected', 'already-final', 'cancelled', 'retried', 'stale-timer', 'delivery-failed'] as const).map((outcome) => deadLetterCodeOf({ outcome, changed: true }));
    expect(codes.every((c) => c === undefined)).toBe(true);
    expect(deadLetterCodeOf({ outcome: 'hook-failed', changed: true })).toBeUndefined();
    expect(deadLetterCodeOf({ outcome: 'hook-failed', changed: false })).toBe('SAGAFLOW_HOOK_FAILED');
  });
});

describe('the records the HTTP routes produce (src/http/event-request.ts)', () => {
  it('POST /saga produces the creation record the ingress takes', () => {
    expect(creationEnvelope(def, 'a', { x: 1 })).toEqual({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'a', metadata: { x: 1 } } });
  });

  it('POST /event sends a missing payload as {}, keeps the eventId, and refuses the reserved labels', () => {
    expect(eventRequestEnvelope('s', { messageLabel: 'validationOK' })).toEqual({ envelope: { messageLabel: 'validationOK', messagePayload: {} } });
    expect(eventRequestEnvelope('s', { messageLabel: 'validationOK', messagePayload: null, eventId: 'e' })).toEqual({ envelope: { messageLabel: 'validationOK', messagePayload: {}, eventId: 'e' } });
    expect(eventRequestEnvelope('a b', { messageLabel: '__cancel__' })).toEqual({
      refused: { code: 'SAGAFLOW_BAD_REQUEST', message: '"__cancel__" is reserved for cancels; use POST /saga/a%20b/cancel with the admin token' },
    });
    expect(eventRequestEnvelope('s', { messageLabel: '__delivery_failed__' })).toMatchObject({ refused: { code: 'SAGAFLOW_BAD_REQUEST' } });
  });

  it('with throwOnUnexpectedEvents refuses what the core says the saga would not take', () => {
    const open = saga([created()]);
    const final = saga([created(), inputOf('s', 'validationKO', {})]);
    expect(unexpectedEventRefusal(def, 's', open, 'validationOK')).toBeUndefined();
    expect(unexpectedEventRefusal(def, 'n', undefined, '__created__')).toBeUndefined();
    expect(unexpectedEventRefusal(def, 'n', undefined, 'validationOK')).toEqual({ code: 'SAGAFLOW_SAGA_NOT_FOUND', message: 'saga "n" does not exist' });
    expect(unexpectedEventRefusal(def, 's', open, 'checkOK')).toEqual({
      code: 'SAGAFLOW_UNEXPECTED_EVENT',
      message: 'saga "s" is in state "reservationCreated", which does not accept "checkOK": state "reservationCreated" has no transition for event "checkOK" (it accepts "validationOK", "validationKO")',
    });
    expect(unexpectedEventRefusal(def, 's', final, 'checkOK')).toEqual({
      code: 'SAGAFLOW_UNEXPECTED_EVENT',
      message: 'saga "s" is in state "reservationFailed", which does not accept "checkOK": saga is in final state "reservationFailed", which accepts no events',
    });
    expect(unexpectedEventRefusal(def, 's', open, '__created__')?.message).toBe('saga "s" is in state "reservationCreated", which does not accept "__created__": saga "s" already exists (state "reservationCreated")');
  });

  it('the core answers acceptance with the outcome applying the event would have', () => {
    const open = saga([created()]);
    const cases: [SagaDocument | undefined, string][] = [
      [open, 'validationOK'],
      [open, 'checkOK'],
      [undefined, 'checkOK'],
      [undefined, '__created__'],
      [open, '__created__'],
      [saga([created(), inputOf('s', 'validationKO', {})]), 'validationOK'],
    ];
    for (const [doc, label] of cases) {
      const answer = acceptance(def, 's', doc, label);
      const input = label === '__created__' ? created() : inputOf('s', label, {});
      const { result } = applyInput(def, doc, input);
      if (answer.accepted) expect(['applied', 'created']).toContain(result?.outcome);
      else expect([answer.outcome, answer.reason]).toEqual([result?.outcome, result?.reason]);
    }
  });
});
