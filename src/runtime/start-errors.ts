import { isBrokerError } from '../broker/errors.ts';
import { SagaflowError } from '../errors.ts';

/**
 * Failures of `sagaflow start` that come from the machine or the cluster rather than from
 * saga.json, turned into one line with a code, the setting to look at and what to do.
 */

function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** The state directory cannot be created or written. */
export function stateDirError(err: unknown, dir: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
    message: `env.SAGAFLOW_STATE_DIR: cannot create "${dir}" (${errnoOf(err)}); point it at a writable directory`,
    path: 'env.SAGAFLOW_STATE_DIR',
    cause: err,
  });
}

/** The HTTP API cannot listen where HTTP_HOST and HTTP_PORT say. */
export function listenError(err: unknown, host: string, port: number): SagaflowError {
  const code = errnoOf(err);
  if (code === 'EADDRINUSE') {
    return new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: `env.HTTP_PORT: port ${port} on ${host} is already in use (EADDRINUSE); stop what listens there or choose another HTTP_PORT`,
      path: 'env.HTTP_PORT',
      cause: err,
    });
  }
  if (code === 'EACCES') {
    return new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: `env.HTTP_PORT: port ${port} needs privileges this process does not have (EACCES); choose a port above 1023`,
      path: 'env.HTTP_PORT',
      cause: err,
    });
  }
  return new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
    message: `env.HTTP_HOST: cannot listen on "${host}" (${code}); set an address of this machine, e.g. 0.0.0.0 or 127.0.0.1`,
    path: 'env.HTTP_HOST',
    cause: err,
  });
}

/** Replaces every occurrence of the given secret values (broker addresses, SASL credentials). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const [i, secret] of secrets.entries()) if (secret.length >= 3) out = out.split(secret).join(`<secret ${i}>`);
  return out;
}

/**
 * Kafka refused or did not answer while starting. Broker addresses and credentials may be
 * secrets (saga.json can take them from the environment or files): the line names the
 * setting, never its value.
 */
export function kafkaStartError(err: unknown, channelPath: string, secrets: readonly string[]): SagaflowError {
  const reason = scrub((err as Error | null)?.message ?? String(err), secrets).replaceAll('\n', ' ');
  const why = isBrokerError(err) ? err.reason : 'other';
  if (why === 'invalid-replication-factor') {
    return new SagaflowError('SAGAFLOW_CONFIG_INVALID', {
      message: `env.SAGAFLOW_REPLICATION_FACTOR: the cluster refused it (${reason}); set at most the number of brokers, or leave it unset for the broker default`,
      path: 'env.SAGAFLOW_REPLICATION_FACTOR',
      cause: err,
    });
  }
  if (why === 'authentication') {
    return new SagaflowError('SAGAFLOW_KAFKA_AUTHENTICATION_FAILED', {
      message: `${channelPath}.authenticationProperties.sasl: the brokers refused the credentials (${reason}); check mechanism, username and password`,
      path: `${channelPath}.authenticationProperties.sasl`,
      cause: err,
    });
  }
  // A saga.json without kafka channels takes its brokers from the environment (env.KAFKA_BROKERS).
  const brokers = channelPath.startsWith('env.') ? channelPath : `${channelPath}.brokers`;
  return new SagaflowError('SAGAFLOW_KAFKA_UNREACHABLE', {
    message: `${brokers}: Kafka cannot be used (${reason}); check the addresses, the network, ssl and sasl, and that the brokers run`,
    path: brokers,
    cause: err,
  });
}
