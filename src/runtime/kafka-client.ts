import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaProtocol } from '../definition/types.ts';

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

/** A kafkajs client from a saga.json kafka channel (secrets already resolved). */
export function kafkaClient(channel: KafkaProtocol, clientId: string, logger: Logger): Kafka {
  const c = channel.configurations;
  const config: KafkaConfig = {
    clientId,
    brokers: c.brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator: pinoLogCreator(logger),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  };
  const ssl = c.authenticationProperties?.ssl;
  if (ssl !== undefined && ssl !== false) config.ssl = ssl === true ? true : (ssl as KafkaConfig['ssl']);
  const sasl = c.authenticationProperties?.sasl;
  if (sasl) config.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
  return new Kafka(config);
}
