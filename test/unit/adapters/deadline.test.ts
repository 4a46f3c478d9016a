import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withDeadline } from '../../../src/deadline.ts';

describe('call deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects a call that never answers once the deadline passes, and hands the caller that call', async () => {
    const never = new Promise<string>(() => undefined);
    const stuck: Promise<string>[] = [];
    const result = withDeadline(never, 45_000, (call) => {
      stuck.push(call);
      return new Error('did not answer');
    });
    const outcome = result.then(
      (v) => `resolved ${v}`,
      (e: unknown) => `rejected ${(e as Error).message}`,
    );
    await vi.advanceTimersByTimeAsync(44_999);
    expect(stuck).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe('rejected did not answer');
    expect(stuck).toEqual([never]);
  });

  it('passes an answer (value or error) through before the deadline and never calls onStuck', async () => {
    const onStuck = vi.fn(() => new Error('late'));
    await expect(withDeadline(Promise.resolve(7), 1_000, onStuck)).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('refused')), 1_000, onStuck)).rejects.toThrow('refused');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(onStuck).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a call answering after the deadline does not change the rejection', async () => {
    let answer!: (v: string) => void;
    const late = new Promise<string>((resolve) => (answer = resolve));
    const result = withDeadline(late, 100, () => new Error('stuck'));
    const caught = result.catch((e: unknown) => (e as Error).message);
    await vi.advanceTimersByTimeAsync(100);
    answer('too late');
    expect(await caught).toBe('stuck');
  });
});
