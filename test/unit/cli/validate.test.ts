import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ROOT, runCli } from './run-cli.ts';

const ORDER_ENV = { ORDERS_KAFKA_PASSWORD: 'kafka-secret-value', NOTIFICATIONS_TOKEN: 'token-secret-value', ORDERS_MONGO_URI: 'mongodb://secret-uri' };

type Tutorial = {
  machineDefinition: { initialState: string; states: Record<string, unknown>[] };
  communicationProtocols: { configurations: Record<string, unknown> }[];
  settings?: Record<string, unknown>;
};

/**
 * The tutorial saga.json with its broker placeholder filled in (as a user does before
 * starting it) and `edit` applied, written to a temporary file.
 */
function tutorial(edit: (raw: Tutorial) => void): string {
  const raw = JSON.parse(readFileSync(join(ROOT, 'examples/reservation/saga.json'), 'utf8')) as Tutorial;
  (raw.communicationProtocols[0] as { configurations: Record<string, unknown> }).configurations.brokers = ['kafka:9092'];
  edit(raw);
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-validate-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'saga.json');
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

describe('sagaflow validate', () => {
  it('refuses the tutorial saga.json as written, as sagaflow start does: its broker is a placeholder', async () => {
    const run = await runCli(['validate', 'examples/reservation/saga.json']);
    expect(run).toEqual({
      code: 1,
      stderr: [],
      stdout: [
        'INVALID examples/reservation/saga.json (1 error, 0 warnings)',
        '  error: communicationProtocols[0].configurations.brokers[0]: is not a host:port address; set it to e.g. "kafka-0:9092"',
      ],
    });
  });

  it('accepts the tutorial saga.json once its broker is set, and prints a summary', async () => {
    const file = tutorial(() => undefined);
    const run = await runCli(['validate', file]);
    expect(run).toEqual({
      code: 0,
      stderr: [],
      stdout: [
        `OK ${file}`,
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
    const file = tutorial((raw) => {
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

  it('compiles Flow Manager hooks, plain and base64, and accepts them', async () => {
    const file = tutorial((raw) => {
      const hook = 'export default ({ saga, messageLabel }) => ({ payload: { sagaId: saga.sagaId, label: messageLabel } })';
      (raw.machineDefinition.states[0] as { outputCommand: Record<string, unknown> }).outputCommand.hook = { type: 'file', encoding: 'plain', content: hook };
      (raw.machineDefinition.states[1] as { outputCommand: Record<string, unknown> }).outputCommand.hook = { type: 'file', encoding: 'base64', content: Buffer.from(hook).toString('base64') };
      raw.settings = { deepMergeMetadata: { enabled: true, hook: { type: 'file', content: 'export default (a, b) => (Array.isArray(a) ? a.concat(b) : undefined)' } } };
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(0);
    expect(run.stdout[0]).toBe(`OK ${file}`);
  });

  it('refuses a hook that does not compile, naming its path, as start does', async () => {
    const file = tutorial((raw) => {
      (raw.machineDefinition.states[0] as { outputCommand: Record<string, unknown> }).outputCommand.hook = { type: 'file', content: 'export default ({ saga }) => ({ payload: saga.metadata ' };
      (raw.machineDefinition.states[1] as { outputCommand: Record<string, unknown> }).outputCommand.hook = { type: 'file', encoding: 'base64', content: 'not base64!' };
      raw.settings = { deepMergeMetadata: { enabled: true, hook: { type: 'file', content: 'export const customizer = () => undefined' } } };
    });
    const run = await runCli(['validate', file, '--json']);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout[0] ?? '') as { ok: boolean; errors: { path: string; message: string; code?: string }[] };
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([
      ['SAGAFLOW_HOOK_INVALID', 'machineDefinition.states[0].outputCommand.hook.content'],
      ['SAGAFLOW_HOOK_INVALID', 'machineDefinition.states[1].outputCommand.hook.content'],
      ['SAGAFLOW_HOOK_INVALID', 'settings.deepMergeMetadata.hook.content'],
    ]);
    expect(result.errors[0]?.message).toMatch(/^does not compile: threw SyntaxError: .* \(line 1, column \d+\)$/);
    expect(result.errors[1]?.message).toMatch(/^is not valid base64/);
    expect(result.errors[2]?.message).toMatch(/^does not compile: must be an ES module whose default export is a function/);
  });

  it('refuses what start refuses in the Kafka topology: no consumerGroup, brokers not host:port; commands on a rest channel are fine', async () => {
    const file = tutorial((raw) => {
      const kafka = raw.communicationProtocols[0] as { configurations: Record<string, unknown> };
      delete kafka.configurations.consumerGroup;
      kafka.configurations.brokers = ['kafka:9092', 'http://kafka-2:9092'];
      raw.communicationProtocols.push({ id: 'notifier', type: 'rest', configurations: { protocol: 'http', endpoint: 'notifier', method: 'POST' } } as unknown as Tutorial['communicationProtocols'][number]);
      (raw.machineDefinition.states[1] as { outputCommand: Record<string, unknown> }).outputCommand.channel = 'notifier';
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toEqual([
      `INVALID ${file} (2 errors, 0 warnings)`,
      '  error: communicationProtocols[0].configurations.consumerGroup: is required by sagaflow start (it is the application id); set a consumer group name',
      '  error: communicationProtocols[0].configurations.brokers[1]: is not a host:port address; set it to e.g. "kafka-0:9092"',
    ]);
  });

  it('accepts a saga.json with rest channels only once KAFKA_BROKERS and SAGAFLOW_APPLICATION_ID name where sagaflow keeps its topics', async () => {
    const file = tutorial((raw) => {
      raw.communicationProtocols = [{ id: 'services', type: 'rest', configurations: { endpoint: 'reservations', port: 8080 } } as unknown as Tutorial['communicationProtocols'][number]];
      for (const state of raw.machineDefinition.states) {
        const command = state.outputCommand as { channel: string } | undefined;
        if (command) command.channel = 'services';
      }
    });
    const unset = await runCli(['validate', file]);
    expect(unset.code).toBe(1);
    expect(unset.stdout).toEqual([
      `INVALID ${file} (2 errors, 0 warnings)`,
      '  error: env.KAFKA_BROKERS: is not set: the saga.json has no kafka channel, so sagaflow keeps its own topics on the brokers of KAFKA_BROKERS under the application id SAGAFLOW_APPLICATION_ID; set it to e.g. "kafka-0:9092,kafka-1:9092" (or add a kafka channel with inputTopics)',
      '  error: env.SAGAFLOW_APPLICATION_ID: is not set: the saga.json has no kafka channel, so sagaflow keeps its own topics on the brokers of KAFKA_BROKERS under the application id SAGAFLOW_APPLICATION_ID; set a name unique on that cluster, e.g. "order-saga"',
    ]);
    const wrong = await runCli(['validate', file], { env: { KAFKA_BROKERS: 'kafka:9092,kafka', SAGAFLOW_APPLICATION_ID: 'reservations/eu' } });
    expect(wrong.stdout.slice(1)).toEqual([
      '  error: env.KAFKA_BROKERS: entry 2 is not a host:port address; set e.g. "kafka-0:9092,kafka-1:9092"',
      '  error: env.SAGAFLOW_APPLICATION_ID: may hold only letters, digits, ".", "_" and "-" (it prefixes topic names), at most 200 characters',
    ]);
    const ok = await runCli(['validate', file], { env: { KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092', SAGAFLOW_APPLICATION_ID: 'reservations' } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('  channels:     services (rest)');
  });

  it('prints warnings with an OK result', async () => {
    const file = tutorial((raw) => {
      raw.machineDefinition.states.push({ id: 'orphan', isFinal: true, colour: 'red' });
    });
    const run = await runCli(['validate', file]);
    expect(run.code).toBe(0);
    expect(run.stdout.slice(-3)).toEqual([
      '  warnings:     2',
      '  warning: machineDefinition.states[4].colour: unknown property, ignored: check its spelling (known here: id, description, isFinal, businessStateId, outputCommand, sideEffects, outgoingTransitions, timeout, parallel, onUnexpected, retry)',
      '  warning: machineDefinition.states[4]: state "orphan" is unreachable from initialState "reservationCreated": no transition leads to it; remove it or add a transition to it',
    ]);
  });

  it('resolves secrets from the environment, and names missing variables without printing values', async () => {
    const missing = await runCli(['validate', 'examples/order/saga.json']);
    expect(missing.code).toBe(1);
    // As at start, a file that does not load is not checked further.
    expect(missing.stdout).toEqual([
      'INVALID examples/order/saga.json (3 errors, 0 warnings)',
      '  error: communicationProtocols[0].configurations.authenticationProperties.sasl.password: environment variable ORDERS_KAFKA_PASSWORD is not set: set it, or write the value here instead of the reference',
      '  error: communicationProtocols[1].configurations.headers.Authorization: environment variable NOTIFICATIONS_TOKEN is not set: set it, or write the value here instead of the reference',
      '  error: persistencyManagement.configurations.connectionUri: environment variable ORDERS_MONGO_URI is not set: set it, or write the value here instead of the reference',
    ]);
    const resolved = await runCli(['validate', 'examples/order/saga.json', '--json'], { env: ORDER_ENV });
    expect(resolved.code).toBe(0);
    const result = JSON.parse(resolved.stdout[0] ?? '') as { errors: unknown[]; summary: { sideEffects: number } };
    expect(result.errors).toEqual([]);
    expect(result.summary.sideEffects).toBe(5);
    const all = [...missing.stdout, ...resolved.stdout, ...resolved.stderr].join('\n');
    for (const value of Object.values(ORDER_ENV)) expect(all).not.toContain(value);
  });

  it('--skip-secrets validates without the environment', async () => {
    const run = await runCli(['validate', 'examples/order/saga.json', '--skip-secrets', '--json']);
    const result = JSON.parse(run.stdout[0] ?? '') as { ok: boolean };
    expect(run.code).toBe(0);
    expect(result.ok).toBe(true);
    // Brokers that are secret references are not checked for host:port when they are not resolved.
    const file = tutorial((raw) => {
      (raw.communicationProtocols[0] as { configurations: Record<string, unknown> }).configurations.brokers = '${KAFKA_BROKERS}';
    });
    const skipped = await runCli(['validate', file, '--skip-secrets']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain('  commands:     2 (+ 0 side effects)');
    const unset = await runCli(['validate', file]);
    expect(unset.stdout[1]).toMatch(/^ {2}error: communicationProtocols\[0\]\.configurations\.brokers: environment variable KAFKA_BROKERS is not set/);
    const wrong = await runCli(['validate', file], { env: { KAFKA_BROKERS: 'kafka' } });
    expect(wrong.stdout[1]).toBe('  error: communicationProtocols[0].configurations.brokers[0]: is not a host:port address; set it to e.g. "kafka-0:9092"');
  });

  it("counts a parallel state's branch commands, its join and its branches' done events", async () => {
    const run = await runCli(['validate', 'examples/user-provisioning/saga.json', '--json']);
    expect(run.code).toBe(0);
    const { summary } = JSON.parse(run.stdout[0] ?? '') as { summary: { commands: number; branchCommands: number; transitions: number; events: string[] } };
    expect(summary).toMatchObject({ commands: 2, branchCommands: 3 });
    expect(summary.events).toEqual(expect.arrayContaining(['groupsAdded', 'groupsFailed', 'mailboxReady', 'mailboxFailed', 'homeFolderCreated']));
    const text = await runCli(['validate', 'examples/user-provisioning/saga.json']);
    expect(text.stdout).toContain('  commands:     2 (+ 3 parallel branch commands, + 1 side effect)');
  });

  it('--json prints one JSON object', async () => {
    const ok = await runCli(['validate', 'examples/invoice/saga.json', '--json']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toHaveLength(1);
    const result = JSON.parse(ok.stdout[0] ?? '') as { ok: boolean; summary: { states: number; channels: unknown[] } };
    expect(result.ok).toBe(true);
    expect(result.summary.states).toBe(4);
    expect(result.summary.channels).toEqual([{ id: 'billing', type: 'kafka' }]);
    const dealer = await runCli(['validate', 'examples/car-dealer/saga.json', '--json']);
    expect(dealer.code).toBe(0);
    const channels = (JSON.parse(dealer.stdout[0] ?? '') as { summary: { channels: unknown[] } }).summary.channels;
    expect(channels).toEqual([{ id: 'sales', type: 'kafka' }, { id: 'crm', type: 'rest' }]);
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
