import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { uniqueName } from '../../support/names.ts';
import { runNode } from '../../support/process.ts';
import { services } from '../../support/services.ts';
import { reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

const root = new URL('../../../', import.meta.url).pathname;
const ORIGINAL_IMPORT = "from '@mia-platform/flow-manager-client'";

/**
 * The fixture service as written for Mia-Platform's client, with its import line (and only
 * that) pointed at sagaflow/worker. It is written inside the package (under the ignored
 * .sagaflow/) so that `sagaflow/worker` resolves by self-reference, to the sources with the
 * `sagaflow-source` condition (a checkout has no dist/).
 */
function movedService(): string {
  const original = readFileSync(join(root, 'test/fixtures/flow-manager-service/reservation-service.mjs'), 'utf8');
  expect(original.split(ORIGINAL_IMPORT)).toHaveLength(2);
  const moved = original.replace(ORIGINAL_IMPORT, "from 'sagaflow/worker'");
  const dir = join(root, '.sagaflow', uniqueName('fm-service'));
  mkdirSync(dir, { recursive: true });
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'reservation-service.mjs');
  writeFileSync(file, moved);
  return file;
}

interface Journey {
  metadata: Record<string, unknown> & { n: number };
  expected: string;
  commands: string[];
}

/** Creates one saga per case, waits for each to end in its expected state, with each of its commands executed exactly once by the service. */
async function runJourneys(url: string, cases: readonly Journey[], output: () => string): Promise<string[]> {
  const ids: string[] = [];
  for (const c of cases) {
    const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `r-${c.metadata.n}`, metadata: c.metadata }) });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { sagaId: string }).sagaId);
  }
  for (const [i, c] of cases.entries()) {
    const sagaId = ids[i] as string;
    const saga = await waitFor(
      async () => {
        const body = (await (await fetch(`${url}/saga/${sagaId}`)).json()) as SagaDocument;
        return body.isFinal ? body : undefined;
      },
      { timeoutMs: 90_000, description: `${sagaId} final` },
    );
    expect(saga.currentState).toBe(c.expected);
    const executed = output().split('\n').filter((l) => l.endsWith(` ${sagaId}`)).map((l) => l.split(' ')[1]);
    expect(executed).toEqual(c.commands);
  }
  return ids;
}

describe('a service written for @mia-platform/flow-manager-client runs on sagaflow/worker by changing its import', () => {
  it('executes each command once, emits on the saga\'s partition, error handler with commit, a command left uncommitted delivered again after a restart, health, readiness and the library\'s metrics', { timeout: 240_000 }, async () => {
    const flow = uniqueFlow('fm-client');
    const config = reservationConfig(flow);
    const instance = await startTestInstance(config, { partitions: 8 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });

    const serviceEnv = {
      KAFKA_BROKERS: services().kafkaBrokers.join(','),
      COMMANDS_TOPIC: flow.commands,
      EVENTS_TOPIC: flow.events,
      GROUP_ID: uniqueName('reservation-service'),
      ...(process.env.SAGAFLOW_KAFKA_CLIENT ? { SAGAFLOW_KAFKA_CLIENT: process.env.SAGAFLOW_KAFKA_CLIENT } : {}),
    };
    const service = runNode(['--conditions=sagaflow-source', movedService()], { cwd: root, timeoutMs: 200_000, env: serviceEnv });
    await waitFor(() => service.stdout().includes('started '), { timeoutMs: 90_000, description: 'the service started' });
    expect(service.stdout()).toContain('started healthy=true ready=true');

    const cases = [
      ...Array.from({ length: 12 }, (_, i) => ({ metadata: { n: i }, expected: 'reservationConfirmed', commands: ['validateReservation', 'checkReservation'] })),
      { metadata: { n: 100, fail: 'validation' }, expected: 'reservationFailed', commands: ['validateReservation'] },
      { metadata: { n: 101, fail: 'check' }, expected: 'reservationFailed', commands: ['validateReservation', 'checkReservation'] },
      { metadata: { n: 102, fail: 'check-throws' }, expected: 'reservationFailed', commands: ['validateReservation', 'checkReservation'] },
    ];
    const ids = await runJourneys(instance.url, cases, service.stdout);
    const thrown = (await (await fetch(`${instance.url}/saga/${ids.at(-1) as string}`)).json()) as SagaDocument;
    expect(thrown.metadata).toMatchObject({ reason: 'the availability service is down' });
    // No event went astray: none dead-lettered (every event was on its saga's partition).
    const metricsText = await (await fetch(`${instance.url}/-/metrics`)).text();
    expect(metricsText).not.toContain('SAGAFLOW_UNKNOWN_SAGA');

    // Last, alone on its partition: a command whose error handler does not commit.
    const crashing = ((await (await fetch(`${instance.url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: 'r-crash', metadata: { fail: 'check-crashes' } }) })).json()) as { sagaId: string }).sagaId;
    await waitFor(() => service.stdout().includes(`executed checkReservation ${crashing}`), { timeoutMs: 60_000, description: 'the crashing command executed' });

    service.child.kill('SIGTERM');
    const { code, stdout, stderr } = await service.done;
    expect(code, stderr).toBe(0);
    // Started again with the same group: the uncommitted command is delivered again, and only it.
    const again = runNode(['--conditions=sagaflow-source', movedService()], { cwd: root, timeoutMs: 120_000, env: serviceEnv });
    await waitFor(() => again.stdout().includes(`executed checkReservation ${crashing}`), { timeoutMs: 90_000, description: 'the uncommitted command redelivered' });
    expect(again.stdout().split('\n').filter((l) => l.startsWith('executed '))).toEqual([`executed checkReservation ${crashing}`]);
    await waitFor(() => again.stdout().includes('started '), { timeoutMs: 60_000, description: 'the service started again' });
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
    const stuck = (await (await fetch(`${instance.url}/saga/${crashing}`)).json()) as SagaDocument;
    expect(stuck.currentState).toBe('reservationValidated');
    const line = stdout.split('\n').find((l) => l.startsWith('metrics '));
    const metrics = JSON.parse((line as string).slice('metrics '.length)) as { name: string; values: { labels: Record<string, string>; value: number }[] }[];
    const value = (name: string, labels: Record<string, string>) =>
      metrics.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    expect(value('fm_client_commands_total', { command: 'validateReservation', result: 'SUCCESS' })).toBe(16);
    expect(value('fm_client_commands_total', { command: 'checkReservation', result: 'SUCCESS' })).toBe(13);
    expect(value('fm_client_commands_total', { command: 'checkReservation', result: 'ERROR' })).toBe(2);
    expect(value('fm_client_events_total', { event: 'checkKO' })).toBe(2);
    expect(value('fm_client_events_total', { event: 'validationOK' })).toBe(15);
  });
});

describe('a service on Mia-Platform\'s own @mia-platform/flow-manager-client (kafkajs 1.x and its partitioner)', () => {
  it('drives the tutorial saga to its final states on an 8-partition events topic: events that land away from their saga are forwarded, each command executed once', { timeout: 240_000 }, async () => {
    const flow = uniqueFlow('fm-original');
    const instance = await startTestInstance(reservationConfig(flow), { partitions: 8 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const fixture = join(root, 'test/fixtures/flow-manager-service/reservation-service.mjs');
    expect(readFileSync(fixture, 'utf8')).toContain(ORIGINAL_IMPORT);
    const service = runNode([fixture], {
      cwd: root,
      timeoutMs: 200_000,
      env: { KAFKA_BROKERS: services().kafkaBrokers.join(','), COMMANDS_TOPIC: flow.commands, EVENTS_TOPIC: flow.events, GROUP_ID: uniqueName('fm-original-service') },
    });
    await waitFor(() => service.stdout().includes('started '), { timeoutMs: 90_000, description: `the service started (${service.stderr()})` });
    const cases = [
      ...Array.from({ length: 20 }, (_, i) => ({ metadata: { n: i }, expected: 'reservationConfirmed', commands: ['validateReservation', 'checkReservation'] })),
      { metadata: { n: 100, fail: 'validation' }, expected: 'reservationFailed', commands: ['validateReservation'] },
      { metadata: { n: 101, fail: 'check' }, expected: 'reservationFailed', commands: ['validateReservation', 'checkReservation'] },
      { metadata: { n: 102, fail: 'check-throws' }, expected: 'reservationFailed', commands: ['validateReservation', 'checkReservation'] },
    ];
    await runJourneys(instance.url, cases, service.stdout);
    const metricsText = await (await fetch(`${instance.url}/-/metrics`)).text();
    // kafkajs 1.x's default partitioner is not Java's murmur2: most events landed away from
    // their saga's partition, and none was dead-lettered for it.
    const forwarded = Number(/^sagaflow_events_total\{kind="forwarded"\} (\d+)$/m.exec(metricsText)?.[1] ?? 0);
    expect(forwarded).toBeGreaterThan(cases.length / 2);
    expect(metricsText).not.toContain('SAGAFLOW_UNKNOWN_SAGA');
    service.child.kill('SIGTERM');
    expect((await service.done).code).toBe(0);
  });
});
