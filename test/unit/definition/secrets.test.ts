import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadSagaConfigFile } from '../../../src/definition/load.ts';
import type { KafkaProtocol, RestProtocol } from '../../../src/definition/types.ts';
import { parseEdited, set, validRaw } from './fixtures.ts';

const KAFKA = 'communicationProtocols[0].configurations';
const SASL = `${KAFKA}.authenticationProperties.sasl`;

function files(map: Record<string, string>): (p: string) => string {
  return (p) => {
    const content = map[p];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
    return content;
  };
}

describe('secret references', () => {
  it('resolves {"type": "env"}, "${NAME}" and {"type": "file"} (trimmed) at every secret-bearing position', () => {
    const env = { BROKERS: 'k1:9092, k2:9092', USER: 'alice', PASS: 's3cret', URI: 'mongodb://u:p@m/db', TOKEN: 'Bearer t', REG: 'http://r:8081' };
    const result = parseEdited(
      (r) => {
        set(r, `${KAFKA}.brokers`, { type: 'env', key: 'BROKERS' });
        set(r, `${KAFKA}.authenticationProperties`, {
          ssl: { ca: [{ type: 'file', path: '/certs/ca.pem' }], cert: '${CERT}', key: { type: 'file', path: '/certs/key.pem' }, passphrase: '${PASS}' },
          sasl: { mechanism: 'plain', username: '${USER}', password: { type: 'env', key: 'PASS' } },
        });
        set(r, `${KAFKA}.serialization`, 'avro');
        set(r, `${KAFKA}.schemaRegistry`, { url: '${REG}', auth: { username: '${USER}', password: { type: 'file', path: '/reg' } } });
        set(r, 'communicationProtocols[1].configurations.headers', { authorization: '${TOKEN}', 'x-plain': 'literal ${NOT_WHOLE}' });
        set(r, 'persistencyManagement', { type: 'mongo', configurations: { connectionUri: { type: 'env', key: 'URI' }, collectionName: 'sagas' } });
      },
      {
        env: { ...env, CERT: 'CERT-PEM' },
        readFile: files({ '/certs/ca.pem': 'CA-PEM\n', '/certs/key.pem': '  KEY-PEM  \n', '/reg': 'reg-pass\n' }),
      },
    );
    expect(result.errors).toEqual([]);
    const kafka = result.config?.communicationProtocols[0] as KafkaProtocol;
    expect(kafka.configurations.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(kafka.configurations.authenticationProperties).toEqual({
      ssl: { ca: ['CA-PEM'], cert: 'CERT-PEM', key: 'KEY-PEM', passphrase: 's3cret' },
      sasl: { mechanism: 'plain', username: 'alice', password: 's3cret' },
    });
    expect(kafka.configurations.schemaRegistry).toEqual({ url: 'http://r:8081', auth: { username: 'alice', password: 'reg-pass' } });
    const rest = result.config?.communicationProtocols[1] as RestProtocol;
    expect(rest.configurations.headers).toEqual({ authorization: 'Bearer t', 'x-plain': 'literal ${NOT_WHOLE}' });
    expect(result.config?.persistencyManagement).toEqual({ type: 'mongo', configurations: { connectionUri: 'mongodb://u:p@m/db', collectionName: 'sagas' } });
  });

  it('resolves references inside a brokers array and splits comma-separated entries', () => {
    const result = parseEdited((r) => set(r, `${KAFKA}.brokers`, ['${B1}', 'k3:9092,k4:9092']), { env: { B1: 'k1:9092,k2:9092' } });
    expect((result.config?.communicationProtocols[0] as KafkaProtocol).configurations.brokers).toEqual(['k1:9092', 'k2:9092', 'k3:9092', 'k4:9092']);
  });

  it('resolves crud and rest persistency headers', () => {
    for (const type of ['crud', 'rest'] as const) {
      const configurations = type === 'crud' ? { host: 'crud', collectionName: 'c', headers: { secret: '${S}' } } : { endpoint: 'e', headers: { secret: '${S}' } };
      const result = parseEdited((r) => set(r, 'persistencyManagement', { type, configurations }), { env: { S: 'v' } });
      expect(result.config?.persistencyManagement).toEqual({ type, configurations: { ...configurations, headers: { secret: 'v' } } });
    }
  });

  it('names the path and the variable of a missing environment variable, never a value', () => {
    const result = parseEdited((r) => {
      set(r, `${KAFKA}.authenticationProperties`, { sasl: { mechanism: 'plain', username: '${KAFKA_USER}', password: { type: 'env', key: 'KAFKA_PASS' } } });
    });
    expect(result.errors).toEqual([
      { path: `${SASL}.username`, message: 'environment variable KAFKA_USER is not set: set it, or write the value here instead of the reference', code: 'SAGAFLOW_SECRET_UNRESOLVED' },
      { path: `${SASL}.password`, message: 'environment variable KAFKA_PASS is not set: set it, or write the value here instead of the reference', code: 'SAGAFLOW_SECRET_UNRESOLVED' },
    ]);
  });

  it('names the path and the file of an unreadable secret file, never its content', () => {
    const result = parseEdited((r) => set(r, `${SASL.replace('.sasl', '')}`, { sasl: { mechanism: 'plain', username: 'u', password: { type: 'file', path: '/run/secrets/missing' } } }));
    expect(result.errors).toEqual([
      { path: `${SASL}.password`, message: 'cannot read secret file "/run/secrets/missing" (ENOENT): mount the file or fix the path', code: 'SAGAFLOW_SECRET_UNRESOLVED' },
    ]);
  });

  it('accepts an empty environment variable as a value', () => {
    const result = parseEdited((r) => set(r, 'communicationProtocols[1].configurations.headers', { a: '${EMPTY}' }), { env: { EMPTY: '' } });
    expect((result.config?.communicationProtocols[1] as RestProtocol).configurations.headers).toEqual({ a: '' });
  });

  it('leaves strings that are not whole references alone, and ignores "${...}" outside secret positions', () => {
    const result = parseEdited((r) => {
      set(r, 'communicationProtocols[1].configurations.headers', { a: 'pre-${X}', b: '$X', c: '${1BAD}' });
      set(r, 'communicationProtocols[0].configurations.consumerGroup', '${GROUP}');
    });
    expect(result.errors).toEqual([]);
    expect((result.config?.communicationProtocols[1] as RestProtocol).configurations.headers).toEqual({ a: 'pre-${X}', b: '$X', c: '${1BAD}' });
    expect((result.config?.communicationProtocols[0] as KafkaProtocol).configurations.consumerGroup).toBe('${GROUP}');
  });

  it('with resolveSecrets false, checks the references but leaves placeholders and needs no env or files', () => {
    const result = parseEdited(
      (r) => {
        set(r, `${KAFKA}.brokers`, { type: 'env', key: 'BROKERS' });
        set(r, `${KAFKA}.authenticationProperties`, { sasl: { mechanism: 'plain', username: '${U}', password: { type: 'file', path: '/p' } } });
      },
      { resolveSecrets: false },
    );
    expect(result.errors).toEqual([]);
    const kafka = result.config?.communicationProtocols[0] as KafkaProtocol;
    expect(kafka.configurations.brokers).toEqual(['<secret env:BROKERS>']);
    expect(kafka.configurations.authenticationProperties?.sasl).toEqual({ mechanism: 'plain', username: '<secret env:U>', password: '<secret file:/p>' });
  });

  it('resolves relative file paths against the directory of the saga.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-secrets-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'password.txt'), 'from-file\n');
    const raw = validRaw();
    set(raw, `${KAFKA}.authenticationProperties`, { sasl: { mechanism: 'plain', username: 'u', password: { type: 'file', path: 'password.txt' } } });
    writeFileSync(join(dir, 'saga.json'), JSON.stringify(raw));
    const config = loadSagaConfigFile(join(dir, 'saga.json'), {});
    expect((config.communicationProtocols[0] as KafkaProtocol).configurations.authenticationProperties?.sasl?.password).toBe('from-file');
  });

  it('never puts a resolved value in an issue, even when other parts are invalid', () => {
    const result = parseEdited(
      (r) => {
        set(r, `${KAFKA}.authenticationProperties`, { sasl: { mechanism: 'plain', username: '${U}', password: '${P}' } });
        set(r, 'machineDefinition.initialState', 'nope');
      },
      { env: { U: 'user-value-1', P: 'password-value-2' } },
    );
    expect(result.errors.length).toBeGreaterThan(0);
    const text = JSON.stringify(result);
    expect(text).not.toContain('user-value-1');
    expect(text).not.toContain('password-value-2');
  });
});
