import { describe, expect, it } from 'vitest';
import { parse, parseEdited, remove, set } from './fixtures.ts';

type Edit = (raw: Record<string, unknown>) => void;

/** [what is broken, how, expected path, expected text in the message] */
const SCHEMA_ERRORS: [string, Edit, string, string][] = [
  ['machineDefinition missing', (r) => remove(r, 'machineDefinition'), 'machineDefinition', 'is required: add the state machine'],
  ['communicationProtocols missing', (r) => remove(r, 'communicationProtocols'), 'communicationProtocols', 'is required'],
  ['persistencyManagement missing', (r) => remove(r, 'persistencyManagement'), 'persistencyManagement', 'is required: add it, {}'],
  ['initialState missing', (r) => remove(r, 'machineDefinition.initialState'), 'machineDefinition.initialState', 'is required: set it to the id'],
  ['initialState empty', (r) => set(r, 'machineDefinition.initialState', ''), 'machineDefinition.initialState', 'must not be empty'],
  ['states empty', (r) => set(r, 'machineDefinition.states', []), 'machineDefinition.states', 'must list at least 1 item'],
  ['state id missing', (r) => remove(r, 'machineDefinition.states[1].id'), 'machineDefinition.states[1].id', 'is required: give it a unique id'],
  ['isFinal missing', (r) => remove(r, 'machineDefinition.states[1].isFinal'), 'machineDefinition.states[1].isFinal', 'is required: set it to true or false'],
  ['isFinal not boolean', (r) => set(r, 'machineDefinition.states[1].isFinal', 'yes'), 'machineDefinition.states[1].isFinal', 'must be a boolean (found string)'],
  ['businessStateId boolean', (r) => set(r, 'machineDefinition.states[0].businessStateId', true), 'machineDefinition.states[0].businessStateId', 'must be integer or string (found boolean)'],
  ['command channel missing', (r) => remove(r, 'machineDefinition.states[0].outputCommand.channel'), 'machineDefinition.states[0].outputCommand.channel', 'is required: set it to the id of one of communicationProtocols'],
  ['command label missing', (r) => remove(r, 'machineDefinition.states[0].sideEffects[0].label'), 'machineDefinition.states[0].sideEffects[0].label', 'is required'],
  ['transition targetState missing', (r) => remove(r, 'machineDefinition.states[0].outgoingTransitions[1].targetState'), 'machineDefinition.states[0].outgoingTransitions[1].targetState', 'is required: set it to the id of the state'],
  ['transition inputEvent missing', (r) => remove(r, 'machineDefinition.states[0].outgoingTransitions[0].inputEvent'), 'machineDefinition.states[0].outgoingTransitions[0].inputEvent', 'is required'],
  ['payloadValidationSchema not an object', (r) => set(r, 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema', true), 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema', 'must be an object (found boolean)'],
  ['business state id missing', (r) => remove(r, 'machineDefinition.businessStates[1].id'), 'machineDefinition.businessStates[1].id', 'is required'],
  ['protocol type unknown', (r) => set(r, 'communicationProtocols[0].type', 'grpc'), 'communicationProtocols[0].type', 'must be one of "kafka", "rest" (found "grpc")'],
  ['protocol configurations missing', (r) => remove(r, 'communicationProtocols[1].configurations'), 'communicationProtocols[1].configurations', 'is required'],
  ['kafka brokers missing', (r) => remove(r, 'communicationProtocols[0].configurations.brokers'), 'communicationProtocols[0].configurations.brokers', 'is required: list the Kafka bootstrap servers'],
  ['kafka brokers a number', (r) => set(r, 'communicationProtocols[0].configurations.brokers', 9092), 'communicationProtocols[0].configurations.brokers', 'must be an array, a string or a secret reference'],
  ['kafka brokers empty list', (r) => set(r, 'communicationProtocols[0].configurations.brokers', []), 'communicationProtocols[0].configurations.brokers', 'must list at least 1 item'],
  ['kafka brokers only commas', (r) => set(r, 'communicationProtocols[0].configurations.brokers', ' , '), 'communicationProtocols[0].configurations.brokers', 'lists no broker'],
  ['kafka topic empty', (r) => set(r, 'communicationProtocols[0].configurations.inputTopics', ['']), 'communicationProtocols[0].configurations.inputTopics[0]', 'must not be empty'],
  ['sasl mechanism unknown', (r) => set(r, 'communicationProtocols[0].configurations.authenticationProperties', { sasl: { mechanism: 'md5', username: 'u', password: 'p' } }), 'communicationProtocols[0].configurations.authenticationProperties.sasl.mechanism', 'must be one of "plain", "scram-sha-256", "scram-sha-512" (found "md5")'],
  ['sasl password missing', (r) => set(r, 'communicationProtocols[0].configurations.authenticationProperties', { sasl: { mechanism: 'plain', username: 'u' } }), 'communicationProtocols[0].configurations.authenticationProperties.sasl.password', 'is required'],
  ['ssl material a number', (r) => set(r, 'communicationProtocols[0].configurations.authenticationProperties', { ssl: { ca: 5 } }), 'communicationProtocols[0].configurations.authenticationProperties.ssl.ca', 'must be a string, a secret reference'],
  ['ssl a string', (r) => set(r, 'communicationProtocols[0].configurations.authenticationProperties', { ssl: 'yes' }), 'communicationProtocols[0].configurations.authenticationProperties.ssl', 'must be boolean or object (found string)'],
  ['serialization unknown', (r) => set(r, 'communicationProtocols[0].configurations.serialization', 'protobuf'), 'communicationProtocols[0].configurations.serialization', 'must be one of "json", "avro" (found "protobuf")'],
  ['schemaRegistry url missing', (r) => set(r, 'communicationProtocols[0].configurations.schemaRegistry', {}), 'communicationProtocols[0].configurations.schemaRegistry.url', 'is required'],
  ['secret reference of unknown type', (r) => set(r, 'communicationProtocols[0].configurations.brokers', { type: 'vault', path: 'x' }), 'communicationProtocols[0].configurations.brokers.type', 'must be one of "file", "env" (found "vault")'],
  ['file reference without path', (r) => set(r, 'communicationProtocols[0].configurations.brokers', { type: 'file' }), 'communicationProtocols[0].configurations.brokers.path', 'is required: name the file that holds the secret'],
  ['env reference without key', (r) => set(r, 'communicationProtocols[0].configurations.brokers', { type: 'env' }), 'communicationProtocols[0].configurations.brokers.key', 'is required: name the environment variable'],
  ['rest endpoint missing', (r) => remove(r, 'communicationProtocols[1].configurations.endpoint'), 'communicationProtocols[1].configurations.endpoint', 'is required: set the host name'],
  ['rest method GET', (r) => set(r, 'communicationProtocols[1].configurations.method', 'GET'), 'communicationProtocols[1].configurations.method', 'must be one of "POST", "PUT", "PATCH" (found "GET")'],
  ['rest protocol ftp', (r) => set(r, 'communicationProtocols[1].configurations.protocol', 'ftp'), 'communicationProtocols[1].configurations.protocol', 'must be one of "http", "https"'],
  ['rest port out of range', (r) => set(r, 'communicationProtocols[1].configurations.port', 70000), 'communicationProtocols[1].configurations.port', 'must be <= 65535'],
  ['rest header a number', (r) => set(r, 'communicationProtocols[1].configurations.headers', { 'x-api-key': 5 }), 'communicationProtocols[1].configurations.headers["x-api-key"]', 'must be a string or a secret reference'],
  ['persistency type unknown', (r) => set(r, 'persistencyManagement', { type: 'redis', configurations: {} }), 'persistencyManagement.type', 'must be one of "mongo", "crud", "rest" (found "redis")'],
  ['persistency configurations without type', (r) => set(r, 'persistencyManagement', { configurations: {} }), 'persistencyManagement.type', 'is required when "configurations" is set'],
  ['persistency type without configurations', (r) => set(r, 'persistencyManagement', { type: 'crud' }), 'persistencyManagement.configurations', 'is required when "type" is set'],
  ['mongo connectionUri missing', (r) => set(r, 'persistencyManagement', { type: 'mongo', configurations: { collectionName: 'c' } }), 'persistencyManagement.configurations.connectionUri', 'is required'],
  ['crud host missing', (r) => set(r, 'persistencyManagement', { type: 'crud', configurations: { collectionName: 'c' } }), 'persistencyManagement.configurations.host', 'is required'],
  ['rest persistency endpoint missing', (r) => set(r, 'persistencyManagement', { type: 'rest', configurations: {} }), 'persistencyManagement.configurations.endpoint', 'is required'],
  ['deepMergeMetadata a boolean', (r) => set(r, 'settings', { deepMergeMetadata: true }), 'settings.deepMergeMetadata', 'must be an object (found boolean)'],
  ['deepMergeMetadata.enabled missing', (r) => set(r, 'settings', { deepMergeMetadata: {} }), 'settings.deepMergeMetadata.enabled', 'is required'],
  ['throwOnUnexpectedEvents a string', (r) => set(r, 'settings', { throwOnUnexpectedEvents: 'true' }), 'settings.throwOnUnexpectedEvents', 'must be a boolean'],
  ['duplicateWindow negative', (r) => set(r, 'settings', { duplicateWindow: -1 }), 'settings.duplicateWindow', 'must be >= 0'],
  ['duplicateWindow fractional', (r) => set(r, 'settings', { duplicateWindow: 1.5 }), 'settings.duplicateWindow', 'must be an integer (found number)'],
  ['ignoredEventsWindow too large', (r) => set(r, 'settings', { ignoredEventsWindow: 1e6 }), 'settings.ignoredEventsWindow', 'must be <= 100000'],
];

describe('saga.json schema', () => {
  it.each(SCHEMA_ERRORS)('%s', (_name, edit, path, text) => {
    const result = parseEdited(edit);
    expect(result.config).toBeUndefined();
    expect(result.errors).toEqual([{ path, message: expect.stringContaining(text) as string }]);
  });

  it('refuses a file that is not an object, at (root)', () => {
    expect(parse([1]).errors).toEqual([{ path: '(root)', message: 'must be an object (found array)' }]);
    expect(parse(null).errors).toEqual([{ path: '(root)', message: 'must be an object (found null)' }]);
  });

  it('reports every schema error at once', () => {
    const result = parseEdited((r) => {
      remove(r, 'machineDefinition.states[1].isFinal');
      set(r, 'communicationProtocols[0].type', 'grpc');
      set(r, 'settings', { duplicateWindow: -1 });
    });
    expect(result.errors.map((e) => e.path)).toEqual([
      'machineDefinition.states[1].isFinal',
      'communicationProtocols[0].type',
      'settings.duplicateWindow',
    ]);
  });

  it('turns unknown properties into warnings naming the known ones', () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.states[1].isfinal', true);
      set(r, 'extra', 1);
    });
    expect(result.errors).toEqual([]);
    expect(result.config).toBeDefined();
    expect(result.warnings).toEqual([
      { path: 'extra', message: expect.stringContaining('unknown property, ignored: check its spelling (known here: machineDefinition,') as string },
      { path: 'machineDefinition.states[1].isfinal', message: expect.stringContaining('known here: id, description, isFinal,') as string },
    ]);
  });

  it('accepts the optional parts: settings, ssl object, schema registry with auth, every persistency type', () => {
    for (const persistency of [
      {},
      { type: 'mongo', configurations: { connectionUri: 'mongodb://m/db', collectionName: 'sagas' } },
      { type: 'crud', configurations: { protocol: 'http', host: 'crud', port: 80, collectionName: 'sagas', headers: { a: 'b' } } },
      { type: 'rest', configurations: { protocol: 'https', endpoint: 'store', method: 'PUT', path: '/s', port: 443, headers: {} } },
    ]) {
      const result = parseEdited((r) => {
        set(r, 'persistencyManagement', persistency);
        set(r, 'settings', { deepMergeMetadata: { enabled: true }, throwOnUnexpectedEvents: true, duplicateWindow: 0, ignoredEventsWindow: 5 });
        set(r, 'communicationProtocols[0].configurations.authenticationProperties', {
          ssl: { ca: ['-----BEGIN CERTIFICATE-----'], rejectUnauthorized: false, servername: 'kafka' },
          sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
        });
        set(r, 'communicationProtocols[0].configurations.serialization', 'avro');
        set(r, 'communicationProtocols[0].configurations.schemaRegistry', { url: 'http://registry:8081', auth: { username: 'u', password: 'p' } });
      });
      expect(result.errors).toEqual([]);
      expect(result.warnings).toEqual([]);
    }
  });

  it('accepts business ids that are strings', () => {
    const result = parseEdited((r) => {
      set(r, 'machineDefinition.businessStates[0].id', 'running');
      set(r, 'machineDefinition.states[0].businessStateId', 'running');
    });
    expect(result.errors).toEqual([]);
  });
});
