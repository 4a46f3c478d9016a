import { join } from 'node:path';
import { FaultProxy } from '../../../support/fault-proxy.ts';
import type { FaultCounts, FaultPlanOptions } from '../../../support/fault-proxy.ts';
import { freePort } from './cluster.ts';
import { PrivateBroker } from './private-broker.ts';

// Every link of the instances goes through a fault proxy of its own (test/support/fault-proxy.ts):
// - to Kafka: a private broker has one extra listener per instance, advertised at that
//   instance's proxy, so the addresses the client learns from metadata are the proxy's too and
//   no connection bypasses it (the shared broker cannot get listeners without a restart);
// - between instances: each advertises its proxy as its URL, so forwarded queries pass it.
// The test's own clients (workers, producers, verification) use the broker's plain listener.

/** The variable each instance's saga.json names as its broker; memberEnv resolves it to the member's proxy. */
export const PROXIED_BROKER_VARIABLE = 'PROXIED_KAFKA_BROKER';

/**
 * Broker links: stalls of seconds (requests wait, transactions stay open, heartbeats stop for a
 * while) and cuts that reset the consumer's, the producer's and the coordinator's connections
 * mid-request, some refusing reconnections for a while.
 */
export const KAFKA_LINK_FAULTS: FaultPlanOptions = { everyMs: [700, 2_000], downMs: [0, 3_000], stallMs: [1_000, 6_000], slowMs: [1_000, 5_000], latencyMs: [5, 150], bytesPerSecond: [20_000, 500_000] };

/** Peer links: some stalls outlast the forward timeout (5 s). */
export const PEER_LINK_FAULTS: FaultPlanOptions = { everyMs: [500, 2_000], downMs: [0, 2_000], stallMs: [1_000, 7_000], slowMs: [1_000, 4_000], latencyMs: [50, 1_500], bytesPerSecond: [2_000, 100_000] };

export function sumCounts(proxies: readonly FaultProxy[]): FaultCounts {
  const total: FaultCounts = { cut: 0, stall: 0, slow: 0, connectionsCut: 0, refused: 0 };
  for (const { counts } of proxies) for (const key of Object.keys(total) as (keyof FaultCounts)[]) total[key] += counts[key];
  return total;
}

/**
 * A private broker (not started) whose every instance in `members` reaches it through a proxy
 * of its own, and the instances' peer proxies, created as instances start (`memberEnv`).
 */
export class ProxiedLinks {
  readonly kafka = new Map<string, FaultProxy>();
  readonly peers = new Map<string, FaultProxy>();
  private readonly peerPorts = new Map<string, number>();
  readonly broker: PrivateBroker;
  private constructor(broker: PrivateBroker) {
    this.broker = broker;
  }

  static async create(dir: string, members: readonly string[]): Promise<ProxiedLinks> {
    const listeners = [];
    const kafka = new Map<string, FaultProxy>();
    for (const name of members) {
      const proxyPort = await freePort();
      const listenerPort = await freePort();
      listeners.push({ name: `PROXIED_${name.toUpperCase()}`, port: listenerPort, advertisedPort: proxyPort });
      kafka.set(name, await FaultProxy.start({ host: '127.0.0.1', port: listenerPort }, { port: proxyPort }));
    }
    const links = new ProxiedLinks(await PrivateBroker.create(join(dir, 'broker'), listeners));
    for (const [name, proxy] of kafka) links.kafka.set(name, proxy);
    return links;
  }

  /** The environment of one instance: its broker proxy, and its peer proxy as its advertised URL. */
  async memberEnv({ name, port }: { name: string; port: number }): Promise<Record<string, string>> {
    // A member keeps its port across restarts; a new cluster's member of the same name does not.
    let peer = this.peers.get(name);
    if (peer && this.peerPorts.get(name) !== port) {
      await peer.close();
      peer = undefined;
    }
    if (!peer) {
      peer = await FaultProxy.start({ host: '127.0.0.1', port }, { port: await freePort() });
      this.peers.set(name, peer);
      this.peerPorts.set(name, port);
    }
    const kafkaProxy = this.kafka.get(name);
    if (!kafkaProxy) throw new Error(`no Kafka proxy for ${name}`);
    return { [PROXIED_BROKER_VARIABLE]: kafkaProxy.address, SAGAFLOW_ADVERTISED_URL: `http://${peer.address}` };
  }

  /** Every proxy, broker links first. */
  all(): FaultProxy[] {
    return [...this.kafka.values(), ...this.peers.values()];
  }

  async close(): Promise<void> {
    for (const proxy of this.all()) await proxy.close();
  }
}
