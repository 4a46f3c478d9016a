import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ROOT, runCli } from './run-cli.ts';

const ORDER_ENV = { ORDERS_KAFKA_PASSWORD: 'kafka-secret-value', NOTIFICATIONS_TOKEN: 'token-secret-value', ORDERS_MONGO_URI: 'mongodb://secret-uri' };

/** The tutorial saga.json with `edit` applied, written to a temporary file. */
function brokenTutorial(edit: (raw: { machineDefinition: { initialState: string; states: Record<string, unknown>[] } }) => void): string {
  const raw = JSON.parse(readFileSync(join(ROOT, 'examples/reservation/saga.json'), 'utf8')) as Parameters<typeof edit>[0];
  edit(raw);
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-validate-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'saga.json');
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

describe('sagaflow validate', () => {
  it('accepts the tutorial saga.json and prints a summary', async () => {
    const run = await runCli(['validate', 'examples/reservation/saga.json']);
    expect(run).toEqual({
      code: 0,
      stderr: [],
      stdout: [
        'OK examples/reservation/saga.json',
        '  states:       4 (initial reservationCreated; final reservationConfirmed, reservationFailed)',
        '  transitions:  4 (events: validationOK, validationKO, checkOK, checkKO)',
        '  commands:     2 (+ 0 side effects)',
        '  channels:     kafkaChannel (kafka)',
        '  persistency:  crud',
        '  warnings:     0',
      ],
    });
  });

  it('rejects a broken variant of the tutorial with path-precise errors, exit 1', async () => {
    const file = brokenTutorial((raw) => {
      raw.machineDefinition.initialState = 'reservationStarted';
      const validated = raw.machineDefinition.states[1] as { outgoingTransitions: { targetState: string }[] };
      (validated.outgoingTransitions[0] as { targetState: string }).targetState = 'reservationConfirmd';
      (raw.machineDefinition.states[2] as { businessStateId: number }).businessStateId = 7;
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toEqual([
      `INVALID ${file} (3 errors, 0 warnings)`,
      '  error: machineDefinition.initialState: "reservationStarted" is not the id of a state: use one of "reservationCreated", "reservationValidated", "reservationConfirmed", "reservationFailed"',
      '  error: machineDefinition.states[1].outgoingTransitions[0].targetState: "reservationConfirmd" is not the id of a state: use one of "reservationCreated", "reservationValidated", "reservationConfirmed", "reservationFailed"',
      '  error: machineDefinition.states[2].businessStateId: 7 is not the id of an entry of machineDefinition.businessStates: use one of 0, 1, 2',
    ]);
  });

  it('refuses a hook in the tutorial with a clear message', async () => {
    const file = brokenTutorial((raw) => {
      (raw.machineDefinition.states[0] as { outputCommand: { hook?: string } }).outputCommand.hook = 'return {payload: saga}';
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(1);
    expect(run.stdout[1]).toContain('  error: machineDefinition.states[0].outputCommand.hook: is not supported: sagaflow does not execute JavaScript');
  });

  it('prints warnings with an OK result', async () => {
    const file = brokenTutorial((raw) => {
      raw.machineDefinition.states.push({ id: 'orphan', isFinal: true, colour: 'red' });
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(0);
    expect(run.stdout.slice(-3)).toEqual([
      '  warnings:     2',
      '  warning: machineDefinition.states[4].colour: unknown property, ignored: check its spelling (known here: id, description, isFinal, businessStateId, outputCommand, sideEffects, outgoingTransitions)',
      '  warning: machineDefinition.states[4]: state "orphan" is unreachable from initialState "reservationCreated": no transition leads to it; remove it or add a transition to it',
    ]);
  });

  it('resolves secrets from the environment, and names missing variables without printing values', async () => {
    const missing = await runCli(['validate', 'examples/order/saga.json']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toEqual([
      'INVALID examples/order/saga.json (3 errors, 0 warnings)',
      '  error: communicationProtocols[0].configurations.authenticationProperties.sasl.password: environment variable ORDERS_KAFKA_PASSWORD is not set: set it, or write the value here instead of the reference',
      '  error: communicationProtocols[1].configurations.headers.Authorization: environment variable NOTIFICATIONS_TOKEN is not set: set it, or write the value here instead of the reference',
      '  error: persistencyManagement.configurations.connectionUri: environment variable ORDERS_MONGO_URI is not set: set it, or write the value here instead of the reference',
    ]);
    const resolved = await runCli(['validate', 'examples/order/saga.json'], { env: ORDER_ENV });
    expect(resolved.code).toBe(0);
    expect(resolved.stdout[0]).toBe('OK examples/order/saga.json');
    const all = [...resolved.stdout, ...resolved.stderr].join('\n');
    for (const value of Object.values(ORDER_ENV)) expect(all).not.toContain(value);
  });

  it('--skip-secrets validates without the environment', async () => {
    const run = await runCli(['validate', 'examples/order/saga.json', '--skip-secrets']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('  commands:     5 (+ 5 side effects)');
  });

  it('--json prints one JSON object', async () => {
    const ok = await runCli(['validate', 'examples/car-dealer/saga.json', '--json']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toHaveLength(1);
    const result = JSON.parse(ok.stdout[0] ?? '') as { ok: boolean; summary: { states: number; channels: unknown[] } };
    expect(result.ok).toBe(true);
    expect(result.summary.states).toBe(13);
    expect(result.summary.channels).toEqual([
      { id: 'sales', type: 'kafka' },
      { id: 'crm', type: 'rest' },
    ]);
    const bad = await runCli(['validate', 'examples/order/saga.json', '--json']);
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout[0] ?? '') as { ok: boolean; errors: unknown[] }).errors).toHaveLength(3);
  });

  it('reports a file that is not JSON as an error at (root)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-validate-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'saga.json'), '{"machineDefinition": ');
    const run = await runCli(['validate', join(dir, 'saga.json')]);
    expect(run.code).toBe(1);
    expect(run.stdout[1]).toBe('  error: (root): is not valid JSON: Unexpected end of JSON input');
  });
});
