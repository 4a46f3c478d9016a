import { describe, expect, it } from 'vitest';
import { backoffDelay, sleep } from '../../../src/projection/backoff.ts';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 1_000, factor: 2 };

  it('doubles per attempt between half and all of the step', () => {
    expect(backoffDelay(1, opts, () => 0)).toBe(50);
    expect(backoffDelay(1, opts, () => 0.999999)).toBe(100);
    expect(backoffDelay(2, opts, () => 0)).toBe(100);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(300);
  });

  it('is capped at maxMs however many attempts failed', () => {
    expect(backoffDelay(50, opts, () => 0.999999)).toBe(1_000);
    expect(backoffDelay(10_000, opts, () => 0)).toBe(500);
  });
});

describe('sleep', () => {
  it('returns early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const done = sleep(10_000, controller.signal);
    controller.abort();
    await done;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
