import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLIENT_NAMES, LIBRDKAFKA_DEBUG_CONTEXTS } from '../adapters/select.ts';
import type { ClientName } from '../broker/ports.ts';
import type { EngineKafkaEnv } from '../definition/topology.ts';
import { SagaflowError } from '../errors.ts';

/** Everything sagaflow reads from the environment, read and validated in this one place. */
export interface RuntimeEnv {
  configurationsFilePath: string;
  sagaIdPrefix: string;
  httpHost: string;
  httpPort: number;
  advertisedUrl: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  stateDir: string;
  defaultPartitions: number;
  replicationFactor: number | undefined;
  /** Whether this instance also runs the MongoDB projection (when persistency is mongo). */
  projection: boolean;
  /** The Kafka client behind the broker ports. */
  kafkaClient: ClientName;
  /** librdkafka debug contexts to log (SAGAFLOW_LIBRDKAFKA_DEBUG); undefined: none. */
  librdkafkaDebug: readonly string[] | undefined;
  /** Longest time between commits while there is work; undefined: the client's default. */
  commitIntervalMs: number | undefined;
  /**
   * The processor's consumer-group session: how long a member that stops heartbeating (paused,
   * partitioned away) keeps its partitions before the group moves them.
   */
  sessionTimeoutMs: number;
  /** How long SIGTERM/SIGINT may take to commit, leave the group and close the stores before the process exits anyway. */
  shutdownGraceMs: number;
  /**
   * The operator token: with it, operator actions (cancel, dead-letter re-drive) are on, and
   * `protectReads` puts the console's data and the read API behind it too. Never logged.
   */
  admin: { token: string; protectReads: boolean } | undefined;
  /** Brokers and application id of a saga.json without kafka channels (see EngineKafkaEnv). */
  engineKafka: EngineKafkaEnv;
  /** Delivery of commands on rest channels (the outbox dispatcher). */
  rest: RestDeliveryEnv;
}

export interface RestDeliveryEnv {
  /** Whether this instance runs an outbox dispatcher (instances share the work by partition). */
  dispatcher: boolean;
  /** Requests in flight at once, across sagas (one saga's commands go one after the other). */
  concurrency: number;
  /** Longest wait for one answer before the request counts as timed out. */
  timeoutMs: number;
  /** How long a command is retried (5xx, 429, timeouts, connection errors) before it is dead-lettered. */
  retryForMs: number;
}

/** sagaflow's own environment variables (names, not error codes). */
export const SAGAFLOW_ENV_VARS = [
  'SAGAFLOW_ADVERTISED_URL',
  'SAGAFLOW_STATE_DIR',
  'SAGAFLOW_DEFAULT_PARTITIONS',
  'SAGAFLOW_REPLICATION_FACTOR',
  'SAGAFLOW_PROJECTION',
  'SAGAFLOW_KAFKA_CLIENT',
  'SAGAFLOW_LIBRDKAFKA_DEBUG',
  'SAGAFLOW_COMMIT_INTERVAL_MS',
  'SAGAFLOW_SESSION_TIMEOUT_MS',
  'SAGAFLOW_SHUTDOWN_GRACE_MS',
  'SAGAFLOW_ADMIN_TOKEN',
  'SAGAFLOW_ADMIN_TOKEN_FILE',
  'SAGAFLOW_PROTECT_READS',
  'SAGAFLOW_APPLICATION_ID',
  'SAGAFLOW_REST_DISPATCHER',
  'SAGAFLOW_REST_CONCURRENCY',
  'SAGAFLOW_REST_TIMEOUT_MS',
  'SAGAFLOW_REST_RETRY_FOR_MS',
] as const;

/** The client used when SAGAFLOW_KAFKA_CLIENT is not set. */
export const DEFAULT_KAFKA_CLIENT: ClientName = 'librdkafka';

/** Shortest admin token accepted: a guessable token would guard nothing. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function invalid(name: string, message: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_CONFIG_INVALID', { message: `env.${name}: ${message}`, path: `env.${name}` });
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw invalid(name, `"${raw}" is not an integer; set a whole number between ${min} and ${max}`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw invalid(name, `${n} is out of range; set a number between ${min} and ${max}`);
  return n;
}

function flag(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalid(name, `"${raw}" is not a boolean; set true or false`);
}

function adminAccess(env: Record<string, string | undefined>, cwd: string): RuntimeEnv['admin'] {
  const inline = env.SAGAFLOW_ADMIN_TOKEN;
  const file = env.SAGAFLOW_ADMIN_TOKEN_FILE;
  if (inline && file) throw invalid('SAGAFLOW_ADMIN_TOKEN_FILE', 'is set together with SAGAFLOW_ADMIN_TOKEN; set only one of them');
  let token = inline;
  if (file) {
    const path = resolve(cwd, file);
    try {
      // A secret file usually ends with a newline that is not part of the secret.
      token = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw invalid('SAGAFLOW_ADMIN_TOKEN_FILE', `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); point it at a readable file holding the token`);
    }
  }
  const protectReads = flag(env, 'SAGAFLOW_PROTECT_READS', false);
  if (!token) {
    if (protectReads) throw invalid('SAGAFLOW_PROTECT_READS', 'is true but no admin token is set; set SAGAFLOW_ADMIN_TOKEN or SAGAFLOW_ADMIN_TOKEN_FILE');
    return undefined;
  }
  const name = file ? 'SAGAFLOW_ADMIN_TOKEN_FILE' : 'SAGAFLOW_ADMIN_TOKEN';
  // The messages describe the token, never repeat it.
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) throw invalid(name, `the token has ${token.length} characters; use at least ${MIN_ADMIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw invalid(name, 'the token holds spaces or characters outside printable ASCII; it travels in an HTTP header');
  return Object.freeze({ token, protectReads });
}

/**
 * SAGAFLOW_LIBRDKAFKA_DEBUG: librdkafka's debug contexts, comma-separated (e.g. `cgrp,eos`).
 * Checked here against the contexts librdkafka knows, so a misspelt one stops the start with
 * its name rather than the first client with a librdkafka message.
 */
function librdkafkaDebug(env: Record<string, string | undefined>): readonly string[] | undefined {
  const raw = env.SAGAFLOW_LIBRDKAFKA_DEBUG;
  if (raw === undefined || raw.trim() === '') return undefined;
  const contexts = raw.split(',').map((c) => c.trim().toLowerCase());
  const known = LIBRDKAFKA_DEBUG_CONTEXTS as readonly string[];
  const unknown = contexts.filter((c) => !known.includes(c));
  if (unknown.length > 0) {
    const named = unknown.map((c) => (c === '' ? 'an empty entry' : `"${c}"`)).join(', ');
    const verb = unknown.length === 1 ? 'is not a librdkafka debug context' : 'are not librdkafka debug contexts';
    throw invalid('SAGAFLOW_LIBRDKAFKA_DEBUG', `${named} ${verb}; use a comma-separated list of ${known.join(', ')}`);
  }
  return Object.freeze([...new Set(contexts)]);
}

/**
 * KAFKA_BROKERS and SAGAFLOW_APPLICATION_ID as given: `checkTopology` validates them, and only
 * for a saga.json without kafka channels, so `sagaflow validate` and start judge them alike.
 */
export function engineKafkaEnv(env: Record<string, string | undefined>): EngineKafkaEnv {
  const out: EngineKafkaEnv = {};
  if (env.KAFKA_BROKERS !== undefined) out.brokers = env.KAFKA_BROKERS;
  if (env.SAGAFLOW_APPLICATION_ID !== undefined) out.applicationId = env.SAGAFLOW_APPLICATION_ID;
  return out;
}

export function readRuntimeEnv(env: Record<string, string | undefined>, cwd: string): RuntimeEnv {
  const configurationsFilePath = env.CONFIGURATIONS_FILE_PATH;
  if (!configurationsFilePath) {
    throw invalid('CONFIGURATIONS_FILE_PATH', 'is not set; point it at your saga.json');
  }
  const httpPort = integer(env, 'HTTP_PORT', 3000, 0, 65535);
  const httpHost = env.HTTP_HOST || '0.0.0.0';
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw invalid('LOG_LEVEL', `"${env.LOG_LEVEL}" is not a level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  const advertisedUrl = (env.SAGAFLOW_ADVERTISED_URL || `http://127.0.0.1:${httpPort}`).replace(/\/+$/, '');
  try {
    const u = new URL(advertisedUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw invalid('SAGAFLOW_ADVERTISED_URL', `"${advertisedUrl}" is not an http(s) URL; set the address other instances use to reach this one`);
  }
  const rf = env.SAGAFLOW_REPLICATION_FACTOR;
  const client = (env.SAGAFLOW_KAFKA_CLIENT || DEFAULT_KAFKA_CLIENT).trim().toLowerCase();
  if (!(CLIENT_NAMES as readonly string[]).includes(client)) {
    throw invalid('SAGAFLOW_KAFKA_CLIENT', `"${env.SAGAFLOW_KAFKA_CLIENT}" is not a client; use one of ${CLIENT_NAMES.join(', ')}`);
  }
  const interval = env.SAGAFLOW_COMMIT_INTERVAL_MS;
  return Object.freeze({
    configurationsFilePath: resolve(cwd, configurationsFilePath),
    sagaIdPrefix: env.SAGA_ID_PREFIX ?? '',
    httpHost,
    httpPort,
    advertisedUrl,
    logLevel: logLevel as RuntimeEnv['logLevel'],
    stateDir: resolve(cwd, env.SAGAFLOW_STATE_DIR || '.sagaflow/state'),
    defaultPartitions: integer(env, 'SAGAFLOW_DEFAULT_PARTITIONS', 6, 1, 10_000),
    replicationFactor: rf === undefined || rf === '' ? undefined : integer(env, 'SAGAFLOW_REPLICATION_FACTOR', 1, 1, 100),
    projection: flag(env, 'SAGAFLOW_PROJECTION', true),
    kafkaClient: client as ClientName,
    librdkafkaDebug: librdkafkaDebug(env),
    commitIntervalMs: interval === undefined || interval === '' ? undefined : integer(env, 'SAGAFLOW_COMMIT_INTERVAL_MS', 100, 0, 60_000),
    // Kafka's default group.min/max.session.timeout.ms bound what a broker accepts.
    sessionTimeoutMs: integer(env, 'SAGAFLOW_SESSION_TIMEOUT_MS', 30_000, 6_000, 1_800_000),
    shutdownGraceMs: integer(env, 'SAGAFLOW_SHUTDOWN_GRACE_MS', 30_000, 1_000, 3_600_000),
    admin: adminAccess(env, cwd),
    engineKafka: Object.freeze(engineKafkaEnv(env)),
    rest: Object.freeze({
      dispatcher: flag(env, 'SAGAFLOW_REST_DISPATCHER', true),
      concurrency: integer(env, 'SAGAFLOW_REST_CONCURRENCY', 32, 1, 10_000),
      timeoutMs: integer(env, 'SAGAFLOW_REST_TIMEOUT_MS', 10_000, 100, 600_000),
      retryForMs: integer(env, 'SAGAFLOW_REST_RETRY_FOR_MS', 600_000, 0, 7 * 24 * 3_600_000),
    }),
  });
}
