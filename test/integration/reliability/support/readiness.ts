import { setTimeout as delay } from 'node:timers/promises';
import type { SagaflowCluster } from './cluster.ts';

/**
 * Polls GET /-/ready of every running instance and records, per start of each instance, the
 * sequence of answers (200 or 503, repeats collapsed). Readiness must start at 503 (the
 * instance has not joined or restored yet) and reach 200; a later 200 -> 503 flip is a
 * rebalance handing the instance a partition it must restore first.
 */
export class ReadinessWatch {
  /** `<member>.<generation>` -> collapsed statuses, e.g. [503, 200, 503, 200]. */
  readonly timelines = new Map<string, number[]>();
  private running = false;
  /** Instances already running when the watch began: their first answers were not seen. */
  private readonly startedBefore = new Set<string>();
  private loop: Promise<void> | undefined;

  start(cluster: SagaflowCluster, everyMs = 100): void {
    this.running = true;
    for (const m of cluster.running()) this.startedBefore.add(`${m.name}.${m.generation}`);
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(
          cluster.running().map(async (m) => {
            const key = `${m.name}.${m.generation}`;
            let status: number;
            try {
              const res = await fetch(`${m.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
              await res.arrayBuffer();
              status = res.status;
            } catch {
              return; // not listening yet, or gone
            }
            const timeline = this.timelines.get(key) ?? [];
            if (timeline.at(-1) !== status) timeline.push(status);
            this.timelines.set(key, timeline);
          }),
        );
        await delay(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** How many times an instance that was ready became unready again (a restore after a rebalance). */
  flipsBackToRestoring(): number {
    let n = 0;
    for (const t of this.timelines.values()) for (let i = 1; i < t.length; i += 1) if (t[i - 1] === 200 && t[i] === 503) n += 1;
    return n;
  }

  /** Starts whose first observed answer was 200, i.e. ready before it could have restored anything. */
  readyFromTheStart(): string[] {
    return [...this.timelines].filter(([key, t]) => t[0] === 200 && !this.startedBefore.has(key)).map(([key]) => key);
  }
}
