import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** Deadline after which waitFor fails. */
  timeoutMs: number;
  /** Pause between two polls; short, since each poll is cheap. */
  intervalMs?: number;
  /** What is being waited for, for the failure message. */
  description?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined, null or false, and returns that
 * value; fails once `timeoutMs` has passed, with the last error `probe` threw if any. Tests wait
 * for a condition this way, never with a fixed sleep.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions): Promise<Exclude<T, undefined | null | false>> {
  const interval = options.intervalMs ?? 100;
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const what = options.description ?? 'condition';
      throw new Error(`waitFor: ${what} not met within ${options.timeoutMs} ms`, { cause: lastError });
    }
    await delay(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Runs `assertion` until it stops throwing and returns its value; after `timeoutMs` the last
 * assertion error is thrown, so the test fails with what was actually seen.
 */
export async function eventually<T>(assertion: () => T | Promise<T>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await delay(intervalMs);
    }
  }
}
