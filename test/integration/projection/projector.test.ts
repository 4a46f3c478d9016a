import { describe, expect, it } from 'vitest';
import type { SagaSink } from '../../../src/projection/sink.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { createTopic } from '../../support/kafka.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { waitFor } from '../../support/wait.ts';
import { sagaDoc } from '../../unit/projection/fixtures.ts';
import { jsonCodec, mongoSink, produceChangelog, simulateTutorial, storedSagas, testProjector, tutorialDefinition, waitCaughtUp } from './support.ts';

const COMPACTED = { 'cleanup.policy': 'compact' };

async function changelogTopic(): Promise<string> {
  return createTopic({ prefix: 'projection-changelog', partitions: 3, config: COMPACTED });
}

function expectSameSagas(stored: Map<string, SagaDocument>, expected: Map<string, SagaDocument>): void {
  expect(stored.size).toBe(expected.size);
  for (const [sagaId, saga] of expected) expect(stored.get(sagaId), sagaId).toEqual(saga);
}

describe('Projector: changelog -> MongoDB', () => {
  it('projects the tutorial flow: every saga at its last revision, lag 0', async () => {
    const codec = await jsonCodec();
    const topic = await changelogTopic();
    const flow = simulateTutorial(tutorialDefinition(), 300, { seed: 7 });
    await produceChangelog(topic, codec, flow.revisions);
    const collection = await mongoCollection<SagaDocument>('sagas');
    const projector = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection), chunkSize: 100 });
    await projector.start();
    await waitCaughtUp(projector);
    expectSameSagas(await storedSagas(collection), flow.finals);
    const status = projector.status();
    expect(status.recordsRead).toBe(flow.revisions.length);
    expect(status.failing).toBe(false);
    expect((await projector.lag()).total).toBe(0);
    const states = new Set([...flow.finals.values()].map((s) => s.currentState));
    expect(states).toEqual(new Set(['reservationCreated', 'reservationValidated', 'reservationConfirmed', 'reservationFailed']));
  });

  it('reads ahead while a write is in flight and writes what arrived meanwhile at once, each saga once', async () => {
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 1, config: COMPACTED });
    const flow = simulateTutorial(tutorialDefinition(), 200, { seed: 13 });
    const half = Math.floor(flow.revisions.length / 2);
    await produceChangelog(topic, codec, flow.revisions.slice(0, half));
    const collection = await mongoCollection<SagaDocument>('sagas');
    const mongo = await mongoSink(collection);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writes: string[][] = [];
    const gated: SagaSink = {
      kind: 'gated',
      init: () => mongo.init(),
      async write(sagas) {
        writes.push(sagas.map((s) => s.sagaId));
        if (writes.length === 1) await held;
        return mongo.write(sagas);
      },
      close: () => mongo.close(),
    };
    const projector = testProjector({ changelogTopic: topic, codec, sink: gated });
    await projector.start();
    await waitFor(() => writes.length === 1, { timeoutMs: 30_000, description: 'the first write' });
    await produceChangelog(topic, codec, flow.revisions.slice(half));
    // The first write is held: the member reads on until every record is buffered.
    await waitFor(() => writes.length === 1 && projector.status().recordsBuffered === flow.revisions.length, {
      timeoutMs: 30_000,
      description: 'the whole changelog read ahead behind the first write',
    });
    release();
    await waitCaughtUp(projector);
    expectSameSagas(await storedSagas(collection), flow.finals);
    // Everything read meanwhile went in one more write, each saga once, however many of its revisions it read.
    expect(writes).toHaveLength(2);
    const second = writes[1] ?? [];
    expect(new Set(second).size).toBe(second.length);
    expect(second.length).toBeLessThan(flow.revisions.length - half);
    expect(projector.status().recordsBuffered).toBe(0);
  });

  it('replaying the whole changelog twice leaves identical documents and writes nothing', async () => {
    const codec = await jsonCodec();
    const topic = await changelogTopic();
    const flow = simulateTutorial(tutorialDefinition(), 200, { seed: 11 });
    await produceChangelog(topic, codec, flow.revisions);
    const collection = await mongoCollection<SagaDocument>('sagas');
    const first = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection) });
    await first.start();
    await waitCaughtUp(first);
    await first.stop();
    const before = await storedSagas(collection);
    expectSameSagas(before, flow.finals);
    for (let replay = 1; replay <= 2; replay++) {
      // A new group has no committed offset: it reads the changelog from its very start.
      const again = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection) });
      await again.start();
      await waitCaughtUp(again);
      await again.stop();
      expect(again.status().recordsRead, `replay ${replay}`).toBe(flow.revisions.length);
      expect(again.status().sagasWritten, `replay ${replay}`).toBe(0);
      expect(await storedSagas(collection)).toEqual(before);
    }
  });

  it('ignores an old revision that arrives after a newer one in the changelog', async () => {
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 1, config: COMPACTED });
    const newer = sagaDoc({ sagaId: 'out-of-order', revision: 4, currentState: 'reservationConfirmed', isFinal: true });
    const older = sagaDoc({ sagaId: 'out-of-order', revision: 2, currentState: 'reservationValidated' });
    const collection = await mongoCollection<SagaDocument>('sagas');
    const projector = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection) });
    await projector.start();
    // Separate transactions: the old revision reaches the sink in a later write.
    await produceChangelog(topic, codec, [newer]);
    await waitCaughtUp(projector);
    await produceChangelog(topic, codec, [older, sagaDoc({ sagaId: 'other', revision: 1 })]);
    await waitCaughtUp(projector);
    const stored = await storedSagas(collection);
    expect(stored.get('out-of-order')).toEqual(newer);
    expect(stored.get('other')?.revision).toBe(1);
    expect(projector.status().sagasStale).toBe(1);
  });

  it('a projector stopped mid-batch, after a write and before its commit, resumes with nothing lost', async () => {
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-changelog', partitions: 1, config: COMPACTED });
    const flow = simulateTutorial(tutorialDefinition(), 400, { seed: 3 });
    await produceChangelog(topic, codec, flow.revisions);
    const collection = await mongoCollection<SagaDocument>('sagas');
    let chunks = 0;
    let stopping: Promise<void> | undefined;
    const first = testProjector({
      changelogTopic: topic,
      codec,
      sink: await mongoSink(collection),
      chunkSize: 100,
      afterWrite: () => {
        chunks += 1;
        // Stop while the batch is being processed: the third chunk is written, not committed.
        if (chunks === 3) stopping = first.stop();
      },
    });
    await first.start();
    await waitFor(() => chunks >= 3, { timeoutMs: 30_000, description: 'third chunk written' });
    await stopping;
    const partial = await storedSagas(collection);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(flow.finals.size);
    const committedBefore = first.status().recordsRead;
    expect(committedBefore).toBeLessThan(flow.revisions.length);

    const second = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection), groupId: first.groupId, chunkSize: 100 });
    await second.start();
    await waitCaughtUp(second);
    expectSameSagas(await storedSagas(collection), flow.finals);
    // It re-read the uncommitted chunk (written already: some of it is stale) and the rest.
    expect(second.status().recordsRead).toBe(flow.revisions.length - 200);
    expect(second.status().sagasStale).toBeGreaterThan(0);
  });

  it('a failing sink delays the projection (lag, status) and loses nothing once it recovers', async () => {
    const codec = await jsonCodec();
    const topic = await changelogTopic();
    const flow = simulateTutorial(tutorialDefinition(), 100, { seed: 5 });
    await produceChangelog(topic, codec, flow.revisions);
    const collection = await mongoCollection<SagaDocument>('sagas');
    const mongo = await mongoSink(collection);
    let down = true;
    const flaky: SagaSink = {
      kind: 'flaky',
      init: () => mongo.init(),
      close: () => mongo.close(),
      async write(sagas) {
        if (down) throw new Error('target down');
        return mongo.write(sagas);
      },
    };
    const projector = testProjector({ changelogTopic: topic, codec, sink: flaky });
    await projector.start();
    await waitFor(() => projector.status().consecutiveFailures >= 3, { timeoutMs: 30_000, description: 'repeated write failures' });
    expect(projector.status().failing).toBe(true);
    expect(projector.status().lastError?.message).toContain('target down');
    // Lag counts offsets: every record plus the transactions' commit markers.
    expect((await projector.lag()).total).toBeGreaterThanOrEqual(flow.revisions.length);
    expect(projector.metrics().sagaflow_projection_failing).toBe(1);
    down = false;
    await waitCaughtUp(projector);
    expect(projector.status().failing).toBe(false);
    expectSameSagas(await storedSagas(collection), flow.finals);
  });
});
