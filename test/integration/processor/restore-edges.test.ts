import { Writable } from 'node:stream';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { STALE_HEADER } from '../../../src/http/app.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { PartitionStore } from '../../../src/store/partition-store.ts';
import { openRocksDbStore } from '../../../src/store/rocksdb-store.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { uniqueName } from '../../support/names.ts';
import { codecFor, reservationConfig, startTestInstance, tempStateDir, testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

/** A logger keeping what the instance says at info and above, for assertions on its messages. */
function capturedLogger(): { logger: pino.Logger; messages: () => { msg: string; marker?: string; end?: string }[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), messages: () => lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as { msg: string }) };
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function sagaAt(url: string, sagaId: string, state: string): Promise<SagaDocument> {
  return waitFor(async () => {
    const r = await fetch(`${url}/saga/${sagaId}`);
    const saga = r.status === 200 ? ((await r.json()) as SagaDocument) : undefined;
    return saga?.currentState === state ? saga : undefined;
  }, { timeoutMs: 60_000, description: `${sagaId} in ${state}` });
}

async function status(url: string, sagaId: string): Promise<number> {
  return (await fetch(`${url}/saga/${sagaId}`)).status;
}

// Each restore path of a task on the real broker, one partition, with the store of one state
// directory carried between instances and the changelog topic changed by hand between them.
describe('restore edge cases', () => {
  it('a marker partway, an aborted transaction, an open one (kept store, restore waits), a store of another format, a marker beyond a recreated changelog and one before the log start', { timeout: 240_000 }, async () => {
    const flow = uniqueFlow('restore-edges');
    const config = reservationConfig(flow);
    const codec = await codecFor(config);
    const dirA = tempStateDir();
    const start = async (stateDir: string) => {
      const { logger, messages } = capturedLogger();
      // librdkafka: exactly-once v2, where another instance's open transaction can hold the stable end back.
      const instance = await startTestInstance(config, { stateDir, partitions: 1, logger, client: 'librdkafka' });
      await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
      return { instance, messages };
    };
    const producer = testKafka().producer({ transactionalId: uniqueName('hand-changelog'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    registerCleanup(() => producer.disconnect());
    const handWrite = async (topic: string, sagas: SagaDocument[], outcome: 'commit' | 'abort') => {
      const txn = await producer.transaction();
      await txn.send({ topic, messages: await Promise.all(sagas.map(async (s) => ({ key: s.sagaId, value: await codec.encodeSaga(topic, s) }))) });
      await (outcome === 'commit' ? txn.commit() : txn.abort());
    };

    // A: four sagas, two validated (6 changelog records); its store's marker is at that point.
    const a = await start(dirA);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(((await (await post(a.instance.url, '/saga', { associatedEntityId: `e${i}`, metadata: { i } })).json()) as { sagaId: string }).sagaId);
    const [s1, s2, s3, s4] = ids as [string, string, string, string];
    for (const id of ids) await sagaAt(a.instance.url, id, 'reservationCreated');
    for (const id of [s1, s2]) await post(a.instance.url, '/event', { key: id, value: { messageLabel: 'validationOK', messagePayload: {} } });
    for (const id of [s1, s2]) await sagaAt(a.instance.url, id, 'reservationValidated');
    const s4Created = await sagaAt(a.instance.url, s4, 'reservationCreated');
    await a.instance.stop();

    // B, on a fresh directory, restores all 6 and moves the changelog on by 2.
    const b = await start(tempStateDir());
    expect(b.instance.processor.metrics.restoredRecords).toBe(6);
    await post(b.instance.url, '/event', { key: s1, value: { messageLabel: 'checkOK', messagePayload: {} } });
    await post(b.instance.url, '/event', { key: s3, value: { messageLabel: 'validationOK', messagePayload: {} } });
    const s1Confirmed = await sagaAt(b.instance.url, s1, 'reservationConfirmed');
    await sagaAt(b.instance.url, s3, 'reservationValidated');
    await b.instance.stop();
    const changelog = b.instance.topics.changelog;

    // An aborted transaction with documents that exist nowhere else: a later revision of s4
    // and a saga never created.
    await handWrite(changelog, [{ ...s4Created, revision: 50, currentState: 'reservationConfirmed', isFinal: true }, { ...s4Created, sagaId: 'phantom' }], 'abort');

    // C on A's directory: the marker is partway, so only B's 2 records are replayed; the aborted ones never.
    const c = await start(dirA);
    expect(c.instance.processor.metrics.restoredRecords).toBe(2);
    expect(c.messages().some((m) => m.msg.includes('wiping'))).toBe(false);
    expect((await sagaAt(c.instance.url, s1, 'reservationConfirmed')).revision).toBe(s1Confirmed.revision);
    await sagaAt(c.instance.url, s3, 'reservationValidated');
    expect((await sagaAt(c.instance.url, s4, 'reservationCreated')).revision).toBe(s4Created.revision);
    expect(await status(c.instance.url, 'phantom')).toBe(404);
    await c.instance.stop();

    // Another writer's open transaction holds the stable end back (exactly-once v2: a former
    // owner's transaction that the group generation fences but nothing has aborted yet), and
    // this instance commits after it: its marker is past the stable end but not past the log.
    // A restart keeps the store (wiping it restored only up to the stable end and lost s3's
    // committed change), and is not ready until the open transaction ends: what it hides
    // could be another owner's commits.
    const held = await start(dirA);
    expect(held.instance.processor.metrics.restoredRecords).toBe(0);
    const open = await producer.transaction();
    await open.send({ topic: changelog, messages: [{ key: 'phantom', value: await codec.encodeSaga(changelog, { ...s4Created, sagaId: 'phantom' }) }] });
    await post(held.instance.url, '/event', { key: s3, value: { messageLabel: 'checkKO', messagePayload: {} } });
    const s3Failed = await sagaAt(held.instance.url, s3, 'reservationFailed');
    await held.instance.stop();
    const { logger, messages } = capturedLogger();
    const starting = startTestInstance(config, { stateDir: dirA, partitions: 1, logger, client: 'librdkafka' });
    await waitFor(() => messages().some((m) => m.msg.startsWith('an open transaction on the changelog hides what follows it')), { timeoutMs: 30_000, description: 'the restore waits for the open transaction' });
    const again = await starting;
    expect((await fetch(`${again.url}/-/ready`)).status).toBe(503);
    // Meanwhile the store's committed copies answer, marked stale; a saga it does not have
    // (the open transaction's) is not "not found" but 503 until the restore is done.
    const whileRestoring = await fetch(`${again.url}/saga/${s3}`);
    expect(whileRestoring.status).toBe(200);
    expect(whileRestoring.headers.get(STALE_HEADER)).toBe('restoring');
    expect(((await whileRestoring.json()) as SagaDocument).revision).toBe(s3Failed.revision);
    const unseen = await fetch(`${again.url}/saga/phantom`);
    expect(unseen.status).toBe(503);
    expect(((await unseen.json()) as { code: string }).code).toBe('SAGAFLOW_RESTORING');
    await open.abort();
    await waitFor(async () => (await fetch(`${again.url}/-/ready`)).status === 200, { timeoutMs: 30_000, description: 'ready once the transaction ended' });
    expect(messages().filter((m) => m.msg.includes('wiping'))).toEqual([]);
    expect(((await (await fetch(`${again.url}/saga/${s3}`)).json()) as SagaDocument).revision).toBe(s3Failed.revision);
    await again.stop();

    // A store of another format (a marker written by another layout version) beside a document
    // the changelog does not have: wiped, and all 9 committed records restored.
    const storeDir = join(dirA, flow.applicationId, `${flow.events}-0`);
    const kv = await openRocksDbStore(storeDir);
    await new PartitionStore(kv).applyCommitted([{ ...s4Created, sagaId: 'only-in-old-store' }], 7n);
    await kv.write({ puts: [['m:changelog-offset', Buffer.from(JSON.stringify({ format: 0, offset: '7' }))]], deletes: [] });
    await kv.close();
    const d = await start(dirA);
    expect(d.instance.processor.metrics.restoredRecords).toBe(9);
    expect(d.messages().some((m) => m.msg === 'no store marker of this format; restoring from the start')).toBe(true);
    expect(await status(d.instance.url, 'only-in-old-store')).toBe(404);
    const s2Validated = await sagaAt(d.instance.url, s2, 'reservationValidated');
    expect(await status(d.instance.url, 'phantom')).toBe(404);
    await d.instance.stop();

    // The changelog recreated with one committed record: A's marker names an offset past its
    // end. Wiped and restored from the new log, logged; the sagas only the old log had are gone.
    const admin = testKafka().admin();
    await admin.connect();
    registerCleanup(() => admin.disconnect());
    await admin.deleteTopics({ topics: [changelog], timeout: 10_000 });
    await waitFor(async () => {
      try {
        return await admin.createTopics({ waitForLeaders: true, topics: [{ topic: changelog, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
      } catch {
        return false;
      }
    }, { timeoutMs: 30_000, description: 'changelog recreated' });
    await handWrite(changelog, [s1Confirmed], 'commit');
    const e = await start(dirA);
    const beyond = e.messages().find((m) => m.msg.startsWith('store marker beyond the changelog end'));
    expect(beyond, 'the wipe is logged').toBeDefined();
    expect(Number(beyond?.marker)).toBeGreaterThanOrEqual(Number(beyond?.end));
    expect(e.instance.processor.metrics.restoredRecords).toBe(1);
    expect((await sagaAt(e.instance.url, s1, 'reservationConfirmed')).revision).toBe(s1Confirmed.revision);
    for (const id of [s2, s3, s4]) expect(await status(e.instance.url, id), id).toBe(404);
    await e.instance.stop();

    // A record after E's marker, then every record up to the log end deleted (a changelog given
    // a delete policy too, or records deleted by an operator): the marker is before the log
    // start, and what the deleted records said (a tombstone, say) is lost to a replay from there.
    await handWrite(changelog, [{ ...s2Validated, currentState: 'reservationFailed', isFinal: true, revision: 99 }], 'commit');
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: changelog, configEntries: [{ name: 'cleanup.policy', value: 'compact,delete' }] }] });
    await admin.fetchTopicMetadata({ topics: [changelog] });
    await admin.deleteTopicRecords({ topic: changelog, partitions: [{ partition: 0, offset: '-1' }] });
    const gap = await start(dirA);
    expect(gap.messages().some((m) => m.msg.startsWith('store marker before the changelog start'))).toBe(true);
    // s1 was only in the store and in the deleted records.
    for (const id of [s1, s2]) expect(await status(gap.instance.url, id), id).toBe(404);
    expect(gap.instance.processor.metrics.restoredRecords).toBe(0);
  });
});
