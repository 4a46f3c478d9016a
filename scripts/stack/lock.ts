import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StackError } from './errors.ts';
import type { Progress } from './progress.ts';
import { isAlive } from './supervise.ts';

const waitLimitMs = 20 * 60_000;

/**
 * Serializes `up`, `down` and `reset` across processes: several engineers, test runs and the
 * demo share one checkout and one stack folder, and two concurrent `up`s would otherwise both
 * see a service stopped and both start it. A lock whose holder has died is taken over.
 */
export async function withStackLock<T>(runDir: string, progress: Progress, work: () => Promise<T>): Promise<T> {
  await mkdir(runDir, { recursive: true });
  const file = path.join(runDir, 'stack.lock');
  const started = Date.now();
  let lastReport = 0;
  for (;;) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // released between our two calls
    }
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() - started > waitLimitMs) {
      throw new StackError('SAGAFLOW_STACK_START_FAILED', `another stack command (pid ${holder}) has held ${file} for ${waitLimitMs / 60_000} minutes`, `wait for it, or stop it (kill ${holder})`, { retryable: true });
    }
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress.line(`waiting for another stack command to finish (pid ${holder})`);
    }
    await delay(250);
  }
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}
