import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../src/broker/murmur2.ts';
import type { ImportSummary } from '../../../src/migration/import.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoPersistency } from '../../support/mongo.ts';
import { closedPort } from '../../support/ports.ts';
import { runNode } from '../../support/process.ts';
import { readTopic, reservationConfig, startReservationWorkers, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

const root = new URL('../../../', import.meta.url).pathname;
const PARTITIONS = 4;

/** Runs `bin/sagaflow.js` as a user would. */
function sagaflow(args: string[], env: Record<string, string>, opts: { timeoutMs?: number } = {}) {
  return runNode([join(root, 'bin/sagaflow.js'), ...args], { cwd: root, env, ...opts });
}

/** A saga as Flow Manager's mongo persistency stores it (timestamps as BSON dates, no sagaflow fields). */
function flowManagerSaga(i: number, state: string, history: { states: string[]; events: string[] }, businessStateId: number) {
  const at = (k: number) => new Date(Date.UTC(2026, 5, 1, 10, i, k));
  return {
    sagaId: `fm-saga-${i}`,
    associatedEntityId: `reservation-${i}`,
    currentState: state,
    isFinal: state === 'reservationConfirmed',
    businessStateId,
    businessStateDescription: businessStateId === 1 ? 'The reservation is confirmed' : 'The reservation is in progress',
    latestEvent: history.events.at(-1) ?? '__created__',
    metadata: { reservationId: i, seats: [i, i + 1], customer: { name: `c${i}` } },
    history: {
      states: history.states.map((s, k) => ({ state: s, timestamp: at(2 * k), businessStateId: s === 'reservationConfirmed' ? 1 : 0 })),
      events: history.events.map((e, k) => ({ event: e, timestamp: at(2 * k + 1) })),
    },
  };
}

describe('sagaflow import: a Flow Manager mongo collection carried over, then the sagas finish in sagaflow start', () => {
  it('writes each saga on its home partition, is idempotent, refuses a running application and never overwrites what sagaflow did', { timeout: 300_000 }, async () => {
    const flow = uniqueFlow('import');
    const { persistency, collection } = await mongoPersistency('fm-sagas');
    const waiting = [1, 2, 3, 4, 5].map((i) => flowManagerSaga(i, 'reservationCreated', { states: ['reservationCreated'], events: ['__created__'] }, 0));
    const validated = [6, 7, 8, 9].map((i) =>
      flowManagerSaga(i, 'reservationValidated', { states: ['reservationCreated', 'reservationValidated'], events: ['__created__', 'validationOK'] }, 0),
    );
    const done = [10, 11].map((i) =>
      flowManagerSaga(i, 'reservationConfirmed', { states: ['reservationCreated', 'reservationValidated', 'reservationConfirmed'], events: ['__created__', 'validationOK', 'checkOK'] }, 1),
    );
    const legacy = { ...flowManagerSaga(12, 'legacyState', { states: ['legacyState'], events: ['__created__'] }, 0) };
    await collection.insertMany([...waiting, ...validated, ...done, legacy] as unknown as SagaDocument[]);

    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-import-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const config = reservationConfig(flow, 'json', persistency);
    const configFile = join(dir, 'saga.json');
    writeFileSync(configFile, JSON.stringify(config));
    const env = {
      CONFIGURATIONS_FILE_PATH: configFile,
      SAGAFLOW_DEFAULT_PARTITIONS: String(PARTITIONS),
      SAGAFLOW_REPLICATION_FACTOR: '1',
      SAGAFLOW_STATE_DIR: join(dir, 'state'),
      ...(process.env.SAGAFLOW_KAFKA_CLIENT ? { SAGAFLOW_KAFKA_CLIENT: process.env.SAGAFLOW_KAFKA_CLIENT } : {}),
    };

    // First import: 11 sagas written, the one in a state this machine lacks listed and not written.
    const first = await sagaflow(['import'], env).done;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`read 12 sagas from the mongo store; wrote 11 into ${flow.applicationId}-sagas-changelog (${PARTITIONS} partitions)`);
    expect(first.stdout).toMatch(/imported\s+11\b/);
    expect(first.stdout).toContain('fm-saga-12: currentState "legacyState" is not a state of this machine definition');
    // Not a terminal: the progress bar prints a line per tenth, the last at 100%.
    expect(first.stderr).toContain('importing [##############################] 12/12 100%');

    const changelog = await readTopic(`${flow.applicationId}-sagas-changelog`, { until: (r) => r.length >= 11 });
    expect(changelog.map((r) => r.key).sort()).toEqual([...waiting, ...validated, ...done].map((s) => s.sagaId).sort());
    for (const r of changelog) {
      expect(r.partition).toBe(partitionForKey(r.key as string, PARTITIONS));
      expect(r.headers['sagaflow-imported-from']).toBe('flow-manager-mongo');
    }
    const imported = JSON.parse((changelog.find((r) => r.key === 'fm-saga-7')?.value as Buffer).toString('utf8')) as SagaDocument;
    expect(imported).toMatchObject({
      currentState: 'reservationValidated',
      isFinal: false,
      businessStateId: 0,
      metadata: { reservationId: 7, seats: [7, 8], customer: { name: 'c7' } },
      revision: 4,
      commands: [],
      ignoredEvents: [],
      createdAt: '2026-06-01T10:07:00.000Z',
      updatedAt: '2026-06-01T10:07:03.000Z',
    });
    expect(imported.history.states.map((s) => s.timestamp)).toEqual(['2026-06-01T10:07:00.000Z', '2026-06-01T10:07:02.000Z']);

    // Twice: nothing written.
    const second = await sagaflow(['import', '--json'], env).done;
    expect(second.code, second.stderr).toBe(0);
    const again = JSON.parse(second.stdout) as ImportSummary;
    expect(again).toMatchObject({ read: 12, imported: 0, updated: 0, unchanged: 11, kept: 0 });
    expect(again.refused).toHaveLength(1);

    // A real `sagaflow start` restores them and goes on.
    const port = await closedPort();
    const started = sagaflow(['start'], { ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, { timeoutMs: 240_000 });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, { timeoutMs: 90_000, description: 'sagaflow start ready' });

    // While it runs, the import refuses and writes nothing.
    const refused = await sagaflow(['import'], env).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SAGAFLOW_IMPORT_APPLICATION_RUNNING');
    expect(refused.stderr).toContain(`application "${flow.applicationId}" is running`);

    // The services answer the commands Flow Manager had sent before the move; the reservation
    // workers answer the ones sagaflow sends from now on.
    const workers = await startReservationWorkers(config, flow);
    for (const s of waiting) await workers.emit('validationOK', s.sagaId, { validatedBy: 'service' });
    for (const s of validated) await workers.emit('checkOK', s.sagaId, { checkedBy: 'service' });
    for (const s of [...waiting, ...validated, ...done]) {
      const saga = await waitFor(
        async () => {
          const res = await fetch(`${url}/saga/${s.sagaId}`);
          const body = res.status === 200 ? ((await res.json()) as SagaDocument) : undefined;
          return body?.isFinal ? body : undefined;
        },
        { timeoutMs: 60_000, description: `${s.sagaId} final` },
      );
      expect(saga.currentState).toBe('reservationConfirmed');
      // Flow Manager's history goes on in sagaflow's.
      expect(saga.history.states[0]).toMatchObject({ state: 'reservationCreated', timestamp: s.history.states[0]?.timestamp.toISOString() });
      expect(saga.history.states.at(-1)?.state).toBe('reservationConfirmed');
    }
    const moved = (await (await fetch(`${url}/saga/fm-saga-3`)).json()) as SagaDocument;
    expect(moved.commands.map((c) => c.label)).toEqual(['checkReservation']);
    expect(moved.history.events.map((e) => e.event)).toEqual(['__created__', 'validationOK', 'checkOK']);
    // The projection writes them back into the same collection, with sagaflow's revision.
    await waitFor(async () => (await collection.findOne({ sagaId: 'fm-saga-3' }))?.currentState === 'reservationConfirmed', { timeoutMs: 30_000 });

    started.child.kill('SIGTERM');
    expect((await started.done).code).toBe(0);
    // After sagaflow moved them: kept, never overwritten; the untouched finals are unchanged.
    const third = await sagaflow(['import', '--json'], env).done;
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ read: 12, imported: 0, updated: 0, unchanged: 2, kept: 9 });
  });
});
