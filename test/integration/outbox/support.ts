import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import type { SagaConfig } from '../../../src/definition/types.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { testChannelConfigurations } from '../../support/sagaflow.ts';
import type { FlowTopics } from '../../support/sagaflow.ts';

const root = new URL('../../../', import.meta.url).pathname;

/** A request as the test's REST service received it. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { key: string; value: { messageLabel: string; messagePayload: Record<string, unknown> } };
  /** Idempotency-Key header. */
  key: string;
  at: number;
  /** How many requests with this Idempotency-Key came before this one. */
  seen: number;
}

/** What the service does with a request: answer, never answer, or drop the connection. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | { hang: true };

export interface RestService {
  port: number;
  requests: Received[];
  /** Requests answered 2xx, by Idempotency-Key. */
  delivered(): Map<string, Received[]>;
  /** Replaces the handler (e.g. after a kill, to let everything through). */
  handle(handler: (req: Received) => Reply | Promise<Reply>): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1, standing for a Flow Manager REST service; closed after the test file. */
export async function restService(handler: (req: Received) => Reply | Promise<Reply>): Promise<RestService> {
  let current = handler;
  const requests: Received[] = [];
  const answered = new Map<string, Received[]>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      const received: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'],
        key,
        at: Date.now(),
        seen: requests.filter((r) => r.key === key).length,
      };
      requests.push(received);
      void Promise.resolve(current(received)).then((reply) => {
        if ('hang' in reply) return;
        if (reply.status >= 200 && reply.status < 300) answered.set(key, [...(answered.get(key) ?? []), received]);
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.body ?? '');
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  registerCleanup(close);
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    delivered: () => answered,
    handle: (h) => {
      current = h;
    },
    close,
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type Raw = {
  machineDefinition: {
    states: { id: string; outputCommand?: { label: string; channel: string; retry?: unknown }; sideEffects?: unknown[]; timeout?: unknown; outgoingTransitions?: unknown[] }[];
  };
  communicationProtocols: Record<string, unknown>[];
  persistencyManagement: unknown;
};

/**
 * The tutorial's reservation saga with its commands on the channels given (a rest channel
 * configuration, or "kafka" for the tutorial's kafka channel on the test broker), parsed with
 * `env` for secret references. With no command on kafka, the saga.json has no kafka channel.
 */
export function reservationOverRest(
  flow: FlowTopics,
  channels: { validateReservation: Record<string, unknown> | 'kafka'; checkReservation: Record<string, unknown> | 'kafka' },
  env: Record<string, string> = {},
  serialization: 'json' | 'avro' = 'json',
  edit: (raw: Raw) => void = () => undefined,
): SagaConfig {
  const raw = JSON.parse(readFileSync(`${root}examples/reservation/saga.json`, 'utf8')) as Raw;
  const protocols: Record<string, unknown>[] = [];
  const usesKafka = Object.values(channels).includes('kafka');
  if (usesKafka) {
    protocols.push({
      id: 'kafkaChannel',
      type: 'kafka',
      configurations: testChannelConfigurations(flow, serialization),
    });
  }
  for (const state of raw.machineDefinition.states) {
    const command = state.outputCommand;
    if (!command) continue;
    const target = channels[command.label as keyof typeof channels];
    if (target === 'kafka') continue;
    const id = `${command.label}Service`;
    command.channel = id;
    protocols.push({ id, type: 'rest', configurations: target });
  }
  raw.communicationProtocols = protocols;
  raw.persistencyManagement = {};
  edit(raw);
  const parsed = parseSagaConfig(raw, { env, readFile: (p) => readFileSync(p, 'utf8') });
  if (!parsed.config) throw new Error(`invalid test config: ${JSON.stringify(parsed.errors)}`);
  return parsed.config;
}

/** The answer of a service, as Flow Manager's services send it: `POST /event`. */
export async function postEvent(url: string, sagaId: string, messageLabel: string, messagePayload: unknown = {}): Promise<number> {
  const res = await fetch(`${url}/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: sagaId, value: { messageLabel, messagePayload } }),
  });
  await res.arrayBuffer();
  return res.status;
}

export async function createSaga(url: string, associatedEntityId: string, metadata: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId, metadata }) });
  if (res.status !== 201) throw new Error(`POST /saga answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { sagaId: string }).sagaId;
}

export async function getSaga(url: string, sagaId: string): Promise<SagaDocument | undefined> {
  const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`);
  if (res.status !== 200) {
    await res.arrayBuffer();
    return undefined;
  }
  return (await res.json()) as SagaDocument;
}
