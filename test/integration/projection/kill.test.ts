import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic } from '../../support/kafka.ts';
import { mongoCollection } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { jsonCodec, mongoSink, produceChangelog, simulateTutorial, storedSagas, testProjector, tutorialDefinition, waitCaughtUp } from './support.ts';

describe('a projector killed mid-batch (SIGKILL)', () => {
  it('loses nothing: its successor in the group replays the written but uncommitted chunk and the rest', async () => {
    const codec = await jsonCodec();
    const topic = await createTopic({ prefix: 'projection-kill', partitions: 1, config: { 'cleanup.policy': 'compact' } });
    const flow = simulateTutorial(tutorialDefinition(), 300, { seed: 41 });
    await produceChangelog(topic, codec, flow.revisions);
    const collection = await mongoCollection<SagaDocument>('kill');
    const groupId = uniqueName('projection-kill');

    const child = spawn(process.execPath, [new URL('./kill-child.ts', import.meta.url).pathname], {
      env: {
        ...process.env,
        KAFKA_BROKERS: services().kafkaBrokers.join(','),
        MONGODB_URL: services().mongodbUrl,
        DB: collection.dbName,
        COLLECTION: collection.collectionName,
        TOPIC: topic,
        GROUP: groupId,
        CHUNK_SIZE: '100',
        HANG_AFTER: '3',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    registerCleanup(() => child.kill('SIGKILL'));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        if (data.toString().includes('written 3')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const partial = await storedSagas(collection);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(flow.finals.size);

    // Same group: it resumes from the last commit, once the dead member's session expired.
    const successor = testProjector({ changelogTopic: topic, codec, sink: await mongoSink(collection), groupId, chunkSize: 100 });
    await successor.start();
    await waitCaughtUp(successor, 90_000);
    const stored = await storedSagas(collection);
    expect(stored.size).toBe(flow.finals.size);
    for (const [id, saga] of flow.finals) expect(stored.get(id), id).toEqual(saga);
    // Two chunks were committed before the kill; the third was written, not committed.
    expect(successor.status().recordsRead).toBe(flow.revisions.length - 200);
    expect(successor.status().sagasStale).toBeGreaterThan(0);
  });
});
