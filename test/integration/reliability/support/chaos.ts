import { setTimeout as delay } from 'node:timers/promises';
import { seededRandom } from '../../../../src/cli/prng.ts';
import type { SagaflowCluster } from './cluster.ts';

/** A seed from RELIABILITY_SEED (to replay a run) or a fresh one; tests print it. */
export function chaosSeed(): number {
  const given = process.env.RELIABILITY_SEED;
  return given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

export function between(random: () => number, [min, max]: readonly [number, number]): number {
  return min + Math.floor(random() * (max - min + 1));
}

export interface KillLoopOptions {
  seed: number;
  /** Keep going until this holds and at least `minKills` kills were done. */
  until: () => boolean;
  minKills: number;
  /** Pause before each kill, in ms. */
  everyMs: readonly [number, number];
  /** How long a killed instance stays down, in ms. */
  downMs: readonly [number, number];
  /** Share of restarts with an empty state directory (restore from the changelog alone). */
  freshRatio: number;
  log?: (line: string) => void;
}

/**
 * SIGKILLs a random running instance at random moments and restarts it after a random pause,
 * half of the time with its local store, otherwise (freshRatio) from nothing.
 */
export async function killLoop(cluster: SagaflowCluster, opts: KillLoopOptions): Promise<{ kills: number; restarts: number }> {
  const random = seededRandom(opts.seed);
  let kills = 0;
  let restarts = 0;
  while (kills < opts.minKills || !opts.until()) {
    await delay(between(random, opts.everyMs));
    const running = cluster.running();
    const victim = running[Math.floor(random() * running.length)];
    if (!victim) continue;
    await cluster.kill(victim.name);
    kills += 1;
    opts.log?.(`killed ${victim.name} (generation ${victim.generation})`);
    await delay(between(random, opts.downMs));
    const fresh = random() < opts.freshRatio;
    await cluster.start(victim.name, { fresh });
    restarts += 1;
    opts.log?.(`restarted ${victim.name}${fresh ? ' with an empty state directory' : ''}`);
  }
  return { kills, restarts };
}
