import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runScenario, scenarioSetup } from './support/scenario.ts';
import { describeProblems } from './support/verify.ts';

/** The group's session timeout: a successor that waited for it would need at least this long. */
const SESSION_TIMEOUT_MS = 30_000;

// What a Kubernetes rolling update does to a pod: SIGTERM, then SIGKILL after the grace period.
// The instance stops taking batches, commits what it holds, leaves the group and closes its
// stores; the survivor takes its partitions over at once instead of after the session timeout.
describe('SIGTERM hand-over', () => {
  it('an instance stopped with SIGTERM mid-run exits 0 within its grace period, its successor takes over without waiting for the session timeout, nothing lost or duplicated', { timeout: 480_000 }, async () => {
    const { options, log } = scenarioSetup('sigterm');
    const measured: { exitCode?: number | null; exitMs?: number; takeoverMs?: number } = {};
    const result = await runScenario({
      ...options,
      instances: ['a', 'b'],
      partitions: 6,
      sagas: 600,
      rate: 40,
      finalTimeoutMs: 240_000,
      instanceEnv: { SAGAFLOW_SHUTDOWN_GRACE_MS: '20000' },
      disrupt: async ({ cluster }) => {
        // Sagas in flight at every step, then a rolling restart of a.
        await delay(6_000);
        const a = cluster.running().find((m) => m.name === 'a');
        if (!a?.exited) throw new Error('a is not running');
        const exited = a.exited;
        const began = Date.now();
        log('SIGTERM a');
        await cluster.stop('a', 25_000);
        measured.exitCode = await exited;
        measured.exitMs = Date.now() - began;
        await cluster.waitAllReady(SESSION_TIMEOUT_MS * 2);
        measured.takeoverMs = Date.now() - began;
        log(`a exited with ${measured.exitCode} after ${measured.exitMs} ms; b owned every partition after ${measured.takeoverMs} ms`);
        await cluster.start('a');
        await cluster.waitAllReady(120_000);
        return { stops: 1 };
      },
    });
    expect(measured.exitCode).toBe(0);
    expect(measured.exitMs).toBeLessThan(20_000);
    // Left the group: no wait for a's session to time out.
    expect(measured.takeoverMs).toBeLessThan(SESSION_TIMEOUT_MS);
    expect(result.problems, describeProblems(result.problems)).toEqual([]);
    expect(result.detectorFailures).toEqual([]);
    expect(result.serverErrors).toEqual([]);
    expect([...result.deadLetters]).toEqual([]);
    expect(result.cluster.unexpectedExits).toEqual([]);
  });
});
