import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from './errors.ts';

/** Versions and Maven coordinates of what the stack runs; docs/local-stack.md records why these. */
export const versions = Object.freeze({
  kafka: '3.9.1',
  scala: '2.13',
  slf4jReload4j: '1.7.36',
  // 3.3.1 is not on Maven Central (neither its pom nor the tar.gz); 3.3.3 is, and runs on Java 21+.
  apicurio: '3.3.3',
  // secantusd-rs, built from crates.io; docs/local-stack.md records why this server.
  secantus: '0.5.3-beta.193',
  mavenDependencyPlugin: '3.8.1',
});

export const LOOPBACK = '127.0.0.1';

export interface StackPorts {
  readonly kafka: number;
  readonly kafkaController: number;
  readonly registry: number;
  readonly registryManagement: number;
  readonly mongo: number;
}

/**
 * A further plaintext listener of the Kafka broker, advertised at another address: a test puts
 * a fault proxy at `advertisedPort` in front of `port`, and clients bootstrapped through the
 * proxy learn the proxy's address from metadata, so every connection they open passes it.
 */
export interface KafkaExtraListener {
  /** Listener name, upper case (e.g. PROXIED_A); PLAINTEXT and CONTROLLER are taken. */
  readonly name: string;
  readonly port: number;
  readonly advertisedPort: number;
}

export interface StackConfig {
  /** Repository root. */
  readonly repoRoot: string;
  /** Cache of downloads, builds, data, logs and pid files. */
  readonly stackDir: string;
  readonly ports: StackPorts;
  /** Only private brokers of tests have these; the stack itself never does. */
  readonly kafkaExtraListeners?: readonly KafkaExtraListener[];
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const portVariables = {
  kafka: ['SAGAFLOW_KAFKA_PORT', 9092],
  kafkaController: ['SAGAFLOW_KAFKA_CONTROLLER_PORT', 9093],
  registry: ['SAGAFLOW_REGISTRY_PORT', 8081],
  // Quarkus builds Apicurio with its management interface (health, metrics) switched on, so
  // it always listens on a second port; nobody calls it, but it must not collide.
  registryManagement: ['SAGAFLOW_REGISTRY_MANAGEMENT_PORT', 8091],
  mongo: ['SAGAFLOW_MONGO_PORT', 27017],
} as const satisfies Record<keyof StackPorts, readonly [string, number]>;

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError('SAGAFLOW_STACK_BAD_CONFIG', `${name}=${raw} is not a TCP port`, `set ${name} to an integer between 1 and 65535, or unset it`);
  }
  return port;
}

/** The one place where the stack reads its environment. The result is frozen. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const ports = Object.fromEntries(
    Object.entries(portVariables).map(([key, [name, fallback]]) => [key, parsePort(name, env[name], fallback)]),
  ) as unknown as StackPorts;
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other !== undefined) {
      throw new StackError('SAGAFLOW_STACK_BAD_CONFIG', `ports ${other} and ${key} are both ${port}`, 'give each SAGAFLOW_*_PORT a distinct value');
    }
    seen.set(port, key);
  }
  const stackDir = path.resolve(env.SAGAFLOW_STACK_DIR || path.join(repoRoot, '.sagaflow', 'stack'));
  return Object.freeze({ repoRoot, stackDir, ports: Object.freeze(ports) });
}

/** The addresses clients use, in the environment variable names the tests and the demo read. */
export function serviceEnv(config: StackConfig): Record<'KAFKA_BROKERS' | 'SCHEMA_REGISTRY_URL' | 'MONGODB_URL', string> {
  return {
    KAFKA_BROKERS: `${LOOPBACK}:${config.ports.kafka}`,
    SCHEMA_REGISTRY_URL: `http://${LOOPBACK}:${config.ports.registry}/apis/ccompat/v7`,
    MONGODB_URL: `mongodb://${LOOPBACK}:${config.ports.mongo}/?directConnection=true`,
  };
}

/** Folders inside the stack directory. */
export function stackPaths(config: StackConfig) {
  const dir = config.stackDir;
  return Object.freeze({
    downloads: path.join(dir, 'downloads'),
    mavenRepo: path.join(dir, 'downloads', 'm2'),
    goPath: path.join(dir, 'downloads', 'go'),
    data: path.join(dir, 'data'),
    logs: path.join(dir, 'logs'),
    run: path.join(dir, 'run'),
  });
}
