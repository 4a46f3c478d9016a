import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.ts';
import type { SagaflowCluster } from './support/cluster.ts';
import { runScenario, scenarioSetup } from './support/scenario.ts';
import { describeProblems } from './support/verify.ts';
import { ZOMBIE_ENTRY, ZOMBIE_LOG } from './support/zombie.ts';

const PARTITIONS = 4;
/** The broker's smallest session by default (group.min.session.timeout.ms): the pause outlasts it quickly. */
const SESSION_TIMEOUT_MS = 6_000;

/** The instance's log lines (pino JSON) whose message is `msg`. */
function logLines(cluster: SagaflowCluster, name: string, msg: string): Record<string, unknown>[] {
  return cluster
    .logsOf(name)
    .split('\n')
    .flatMap((l) => {
      if (!l.startsWith('{')) return [];
      const parsed = JSON.parse(l) as Record<string, unknown>;
      return parsed.msg === msg ? [parsed] : [];
    });
}

describe.each(['librdkafka', 'kafkajs'] as const)('zombie owner (%s)', (client) => {
  it('an instance paused past its session inside an open transaction is fenced, writes nothing visible, drops its tasks and rejoins', { timeout: 240_000 }, async () => {
    const { options, log } = scenarioSetup('zombie', `zombie ${client}`);
    let pausedMs = 0;
    const result = await runScenario({
      ...options,
      instances: ['a', 'b'],
      entries: { a: ZOMBIE_ENTRY },
      partitions: PARTITIONS,
      sagas: 240,
      instanceEnv: { SAGAFLOW_KAFKA_CLIENT: client, SAGAFLOW_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) },
      // 16 s of creations: the pause, the hand-over and the return all happen under load.
      rate: 15,
      finalTimeoutMs: 120_000,
      disrupt: async ({ cluster }) => {
        await delay(3_000);
        cluster.signal('a', 'SIGUSR2');
        await waitFor(() => cluster.isPaused('a'), { timeoutMs: 30_000, intervalMs: 200, description: 'a stops inside a transaction' });
        const pausedAt = Date.now();
        log('a is paused inside an open transaction');
        // The group moves a's partitions to b once a's session expires; b restores them (under
        // v2 after a's open transaction times out) and processes what a had in flight.
        await waitFor(
          async () => {
            const b = await cluster.readinessOf('b');
            return b?.ready === true && b.partitions.length === PARTITIONS;
          },
          { timeoutMs: 90_000, intervalMs: 200, description: 'b owns every partition' },
        );
        await delay(2_000);
        pausedMs = Date.now() - pausedAt;
        log(`b owns every partition; resuming a after ${pausedMs} ms`);
        cluster.signal('a', 'SIGCONT');
        await waitFor(
          async () => {
            const a = await cluster.readinessOf('a');
            return a?.ready === true && a.partitions.length > 0;
          },
          { timeoutMs: 90_000, intervalMs: 200, description: 'a rejoins and owns partitions again' },
        );
        await cluster.waitAllReady(60_000);
        return { pausedMs };
      },
    });
    const { cluster } = result;
    expect(pausedMs).toBeGreaterThan(SESSION_TIMEOUT_MS);
    // Every saga ends once: planned states and revisions, each command exactly once on the
    // commands topic and the changelog's latest record equal to the served saga, all read
    // with read_committed. Nothing the zombie held in its transaction became visible.
    expect(result.problems, describeProblems(result.problems)).toEqual([]);
    expect(result.detectorFailures).toEqual([]);
    expect(result.serverErrors).toEqual([]);
    expect([...result.deadLetters]).toEqual([]);
    expect(cluster.unexpectedExits).toEqual([]);

    // The zombie stopped inside a transaction holding partitions and went on after SIGCONT.
    const [stopped] = logLines(cluster, 'a', ZOMBIE_LOG.stopping);
    expect(stopped?.partitions).toEqual(expect.arrayContaining([expect.any(Number)]));
    expect(logLines(cluster, 'a', ZOMBIE_LOG.continued)).toHaveLength(1);
    const afterContinue = (msg: string) => logLines(cluster, 'a', msg).filter((l) => Number(l.time) >= Number(stopped?.time));
    // It noticed: its partitions were reported lost (not revoked: nothing committed on the way
    // out), its tasks dropped, and it owned partitions again in a later generation.
    const lost = afterContinue('partition revoked').filter((l) => l.lost === true);
    expect(lost.length).toBeGreaterThan(0);
    expect(afterContinue('partition revoked').filter((l) => l.lost !== true)).toEqual([]);
    expect(afterContinue('partition ready').length).toBeGreaterThan(0);
    if (client === 'kafkajs') {
      // v1: the new owner's writer fenced the zombie's transactional id; the zombie's commit is
      // refused as fenced before it learns of the new generation, and the group says the
      // partition is another member's now.
      expect(afterContinue('fenced; checking ownership').length, 'the fencing branch of the task').toBeGreaterThan(0);
      expect(afterContinue('partition owned by another member now; waiting for the rebalance to revoke it').length, 'the "still owned?" check after a fence').toBeGreaterThan(0);
    } else {
      // v2: librdkafka sees its own session expired the moment the process runs again and
      // reports the partitions lost before the commit's answer arrives. The commit fails:
      // refused as fenced (the coordinator aborted the transaction on its timeout and bumped
      // the epoch), or first by librdkafka itself, whose records in flight outlived their
      // delivery timeout during the pause (retryable): which one comes first varies. On a
      // loaded machine the commit's failure can also arrive before the loss is reported: then
      // the task itself reports it (as fenced, or as a failed transaction it restores from),
      // and the loss closes it afterwards.
      const refused = afterContinue('commit failed after its partitions were taken away; its work is dropped');
      const failedWhileOwned = [...afterContinue('fenced; checking ownership'), ...afterContinue('transaction failed; the task re-reads its position and restores')];
      log(`the zombie's commit failed as ${JSON.stringify(refused.map((l) => l.kind))}, ${failedWhileOwned.length} failure(s) reported by a task still open`);
      expect(refused.length + failedWhileOwned.length, 'the zombie\'s commit failed').toBeGreaterThan(0);
    }
  });
});
