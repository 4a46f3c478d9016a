import { describe, expect, it } from 'vitest';
import { RD, classifyRdkafkaError, isFatalRdError, isRetriableRdError } from '../../../src/adapters/librdkafka/errors.ts';
import { LibrdkafkaGroupMember, rdHeaders, toInputRecord } from '../../../src/adapters/librdkafka/group-member.ts';
import { clusterConfig, rdLogLevel, routeLogs } from '../../../src/adapters/librdkafka/config.ts';
import type { RdLogLine } from '../../../src/adapters/librdkafka/config.ts';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { GroupListener } from '../../../src/broker/ports.ts';

const err = (code: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(`code ${code}`), { code, ...extra });

describe('librdkafka adapter', () => {
  it('classifies librdkafka errors where they enter: fenced (producer or generation), permanent with a reason, retryable', () => {
    const c = (code: number) => {
      const b = classifyRdkafkaError(err(code));
      return [b.kind, b.reason];
    };
    for (const code of [RD.FENCED, RD.PRODUCER_FENCED, RD.INVALID_PRODUCER_EPOCH, RD.ILLEGAL_GENERATION, RD.UNKNOWN_MEMBER_ID, RD.FENCED_INSTANCE_ID]) expect(c(code)).toEqual(['fenced', 'other']);
    expect(c(RD.AUTHENTICATION)).toEqual(['permanent', 'authentication']);
    expect(c(RD.SASL_AUTHENTICATION_FAILED)).toEqual(['permanent', 'authentication']);
    expect(c(RD.GROUP_AUTHORIZATION_FAILED)).toEqual(['permanent', 'authorization']);
    expect(c(RD.MSG_SIZE_TOO_LARGE)).toEqual(['permanent', 'record-too-large']);
    expect(c(RD.INVALID_REPLICATION_FACTOR)).toEqual(['permanent', 'invalid-replication-factor']);
    expect(c(RD.TOPIC_ALREADY_EXISTS)).toEqual(['permanent', 'topic-exists']);
    expect(c(RD.TRANSPORT)).toEqual(['retryable', 'unreachable']);
    expect(c(RD.TIMED_OUT)).toEqual(['retryable', 'transaction-timeout']);
    expect(c(51 /* CONCURRENT_TRANSACTIONS */)).toEqual(['retryable', 'other']);
    const classified = classifyRdkafkaError(err(-150, { isFatal: true, isRetriable: false }));
    expect(classified.client).toBe('librdkafka');
    expect(isFatalRdError(classified)).toBe(true);
    expect(isRetriableRdError(classifyRdkafkaError(err(RD.TIMED_OUT, { isRetriable: true })))).toBe(true);
  });

  it('turns librdkafka messages into records: key bytes, bigint offsets, headers by name', () => {
    const record = toInputRecord({ topic: 't', partition: 3, offset: 41, key: Buffer.from('k'), value: Buffer.from('v'), size: 1, timestamp: 1767225600000, headers: [{ a: Buffer.from('1') }, { b: '2' }] });
    expect(record).toMatchObject({ topic: 't', partition: 3, offset: 41n, timestamp: 1767225600000 });
    expect(record.key?.toString()).toBe('k');
    expect(Object.fromEntries(Object.entries(rdHeaders([{ a: Buffer.from('1') }, { b: '2' }])).map(([k, v]) => [k, v.toString()]))).toEqual({ a: '1', b: '2' });
    expect(toInputRecord({ topic: 't', partition: 0, offset: 0, value: null, size: 0 }).key).toBeNull();
  });

  it('maps the cluster settings of a saga.json channel to librdkafka properties, SASL over TLS included', () => {
    const logger = pino({ level: 'silent' });
    expect(clusterConfig({ brokers: ['a:9092', 'b:9092'], clientId: 'c', logger })).toMatchObject({ 'bootstrap.servers': 'a:9092,b:9092', 'client.id': 'c' });
    const sasl = clusterConfig({ brokers: ['a:9092'], clientId: 'c', logger, ssl: { ca: 'PEM', rejectUnauthorized: false }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(sasl).toMatchObject({ 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'u', 'ssl.ca.pem': 'PEM', 'enable.ssl.certificate.verification': false });
    expect(clusterConfig({ brokers: ['a:9092'], clientId: 'c', logger, ssl: true })['security.protocol']).toBe('ssl');
  });

  // The binding's disconnect of a consumer that never connected dereferences a null rebalance
  // callback (SIGSEGV): this test's worker would die instead of failing.
  it('sets librdkafka debug contexts only when asked, and logs librdkafka lines at the level of their syslog severity', () => {
    const logger = pino({ level: 'silent' });
    expect(clusterConfig({ brokers: ['b:9092'], clientId: 'c', logger })).not.toHaveProperty('debug');
    expect(clusterConfig({ brokers: ['b:9092'], clientId: 'c', logger, librdkafkaDebug: [] })).not.toHaveProperty('debug');
    expect(clusterConfig({ brokers: ['b:9092'], clientId: 'c', logger, librdkafkaDebug: ['cgrp', 'eos'] }).debug).toBe('cgrp,eos');
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(rdLogLevel)).toEqual(['error', 'error', 'error', 'error', 'warn', 'info', 'info', 'info']);
    const lines: Record<string, unknown>[] = [];
    const captured = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const client = new EventEmitter();
    routeLogs(client, { brokers: ['b:9092'], clientId: 'c', logger: captured });
    const line: RdLogLine = { severity: 4, fac: 'FAIL', message: 'Connect to ipv4#127.0.0.1:1 failed', name: 'c#producer-1' };
    client.emit('event.log', line);
    client.emit('event.log', { severity: 7, fac: 'CGRPSTATE', message: 'Group "g" changed state', name: 'c#consumer-2' });
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, component: 'librdkafka', client: 'c#producer-1', fac: 'FAIL', severity: 4, msg: 'Connect to ipv4#127.0.0.1:1 failed' }),
      expect.objectContaining({ level: 30, component: 'librdkafka', client: 'c#consumer-2', fac: 'CGRPSTATE', severity: 7, msg: 'Group "g" changed state' }),
    ]);
  });

  it('stops a group member whose start failed before its consumer connected, and one never started', async () => {
    const logger = pino({ level: 'silent' });
    const config = { brokers: ['127.0.0.1:1'], clientId: 'never-connected', logger };
    const unreachable = () => Promise.reject(new Error('no admin: the broker is away'));
    const failed = new LibrdkafkaGroupMember(config, { groupId: 'g', topics: ['t'], advertisedUrl: 'http://127.0.0.1:1', fromBeginning: true }, unreachable);
    const listener: GroupListener = { onAssigned: () => Promise.resolve(), onRevoked: () => Promise.resolve(), onRecords: () => Promise.resolve(), onFatal: () => undefined };
    await expect(failed.start(listener)).rejects.toThrow('no admin');
    await expect(failed.stop()).resolves.toBeUndefined();
    const idle = new LibrdkafkaGroupMember(config, { groupId: 'g', topics: ['t'], advertisedUrl: 'http://127.0.0.1:1', fromBeginning: true }, unreachable);
    await expect(idle.stop()).resolves.toBeUndefined();
  });
});
