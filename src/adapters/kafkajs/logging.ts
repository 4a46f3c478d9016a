import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { BrokerClientConfig } from '../../broker/ports.ts';

/** kafkajs logs go through pino, at warn and above: its info lines are per-connection noise. */
function pinoLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, ...rest } = log;
      const fields = { ...rest, component: 'kafkajs' };
      // Transactional producers keep the client's bounded retries on purpose (a task that
      // cannot reach the broker re-fences and restores instead of blocking forever), so this
      // per-producer warning carries no information.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      // kafkajs logs retried failures (e.g. CONCURRENT_TRANSACTIONS while a transaction
      // completes) at error level; sagaflow logs what really fails itself, so keep them at warn.
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

/** A kafkajs client for the configured cluster (secrets already resolved). */
export function kafkajsClient(config: BrokerClientConfig): Kafka {
  const options: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...config.brokers],
    logLevel: KafkaLogLevel.WARN,
    logCreator: pinoLogCreator(config.logger),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  };
  if (config.ssl !== undefined && config.ssl !== false) options.ssl = config.ssl === true ? true : (config.ssl as KafkaConfig['ssl']);
  if (config.sasl) options.sasl = { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions;
  return new Kafka(options);
}
