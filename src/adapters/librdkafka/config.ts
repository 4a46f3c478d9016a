import type { BrokerClientConfig } from '../../broker/ports.ts';

/** librdkafka properties for the cluster: addresses, TLS and SASL (secrets already resolved). */
export function clusterConfig(config: BrokerClientConfig): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {
    'bootstrap.servers': config.brokers.join(','),
    'client.id': config.clientId,
    // 127.0.0.1-style addresses only; librdkafka would otherwise try ::1 first for names.
    'broker.address.family': 'v4',
    'log.connection.close': false,
  };
  if (config.librdkafkaDebug !== undefined && config.librdkafkaDebug.length > 0) out.debug = config.librdkafkaDebug.join(',');
  const tls = config.ssl !== undefined && config.ssl !== false;
  if (config.sasl) {
    out['security.protocol'] = tls ? 'sasl_ssl' : 'sasl_plaintext';
    out['sasl.mechanisms'] = config.sasl.mechanism.toUpperCase();
    out['sasl.username'] = config.sasl.username;
    out['sasl.password'] = config.sasl.password;
  } else if (tls) {
    out['security.protocol'] = 'ssl';
  }
  if (tls && typeof config.ssl === 'object') {
    const ssl = config.ssl as { ca?: unknown; cert?: unknown; key?: unknown; passphrase?: unknown; rejectUnauthorized?: unknown };
    const pem = (v: unknown) => (Array.isArray(v) ? v.map(String).join('\n') : String(v));
    if (ssl.ca !== undefined) out['ssl.ca.pem'] = pem(ssl.ca);
    if (ssl.cert !== undefined) out['ssl.certificate.pem'] = pem(ssl.cert);
    if (ssl.key !== undefined) out['ssl.key.pem'] = pem(ssl.key);
    if (ssl.passphrase !== undefined) out['ssl.key.password'] = String(ssl.passphrase);
    if (ssl.rejectUnauthorized === false) out['enable.ssl.certificate.verification'] = false;
  }
  return out;
}

/**
 * librdkafka's debug contexts (its `debug` property, librdkafka 2.15), for
 * SAGAFLOW_LIBRDKAFKA_DEBUG: checked when the environment is read, so a misspelt context
 * refuses the start instead of failing the first client.
 */
export const LIBRDKAFKA_DEBUG_CONTEXTS = [
  'generic',
  'broker',
  'topic',
  'metadata',
  'feature',
  'queue',
  'msg',
  'protocol',
  'cgrp',
  'security',
  'fetch',
  'interceptor',
  'plugin',
  'consumer',
  'admin',
  'eos',
  'mock',
  'assignor',
  'conf',
  'telemetry',
  'all',
] as const;

/** A librdkafka log line, as the binding's `event.log` hands it over. */
export interface RdLogLine {
  severity: number;
  fac: string;
  message: string;
  name?: string;
}

/** Every client of the binding is an EventEmitter (lib/client.js), the admin client too, whatever its type says. */
export interface RdLogSource {
  on(event: 'event.log', listener: (line: RdLogLine) => void): unknown;
}

/**
 * The pino level of a librdkafka log line, by its syslog severity. Debug lines (7) exist only
 * when SAGAFLOW_LIBRDKAFKA_DEBUG asked for them, so they are logged at info: an operator who
 * asked should not also need LOG_LEVEL=debug to see them.
 */
export function rdLogLevel(severity: number): 'error' | 'warn' | 'info' {
  if (severity <= 3) return 'error';
  if (severity === 4) return 'warn';
  return 'info';
}

/**
 * Sends a librdkafka client's own log lines (connection failures, group and transaction
 * state, and the debug contexts asked for) to the process logger; without a listener the
 * binding drops them. The kafkajs adapter does the same through its logCreator.
 */
export function routeLogs(client: RdLogSource, config: BrokerClientConfig): void {
  const logger = config.logger;
  client.on('event.log', (line) => {
    logger[rdLogLevel(line.severity)]({ component: 'librdkafka', client: line.name, fac: line.fac, severity: line.severity }, line.message);
  });
}
