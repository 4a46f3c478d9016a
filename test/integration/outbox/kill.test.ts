import { spawn } from 'node:child_process';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../../src/outbox/dispatcher.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { testBrokerClient } from '../../support/kafka.ts';
import { startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { createSaga, getSaga, reservationOverRest, restService } from './support.ts';
import type { Reply } from './support.ts';

const SAGAS = 30;
const PARTITIONS = 4;
/** Requests answered before the service stops answering and the dispatcher is killed. */
const ANSWERED_BEFORE_KILL = 8;

describe('an outbox dispatcher killed mid-delivery (SIGKILL)', () => {
  it('loses nothing: its successor in the group delivers every command, the ones in flight again under the same Idempotency-Key', async () => {
    const flow = uniqueFlow('outbox-kill');
    let answered = 0;
    const service = await restService((): Reply => (answered++ < ANSWERED_BEFORE_KILL ? { status: 200 } : { hang: true }));
    const config = reservationOverRest(flow, {
      validateReservation: { endpoint: '127.0.0.1', port: service.port, path: '/validate' },
      checkReservation: { endpoint: '127.0.0.1', port: service.port, path: '/check' },
    });
    // The instance writes the outbox; the dispatchers are the child and then its successor.
    const instance = await startTestInstance(config, {
      partitions: PARTITIONS,
      env: { KAFKA_BROKERS: services().kafkaBrokers.join(','), SAGAFLOW_APPLICATION_ID: flow.applicationId, SAGAFLOW_REST_DISPATCHER: 'false' },
    });
    expect(instance.dispatcher).toBeUndefined();
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const ids = await Promise.all(Array.from({ length: SAGAS }, (_, i) => createSaga(instance.url, `entity-${i}`, { i })));
    // A saga is readable once its transaction committed, and its outbox record with it.
    for (const id of ids) await waitFor(() => getSaga(instance.url, id), { timeoutMs: 30_000 });
    const expected = ids.map((id) => `${id}:1:validateReservation`).sort();

    const child = spawn(process.execPath, [new URL('./dispatcher-child.ts', import.meta.url).pathname], {
      env: {
        ...process.env,
        KAFKA_BROKERS: services().kafkaBrokers.join(','),
        APPLICATION_ID: flow.applicationId,
        CHANNEL: 'validateReservationService',
        PORT: String(service.port),
        PARTITIONS: String(PARTITIONS),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    registerCleanup(() => child.kill('SIGKILL'));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // Killed while it waits for answers that never come: those requests are in flight.
    await waitFor(() => service.requests.length >= ANSWERED_BEFORE_KILL + 2, { timeoutMs: 60_000, description: 'requests in flight at the child' });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const inFlight = service.requests.slice(ANSWERED_BEFORE_KILL).map((r) => r.key);
    expect(inFlight.length).toBeGreaterThanOrEqual(2);
    expect(service.delivered().size).toBe(ANSWERED_BEFORE_KILL);
    expect(service.delivered().size).toBeLessThan(SAGAS);

    service.handle(() => ({ status: 200 }));
    const client = testBrokerClient();
    const producer = await client.producer();
    registerCleanup(() => producer.close());
    const successor = new Dispatcher({
      client,
      applicationId: flow.applicationId,
      outboxTopic: `${flow.applicationId}-outbox`,
      eventsTopic: `${flow.applicationId}-events`,
      deadLetterTopic: { topic: `${flow.applicationId}-dead-letter`, partitions: PARTITIONS },
      channels: new Map(config.communicationProtocols.flatMap((p) => (p.type === 'rest' ? [[p.id, p] as const] : []))),
      codec: { encodeEvent: async (_t, e) => Buffer.from(JSON.stringify(e)) },
      producer,
      logger: pino({ level: process.env.SAGAFLOW_TEST_LOG_LEVEL ?? 'silent' }),
      concurrency: 2,
      // A small window: partitions are paused and resumed while it catches up.
      maxPendingPerPartition: 2,
      sessionTimeoutMs: 6_000,
    });
    registerCleanup(() => successor.stop());
    await successor.start();

    // Once the dead member's session expired, its partitions came to the successor.
    await waitFor(() => service.delivered().size === SAGAS, { timeoutMs: 90_000, description: 'every command delivered' });
    expect([...service.delivered().keys()].sort()).toEqual(expected);
    expect([...new Set(service.requests.map((r) => r.key))].sort()).toEqual(expected);
    for (const key of inFlight) {
      const sends = service.requests.filter((r) => r.key === key);
      expect(sends.length, key).toBeGreaterThanOrEqual(2);
      for (const s of sends) expect(s.body).toEqual(sends[0]?.body);
    }
    expect(successor.metrics.totals()).toMatchObject({ failures: 0 });
    // Offsets committed after the 2xx: the group is at the outbox's end, nothing is left.
    const admin = await client.admin();
    const outbox = `${flow.applicationId}-outbox`;
    await waitFor(
      async () => {
        const [ends, committed] = await Promise.all([admin.watermarks(outbox), admin.committedOffsets(`${flow.applicationId}-outbox`, outbox)]);
        return [...ends].every(([p, { high }]) => (committed.get(p) ?? 0n) === high);
      },
      { timeoutMs: 30_000, description: 'outbox group caught up' },
    );
    expect(successor.status()).toMatchObject({ state: 'running', pending: 0, partitions: [0, 1, 2, 3] });
    await successor.stop();
  });
});
