import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { registerCleanup } from '../../support/cleanup.ts';
import { uniqueName } from '../../support/names.ts';
import { skipUnlessCi } from '../../support/prerequisites.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { chaosSeed } from './support/chaos.ts';
import { reservationSagaJson, runDirectory } from './support/cluster.ts';
import { brokerControlUnavailable, PrivateBroker } from './support/private-broker.ts';
import { runScenario } from './support/scenario.ts';
import { describeProblems } from './support/verify.ts';

// Longer than the clients' retries (about 20 s), so requests during the outage get their 503;
// RELIABILITY_BROKER_DOWN_MS tries other lengths.
const DOWN_MS = Number(process.env.RELIABILITY_BROKER_DOWN_MS ?? 20_000);

describe('broker restart', () => {
  it('instances ride out a Kafka stop and start mid-run without help and lose or duplicate nothing', { timeout: 480_000 }, async (ctx) => {
    const unavailable = await brokerControlUnavailable(services().kafkaBrokers);
    skipUnlessCi(ctx, unavailable);

    const seed = chaosSeed();
    const name = uniqueName('broker');
    const dir = runDirectory(name);
    const log = (line: string) => console.log(`[broker-restart seed=${seed}] ${line}`);
    log(`logs in ${dir}`);
    const broker = await PrivateBroker.create(dir);
    registerCleanup(() => broker.destroy());
    await broker.start();
    const probeAnswers: string[] = [];
    const kafka = new Kafka({ clientId: name, brokers: broker.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    const topics = { events: `${name}-events`, commands: `${name}-commands`, applicationId: `${name}-app` };

    const result = await runScenario({
      kafka,
      brokers: broker.brokers,
      topics,
      dir,
      sagaJson: reservationSagaJson({ brokers: broker.brokers, ...topics }),
      instances: ['a', 'b'],
      partitions: 6,
      sagas: 800,
      seed,
      rate: 40,
      monotonicReads: true,
      tickers: 8,
      finalTimeoutMs: 300_000,
      log,
      onCleanup: registerCleanup,
      disrupt: async ({ cluster, productionDone }) => {
        // A third of the sagas in flight, then the broker goes away for a while.
        await delay(7_000);
        log('stopping the broker');
        await broker.stop();
        // Clients keep calling while the broker is away: each answer is 202 (produced once the
        // broker is back) or 503 (retry later), never a 500.
        const probes = cluster.running().map(async (m, i) => {
          const res = await fetch(`${m.url}/event`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key: `${topics.applicationId}-probe-${i}`, value: { messageLabel: 'validationOK', messagePayload: {} } }),
          });
          const body = (await res.json()) as { code?: string };
          return `${res.status}${body.code ? ` ${body.code}` : ''}`;
        });
        await delay(DOWN_MS);
        const down = cluster.running().length;
        log(`starting the broker again (${down} instances still running)`);
        await broker.start();
        probeAnswers.push(...(await Promise.all(probes)));
        // Back to normal without help: every instance takes events again.
        for (const [i, m] of cluster.running().entries()) {
          const answer = await waitFor(
            async () => {
              const res = await fetch(`${m.url}/event`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ key: `${topics.applicationId}-probe-after-${i}`, value: { messageLabel: 'validationOK', messagePayload: {} } }),
              });
              await res.arrayBuffer();
              return res.status === 202 ? res.status : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 1_000, description: `${m.name} accepting events after the broker restart` },
          );
          expect(answer).toBe(202);
        }
        while (!productionDone()) await delay(250);
        return { brokerRestarts: 1, instancesAliveWhileDown: down };
      },
    });
    expect(result.problems, describeProblems(result.problems)).toEqual([]);
    expect(result.detectorFailures).toEqual([]);
    expect(result.serverErrors).toEqual([]);
    expect(result.staleReads, describeProblems(result.staleReads)).toEqual([]);
    // A send that failed while the broker was away is sent again with the same eventId: the
    // processor refuses the copy if the first one had arrived after all. The probes address
    // sagas that do not exist.
    expect([...result.deadLetters.keys()].filter((code) => code !== 'SAGAFLOW_DUPLICATE_EVENT' && code !== 'SAGAFLOW_UNKNOWN_SAGA')).toEqual([]);
    expect(result.records.deadLetters.filter((d) => d.code === 'SAGAFLOW_UNKNOWN_SAGA' && !d.key?.includes('-probe-'))).toEqual([]);
    log(`ingress answers while the broker was away: ${JSON.stringify(probeAnswers)}`);
    expect(probeAnswers.length).toBeGreaterThan(0);
    for (const answer of probeAnswers) expect(answer).toMatch(/^(202|503 SAGAFLOW_UNAVAILABLE)$/);
    // Recovery without manual action: no instance exited, none was restarted by the test.
    expect(result.cluster.unexpectedExits).toEqual([]);
    expect(result.cluster.counters.starts).toBe(2);
  });
});
