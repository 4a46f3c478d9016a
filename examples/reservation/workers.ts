// The reservation saga's two services, written with sagaflow's worker client: the validation
// service answers validateReservation (1 to 8 seats), the check service answers
// checkReservation (any table but the terrace). `npm run demo` runs both in its own process;
// docker compose runs each as its own container:
//   node examples/reservation/workers.ts validation|check|all
// Brokers, topics and wire format come from the saga.json at CONFIGURATIONS_FILE_PATH (its
// secret references resolved like sagaflow's own); the consumer group is
// `<consumerGroup>-<role>-service`.
// The container image holds the compiled dist/ and no sources: the modules are loaded from
// dist/ when it exists, from src/ otherwise (a checkout), as bin/sagaflow.js does.
import { existsSync } from 'node:fs';
import pino from 'pino';
import type * as CodecFactory from '../../src/kafka/codec-factory.ts';
import type * as Load from '../../src/definition/load.ts';
import type * as BrokerConfig from '../../src/runtime/broker-config.ts';
import type * as Env from '../../src/runtime/env.ts';
import type * as Topology from '../../src/definition/topology.ts';
import type * as Warnings from '../../src/runtime/warnings.ts';
import type * as WorkerClient from '../../src/worker/client.ts';

export type ReservationRole = 'validation' | 'check';
export const reservationRoles: readonly ReservationRole[] = ['validation', 'check'];

async function load<T>(module: string): Promise<T> {
  const compiled = new URL(`../../dist/${module}.js`, import.meta.url);
  const url = existsSync(compiled) ? compiled : new URL(`../../src/${module}.ts`, import.meta.url);
  return (await import(url.href)) as T;
}

/** Attaches the handlers of the given services to a worker; each logs the decision it takes. */
export function reservationHandlers(worker: WorkerClient.SagaWorker, roles: readonly ReservationRole[], log: (line: string) => void = console.log): WorkerClient.SagaWorker {
  if (roles.includes('validation')) {
    worker.onCommand('validateReservation', async ({ sagaId, payload }) => {
      const seats = Number((payload as { seats?: number }).seats ?? 0);
      const ok = seats > 0 && seats <= 8;
      log(`   [validation service] ${sagaId}: ${seats} seats -> ${ok ? 'validationOK' : 'validationKO'}`);
      await worker.emit(ok ? 'validationOK' : 'validationKO', sagaId, { validated: ok });
    });
  }
  if (roles.includes('check')) {
    worker.onCommand('checkReservation', async ({ sagaId, payload }) => {
      const table = String((payload as { table?: string }).table ?? '');
      const ok = table !== 'terrace';
      log(`   [check service] ${sagaId}: table ${table} -> ${ok ? 'checkOK' : 'checkKO'}`);
      await worker.emit(ok ? 'checkOK' : 'checkKO', sagaId, { checked: ok });
    });
  }
  return worker;
}

function rolesOf(arg: string | undefined): readonly ReservationRole[] | undefined {
  if (arg === 'all') return reservationRoles;
  return reservationRoles.find((role) => role === arg) === undefined ? undefined : [arg as ReservationRole];
}

async function main(): Promise<number> {
  const roles = rolesOf(process.argv[2]);
  const path = process.env.CONFIGURATIONS_FILE_PATH;
  if (!roles || !path) {
    console.error('SAGAFLOW_CLI_USAGE: usage: CONFIGURATIONS_FILE_PATH=saga.json node examples/reservation/workers.ts validation|check|all');
    return 2;
  }
  (await load<typeof Warnings>('runtime/warnings')).silenceKnownKafkajsWarnings();
  const { loadSagaConfigFile } = await load<typeof Load>('definition/load');
  const { kafkaLayout } = await load<typeof Topology>('definition/topology');
  const { createProcessorCodec } = await load<typeof CodecFactory>('kafka/codec-factory');
  const { SagaWorker } = await load<typeof WorkerClient>('worker/client');
  const { readRuntimeEnv } = await load<typeof Env>('runtime/env');
  const { brokerConfigOf } = await load<typeof BrokerConfig>('runtime/broker-config');

  // The same checks, topology and Kafka client (SAGAFLOW_KAFKA_CLIENT) as `sagaflow start`: a
  // bad file or variable stops here with its path.
  const { kafkaClient } = readRuntimeEnv(process.env, process.cwd());
  const { channel, applicationId, eventsTopic, commandTopics } = kafkaLayout(loadSagaConfigFile(path, process.env));
  const commandsTopic = commandTopics.get(channel.id);
  if (!commandsTopic) {
    console.error(`SAGAFLOW_CONFIG_INVALID: ${path}: the events channel "${channel.id}" names no outputTopics; the reservation commands travel on it`);
    return 1;
  }
  const name = roles.length === 1 ? `${roles[0]}-service` : 'reservation-services';
  const logger = pino({ level: 'warn' });
  const { brokers, ssl, sasl } = brokerConfigOf(channel, name, logger);
  const codec = await createProcessorCodec(channel, { events: eventsTopic, commands: [commandsTopic], changelog: '', deadLetter: '' });
  const worker = new SagaWorker({
    brokers,
    client: kafkaClient,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    codec,
    commandsTopic,
    eventsTopic,
    groupId: `${applicationId}-${name}`,
    clientId: name,
    logger,
  });
  reservationHandlers(worker, roles);
  await worker.start();
  console.log(`${name}: reading ${commandsTopic}, answering on ${eventsTopic}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await worker.stop();
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main().catch((error: unknown) => {
    // The modules come from dist/ or src/, so the error class is not ours to test with instanceof.
    if (!(error instanceof Error) || !('code' in error) || !String(error.code).startsWith('SAGAFLOW_')) throw error;
    console.error(`${String(error.code)}: ${error.message}`);
    return 1;
  });
}
