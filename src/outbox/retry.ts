import { backoffDelay } from '../projection/backoff.ts';
import type { BackoffOptions } from '../projection/backoff.ts';

/** What one HTTP attempt came to. */
export type CallOutcome =
  | { kind: 'answer'; status: number; statusText: string; retryAfter: string | null; body: string }
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'network'; message: string };

export type Decision =
  | { action: 'delivered'; status: number }
  | { action: 'retry'; delayMs: number; why: string }
  | { action: 'fail'; reason: string; status?: number };

export interface RetryPolicy {
  /** How long after the first attempt a retry may still start; 0: never retry. */
  retryForMs: number;
  backoff: BackoffOptions;
}

/** Delays between attempts: from a quarter of a second, doubling, up to 30 s (with jitter). */
export const DELIVERY_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 250, maxMs: 30_000, factor: 2 });

/**
 * Statuses worth another try: 5xx (the service failed or is down), 429 (too many requests)
 * and 408 (the server timed the request out, as a timeout of ours would). Every other 4xx says
 * the request itself is wrong: sending it again gives the same answer.
 */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110 10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone takes "-1" for a year.
  const at = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** One line for an outcome, for logs, reasons and dead letters. */
export function describeOutcome(outcome: CallOutcome): string {
  switch (outcome.kind) {
    case 'answer': {
      const body = outcome.body.trim().replace(/\s+/g, ' ');
      return `answered ${outcome.status}${outcome.statusText ? ` ${outcome.statusText}` : ''}${body ? `: ${body.length > 200 ? `${body.slice(0, 200)}…` : body}` : ''}`;
    }
    case 'timeout':
      return `no answer within ${outcome.afterMs} ms`;
    case 'network':
      return outcome.message;
  }
}

/**
 * What to do after attempt number `attempts` (1 = the first) of a delivery that began at
 * `startedAt`: a 2xx is delivered; a retryable answer, a timeout or a connection error is
 * retried with exponential backoff and jitter (at least as late as a Retry-After asks) until
 * `retryForMs` after the first attempt, the last try at that deadline at the latest; anything
 * else fails at once. A redirect fails too: following it would send the channel's headers
 * (credentials) wherever it points.
 */
export function decide(outcome: CallOutcome, attempts: number, startedAt: number, now: number, policy: RetryPolicy, random: () => number = Math.random): Decision {
  const what = describeOutcome(outcome);
  const status = outcome.kind === 'answer' ? outcome.status : undefined;
  if (status !== undefined && status >= 200 && status < 300) return { action: 'delivered', status };
  if (status !== undefined && !retryableStatus(status)) {
    const hint = status >= 300 && status < 400 ? ' (redirects are not followed: point the channel at the final address)' : '';
    return { action: 'fail', reason: `${what}${hint}`, status };
  }
  const failed = (why: string): Decision => ({ action: 'fail', reason: why, ...(status === undefined ? {} : { status }) });
  if (policy.retryForMs <= 0) return failed(`${what} (not retried: SAGAFLOW_REST_RETRY_FOR_MS is 0)`);
  const deadline = startedAt + policy.retryForMs;
  const tried = `${attempts} attempt${attempts === 1 ? '' : 's'} in ${Math.round((now - startedAt) / 1000)} s`;
  if (now >= deadline) return failed(`retries exhausted after ${tried}; last: ${what}`);
  const asked = outcome.kind === 'answer' ? retryAfterMs(outcome.retryAfter, now) : undefined;
  if (asked !== undefined && now + asked > deadline) {
    return failed(`${what}, with Retry-After ${Math.ceil(asked / 1000)} s, past the retry deadline (${tried}, SAGAFLOW_REST_RETRY_FOR_MS ${policy.retryForMs})`);
  }
  const delayMs = Math.min(Math.max(backoffDelay(attempts, policy.backoff, random), asked ?? 0), deadline - now);
  return { action: 'retry', delayMs, why: what };
}
