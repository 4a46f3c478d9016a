import { setTimeout as delay } from 'node:timers/promises';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/cli/prng.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { schemaRegistry, uniqueSubject } from '../../support/registry.ts';
import { uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { AVRO_KINDS, HEAVY_KINDS, JSON_KINDS, checkBadRecords, makeBadRecord } from './support/bad-records.ts';
import type { BadRecord, BadRecordContext } from './support/bad-records.ts';
import { chaosSeed } from './support/chaos.ts';
import { reservationSagaJson, runDirectory, SagaflowCluster } from './support/cluster.ts';
import { checkRun, collectRun, describeProblems, getSaga, waitAllFinal, waitAllProcessed } from './support/verify.ts';
import { avroCodec, jsonCodec, planSaga, planWorkload, produceCreations, startWorkers } from './support/workload.ts';

const PER_KIND = Number(process.env.RELIABILITY_BAD_PER_KIND ?? 150);

describe.each(['json', 'avro'] as const)('bad input at volume (%s)', (serialization) => {
  it('dead-letters or records every malformed record with its reason, stays up and processes the valid ones around them', { timeout: 300_000 }, async () => {
    const seed = chaosSeed();
    const random = seededRandom(seed);
    const flow = uniqueFlow(`bad-${serialization}`);
    const dir = runDirectory(uniqueName(`bad-${serialization}`));
    const log = (line: string) => console.log(`[bad-records ${serialization} seed=${seed}] ${line}`);
    log(`logs in ${dir}`);
    const { kafkaBrokers: brokers, schemaRegistryUrl } = services();
    const codec = serialization === 'avro' ? await avroCodec(brokers, schemaRegistryUrl) : await jsonCodec(brokers);
    const cluster = new SagaflowCluster({
      dir,
      partitions: 3,
      sagaJson: reservationSagaJson({
        brokers,
        events: flow.events,
        commands: flow.commands,
        applicationId: flow.applicationId,
        validatePayloads: true,
        ...(serialization === 'avro' ? { schemaRegistryUrl } : {}),
      }),
    });
    registerCleanup(() => cluster.close());
    await cluster.start('a');
    await cluster.waitAllReady(120_000);
    const url = () => cluster.running()[0]?.url ?? '';

    const kafka = kafkaClient();
    const { worker } = await startWorkers({ brokers: services().kafkaBrokers, codec, commandsTopic: flow.commands, eventsTopic: flow.events, groupId: uniqueName('workers') });
    registerCleanup(() => worker.stop());
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    // Victims wait in their first state (nobody answers them) and collect the events it refuses.
    const victims = Array.from({ length: 20 }, (_, i) => planSaga(`${flow.applicationId}-victim-${i}`, 'hold'));
    await produceCreations(producer, codec, flow.events, victims);
    for (const v of victims) await waitFor(async () => (await getSaga(url(), v.sagaId)).status === 200, { timeoutMs: 60_000 });

    let foreignAvro: BadRecordContext['foreignAvro'];
    if (serialization === 'avro') {
      const registry = schemaRegistry();
      const { subject } = uniqueSubject('foreign');
      const schema = JSON.stringify({ type: 'record', name: 'Foreign', namespace: 'test', fields: [{ name: 'weight', type: 'double' }, { name: 'tags', type: { type: 'array', items: 'int' } }] });
      const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
      foreignAvro = () => registry.encode(id, { weight: random(), tags: [1, 2, 3] });
    }
    const sagas = planWorkload(flow.applicationId, 300, seed);
    const ctx: BadRecordContext = {
      codec,
      topic: flow.events,
      random,
      victims: victims.map((v) => v.sagaId),
      existing: victims.map((v) => v.sagaId),
      ...(foreignAvro ? { foreignAvro } : {}),
    };
    const kinds = serialization === 'avro' ? AVRO_KINDS : JSON_KINDS;
    const bad: BadRecord[] = [];
    for (const kind of kinds) {
      for (let i = 0; i < (HEAVY_KINDS.has(kind) ? 3 : PER_KIND); i += 1) bad.push(await makeBadRecord(kind, `${kind}-${i}`, ctx));
    }
    // Shuffled, then sent in rounds mixed with valid creations: they share partitions and batches.
    for (let i = bad.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [bad[i], bad[j]] = [bad[j] as BadRecord, bad[i] as BadRecord];
    }
    const rounds = 10;
    for (let r = 0; r < rounds; r += 1) {
      const valid = sagas.slice((r * sagas.length) / rounds, ((r + 1) * sagas.length) / rounds);
      const chunk = bad.slice((r * bad.length) / rounds, ((r + 1) * bad.length) / rounds);
      const creations: Message[] = await Promise.all(
        valid.map(async (s) => ({
          key: s.sagaId,
          value: await codec.encodeEvent(flow.events, { messageLabel: '__created__', messagePayload: { associatedEntityId: `entity-${s.sagaId}`, metadata: { sagaId: s.sagaId, fail: s.fail } } }),
        })),
      );
      const mixed = [...creations, ...chunk.map((b) => b.message)].sort(() => random() - 0.5);
      // One record at a time for the megabyte ones, so no request passes the broker's limit.
      const heavy = mixed.filter((m) => (m.value?.length ?? 0) > 100_000);
      await producer.send({ topic: flow.events, messages: mixed.filter((m) => !heavy.includes(m)) });
      for (const m of heavy) await producer.send({ topic: flow.events, messages: [m] });
      await delay(200);
    }
    log(`${bad.length} bad records and ${sagas.length} valid sagas produced`);

    const served = await waitAllFinal(sagas, () => cluster.running().map((m) => m.url), 180_000);
    const expectedDead = bad.filter((b) => b.landing.where === 'dead-letter').length;
    const historyPerVictim = new Map<string, number>();
    for (const b of bad) if (b.landing.where === 'history') historyPerVictim.set(b.landing.sagaId, (historyPerVictim.get(b.landing.sagaId) ?? 0) + 1);
    // Each recorded event is one more revision of its victim: wait until all are in.
    for (const v of victims) {
      const expected = 1 + (historyPerVictim.get(v.sagaId) ?? 0);
      await waitFor(async () => ((await getSaga(url(), v.sagaId)).saga?.revision ?? 0) >= expected, {
        timeoutMs: 120_000,
        description: `${v.sagaId} at revision ${expected}`,
      });
    }
    const admin = kafka.admin();
    await admin.connect();
    await waitAllProcessed(admin, flow.applicationId, flow.events, 120_000);

    const records = await collectRun({
      kafka,
      codec,
      topics: { commands: flow.commands, changelog: `${flow.applicationId}-sagas-changelog`, deadLetter: `${flow.applicationId}-dead-letter` },
      keepRevisionsOf: new Set(victims.map((v) => v.sagaId)),
    });
    const report = checkBadRecords(bad, records);
    log(`${report.deadLettered} dead-lettered, ${report.inHistory} in saga history, by kind ${JSON.stringify(report.byKind)}`);
    expect(report.problems, describeProblems(report.problems)).toEqual([]);
    expect(records.deadLetters.length).toBe(expectedDead);

    // The valid sagas around them ran exactly as planned.
    const problems = checkRun({ sagas, served, records, otherKeys: new Set(victims.map((v) => v.sagaId)) });
    expect(problems, describeProblems(problems)).toEqual([]);
    for (const v of victims) {
      const saga = (await getSaga(url(), v.sagaId)).saga;
      expect(saga?.currentState, v.sagaId).toBe('reservationCreated');
      expect(saga?.revision, v.sagaId).toBe(1 + (historyPerVictim.get(v.sagaId) ?? 0));
    }
    expect(cluster.unexpectedExits).toEqual([]);
    expect(await cluster.isReady('a')).toBe(true);
  });
});
