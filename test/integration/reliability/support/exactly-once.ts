import { expect } from 'vitest';
import type { ScenarioResult } from './scenario.ts';
import { describeProblems } from './verify.ts';

/**
 * The crash suite's verdict on a clean workload: every saga ended once with each command and
 * changelog revision once (read_committed), nothing lost, no read went back in time, no 5xx
 * other than 503, nothing dead-lettered (every event reached the processor once), and no
 * instance exited on its own.
 */
export function expectExactlyOnce(result: ScenarioResult): void {
  expect(result.problems, describeProblems(result.problems)).toEqual([]);
  expect(result.detectorFailures).toEqual([]);
  expect(result.serverErrors).toEqual([]);
  expect(result.staleReads, describeProblems(result.staleReads)).toEqual([]);
  expect([...result.deadLetters]).toEqual([]);
  expect(result.cluster.unexpectedExits).toEqual([]);
}
