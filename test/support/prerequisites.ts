/** CI sets CI=true (so does .ci/run): there every suite must run against its real service. */
export function underCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * A test that cannot run here (`missing` says why) is skipped on a developer's machine, saying
 * why, and fails under CI: a green CI run must mean every suite ran, not that it left early.
 */
export function skipUnlessCi(ctx: { skip: (note: string) => void }, missing: string | undefined): void {
  if (missing === undefined) return;
  if (underCi()) throw new Error(`SAGAFLOW_TEST_PREREQUISITE_MISSING: under CI this test must run, but ${missing}`);
  ctx.skip(missing);
}
