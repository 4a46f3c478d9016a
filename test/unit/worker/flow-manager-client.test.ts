import { Registry } from 'prom-client';
import promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import { FMClientBuilder, getMetrics } from '../../../src/worker/flow-manager-client.ts';

function logger() {
  const errors: { obj: unknown; msg: string }[] = [];
  const log = { child: () => log, info: () => undefined, warn: () => undefined, debug: () => undefined, error: (obj: unknown, msg: string) => void errors.push({ obj, msg }) };
  return { log, errors };
}

describe('FMClientBuilder', () => {
  it('refuses what the library\'s schema refuses, logging first as it does', () => {
    const cases: [string, () => unknown][] = [
      ['kafkaConf.clientId must be a non-empty string', () => new FMClientBuilder(logger().log, { clientId: '', brokers: 'k:9092' }).build()],
      ['kafkaConf.brokers must be a non-empty string of comma-separated brokers', () => new FMClientBuilder(logger().log, { clientId: 'c', brokers: '' }).build()],
      ['components.commandsExecutor.consumerConf.groupId must be a string', () => new FMClientBuilder(logger().log, { clientId: 'c', brokers: 'k:9092' }).configureCommandsExecutor('commands', {} as { groupId: string }).build()],
    ];
    for (const [reason, build] of cases) {
      let thrown: unknown;
      try {
        build();
      } catch (err) {
        thrown = err;
      }
      expect(isSagaflowError(thrown, 'SAGAFLOW_CONFIG_INVALID')).toBe(true);
      expect((thrown as Error).message).toBe(`impossible to initialize Flow Manager Client: ${reason}`);
    }
    const { log, errors } = logger();
    expect(() => new FMClientBuilder(log, { clientId: '', brokers: 'k' }).build()).toThrow();
    expect(errors).toEqual([{ obj: { cause: 'kafkaConf.clientId must be a non-empty string' }, msg: 'impossible to initialize Flow Manager Client' }]);
  });

  it('a client without a component says so, as the library does', async () => {
    const emitterOnly = new FMClientBuilder(logger().log, { clientId: 'c', brokers: 'k:9092' }).configureEventsEmitter('events').build();
    expect(() => emitterOnly.onCommand('x', () => undefined)).toThrow('commands executor component not configured');
    const executorOnly = new FMClientBuilder(logger().log, { clientId: 'c', brokers: 'k:9092' }).configureCommandsExecutor('commands', { groupId: 'g' }).build();
    await expect(executorOnly.emit('e', 's')).rejects.toThrow('events emitter component not configured');
    // Healthy from the start (Kubernetes lets it boot), ready only once started.
    expect([executorOnly.isHealthy(), executorOnly.isReady()]).toEqual([true, false]);
  });

  it('getMetrics creates the library\'s metric names and labels on the given prom-client', async () => {
    const registry = new Registry();
    const Counter = class extends promClient.Counter {
      constructor(config: { name: string; help: string; labelNames: string[] }) {
        super({ ...config, registers: [registry] });
      }
    };
    const metrics = getMetrics({ Counter });
    metrics.commandsExecuted.inc({ command: 'validateReservation', result: 'SUCCESS' });
    metrics.eventsEmitted.inc({ event: 'validationOK' });
    const text = await registry.metrics();
    expect(text).toContain('fm_client_commands_total{command="validateReservation",result="SUCCESS"} 1');
    expect(text).toContain('fm_client_events_total{event="validationOK"} 1');
  });
});
