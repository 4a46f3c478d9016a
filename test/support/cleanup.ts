import { afterAll } from 'vitest';

type Cleanup = () => unknown;

const cleanups: Cleanup[] = [];

/**
 * Runs `cleanup` after the current test file, whether it is called at the top of the file,
 * in a hook or inside a test. (Vitest silently ignores `afterAll` called inside a running test;
 * this module registers one hook when it is first imported, during collection, and each test
 * file imports its own copy because vitest isolates files.) Cleanups run last-in first-out and
 * a failing one does not stop the others.
 */
export function registerCleanup(cleanup: Cleanup): void {
  cleanups.push(cleanup);
}

afterAll(async () => {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop() as Cleanup;
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} test cleanup(s) failed`);
});
