import { readFileSync } from 'node:fs';
import pino from 'pino';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import { buildHttpApp } from '../../../src/http/app.ts';
import type { HttpDeps } from '../../../src/http/app.ts';
import type { Envelope } from '../../../src/kafka/codec.ts';
import type { SagaLocation } from '../../../src/engine/processor.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { sagaDoc as projectionSaga } from '../projection/fixtures.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export async function reservation(): Promise<{ config: SagaConfig; compiled: CompiledDefinition }> {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return { config: parsed.config, compiled: await compileDefinition(parsed.config) };
}

/** A saga of the reservation flow in `currentState`. */
export function sagaDoc(sagaId: string, currentState = 'reservationCreated', isFinal = false): SagaDocument {
  return projectionSaga({ sagaId, currentState, isFinal, history: { states: [{ state: currentState, timestamp: '2024-01-01T00:00:00.000Z' }], events: [{ event: '__created__', timestamp: '2024-01-01T00:00:00.000Z' }] } });
}

/**
 * The HTTP app over an in-memory saga map standing in for the processor's stores: `produce`
 * records what would go to the events topic, and `apply` (when given) lets a test play the
 * processor by changing the map.
 */
export async function operatorApp(opts: {
  sagas?: Map<string, SagaDocument>;
  admin?: HttpDeps['admin'];
  apply?: (sagaId: string, envelope: Envelope, sagas: Map<string, SagaDocument>) => void;
  extra?: Partial<HttpDeps>;
}) {
  const sagas = opts.sagas ?? new Map<string, SagaDocument>();
  const produced: { sagaId: string; envelope: Envelope }[] = [];
  const { config, compiled } = await reservation();
  const deps: HttpDeps = {
    definition: compiled,
    machineDefinition: config.machineDefinition,
    sagaIdPrefix: '',
    ingress: {
      produce: async (sagaId, envelope) => {
        produced.push({ sagaId, envelope });
        opts.apply?.(sagaId, envelope, sagas);
      },
    },
    queries: {
      locate: async (id): Promise<SagaLocation> => ({ kind: 'local', saga: sagas.get(id) }),
      isReady: () => true,
      ownedPartitions: () => [{ partition: 0, state: 'ready' }],
    },
    metrics: () => '',
    logger: pino({ level: 'silent' }),
    waitTimeoutMs: 500,
    ...opts.extra,
  };
  if (opts.admin) deps.admin = opts.admin;
  const app = await buildHttpApp(deps);
  return { app, produced, sagas };
}

export const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
