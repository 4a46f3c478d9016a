import { describe, expect, it } from 'vitest';
import { decide, describeOutcome, retryAfterMs, retryableStatus } from '../../../src/outbox/retry.ts';
import type { CallOutcome, RetryPolicy } from '../../../src/outbox/retry.ts';

const policy: RetryPolicy = { retryForMs: 60_000, backoff: { initialMs: 100, maxMs: 10_000, factor: 2 } };
const T0 = Date.UTC(2026, 0, 1);
const answer = (status: number, extra: Partial<Extract<CallOutcome, { kind: 'answer' }>> = {}): CallOutcome => ({ kind: 'answer', status, statusText: '', retryAfter: null, body: '', ...extra });
const half = () => 0.5;

describe('delivery decisions', () => {
  it('counts every 2xx as delivered', () => {
    for (const status of [200, 201, 202, 204, 299]) expect(decide(answer(status), 1, T0, T0, policy)).toEqual({ action: 'delivered', status });
  });

  it('retries 5xx, 429, 408, timeouts and connection errors with exponential backoff and jitter', () => {
    for (const outcome of [answer(500), answer(503), answer(429), answer(408), { kind: 'timeout', afterMs: 10 } as const, { kind: 'network', message: 'connection refused (ECONNREFUSED)' } as const]) {
      const first = decide(outcome, 1, T0, T0 + 5, policy, half);
      expect(first).toMatchObject({ action: 'retry', delayMs: 75 });
      expect(decide(outcome, 4, T0, T0 + 5, policy, half)).toMatchObject({ action: 'retry', delayMs: 600 });
    }
    expect(decide({ kind: 'network', message: 'connection refused (ECONNREFUSED)' }, 1, T0, T0, policy, half)).toMatchObject({ why: 'connection refused (ECONNREFUSED)' });
  });

  it('fails at once on other 4xx and on redirects, with the status and the start of the body', () => {
    expect(decide(answer(400, { statusText: 'Bad Request', body: '{"error":\n "no such customer"}' }), 1, T0, T0, policy)).toEqual({
      action: 'fail',
      status: 400,
      reason: 'answered 400 Bad Request: {"error": "no such customer"}',
    });
    for (const status of [401, 403, 404, 409, 410, 422]) expect(decide(answer(status), 1, T0, T0, policy)).toMatchObject({ action: 'fail', status });
    expect(decide(answer(302, { statusText: 'Found' }), 1, T0, T0, policy)).toEqual({
      action: 'fail',
      status: 302,
      reason: 'answered 302 Found (redirects are not followed: point the channel at the final address)',
    });
  });

  it('waits at least as long as Retry-After asks, in seconds or as an HTTP date', () => {
    expect(decide(answer(429, { retryAfter: '3' }), 1, T0, T0, policy, half)).toMatchObject({ action: 'retry', delayMs: 3_000 });
    const date = new Date(T0 + 7_000).toUTCString();
    expect(decide(answer(503, { retryAfter: date }), 1, T0, T0, policy, half)).toMatchObject({ action: 'retry', delayMs: 7_000 });
    // A backoff longer than Retry-After wins.
    expect(decide(answer(429, { retryAfter: '0' }), 6, T0, T0, policy, half)).toMatchObject({ action: 'retry', delayMs: 2_400 });
  });

  it('gives up at the retry deadline, the last try at the deadline at the latest, and keeps the last status', () => {
    expect(decide(answer(503), 9, T0, T0 + 59_900, policy, half)).toMatchObject({ action: 'retry', delayMs: 100 });
    expect(decide(answer(503, { statusText: 'Service Unavailable' }), 10, T0, T0 + 60_000, policy)).toEqual({
      action: 'fail',
      status: 503,
      reason: 'retries exhausted after 10 attempts in 60 s; last: answered 503 Service Unavailable',
    });
    expect(decide({ kind: 'timeout', afterMs: 500 }, 3, T0, T0 + 61_000, policy)).toEqual({ action: 'fail', reason: 'retries exhausted after 3 attempts in 61 s; last: no answer within 500 ms' });
    const far = decide(answer(429, { retryAfter: '3600' }), 1, T0, T0, policy);
    expect(far).toMatchObject({ action: 'fail', status: 429 });
    expect(far.action === 'fail' && far.reason).toMatch(/Retry-After 3600 s, past the retry deadline/);
  });

  it('never retries with a retry time of 0', () => {
    expect(decide(answer(503), 1, T0, T0, { ...policy, retryForMs: 0 })).toEqual({ action: 'fail', status: 503, reason: 'answered 503 (not retried: SAGAFLOW_REST_RETRY_FOR_MS is 0)' });
  });
});

describe('Retry-After and statuses', () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    expect(retryAfterMs('120', T0)).toBe(120_000);
    expect(retryAfterMs(' 2 ', T0)).toBe(2_000);
    expect(retryAfterMs(new Date(T0 - 5_000).toUTCString(), T0)).toBe(0);
    expect(retryAfterMs('soon', T0)).toBeUndefined();
    expect(retryAfterMs('-1', T0)).toBeUndefined();
    expect(retryAfterMs(null, T0)).toBeUndefined();
  });

  it('retries what can pass and nothing else', () => {
    expect([100, 200, 301, 400, 404, 408, 422, 429, 500, 502, 503, 504].filter(retryableStatus)).toEqual([408, 429, 500, 502, 503, 504]);
  });

  it('cuts a long error body', () => {
    expect(describeOutcome(answer(500, { body: 'x'.repeat(500) }))).toBe(`answered 500: ${'x'.repeat(200)}…`);
  });
});
