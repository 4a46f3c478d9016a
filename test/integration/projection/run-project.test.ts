import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changelogTopicName } from '../../../src/kafka/topics.ts';
import { runProject } from '../../../src/projection/run.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { testDb } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { jsonCodec, produceChangelog, simulateTutorial, storedSagas, tutorialDefinition } from './support.ts';

const root = new URL('../../../', import.meta.url).pathname;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-project-'));
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The tutorial saga.json with this application's topics and a MongoDB persistency, written to a file. */
function writeConfig(dir: string, applicationId: string, persistency: unknown): string {
  const raw = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as Record<string, unknown> & {
    communicationProtocols: { configurations: Record<string, unknown> }[];
  };
  const channel = raw.communicationProtocols[0] as { configurations: Record<string, unknown> };
  channel.configurations = {
    brokers: services().kafkaBrokers,
    inputTopics: [`${applicationId}-events`],
    outputTopics: [`${applicationId}-commands`],
    consumerGroup: applicationId,
  };
  raw.persistencyManagement = persistency;
  const path = join(dir, 'saga.json');
  writeFileSync(path, JSON.stringify(raw));
  return path;
}

describe('sagaflow project (runProject)', () => {
  it('waits for the changelog, projects it into the saga.json MongoDB collection, and stops on abort with 0', async () => {
    const applicationId = uniqueName('project-app');
    const db = await testDb();
    const collectionName = uniqueName('project').replaceAll('-', '_');
    registerCleanup(() => db.collection(collectionName).drop().catch(() => undefined));
    const uri = new URL(services().mongodbUrl);
    uri.pathname = `/${db.databaseName}`;
    const dir = tempDir();
    writeConfig(dir, applicationId, { type: 'mongo', configurations: { connectionUri: uri.toString(), collectionName } });
    const stderr: string[] = [];
    const abort = new AbortController();
    registerCleanup(() => abort.abort());
    const exit = runProject({ CONFIGURATIONS_FILE_PATH: 'saga.json', LOG_LEVEL: 'silent' }, dir, (line) => stderr.push(line), { signal: abort.signal });

    // The projection starts before the application created its changelog, as on a first deploy.
    const topic = changelogTopicName(applicationId);
    const admin = kafkaClient().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    registerCleanup(() => admin.deleteTopics({ topics: [topic] }).catch(() => undefined));
    const flow = simulateTutorial(tutorialDefinition(), 50, { seed: 31 });
    await produceChangelog(topic, await jsonCodec(), flow.revisions);

    const collection = db.collection<SagaDocument>(collectionName);
    await waitFor(async () => (await collection.countDocuments({ isFinal: true })) === [...flow.finals.values()].filter((s) => s.isFinal).length, {
      timeoutMs: 60_000,
      description: 'sagas projected by sagaflow project',
    });
    await waitFor(async () => {
      const stored = await storedSagas(collection);
      return [...flow.finals].every(([id, saga]) => stored.get(id)?.revision === saga.revision);
    }, { timeoutMs: 30_000, description: 'last revisions projected' });
    abort.abort();
    expect(await exit).toBe(0);
    expect(stderr).toEqual([]);
    await admin.deleteGroups([`${applicationId}-projection`]).catch(() => undefined);
  });

  it('refuses a saga.json without persistency, with one line and exit code 1', async () => {
    const dir = tempDir();
    writeConfig(dir, uniqueName('project-app'), {});
    const stderr: string[] = [];
    expect(await runProject({ CONFIGURATIONS_FILE_PATH: 'saga.json' }, dir, (line) => stderr.push(line))).toBe(1);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^SAGAFLOW_CONFIG_INVALID: persistencyManagement/);
  });

  it('refuses a missing CONFIGURATIONS_FILE_PATH', async () => {
    const stderr: string[] = [];
    expect(await runProject({}, tempDir(), (line) => stderr.push(line))).toBe(1);
    expect(stderr[0]).toContain('CONFIGURATIONS_FILE_PATH');
  });
});
