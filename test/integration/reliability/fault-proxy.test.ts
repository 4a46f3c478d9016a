import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy, faultPlan } from '../../support/fault-proxy.ts';
import type { FaultPlanOptions } from '../../support/fault-proxy.ts';
import { waitFor } from '../../support/wait.ts';

// The proxy itself, against a local echo server: each fault does what the network suites rely on.

const PLAN: FaultPlanOptions = { everyMs: [100, 900], downMs: [0, 1_000], stallMs: [500, 4_000], slowMs: [1_000, 5_000], latencyMs: [5, 200], bytesPerSecond: [10_000, 200_000] };

/** A client connection that collects what comes back; resolves once connected or closed. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<{ error: string | undefined }>((resolve) => {
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ error }));
  });
  // once() rejects on 'error': a reset connection resolves through `closed` instead.
  await Promise.race([once(socket, 'connect').catch(() => undefined), closed]);
  return { socket, closed, received: () => Buffer.concat(received) };
}

describe('fault proxy', () => {
  let echo: net.Server;
  const serverSockets = new Set<net.Socket>();
  let proxy: FaultProxy;

  beforeAll(async () => {
    echo = net.createServer((socket) => {
      serverSockets.add(socket);
      socket.on('close', () => serverSockets.delete(socket));
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
  });
  afterAll(async () => {
    await proxy.close();
    for (const s of serverSockets) s.destroy();
    await new Promise((resolve) => echo.close(resolve));
  });

  it('passes bytes both ways unchanged', async () => {
    const c = await connect(proxy.port);
    const payload = randomBytes(1024 * 1024);
    c.socket.write(payload);
    await waitFor(() => (c.received().length >= payload.length ? true : undefined), { timeoutMs: 20_000, intervalMs: 20, description: 'the echo of 1 MiB' });
    expect(c.received().equals(payload)).toBe(true);
    c.socket.destroy();
  });

  it('cut resets every open connection on both sides; new connections go through', async () => {
    const a = await connect(proxy.port);
    const b = await connect(proxy.port);
    await waitFor(() => (proxy.connections === 2 && serverSockets.size === 2 ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'two links' });
    const before = proxy.counts.connectionsCut;
    proxy.inject({ kind: 'cut' });
    const [ea, eb] = await Promise.all([a.closed, b.closed]);
    expect(ea.error).toBe('ECONNRESET');
    expect(eb.error).toBe('ECONNRESET');
    expect(proxy.counts.connectionsCut - before).toBe(2);
    await waitFor(() => (serverSockets.size === 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'the server side closed too' });

    const c = await connect(proxy.port);
    c.socket.write('after');
    await waitFor(() => (c.received().toString() === 'after' ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'the echo after a cut' });
    c.socket.destroy();
  });

  it('a cut with downMs resets connections on arrival until the time is up or chaos stops', async () => {
    proxy.inject({ kind: 'cut', downMs: 60_000 });
    const refusedBefore = proxy.counts.refused;
    const c = await connect(proxy.port);
    c.socket.write('x');
    expect((await c.closed).error).toBe('ECONNRESET');
    expect(c.received().length).toBe(0);
    expect(proxy.counts.refused - refusedBefore).toBe(1);
    await proxy.stopChaos();
    const d = await connect(proxy.port);
    d.socket.write('back');
    await waitFor(() => (d.received().toString() === 'back' ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'the echo once up again' });
    d.socket.destroy();
  });

  it('stall holds every byte while the sockets stay open, then delivers them in order', async () => {
    const c = await connect(proxy.port);
    c.socket.write('a');
    await waitFor(() => (c.received().toString() === 'a' ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'the first echo' });
    const stallMs = 3_000;
    const began = Date.now();
    proxy.inject({ kind: 'stall', ms: stallMs });
    c.socket.write('bcd');
    c.socket.write('efg');
    await delay(500);
    // Half a second into a 3 s stall: nothing has come back, the connection is still open.
    expect(c.received().toString()).toBe('a');
    expect(c.socket.destroyed).toBe(false);
    expect(proxy.held).toBeGreaterThan(0);
    await waitFor(() => (c.received().toString() === 'abcdefg' ? true : undefined), { timeoutMs: 15_000, intervalMs: 10, description: 'the held bytes' });
    expect(Date.now() - began).toBeGreaterThanOrEqual(stallMs - 50);
    c.socket.destroy();
  });

  it('slow limits the bandwidth of every chunk', async () => {
    const c = await connect(proxy.port);
    const bytesPerSecond = 20_000;
    proxy.inject({ kind: 'slow', ms: 60_000, latencyMs: 0, bytesPerSecond });
    const payload = randomBytes(bytesPerSecond);
    const began = Date.now();
    c.socket.write(payload);
    await waitFor(() => (c.received().length >= payload.length ? true : undefined), { timeoutMs: 30_000, intervalMs: 10, description: 'the slowed echo' });
    // A second's worth of bytes at the limit each way: at least a second in all (a lower bound,
    // whatever the machine's speed).
    expect(Date.now() - began).toBeGreaterThanOrEqual(950);
    expect(c.received().equals(payload)).toBe(true);
    await proxy.stopChaos();
    c.socket.destroy();
  });

  it('a seed gives the same schedule of faults, another seed another one', () => {
    const take = (seed: number) => {
      const plan = faultPlan(seed, PLAN);
      return Array.from({ length: 30 }, () => plan.next().value);
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
    const kinds = new Set(take(42).map((p) => p.fault.kind));
    expect([...kinds].sort()).toEqual(['cut', 'slow', 'stall']);
    for (const { afterMs, fault } of take(7)) {
      expect(afterMs).toBeGreaterThanOrEqual(100);
      expect(afterMs).toBeLessThanOrEqual(900);
      if (fault.kind === 'stall') expect(fault.ms).toBeGreaterThanOrEqual(500);
      if (fault.kind === 'cut') expect(fault.downMs).toBeLessThanOrEqual(1_000);
    }
  });

  it('chaos injects the planned faults until stopped, and then the link is clean', async () => {
    const chaosProxy = await FaultProxy.start({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
    try {
      chaosProxy.startChaos(faultPlan(1, { ...PLAN, everyMs: [20, 60] }));
      await waitFor(() => (chaosProxy.counts.cut > 0 && chaosProxy.counts.stall > 0 && chaosProxy.counts.slow > 0 ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 20,
        description: 'every kind of fault injected',
      });
      await chaosProxy.stopChaos();
      const injected = chaosProxy.counts.cut + chaosProxy.counts.stall + chaosProxy.counts.slow;
      const c = await connect(chaosProxy.port);
      c.socket.write('clean');
      await waitFor(() => (c.received().toString() === 'clean' ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, description: 'the echo once chaos stopped' });
      expect(chaosProxy.counts.cut + chaosProxy.counts.stall + chaosProxy.counts.slow).toBe(injected);
      c.socket.destroy();
    } finally {
      await chaosProxy.close();
    }
  });
});
