import { setTimeout as delay } from 'node:timers/promises';
import type { SagaflowCluster } from './cluster.ts';

/**
 * Polls GET /-/ready of every running instance and records, per start of each instance, the
 * sequence of answers (200 or 503, repeats collapsed). Readiness must start at 503 (the
 * instance has not joined or restored yet) and reach 200; a later 200 -> 503 flip is a
 * rebalance handing the instance a partition it must restore first.
 *
 * Each start is polled by its own loop: a restore that only catches up takes a few tens of
 * milliseconds, and one instance that is slow to answer (starting, or busy restoring) must
 * not hold up the polls of the others, or short flips go unseen.
 */
export class ReadinessWatch {
  /** `<member>.<generation>` -> collapsed statuses, e.g. [503, 200, 503, 200]. */
  readonly timelines = new Map<string, number[]>();
  private running = false;
  /** Instances already running when the watch began: their first answers were not seen. */
  private readonly startedBefore = new Set<string>();
  private readonly pollers = new Map<string, Promise<void>>();
  private supervisor: Promise<void> | undefined;

  start(cluster: SagaflowCluster, everyMs = 25): void {
    this.running = true;
    for (const m of cluster.running()) this.startedBefore.add(`${m.name}.${m.generation}`);
    this.supervisor = (async () => {
      while (this.running) {
        for (const m of cluster.running()) {
          const key = `${m.name}.${m.generation}`;
          if (this.pollers.has(key)) continue;
          const url = m.url;
          const generation = m.generation;
          const current = (): boolean => this.running && cluster.isRunning(m.name) && m.generation === generation;
          this.pollers.set(key, this.poll(key, url, current, everyMs));
        }
        await delay(everyMs);
      }
    })();
  }

  private async poll(key: string, url: string, current: () => boolean, everyMs: number): Promise<void> {
    while (current()) {
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        const timeline = this.timelines.get(key) ?? [];
        if (timeline.at(-1) !== res.status) timeline.push(res.status);
        this.timelines.set(key, timeline);
      } catch {
        // not listening yet, or gone
      }
      await delay(everyMs);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.supervisor;
    await Promise.all(this.pollers.values());
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
