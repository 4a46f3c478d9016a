import { describe, expect, it } from 'vitest';
import { mongoPersistency } from '../../support/mongo.ts';
import { killLoop } from './support/chaos.ts';
import { describeProblems } from './support/verify.ts';
import { runScenario, scenarioSetup } from './support/scenario.ts';
import { expectExactlyOnce } from './support/exactly-once.ts';

const SAGAS = Number(process.env.RELIABILITY_SAGAS ?? 1200);

// The default client (librdkafka, exactly-once v2) with the full workload; kafkajs (v1, one
// producer per partition) with half of it, so both fencing schemes meet SIGKILL in every run.
const CLIENTS = [
  { client: 'librdkafka', sagas: SAGAS },
  { client: 'kafkajs', sagas: Math.ceil(SAGAS / 2) },
] as const;

describe.each(CLIENTS)('exactly-once under SIGKILL ($client)', ({ client, sagas }) => {
  it('three instances killed and restarted at random moments lose and duplicate nothing, in the stores and in the projection', { timeout: 780_000 }, async () => {
    const { options, seed, log } = scenarioSetup('crash', `crash ${client}`);
    // The projection runs in each instance and dies with it; its collection is unique to this run.
    const { persistency, collection } = await mongoPersistency('crash');
    const result = await runScenario({
      ...options,
      instances: ['a', 'b', 'c'],
      partitions: 6,
      sagas,
      instanceEnv: { SAGAFLOW_KAFKA_CLIENT: client },
      // About 40 sagas a second for 30 s, so kills land while sagas are at every step.
      rate: 40,
      monotonicReads: true,
      tickers: 8,
      finalTimeoutMs: 300_000,
      // FerretDB projects some 50-130 sagas a second; the projectors also wait out the session of a killed member.
      projection: { persistency, collection, timeoutMs: 300_000 },
      disrupt: async ({ cluster, productionDone }) =>
        killLoop(cluster, { seed, minKills: 5, until: productionDone, everyMs: [3_000, 7_000], downMs: [200, 3_000], freshRatio: 0.3, log }),
    });
    expect(result.disruption.kills).toBeGreaterThanOrEqual(5);
    expectExactlyOnce(result);
    // MongoDB holds exactly the served sagas, after projectors were killed mid-write and resumed.
    expect(result.projection?.problems, describeProblems(result.projection?.problems ?? [])).toEqual([]);
    expect(result.projection?.detectorFailures).toEqual([]);
  });
});
