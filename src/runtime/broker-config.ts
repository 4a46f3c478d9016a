import type { Logger } from 'pino';
import type { BrokerClientConfig } from '../broker/ports.ts';
import type { KafkaProtocol } from '../definition/types.ts';

/** The broker-port client configuration of a saga.json kafka channel (secrets already resolved). */
export function brokerConfigOf(channel: KafkaProtocol, clientId: string, logger: Logger, librdkafkaDebug?: readonly string[]): BrokerClientConfig {
  const c = channel.configurations;
  const config: BrokerClientConfig = { brokers: c.brokers, clientId, logger };
  if (librdkafkaDebug !== undefined) config.librdkafkaDebug = librdkafkaDebug;
  const ssl = c.authenticationProperties?.ssl;
  if (ssl !== undefined && ssl !== false) config.ssl = ssl === true ? true : (ssl as Record<string, unknown>);
  const sasl = c.authenticationProperties?.sasl;
  if (sasl) config.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
  return config;
}
