import { describe, expect, it } from 'vitest';
import { deadLetterCodeOf, toSagaInput } from '../../../src/engine/ingress.ts';
import { DELIVERY_FAILED_EVENT, MAX_DELIVERY_REASON_LENGTH, parseDeliveryFailure } from '../../../src/saga/delivery-failure.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { DeliveryFailure, SagaInput } from '../../../src/saga/types.ts';
import { create, definition, event, run, ts } from './fixtures.ts';

const def = await definition();

function failed(failure: Partial<DeliveryFailure> = {}, at = ts(5), eventId?: string): SagaInput {
  const input: SagaInput = {
    kind: 'delivery-failed',
    sagaId: 'saga-1',
    failure: { channel: 'http', label: 'notify', revision: 1, status: 400, reason: 'answered 400 Bad Request', ...failure },
    timestamp: at,
  };
  if (eventId !== undefined) input.eventId = eventId;
  return input;
}

describe('a failed delivery reported to the saga', () => {
  it('is recorded in deliveryFailures; state, metadata, history and commands stay as they were', () => {
    const before = run(def, [create()]);
    const result = transition(def, before, failed({}, ts(5), 'delivery-failed:saga-1:1:notify'));
    expect(result.outcome).toBe('delivery-failed');
    expect(result.changed).toBe(true);
    expect(result.commands).toEqual([]);
    expect(result.reason).toBe('"notify" (revision 1) could not be delivered on channel "http" (HTTP 400): answered 400 Bad Request');
    const after = result.saga;
    expect(after?.deliveryFailures).toEqual([
      { channel: 'http', label: 'notify', revision: 1, status: 400, reason: 'answered 400 Bad Request', state: 'start', timestamp: ts(5) },
    ]);
    expect(after?.revision).toBe(before.revision + 1);
    expect(after?.updatedAt).toBe(ts(5));
    expect(after?.recentEventIds).toEqual(['delivery-failed:saga-1:1:notify']);
    const { revision: _r, updatedAt: _u, recentEventIds: _e, deliveryFailures: _d, ...rest } = after ?? before;
    const { revision: _r0, updatedAt: _u0, recentEventIds: _e0, ...restBefore } = before;
    expect(rest).toEqual(restBefore);
    expect(before.deliveryFailures).toBeUndefined();
  });

  it('is recorded in a final state too, after earlier failures, without a status when none came', () => {
    const done = run(def, [create(), event('go', { n: 1 }), event('finish', {}, ts(2)), failed({ label: 'notify' })]);
    const result = transition(def, done, failed({ label: 'celebrate', revision: 3, status: undefined, attempt: 2, reason: 'retries exhausted: connection refused' }, ts(9)));
    expect(done.isFinal).toBe(true);
    expect(result.outcome).toBe('delivery-failed');
    expect(result.saga?.currentState).toBe('done');
    expect(result.saga?.deliveryFailures?.map((f) => [f.label, f.state, f.status, f.attempt])).toEqual([
      ['notify', 'done', 400, undefined],
      ['celebrate', 'done', undefined, 2],
    ]);
    expect(result.reason).toBe('"celebrate" (revision 3) could not be delivered on channel "http": retries exhausted: connection refused');
  });

  it('stays recorded when the saga moves on to other states', () => {
    const moved = run(def, [create(), failed({}, ts(5)), event('go', { n: 1 }, ts(6)), event('finish', {}, ts(7))]);
    expect(moved.currentState).toBe('done');
    expect(moved.deliveryFailures?.map((f) => [f.label, f.state, f.timestamp])).toEqual([['notify', 'start', ts(5)]]);
  });

  it('is a duplicate when its eventId was seen (a dispatcher that re-reported after a crash)', () => {
    const once = run(def, [create(), failed({}, ts(5), 'k')]);
    const again = transition(def, once, failed({}, ts(6), 'k'));
    expect(again.outcome).toBe('duplicate');
    expect(again.changed).toBe(false);
    expect(deadLetterCodeOf(again)).toBe('SAGAFLOW_DUPLICATE_EVENT');
  });

  it('addresses an existing saga only', () => {
    const result = transition(def, undefined, failed());
    expect(result.outcome).toBe('unknown-saga');
    expect(deadLetterCodeOf(result)).toBe('SAGAFLOW_UNKNOWN_SAGA');
  });
});

describe('the __delivery_failed__ payload', () => {
  it('is read with its optional fields, and a long reason is cut', () => {
    expect(parseDeliveryFailure({ channel: 'c', label: 'l', revision: 0, reason: 'r' })).toEqual({ failure: { channel: 'c', label: 'l', revision: 0, reason: 'r' } });
    const long = parseDeliveryFailure({ channel: 'c', label: 'l', revision: 2, reason: 'x'.repeat(5_000), status: 503, attempt: 3 });
    expect('failure' in long && long.failure.reason.length).toBe(MAX_DELIVERY_REASON_LENGTH + 1);
    expect('failure' in long && [long.failure.status, long.failure.attempt]).toEqual([503, 3]);
  });

  it.each([
    [null, /needs a payload/],
    [[1], /needs a payload/],
    [{ label: 'l', revision: 1, reason: 'r' }, /channel must be/],
    [{ channel: 'c', label: '', revision: 1, reason: 'r' }, /label must be/],
    [{ channel: 'c', label: 'l', revision: -1, reason: 'r' }, /revision must be/],
    [{ channel: 'c', label: 'l', revision: 1.5, reason: 'r' }, /revision must be/],
    [{ channel: 'c', label: 'l', revision: 1 }, /reason must be/],
    [{ channel: 'c', label: 'l', revision: 1, reason: 'r', status: 99 }, /status must be/],
    [{ channel: 'c', label: 'l', revision: 1, reason: 'r', status: '500' }, /status must be/],
    [{ channel: 'c', label: 'l', revision: 1, reason: 'r', attempt: 0 }, /attempt must be/],
  ])('refuses %j', (payload, error) => {
    const parsed = parseDeliveryFailure(payload);
    expect('error' in parsed && parsed.error).toMatch(error);
  });

  it('goes through the ingress as a delivery-failed input, or to the dead-letter topic', () => {
    const payload = { channel: 'http', label: 'notify', revision: 1, status: 400, reason: 'r' };
    const ok = toSagaInput(def, 'saga-1', { messageLabel: DELIVERY_FAILED_EVENT, messagePayload: payload, eventId: 'e' }, Date.UTC(2024, 0, 1));
    expect(ok).toEqual({ input: { kind: 'delivery-failed', sagaId: 'saga-1', failure: payload, eventId: 'e', timestamp: '2024-01-01T00:00:00.000Z' } });
    const bad = toSagaInput(def, 'saga-1', { messageLabel: DELIVERY_FAILED_EVENT, messagePayload: { channel: 'http' } }, 0);
    expect(bad).toEqual({ deadLetter: { code: 'SAGAFLOW_DELIVERY_REPORT_INVALID', reason: `${DELIVERY_FAILED_EVENT}: label must be a non-empty string` } });
  });
});
