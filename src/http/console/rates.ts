import type { ProcessorCounters } from './ports.ts';

export interface RatePoint {
  /** End of the interval, epoch milliseconds. */
  t: number;
  /** Per second over the interval before `t`. */
  events: number;
  commands: number;
  deadLetters: number;
}

export interface RateSeries {
  intervalMs: number;
  windowMs: number;
  points: RatePoint[];
}

/**
 * Events/s and commands/s over the last minutes, from monotonic counters sampled at a fixed
 * interval. Time comes from the caller (`sample(now)`), so tests drive it without a clock. A
 * counter that goes down (the processor was replaced) starts a new baseline instead of a
 * negative rate.
 */
export class RateSampler {
  private readonly read: () => ProcessorCounters;
  readonly intervalMs: number;
  readonly windowMs: number;
  private last: { t: number; counters: ProcessorCounters } | undefined;
  private readonly points: RatePoint[] = [];

  constructor(read: () => ProcessorCounters, opts: { intervalMs?: number; windowMs?: number } = {}) {
    this.read = read;
    this.intervalMs = opts.intervalMs ?? 5_000;
    this.windowMs = opts.windowMs ?? 10 * 60_000;
  }

  sample(now: number): void {
    const counters = this.read();
    const last = this.last;
    this.last = { t: now, counters: { ...counters } };
    if (!last || now <= last.t) return;
    const seconds = (now - last.t) / 1000;
    const rate = (a: number, b: number) => (b >= a ? Math.round(((b - a) / seconds) * 100) / 100 : 0);
    this.points.push({
      t: now,
      events: rate(last.counters.events, counters.events),
      commands: rate(last.counters.commands, counters.commands),
      deadLetters: rate(last.counters.deadLetters, counters.deadLetters),
    });
    while (this.points.length > 0 && (this.points[0] as RatePoint).t <= now - this.windowMs) this.points.shift();
  }

  series(): RateSeries {
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, points: [...this.points] };
  }
}

/**
 * The cluster's series: the instances' points summed by interval (aligned on the interval
 * grid, so instances sampling a little apart still add up).
 */
export function sumSeries(all: readonly RateSeries[], intervalMs: number, windowMs: number): RateSeries {
  const buckets = new Map<number, RatePoint>();
  for (const series of all) {
    for (const p of series.points) {
      const t = Math.round(p.t / intervalMs) * intervalMs;
      const b = buckets.get(t) ?? { t, events: 0, commands: 0, deadLetters: 0 };
      b.events += p.events;
      b.commands += p.commands;
      b.deadLetters += p.deadLetters;
      buckets.set(t, b);
    }
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  const points = [...buckets.values()]
    .sort((a, b) => a.t - b.t)
    .map((p) => ({ t: p.t, events: round(p.events), commands: round(p.commands), deadLetters: round(p.deadLetters) }));
  return { intervalMs, windowMs, points };
}
