import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/cli/prng.ts';
import { between } from './support/chaos.ts';
import { ReadinessWatch } from './support/readiness.ts';
import { runScenario, scenarioSetup } from './support/scenario.ts';
import { describeProblems } from './support/verify.ts';

const MEMBERS = ['a', 'b', 'c', 'd'];

describe('rebalance storm', () => {
  it('instances joining and leaving every few seconds: readiness follows restores, reads never go back in time, nothing lost or duplicated', { timeout: 480_000 }, async () => {
    const { options, seed, log } = scenarioSetup('storm');
    const watch = new ReadinessWatch();
    const result = await runScenario({
      ...options,
      instances: ['a', 'b'],
      partitions: 6,
      sagas: 1200,
      rate: 40,
      monotonicReads: true,
      tickers: 8,
      finalTimeoutMs: 300_000,
      disrupt: async ({ cluster, productionDone }) => {
        const random = seededRandom(seed);
        watch.start(cluster);
        let joins = 0;
        let leaves = 0;
        while (!productionDone() || joins + leaves < 10) {
          await delay(between(random, [2_000, 4_000]));
          const running = cluster.running();
          const stopped = MEMBERS.filter((m) => !cluster.isRunning(m));
          // Between one and all four members; leave cleanly (SIGTERM), join with or without a store.
          const join = running.length <= 1 || (stopped.length > 0 && random() < 0.5);
          if (join) {
            const name = stopped[Math.floor(random() * stopped.length)] as string;
            const fresh = random() < 0.5;
            await cluster.start(name, { fresh });
            joins += 1;
            log(`${name} joins${fresh ? ' with an empty state directory' : ''}`);
          } else {
            const victim = running[Math.floor(random() * running.length)];
            if (!victim) continue;
            await cluster.stop(victim.name);
            leaves += 1;
            log(`${victim.name} leaves`);
          }
        }
        // Everyone back, so the end state is served by a settled group.
        for (const m of MEMBERS) if (!cluster.isRunning(m)) await cluster.start(m);
        await watch.stop();
        return { joins, leaves, readinessFlipsBack: watch.flipsBackToRestoring() };
      },
    });
    log(`readiness timelines ${JSON.stringify([...watch.timelines])}`);
    expect((result.disruption.joins ?? 0) + (result.disruption.leaves ?? 0)).toBeGreaterThanOrEqual(10);
    expect(result.problems, describeProblems(result.problems)).toEqual([]);
    expect(result.detectorFailures).toEqual([]);
    expect(result.serverErrors).toEqual([]);
    expect(result.staleReads, describeProblems(result.staleReads)).toEqual([]);
    // Reads of a partition being restored were refused, not answered from an empty store.
    expect(result.answers.get('503 SAGAFLOW_RESTORING') ?? 0).toBeGreaterThan(0);
    // Every instance answered 503 on /-/ready until it had joined and restored; some flipped
    // back to 503 when a rebalance gave them a partition to restore.
    expect(watch.readyFromTheStart()).toEqual([]);
    expect(result.disruption.readinessFlipsBack).toBeGreaterThan(0);
    expect([...result.deadLetters]).toEqual([]);
    expect(result.cluster.unexpectedExits).toEqual([]);
  });
});
