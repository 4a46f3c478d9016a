import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createBrokerClient } from '../../../src/adapters/select.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { createTopic, uniqueGroupId } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { services } from '../../support/services.ts';
import { eventually } from '../../support/wait.ts';

// librdkafka's own log lines reach the process logger, on the real broker: the debug contexts
// of SAGAFLOW_LIBRDKAFKA_DEBUG when asked for, and never without.

interface Line {
  level: number;
  component?: string;
  client?: string;
  fac?: string;
  severity?: number;
  msg: string;
}

function capturing(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) });
  return { logger, lines };
}

/** Joins a group with a member of a client made with `debug`, and reads one record. */
async function joinAndRead(debug: readonly string[] | undefined): Promise<Line[]> {
  const { logger, lines } = capturing();
  const clientId = uniqueName('rdlogs');
  const client = await createBrokerClient('librdkafka', { brokers: services().kafkaBrokers, clientId, logger, ...(debug ? { librdkafkaDebug: debug } : {}) });
  registerCleanup(() => client.close());
  const topic = await createTopic({ prefix: 'rdlogs', partitions: 1 });
  const producer = await client.producer();
  registerCleanup(() => producer.close());
  const member = client.groupMember({ groupId: uniqueGroupId('rdlogs'), topics: [topic], advertisedUrl: '', fromBeginning: true, maxWaitMs: 100 });
  const seen: string[] = [];
  await member.start({
    onAssigned: async () => undefined,
    onRevoked: async () => undefined,
    onRecords: async (records) => void seen.push(...records.map((r) => r.value?.toString() ?? '')),
    onFatal: () => undefined,
  });
  registerCleanup(() => member.stop());
  await producer.send([{ topic, partition: 0, key: 'k', value: Buffer.from('v') }]);
  await eventually(() => expect(seen).toEqual(['v']), 30_000);
  return lines.filter((l) => l.component === 'librdkafka');
}

describe('librdkafka log lines', () => {
  it('logs the consumer-group debug lines asked for, at info, naming the client and the facility', { timeout: 60_000 }, async () => {
    const lines = await joinAndRead(['cgrp']);
    const debug = lines.filter((l) => l.severity === 7);
    expect(debug.length).toBeGreaterThan(0);
    expect(debug.every((l) => l.level === 30 && typeof l.fac === 'string' && typeof l.client === 'string' && l.msg.length > 0)).toBe(true);
    // The group's join and assignment are what `cgrp` is for.
    expect(debug.some((l) => /join|assign/i.test(l.msg))).toBe(true);
  });

  it('logs no debug lines when none were asked for', { timeout: 60_000 }, async () => {
    const lines = await joinAndRead(undefined);
    expect(lines.filter((l) => l.severity === 7)).toEqual([]);
  });

  it('logs that a broker refuses connections, as librdkafka reports it', { timeout: 60_000 }, async () => {
    const { logger, lines } = capturing();
    // Nothing listens on port 1; the admin's first request fails, and librdkafka says why.
    await expect(createBrokerClient('librdkafka', { brokers: ['127.0.0.1:1'], clientId: uniqueName('rdlogs-down'), logger }).then((c) => c.admin())).rejects.toThrow();
    const refused = lines.filter((l) => l.component === 'librdkafka' && l.level >= 40 && /refused/i.test(l.msg));
    expect(refused.length).toBeGreaterThan(0);
  });
});
