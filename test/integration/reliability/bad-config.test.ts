import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerCleanup } from '../../support/cleanup.ts';
import { uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { runStart } from '../../../src/runtime/run.ts';
import { reservationSagaJson } from './support/cluster.ts';

const root = new URL('../../../', import.meta.url).pathname;
const corpus = join(root, 'test/fixtures/bad-configs');

interface Case {
  name: string;
  /** A file of the corpus, or a path made by the test. */
  config: string;
  env?: Record<string, string>;
  code: string;
  /** The JSON path or env.* setting the line must name. */
  path: string;
  /** What to do, as the line says it. */
  fix: RegExp;
  /** Values that must not appear on stderr (logs are checked by secrets.test.ts). */
  secrets?: string[];
}

/** What each file of test/fixtures/bad-configs must produce. */
const fileCases: Omit<Case, 'config'>[] = [
  { name: 'not-json', code: 'SAGAFLOW_DEFINITION_INVALID', path: '(root)', fix: /is not valid JSON: .* at line 4, column 1/ },
  { name: 'empty', code: 'SAGAFLOW_DEFINITION_INVALID', path: '(root)', fix: /is not valid JSON/ },
  { name: 'top-level-array', code: 'SAGAFLOW_DEFINITION_INVALID', path: '(root)', fix: /must be an object/ },
  { name: 'missing-machine-definition', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition', fix: /is required: add the state machine/ },
  { name: 'initial-state-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.initialState', fix: /use one of "created", "done", "failed"/ },
  { name: 'target-state-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].outgoingTransitions[0].targetState', fix: /use one of/ },
  { name: 'duplicate-state-id', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[3].id', fix: /must be unique/ },
  { name: 'business-state-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[1].businessStateId', fix: /use one of 0, 1, 2/ },
  { name: 'business-state-id-type', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[1].businessStateId', fix: /compared with their type/ },
  { name: 'channel-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].outputCommand.channel', fix: /use one of "bus" or add it/ },
  { name: 'parallel-channel-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].parallel.branches[1].command.channel', fix: /"mail" is not the id of a communication protocol: use one of "bus" or add it/ },
  { name: 'parallel-done-duplicate', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].parallel.branches[1].done[1]', fix: /duplicate done event "userFailed" \(also at machineDefinition\.states\[0\]\.parallel\.branches\[0\]\.done\[1\]\)/ },
  { name: 'parallel-at-least-out-of-range', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].parallel.join.atLeast', fix: /the state has 2 branches: the join could never hold; use a number from 1 to 2/ },
  { name: 'parallel-join-target-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].parallel.onJoin.targetState', fix: /"finished" is not the id of a state: use one of "created", "done", "failed"/ },
  { name: 'choreography-ambiguous', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].outgoingTransitions[1].inputEvent', fix: /unless each transition for it but the last has a "when"/ },
  { name: 'observed-only', code: 'SAGAFLOW_CONFIG_INVALID', path: 'communicationProtocols[0].configurations.correlation', fix: /add a kafka channel without correlation whose inputTopics name it/ },
  { name: 'hook', code: 'SAGAFLOW_HOOK_INVALID', path: 'machineDefinition.states[0].outputCommand.hook.content', fix: /does not compile: threw SyntaxError: .* \(line 1, column \d+\)/ },
  { name: 'hook-not-a-function', code: 'SAGAFLOW_HOOK_INVALID', path: 'machineDefinition.states[0].outputCommand.hook.content', fix: /default export is a function \(its default export is a object\)/ },
  { name: 'merge-hook-not-base64', code: 'SAGAFLOW_HOOK_INVALID', path: 'settings.deepMergeMetadata.hook.content', fix: /is not valid base64/ },
  { name: 'final-with-transitions', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[1].outgoingTransitions', fix: /remove them or set isFinal to false/ },
  { name: 'non-final-dead-end', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].outgoingTransitions', fix: /add an outgoing transition or set isFinal to true/ },
  { name: 'duplicate-input-event', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[0].outgoingTransitions[1].inputEvent', fix: /an event can lead to one state only/ },
  { name: 'payload-schema-invalid', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'outgoingTransitions[0].payloadValidationSchema', fix: /is not a valid JSON Schema/ },
  { name: 'creation-event-as-transition', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'outgoingTransitions[0].inputEvent', fix: /rename the event/ },
  { name: 'is-final-not-boolean', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states[1].isFinal', fix: /must be a boolean/ },
  { name: 'states-empty', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states', fix: /must list at least 1 item/ },
  { name: 'states-not-array', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'machineDefinition.states', fix: /must be an array/ },
  { name: 'brokers-missing', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].configurations.brokers', fix: /list the Kafka bootstrap servers/ },
  { name: 'brokers-empty', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].configurations.brokers', fix: /at least 1/ },
  { name: 'broker-not-host-port', code: 'SAGAFLOW_CONFIG_INVALID', path: 'communicationProtocols[0].configurations.brokers[0]', fix: /set it to e.g. "kafka-0:9092"/ },
  { name: 'no-input-topics', code: 'SAGAFLOW_CONFIG_INVALID', path: 'communicationProtocols', fix: /add the events topic/ },
  { name: 'no-consumer-group', code: 'SAGAFLOW_CONFIG_INVALID', path: 'communicationProtocols[0].configurations.consumerGroup', fix: /set a consumer group name/ },
  { name: 'no-output-topics', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].configurations.outputTopics', fix: /must list the topic commands are sent to/ },
  { name: 'avro-without-registry', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].configurations.schemaRegistry', fix: /add \{"url"/ },
  { name: 'serialization-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].configurations.serialization', fix: /must be one of "json", "avro"/ },
  { name: 'protocol-type-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'communicationProtocols[0].type', fix: /must be one of "kafka", "rest"/ },
  { name: 'sasl-mechanism-unknown', code: 'SAGAFLOW_DEFINITION_INVALID', path: 'authenticationProperties.sasl.mechanism', fix: /must be one of "plain"/, secrets: ['fixture-password-0001'] },
  { name: 'secret-env-unset', code: 'SAGAFLOW_SECRET_UNRESOLVED', path: 'authenticationProperties.sasl.password', fix: /environment variable SAGAFLOW_FIXTURE_UNSET_PASSWORD is not set: set it/ },
  { name: 'secret-file-missing', code: 'SAGAFLOW_SECRET_UNRESOLVED', path: 'authenticationProperties.sasl.password', fix: /mount the file or fix the path/ },
  { name: 'mongo-uri-secret-unset', code: 'SAGAFLOW_SECRET_UNRESOLVED', path: 'persistencyManagement.configurations.connectionUri', fix: /set it, or write the value here/ },
  { name: 'command-channel-other-cluster', code: 'SAGAFLOW_CHANNEL_UNSUPPORTED', path: 'communicationProtocols[1].configurations.brokers', fix: /give it the same brokers/ },
  // Rest channels only: sagaflow's own topics need brokers from the environment.
  { name: 'rest-only-without-brokers', code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.KAFKA_BROKERS', fix: /set it to e.g. "kafka-0:9092,kafka-1:9092"/ },
  // Nothing listens on port 1: kafkajs retries for some 20 s, then the start gives up.
  { name: 'brokers-unreachable', code: 'SAGAFLOW_KAFKA_UNREACHABLE', path: 'communicationProtocols[0].configurations.brokers', fix: /check the addresses/, secrets: ['127.0.0.1:1'] },
];

/** `sagaflow start` as a user runs it: the real binary, its exit code and its output. */
function spawnStart(config: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/sagaflow.js'), 'start'], {
      // A clean environment: nothing of the test runner's leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CONFIGURATIONS_FILE_PATH: config, ...env },
      cwd: root,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  }));
  return out;
}

describe('bad configuration', () => {
  it('covers every file of the corpus', () => {
    const files = readdirSync(corpus).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
    expect(files).toEqual(fileCases.map((c) => c.name).sort());
  });

  it('each broken saga.json or environment value stops sagaflow start with one line: code, path and what to do, no stack trace', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-bad-config-'));
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
    // A valid saga.json on the test broker, for the cases that are about the environment.
    const flow = uniqueFlow('bad-config');
    const valid = join(dir, 'saga.json');
    writeFileSync(valid, JSON.stringify(reservationSagaJson({ brokers: services().kafkaBrokers, events: flow.events, commands: flow.commands, applicationId: flow.applicationId })));
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    registerCleanup(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const busyPort = String((busy.address() as net.AddressInfo).port);
    const state = join(dir, 'state');

    const envCases: Case[] = [
      { name: 'no config path', config: '', code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.CONFIGURATIONS_FILE_PATH', fix: /point it at your saga.json/ },
      { name: 'config path missing', config: join(dir, 'nope.json'), code: 'SAGAFLOW_DEFINITION_NOT_FOUND', path: join(dir, 'nope.json'), fix: /ENOENT/ },
      { name: 'config path is a directory', config: dir, code: 'SAGAFLOW_DEFINITION_NOT_FOUND', path: dir, fix: /EISDIR/ },
      { name: 'HTTP_PORT not a number', config: valid, env: { HTTP_PORT: 'http' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_PORT', fix: /set a whole number between 0 and 65535/ },
      { name: 'HTTP_PORT out of range', config: valid, env: { HTTP_PORT: '70000' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_PORT', fix: /between 0 and 65535/ },
      { name: 'HTTP_PORT negative', config: valid, env: { HTTP_PORT: '-1' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_PORT', fix: /whole number/ },
      { name: 'LOG_LEVEL unknown', config: valid, env: { LOG_LEVEL: 'verbose' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.LOG_LEVEL', fix: /use one of fatal, error, warn, info, debug, trace, silent/ },
      { name: 'advertised URL not http', config: valid, env: { SAGAFLOW_ADVERTISED_URL: 'ftp://sagas' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_ADVERTISED_URL', fix: /not an http\(s\) URL/ },
      { name: 'advertised URL not a URL', config: valid, env: { SAGAFLOW_ADVERTISED_URL: 'sagas here' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_ADVERTISED_URL', fix: /set the address other instances use/ },
      { name: 'partitions zero', config: valid, env: { SAGAFLOW_DEFAULT_PARTITIONS: '0' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_DEFAULT_PARTITIONS', fix: /between 1 and 10000/ },
      { name: 'partitions fractional', config: valid, env: { SAGAFLOW_DEFAULT_PARTITIONS: '1.5' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_DEFAULT_PARTITIONS', fix: /whole number/ },
      { name: 'replication factor not a number', config: valid, env: { SAGAFLOW_REPLICATION_FACTOR: 'three' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_REPLICATION_FACTOR', fix: /whole number between 1 and 100/ },
      { name: 'projection not a boolean', config: valid, env: { SAGAFLOW_PROJECTION: 'maybe' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_PROJECTION', fix: /set true or false/ },
      { name: 'REST concurrency zero', config: valid, env: { SAGAFLOW_REST_CONCURRENCY: '0' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_REST_CONCURRENCY', fix: /between 1 and 10000/ },
      { name: 'REST timeout not a number', config: valid, env: { SAGAFLOW_REST_TIMEOUT_MS: '10s' }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_REST_TIMEOUT_MS', fix: /whole number between 100 and 600000/ },
      {
        name: 'rest-only application id invalid',
        config: join(corpus, 'rest-only-without-brokers.json'),
        env: { KAFKA_BROKERS: services().kafkaBrokers.join(','), SAGAFLOW_APPLICATION_ID: 'orders saga', SAGAFLOW_STATE_DIR: state },
        code: 'SAGAFLOW_CONFIG_INVALID',
        path: 'env.SAGAFLOW_APPLICATION_ID',
        fix: /may hold only letters, digits/,
      },
      // Under a file, so it fails for root too (Node's recursive mkdir spins forever under /proc).
      { name: 'state dir not creatable', config: valid, env: { SAGAFLOW_STATE_DIR: join(valid, 'state') }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_STATE_DIR', fix: /point it at a writable directory/ },
      // These two reach Kafka first: the topics exist when the HTTP API fails to listen.
      { name: 'HTTP_HOST not an address', config: valid, env: { HTTP_HOST: '999.1.1.1', SAGAFLOW_STATE_DIR: state }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_HOST', fix: /set an address of this machine/ },
      { name: 'HTTP_PORT in use', config: valid, env: { HTTP_HOST: '127.0.0.1', HTTP_PORT: busyPort, SAGAFLOW_STATE_DIR: state }, code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_PORT', fix: /choose another HTTP_PORT/ },
    ];
    const cases: Case[] = [...fileCases.map((c) => ({ ...c, config: join(corpus, `${c.name}.json`), env: { SAGAFLOW_STATE_DIR: state } })), ...envCases];
    // Every case through the start command's own code, in this process (a node start per case
    // would cost two seconds each); a sample through the real binary below.
    const results: { c: Case; code: number | null; stderr: string }[] = await mapLimit(cases, 8, async (c) => {
      const lines: string[] = [];
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', CONFIGURATIONS_FILE_PATH: c.config, ...c.env };
      const code = await runStart(env, root, (line) => lines.push(line));
      return { c, code, stderr: lines.map((l) => `${l}\n`).join('') };
    });
    const sample = cases.filter((c) => ['not-json', 'hook', 'secret-env-unset', 'broker-not-host-port', 'LOG_LEVEL unknown', 'HTTP_PORT in use'].includes(c.name));
    expect(sample).toHaveLength(6);
    for (const c of sample) results.push({ c: { ...c, name: `${c.name} (bin/sagaflow.js)` }, ...(await spawnStart(c.config, c.env ?? {})) });

    const failures: string[] = [];
    for (const { c, code, stderr } of results) {
      const lines = stderr.split('\n').filter((l) => l.trim() !== '');
      const line = lines[0] ?? '';
      const problems: string[] = [];
      if (code === 0 || code === null) problems.push(`exit code ${code}`);
      if (lines.length !== 1) problems.push(`${lines.length} lines on stderr`);
      if (!line.startsWith(`${c.code}: `)) problems.push(`code is not ${c.code}`);
      if (!line.includes(c.path)) problems.push(`path ${c.path} not named`);
      if (!c.fix.test(line)) problems.push(`no ${c.fix}`);
      // A stack starts a line with "TypeError: ..." or "    at ..."; a hook's reason may name the error it threw.
      if (/^\s+at |^\w*Error: |node:internal/m.test(stderr)) problems.push('stack trace');
      for (const secret of c.secrets ?? []) if (stderr.includes(secret)) problems.push(`secret ${secret} printed`);
      if (problems.length > 0) failures.push(`${c.name}: ${problems.join(', ')}\n    ${stderr.trim().split('\n').join('\n    ')}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(results).toHaveLength(fileCases.length + envCases.length + sample.length);
  });
});
