/** Exponential backoff with full jitter (AWS architecture blog), capped. */
export interface BackoffOptions {
  /** First delay in ms. */
  initialMs: number;
  /** Largest delay in ms. */
  maxMs: number;
  /** Growth factor per attempt. */
  factor: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 100, maxMs: 30_000, factor: 2 });

/**
 * Delay before retry number `attempt` (1 = first retry). `random` in [0, 1) is injected so
 * tests are deterministic; the delay is at least half the exponential step so a failing
 * target is never hammered by a run of tiny random delays.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const step = Math.min(opts.maxMs, opts.initialMs * opts.factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
