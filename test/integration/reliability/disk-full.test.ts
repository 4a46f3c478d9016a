import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registerCleanup } from '../../support/cleanup.ts';
import { skipUnlessCi } from '../../support/prerequisites.ts';
import { waitFor } from '../../support/wait.ts';
import { runScenario, scenarioSetup } from './support/scenario.ts';
import { describeProblems, getSaga } from './support/verify.ts';

/** Mounts a size-limited tmpfs at `dir`; the reason it cannot, or undefined. */
function mountTmpfs(dir: string, sizeBytes: number): string | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `a size-limited tmpfs cannot be mounted here (mount needs root or CAP_SYS_ADMIN): ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Writes `file` until the file system is full; returns the bytes written. */
function fillUp(file: string): number {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

describe('disk full', () => {
  it('a state directory that fills up stops the tasks, which recover once space returns: nothing lost, the store kept and consistent with the changelog', { timeout: 240_000 }, async (ctx) => {
    const { options, dir, log } = scenarioSetup('diskfull', 'disk-full');
    // The cluster keeps member a's stores in <dir>/state-a: a small file system of its own there.
    const stateDir = join(dir, 'state-a');
    skipUnlessCi(ctx, mountTmpfs(stateDir, 64 * 1024 * 1024));
    registerCleanup(() => execFileSync('umount', ['-l', stateDir]));
    const filler = join(stateDir, 'filler');
    let fullAt = 0;
    const result = await runScenario({
      ...options,
      instances: ['a'],
      partitions: 2,
      sagas: 200,
      rate: 20,
      // The restarted instance waits out the session of the killed one before it gets its partitions.
      instanceEnv: { SAGAFLOW_SESSION_TIMEOUT_MS: '6000' },
      finalTimeoutMs: 120_000,
      disrupt: async ({ cluster }) => {
        await delay(3_000);
        const bytes = fillUp(filler);
        fullAt = Date.now();
        log(`state directory full (${bytes} filler bytes)`);
        // RocksDB preallocates its write-ahead log, so a running store goes on for a while; an
        // instance restarting on the full disk (a crash, a rescheduled pod) has to create files.
        await delay(1_000);
        await cluster.kill('a');
        await cluster.start('a');
        await waitFor(() => cluster.logsOf('a').includes('"code":"SAGAFLOW_STORE_NO_SPACE"'), { timeoutMs: 30_000, description: 'a store refused for lack of space, with its code' });
        await delay(5_000);
        rmSync(filler);
        log('space is back');
        await cluster.waitAllReady(60_000);
        return { filledBytes: bytes };
      },
    });
    const { cluster } = result;
    expect(fullAt).toBeGreaterThan(0);
    expect(result.problems, describeProblems(result.problems)).toEqual([]);
    expect(result.detectorFailures).toEqual([]);
    expect(result.serverErrors).toEqual([]);
    expect([...result.deadLetters]).toEqual([]);
    expect(cluster.unexpectedExits).toEqual([]);

    // The store left behind opens and is kept (no wipe, no corruption error) and serves exactly
    // the changelog's latest documents.
    await cluster.stop('a');
    await cluster.start('a');
    await cluster.waitAllReady(60_000);
    const member = cluster.members.get('a');
    const second = readFileSync(member?.logFile ?? '', 'utf8');
    expect(second).not.toContain('restoring from the start');
    expect(second).not.toContain('SAGAFLOW_STORE_CORRUPT');
    const url = member?.url ?? '';
    const differing: string[] = [];
    for (const [sagaId, latest] of result.records.changelog) {
      const served = await getSaga(url, sagaId);
      if (!isDeepStrictEqual(served.saga ?? null, latest)) differing.push(`${sagaId}: served ${served.status} revision ${served.saga?.revision}, changelog revision ${latest?.revision}`);
    }
    expect(differing, describeProblems(differing)).toEqual([]);
  });
});
