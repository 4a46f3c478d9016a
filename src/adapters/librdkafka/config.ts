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
