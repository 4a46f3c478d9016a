import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { seededRandom } from '../../src/cli/prng.ts';

/**
 * What the proxy does to the connections passing through it:
 * - `cut`: every open connection is reset at once (both sides see ECONNRESET), as a crashed
 *   NAT, a load balancer dropping its table, or a peer's host going away; for `downMs` after
 *   it, new connections are reset as soon as they are accepted (the peer is still away);
 * - `stall`: no byte moves in either direction for `ms`, while the sockets stay open (a
 *   partition that TCP does not notice); bytes sent meanwhile arrive afterwards, in order;
 * - `slow`: for `ms`, every chunk waits `latencyMs` plus its size at `bytesPerSecond`.
 */
export type Fault =
  | { kind: 'cut'; downMs?: number }
  | { kind: 'stall'; ms: number }
  | { kind: 'slow'; ms: number; latencyMs: number; bytesPerSecond: number };

export interface FaultPlanOptions {
  /** Pause before each fault, in ms. */
  everyMs: readonly [number, number];
  /** How long new connections are refused after a cut (default: not at all). */
  downMs?: readonly [number, number];
  stallMs: readonly [number, number];
  slowMs: readonly [number, number];
  latencyMs: readonly [number, number];
  bytesPerSecond: readonly [number, number];
  /** Relative weights of the three kinds. */
  weights?: { cut: number; stall: number; slow: number };
}

export interface PlannedFault {
  /** Pause before the fault, in ms. */
  afterMs: number;
  fault: Fault;
}

function between(random: () => number, [min, max]: readonly [number, number]): number {
  return min + Math.floor(random() * (max - min + 1));
}

/**
 * An endless schedule of faults drawn from `seed`: the same seed gives the same schedule, so a
 * failing run is replayed by its seed (the moments land elsewhere in the workload, the faults
 * and their order do not change).
 */
export function* faultPlan(seed: number, opts: FaultPlanOptions): Generator<PlannedFault, never> {
  const random = seededRandom(seed);
  const w = opts.weights ?? { cut: 1, stall: 1, slow: 1 };
  const total = w.cut + w.stall + w.slow;
  if (!(total > 0)) throw new Error('faultPlan: the weights add up to nothing');
  for (;;) {
    const afterMs = between(random, opts.everyMs);
    const pick = random() * total;
    const fault: Fault =
      pick < w.cut
        ? { kind: 'cut', downMs: opts.downMs ? between(random, opts.downMs) : 0 }
        : pick < w.cut + w.stall
          ? { kind: 'stall', ms: between(random, opts.stallMs) }
          : { kind: 'slow', ms: between(random, opts.slowMs), latencyMs: between(random, opts.latencyMs), bytesPerSecond: between(random, opts.bytesPerSecond) };
    yield { afterMs, fault };
  }
}

/** Resolves on 'drain', or when the socket closes instead (a dropped link never drains). */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

export interface FaultCounts {
  cut: number;
  stall: number;
  slow: number;
  /** Connections reset by cuts. */
  connectionsCut: number;
  /** Connections reset on arrival, while down after a cut. */
  refused: number;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

/**
 * A TCP proxy from a local port to `target`, for tests: it forwards bytes both ways and, on
 * request (`inject`) or on a seeded schedule (`startChaos`), cuts, stalls or slows the
 * connections. Stalls and slowness also hold connections opened while they last. Bytes are
 * forwarded as they come, with backpressure: a stalled proxy stops reading, so the sender's
 * socket buffers fill as they would behind a dead link.
 */
export class FaultProxy {
  readonly counts: FaultCounts = { cut: 0, stall: 0, slow: 0, connectionsCut: 0, refused: 0 };
  private readonly server: net.Server;
  private readonly links = new Set<Link>();
  private stalledUntil = 0;
  private downUntil = 0;
  private holding = 0;
  private slow: { until: number; latencyMs: number; bytesPerSecond: number } | undefined;
  private chaos: { stop: boolean; done: Promise<void> } | undefined;
  private readonly log: ((line: string) => void) | undefined;
  private readonly target: { host: string; port: number };

  private constructor(target: { host: string; port: number }, opts: { log?: (line: string) => void }) {
    this.target = target;
    this.log = opts.log;
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Listens on `port` (a free one when 0) of 127.0.0.1. */
  static async start(target: { host: string; port: number }, opts: { port?: number; log?: (line: string) => void } = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, opts);
    proxy.server.listen(opts.port ?? 0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Chunks read but held back by a stall or slowness right now. */
  get held(): number {
    return this.holding;
  }

  /** Open proxied connections. */
  get connections(): number {
    return this.links.size;
  }

  inject(fault: Fault): void {
    this.counts[fault.kind] += 1;
    const now = Date.now();
    if (fault.kind === 'cut') {
      const n = this.links.size;
      for (const link of [...this.links]) this.drop(link);
      this.counts.connectionsCut += n;
      this.downUntil = Math.max(this.downUntil, now + (fault.downMs ?? 0));
      this.log?.(`cut ${n} connection(s) to ${this.target.port}${fault.downMs ? `, refusing new ones for ${fault.downMs} ms` : ''}`);
    } else if (fault.kind === 'stall') {
      this.stalledUntil = Math.max(this.stalledUntil, now + fault.ms);
      this.log?.(`stalled ${this.links.size} connection(s) to ${this.target.port} for ${fault.ms} ms`);
    } else {
      this.slow = { until: now + fault.ms, latencyMs: fault.latencyMs, bytesPerSecond: fault.bytesPerSecond };
      this.log?.(`slowed connections to ${this.target.port} for ${fault.ms} ms (${fault.latencyMs} ms, ${fault.bytesPerSecond} B/s)`);
    }
  }

  /** Injects the faults of `plan` one after the other until stopChaos(). */
  startChaos(plan: Iterator<PlannedFault>): void {
    if (this.chaos) throw new Error('chaos already running');
    const state = { stop: false, done: Promise.resolve() };
    state.done = (async () => {
      while (!state.stop) {
        const { value } = plan.next();
        const until = Date.now() + value.afterMs;
        while (!state.stop && Date.now() < until) await delay(Math.min(100, until - Date.now()));
        if (!state.stop) this.inject(value.fault);
      }
    })();
    this.chaos = state;
  }

  /** Ends the schedule, if any, and lifts a stall, slowness or refusal still in force. */
  async stopChaos(): Promise<void> {
    if (this.chaos) {
      this.chaos.stop = true;
      await this.chaos.done;
      this.chaos = undefined;
    }
    this.stalledUntil = 0;
    this.downUntil = 0;
    this.slow = undefined;
  }

  async close(): Promise<void> {
    await this.stopChaos();
    for (const link of [...this.links]) this.drop(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (Date.now() < this.downUntil) {
      this.counts.refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    const link: Link = { client, upstream };
    this.links.add(link);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const end = () => this.drop(link);
    client.once('error', end);
    upstream.once('error', end);
    client.once('close', end);
    upstream.once('close', end);
    void this.pump(client, upstream, link);
    void this.pump(upstream, client, link);
  }

  /**
   * Reads `from` chunk by chunk (async iteration pauses the socket while a chunk waits) and
   * writes each to `to` once no stall or slowness holds it back.
   */
  private async pump(from: net.Socket, to: net.Socket, link: Link): Promise<void> {
    try {
      for await (const chunk of from as AsyncIterable<Buffer>) {
        this.holding += 1;
        try {
          for (;;) {
            const wait = this.stalledUntil - Date.now();
            if (wait <= 0) break;
            await delay(Math.min(wait, 100));
          }
          const slow = this.slow;
          if (slow && Date.now() < slow.until) await delay(slow.latencyMs + Math.ceil((chunk.length * 1000) / slow.bytesPerSecond));
        } finally {
          this.holding -= 1;
        }
        if (!this.links.has(link)) return;
        if (!to.write(chunk)) await drained(to);
      }
      // A half-close is passed on: HTTP and Kafka clients do not rely on it, but a test may.
      if (this.links.has(link)) to.end();
    } catch {
      this.drop(link);
    }
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    // A reset rather than a FIN: the peers learn at once that the connection is gone.
    link.client.resetAndDestroy();
    link.upstream.resetAndDestroy();
  }
}
