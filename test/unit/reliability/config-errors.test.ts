import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import { MAX_CONFIG_DEPTH, parseSagaConfig } from '../../../src/definition/parse.ts';
import { SagaflowError } from '../../../src/errors.ts';
import { readRuntimeEnv } from '../../../src/runtime/env.ts';
import { kafkaLayout } from '../../../src/definition/topology.ts';
import { describe as describeError, runStart } from '../../../src/runtime/run.ts';
import { kafkaStartError, listenError, stateDirError } from '../../../src/runtime/start-errors.ts';
import { classifyKafkajsError } from '../../../src/adapters/kafkajs/errors.ts';

const fixtures = new URL('../../fixtures/bad-configs/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sagaflow-config-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A valid saga.json: the corpus's one-fault file with its fault put right. */
function valid(): Record<string, unknown> {
  const raw = JSON.parse(readFileSync(join(fixtures, 'initial-state-unknown.json'), 'utf8')) as { machineDefinition: { initialState: string } };
  raw.machineDefinition.initialState = 'created';
  return raw as unknown as Record<string, unknown>;
}

describe('configuration errors at start', () => {
  // Regression: structuredClone (and then freezing and payload-schema compilation) recursed
  // over the whole file; a payloadValidationSchema nested 20 000 levels deep ended
  // `sagaflow start` with "SAGAFLOW_START_FAILED: Maximum call stack size exceeded" and no path.
  it('refuses a saga.json nested deeper than the limit, naming where', () => {
    let deep: unknown = {};
    for (let i = 0; i < 20_000; i += 1) deep = { type: 'object', properties: { a: deep } };
    const raw = {
      machineDefinition: { initialState: 'a', states: [{ id: 'a', isFinal: false, outgoingTransitions: [{ inputEvent: 'x', targetState: 'b', payloadValidationSchema: deep }] }, { id: 'b', isFinal: true }] },
      communicationProtocols: [],
      persistencyManagement: {},
    };
    const result = parseSagaConfig(raw, { env: {}, readFile: () => '' });
    expect(result.errors).toEqual([
      {
        path: 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema',
        message: `nests objects and arrays more than ${MAX_CONFIG_DEPTH} levels deep below this point; flatten it (a saga.json needs a few levels)`,
      },
    ]);
  });

  // Regression: a saga.json saved with a UTF-8 byte order mark (Windows editors) was refused as
  // "(root): is not valid JSON", with no position.
  it('reads a saga.json that starts with a byte order mark', () => {
    const file = join(dir, 'bom.json');
    writeFileSync(file, `\uFEFF${JSON.stringify(valid())}`);
    expect(loadSagaConfigFile(file, {}).machineDefinition.initialState).toBe('created');
  });

  // Regression: any value but "false" silently meant true.
  it('refuses a SAGAFLOW_PROJECTION that is not a boolean', () => {
    const env = { CONFIGURATIONS_FILE_PATH: 'saga.json' };
    expect(readRuntimeEnv({ ...env, SAGAFLOW_PROJECTION: 'FALSE' }, '/').projection).toBe(false);
    expect(readRuntimeEnv({ ...env, SAGAFLOW_PROJECTION: 'true' }, '/').projection).toBe(true);
    expect(readRuntimeEnv(env, '/').projection).toBe(true);
    expect(() => readRuntimeEnv({ ...env, SAGAFLOW_PROJECTION: 'maybe' }, '/')).toThrow(
      expect.objectContaining({ code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_PROJECTION', message: 'env.SAGAFLOW_PROJECTION: "maybe" is not a boolean; set true or false' }),
    );
  });

  it('reads SAGAFLOW_LIBRDKAFKA_DEBUG as librdkafka debug contexts and refuses one librdkafka does not know, naming it', () => {
    const env = { CONFIGURATIONS_FILE_PATH: 'saga.json' };
    expect(readRuntimeEnv(env, '/').librdkafkaDebug).toBeUndefined();
    expect(readRuntimeEnv({ ...env, SAGAFLOW_LIBRDKAFKA_DEBUG: ' ' }, '/').librdkafkaDebug).toBeUndefined();
    expect(readRuntimeEnv({ ...env, SAGAFLOW_LIBRDKAFKA_DEBUG: 'CGRP, eos,cgrp' }, '/').librdkafkaDebug).toEqual(['cgrp', 'eos']);
    expect(() => readRuntimeEnv({ ...env, SAGAFLOW_LIBRDKAFKA_DEBUG: 'cgrp,group,' }, '/')).toThrow(
      expect.objectContaining({
        code: 'SAGAFLOW_CONFIG_INVALID',
        path: 'env.SAGAFLOW_LIBRDKAFKA_DEBUG',
        message: expect.stringMatching(/^env\.SAGAFLOW_LIBRDKAFKA_DEBUG: "group", an empty entry are not librdkafka debug contexts; use a comma-separated list of generic, broker, .*, all$/),
      }),
    );
    expect(() => readRuntimeEnv({ ...env, SAGAFLOW_LIBRDKAFKA_DEBUG: 'cgroup' }, '/')).toThrow(
      expect.objectContaining({ path: 'env.SAGAFLOW_LIBRDKAFKA_DEBUG', message: expect.stringContaining('"cgroup" is not a librdkafka debug context;') }),
    );
  });

  it('reads SAGAFLOW_SESSION_TIMEOUT_MS within what a broker accepts by default', () => {
    const env = { CONFIGURATIONS_FILE_PATH: 'saga.json' };
    expect(readRuntimeEnv(env, '/').sessionTimeoutMs).toBe(30_000);
    expect(readRuntimeEnv({ ...env, SAGAFLOW_SESSION_TIMEOUT_MS: '6000' }, '/').sessionTimeoutMs).toBe(6_000);
    expect(() => readRuntimeEnv({ ...env, SAGAFLOW_SESSION_TIMEOUT_MS: '1000' }, '/')).toThrow(
      expect.objectContaining({ code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.SAGAFLOW_SESSION_TIMEOUT_MS', message: 'env.SAGAFLOW_SESSION_TIMEOUT_MS: 1000 is out of range; set a number between 6000 and 1800000' }),
    );
  });

  // Regression: an invalid saga.json was reported as a header line plus one indented line per
  // issue; a log collector split it into lines without the code or the file.
  it('prints one line per issue, each with code, file and JSON path', async () => {
    const lines: string[] = [];
    const code = await runStart({ CONFIGURATIONS_FILE_PATH: join(fixtures, 'duplicate-input-event.json') }, '/', (l) => lines.push(l));
    expect(code).toBe(1);
    expect(lines).toEqual([
      `SAGAFLOW_DEFINITION_INVALID: ${join(fixtures, 'duplicate-input-event.json')}: machineDefinition.states[0].outgoingTransitions[1].inputEvent: duplicate inputEvent "workDone" in state "created" (also at machineDefinition.states[0].outgoingTransitions[0].inputEvent): an event can lead to one state only, unless each transition for it but the last has a "when" (a JSON Schema of the payload)`,
    ]);
    const two = new SagaflowError('SAGAFLOW_DEFINITION_INVALID', {
      path: 'saga.json',
      details: [
        { path: 'a', message: 'one' },
        { path: 'b', message: 'two', code: 'SAGAFLOW_SECRET_UNRESOLVED' },
      ],
    });
    expect(describeError(two)).toEqual(['SAGAFLOW_DEFINITION_INVALID: saga.json: a: one', 'SAGAFLOW_SECRET_UNRESOLVED: saga.json: b: two']);
    expect(describeError(new Error('first\nsecond'))).toEqual(['SAGAFLOW_START_FAILED: first second']);
  });

  // Regression: these failed as "SAGAFLOW_START_FAILED: <errno message>" without the setting
  // to change, and the broker line printed the broker address, which may be a secret.
  it('names the setting behind machine and cluster failures, never a secret value', () => {
    expect(listenError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), '0.0.0.0', 3000)).toMatchObject({ code: 'SAGAFLOW_CONFIG_INVALID', path: 'env.HTTP_PORT' });
    expect(listenError(Object.assign(new Error('getaddrinfo ENOTFOUND 999.1.1.1'), { code: 'ENOTFOUND' }), '999.1.1.1', 3000)).toMatchObject({ path: 'env.HTTP_HOST' });
    expect(stateDirError(Object.assign(new Error('EACCES'), { code: 'EACCES' }), '/root/x').message).toBe('env.SAGAFLOW_STATE_DIR: cannot create "/root/x" (EACCES); point it at a writable directory');
    const unreachable = kafkaStartError(classifyKafkajsError(Object.assign(new Error('Connection error: connect ECONNREFUSED kafka-secret.internal:9093'), { name: 'KafkaJSConnectionError' })), 'communicationProtocols[0].configurations', ['kafka-secret.internal:9093']);
    expect(unreachable).toMatchObject({ code: 'SAGAFLOW_KAFKA_UNREACHABLE', path: 'communicationProtocols[0].configurations.brokers' });
    expect(unreachable.message).not.toContain('kafka-secret.internal');
    // A saga.json without kafka channels: the brokers are the environment's.
    expect(kafkaStartError(new Error('connect ECONNREFUSED'), 'env.KAFKA_BROKERS', [])).toMatchObject({ code: 'SAGAFLOW_KAFKA_UNREACHABLE', path: 'env.KAFKA_BROKERS' });
    const sasl = kafkaStartError(classifyKafkajsError(Object.assign(new Error('SASL PLAIN authentication failed for user svc-sagas: bad password hunter2'), { name: 'KafkaJSSASLAuthenticationError' })), 'communicationProtocols[0].configurations', ['b:9092', 'svc-sagas', 'hunter2']);
    expect(sasl).toMatchObject({ code: 'SAGAFLOW_KAFKA_AUTHENTICATION_FAILED', path: 'communicationProtocols[0].configurations.authenticationProperties.sasl' });
    expect(sasl.message).not.toMatch(/svc-sagas|hunter2/);
    const rf = Object.assign(new Error('Topic creation errors'), { errors: [{ type: 'INVALID_REPLICATION_FACTOR', message: 'Replication factor: 3 larger than available brokers: 1.' }] });
    expect(kafkaStartError(classifyKafkajsError(rf), 'communicationProtocols[0].configurations', [])).toMatchObject({ path: 'env.SAGAFLOW_REPLICATION_FACTOR' });
  });

  // Regression: commands of a kafka channel on other brokers (or with other credentials or
  // wire format) than the events channel were produced with the events channel's client: on
  // the wrong cluster, where start even created their topic.
  it('refuses a command channel on another cluster than the events channel', () => {
    const config = loadSagaConfigFile(join(fixtures, 'command-channel-other-cluster.json'), {});
    expect(() => kafkaLayout(config)).toThrow(expect.objectContaining({ code: 'SAGAFLOW_CHANNEL_UNSUPPORTED', path: 'communicationProtocols[1].configurations.brokers' }));
    const sameCluster = JSON.parse(readFileSync(join(fixtures, 'command-channel-other-cluster.json'), 'utf8')) as { communicationProtocols: { configurations: { brokers: string[] } }[] };
    const [events, audit] = sameCluster.communicationProtocols;
    if (!events || !audit) throw new Error('fixture changed');
    audit.configurations.brokers = [...events.configurations.brokers];
    const file = join(dir, 'same-cluster.json');
    writeFileSync(file, JSON.stringify(sameCluster));
    expect(kafkaLayout(loadSagaConfigFile(file, {})).commandTopics).toEqual(new Map([['bus', 'bad-config-commands'], ['audit', 'audit-commands']]));
  });
});
