import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerCleanup } from '../../support/cleanup.ts';
import { faultPlan } from '../../support/fault-proxy.ts';
import type { FaultProxy } from '../../support/fault-proxy.ts';
import { uniqueName } from '../../support/names.ts';
import { skipUnlessCi } from '../../support/prerequisites.ts';
import { chaosSeed } from './support/chaos.ts';
import { reservationSagaJson, runDirectory } from './support/cluster.ts';
import { ANSWERS_UNDER_FAULTS, ForwardedQueryProbe, HANG_MS, ownerAndOther, queryThroughCut, queryThroughStall } from './support/forwarded-queries.ts';
import { privateBrokerUnavailable } from './support/private-broker.ts';
import type { PrivateBroker } from './support/private-broker.ts';
import { KAFKA_LINK_FAULTS, PEER_LINK_FAULTS, PROXIED_BROKER_VARIABLE, ProxiedLinks, sumCounts } from './support/proxied-links.ts';
import { runScenario } from './support/scenario.ts';
import { expectExactlyOnce } from './support/exactly-once.ts';

// Every link of the instances goes through a fault proxy of its own: see support/proxied-links.ts.

const SAGAS = Number(process.env.RELIABILITY_NETFAULT_SAGAS ?? 200);
const INSTANCES = ['a', 'b'] as const;
const PARTITIONS = 4;

const CLIENTS = [{ client: 'librdkafka' }, { client: 'kafkajs' }] as const;

describe('network faults', () => {
  const unavailable = privateBrokerUnavailable();
  const dir = runDirectory(uniqueName('netfault'));
  let links: ProxiedLinks | undefined;
  let kafkaProxies = new Map<string, FaultProxy>();
  let broker: PrivateBroker | undefined;

  beforeAll(async () => {
    if (unavailable) return;
    const own = await ProxiedLinks.create(dir, INSTANCES);
    links = own;
    kafkaProxies = own.kafka;
    broker = own.broker;
    // Registered first, so run last: after the clusters, workers and producers using it.
    registerCleanup(async () => {
      await own.close();
      await own.broker.destroy();
    });
    await own.broker.start();
  });

  it('each extra listener is advertised at its proxy, so clients never learn a way around it', async (ctx) => {
    skipUnlessCi(ctx, unavailable);
    for (const [member, proxy] of kafkaProxies) {
      const admin = new Kafka({ clientId: `netfault-metadata-${member}`, brokers: [proxy.address], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const { brokers } = await admin.describeCluster();
        expect(brokers.map((b) => `${b.host}:${b.port}`)).toEqual([proxy.address]);
      } finally {
        await admin.disconnect();
      }
    }
    // The plain listener still advertises itself (the test's own clients use it).
    const admin = new Kafka({ clientId: 'netfault-metadata-plain', brokers: broker?.brokers ?? [], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect((await admin.describeCluster()).brokers.map((b) => `${b.host}:${b.port}`)).toEqual(broker?.brokers);
    } finally {
      await admin.disconnect();
    }
  });

  describe.each(CLIENTS)('$client', ({ client }) => {
    it('sagas through instances whose broker and peer links are cut, stalled and slowed end once, nothing lost or duplicated', { timeout: 420_000 }, async (ctx) => {
      skipUnlessCi(ctx, unavailable);
      if (!broker || !links) throw new Error('no broker');
      const own = links;
      const seed = chaosSeed();
      const name = uniqueName(`netfault-${client}`);
      const began = Date.now();
      const log = (line: string) => console.log(`[netfault ${client} seed=${seed} +${((Date.now() - began) / 1000).toFixed(1)} s] ${line}`);
      const clientDir = join(dir, client);
      mkdirSync(clientDir, { recursive: true });
      log(`logs in ${clientDir}`);
      const topics = { events: `${name}-events`, commands: `${name}-commands`, applicationId: `${name}-app` };
      const kafka = new Kafka({ clientId: name, brokers: broker.brokers, logLevel: logLevel.NOTHING });
      const sagaIds = Array.from({ length: SAGAS }, (_, i) => `${topics.applicationId}-${i}`);
      const forwarded: { stall?: Awaited<ReturnType<typeof queryThroughStall>>; cut?: Awaited<ReturnType<typeof queryThroughCut>>; probe?: Map<string, number> } = {};

      const result = await runScenario({
        kafka,
        brokers: broker.brokers,
        topics,
        dir: clientDir,
        // Each instance resolves the variable to its own proxy (see memberEnv).
        sagaJson: reservationSagaJson({ brokers: [`\${${PROXIED_BROKER_VARIABLE}}`], ...topics }),
        instances: INSTANCES,
        partitions: PARTITIONS,
        sagas: SAGAS,
        seed,
        instanceEnv: { SAGAFLOW_KAFKA_CLIENT: client },
        memberEnv: (member) => own.memberEnv(member),
        rate: 25,
        monotonicReads: true,
        tickers: 4,
        finalTimeoutMs: 180_000,
        log,
        onCleanup: registerCleanup,
        disrupt: async ({ cluster, productionDone }) => {
          const proxies = [...kafkaProxies.values()];
          proxies.forEach((p, i) => p.startChaos(faultPlan(seed + i, KAFKA_LINK_FAULTS)));
          const peers = [...own.peers.values()];
          peers.forEach((p, i) => p.startChaos(faultPlan(seed + 100 + i, PEER_LINK_FAULTS)));
          const probe = new ForwardedQueryProbe(cluster, sagaIds);
          // Past the end of production until each broker link met every kind of fault.
          const everyKind = () => proxies.every((p) => p.counts.cut > 0 && p.counts.stall > 0 && p.counts.slow > 0);
          const deadline = Date.now() + 30_000;
          while (!productionDone() || (!everyKind() && Date.now() < deadline)) await delay(250);
          for (const p of [...proxies, ...peers]) await p.stopChaos();
          forwarded.probe = await probe.stop();
          log('faults stopped');

          // The two ways a forwarded query fails, each made to happen once on a clean link.
          const sagaId = sagaIds[0] as string;
          const pair = await ownerAndOther(cluster, sagaId, PARTITIONS);
          const ownerProxy = own.peers.get(pair.owner.name) as FaultProxy;
          forwarded.stall = await queryThroughStall(ownerProxy, pair.other, sagaId);
          forwarded.cut = await queryThroughCut(ownerProxy, pair.other, sagaId);

          const kafkaFaults = sumCounts(proxies);
          const httpFaults = sumCounts(peers);
          log(`broker links ${JSON.stringify(kafkaFaults)}, peer links ${JSON.stringify(httpFaults)}, forwarded probe ${JSON.stringify([...forwarded.probe])}`);
          log(`forwarded through a stall: ${JSON.stringify(forwarded.stall)}; through a cut: ${JSON.stringify(forwarded.cut)}`);
          return {
            kafkaCuts: kafkaFaults.cut,
            kafkaStalls: kafkaFaults.stall,
            kafkaSlows: kafkaFaults.slow,
            kafkaConnectionsCut: kafkaFaults.connectionsCut,
            kafkaRefused: kafkaFaults.refused,
            httpCuts: httpFaults.cut,
            httpStalls: httpFaults.stall,
            httpSlows: httpFaults.slow,
          };
        },
      });
      // The other client's run must not share the two cores with this one's instances.
      await result.cluster.close();

      // The faults happened, on every broker link, and cut connections that were in use.
      for (const [member, proxy] of kafkaProxies) {
        expect({ member, cut: proxy.counts.cut > 0, stall: proxy.counts.stall > 0, slow: proxy.counts.slow > 0 }).toEqual({ member, cut: true, stall: true, slow: true });
      }
      expect(result.disruption.kafkaConnectionsCut).toBeGreaterThan(0);
      expect(result.disruption.httpStalls).toBeGreaterThan(0);

      // Exactly once, as under SIGKILL; faults are ridden out: no instance gave up and exited.
      expectExactlyOnce(result);

      // Forwarded queries under faults answer a documented status, never hang.
      const probe = forwarded.probe ?? new Map<string, number>();
      expect([...probe.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect([...probe.keys()].filter((key) => !ANSWERS_UNDER_FAULTS.includes(key))).toEqual([]);
      expect(forwarded.stall).toMatchObject({ status: 503, code: 'SAGAFLOW_OWNER_UNAVAILABLE', retryAfter: '1', message: expect.stringMatching(/did not answer within 5000 ms$/) });
      expect(forwarded.cut).toMatchObject({ status: 503, code: 'SAGAFLOW_OWNER_UNAVAILABLE', retryAfter: '1', message: expect.stringMatching(/cannot be reached$/) });
      for (const answer of [forwarded.stall, forwarded.cut]) if (typeof answer === 'object') expect(answer.ms).toBeLessThan(HANG_MS);
    });
  });
});
