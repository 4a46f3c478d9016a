// Global setup of the `integration` project: decides which real services the tests use and
// provides their addresses (read them with `services()` from ./services.ts).
//  1. KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGODB_URL, when set: services you run yourself.
//  2. Otherwise, when a Docker engine answers: throwaway containers (testcontainers), removed
//     at the end of the run.
//  3. Otherwise: the local stack (`npm run stack -- up`), started if needed and left running
//     afterwards, like a service started by hand; `npm run stack -- down` stops it.
import type { TestProject } from 'vitest/node';
import { stackUp } from '../../scripts/stack/lifecycle.ts';
import { consoleProgress } from '../../scripts/stack/progress.ts';
import { dockerAnswers, startContainers } from './containers.ts';
import type { ServiceAddresses } from './services.ts';
import { silenceKnownKafkajsWarnings } from '../../src/runtime/warnings.ts';

// The local stack's Kafka readiness probe (kafkajs) runs in this process, where the workers'
// setup file (quiet-warnings.ts) does not apply.
silenceKnownKafkajsWarnings();

const serviceVariables = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MONGODB_URL'] as const;

function fromEnvironment(env: NodeJS.ProcessEnv): ServiceAddresses | undefined {
  const given = serviceVariables.filter((name) => env[name]);
  if (given.length === 0) return undefined;
  if (given.length < serviceVariables.length) {
    const missing = serviceVariables.filter((name) => !env[name]);
    throw new Error(`SAGAFLOW_TEST_SERVICES_PARTIAL: ${given.join(', ')} set but ${missing.join(', ')} not; set all three or none`);
  }
  return addresses(env.KAFKA_BROKERS as string, env.SCHEMA_REGISTRY_URL as string, env.MONGODB_URL as string);
}

function addresses(kafkaBrokers: string, schemaRegistryUrl: string, mongodbUrl: string): ServiceAddresses {
  return {
    kafkaBrokers: kafkaBrokers.split(',').map((broker) => broker.trim()).filter((broker) => broker !== ''),
    schemaRegistryUrl: schemaRegistryUrl.replace(/\/+$/, ''),
    mongodbUrl,
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = fromEnvironment(process.env);
  if (given) {
    console.log('[integration] using services from KAFKA_BROKERS, SCHEMA_REGISTRY_URL, MONGODB_URL');
    project.provide('sagaflowServices', given);
    return undefined;
  }
  if (await dockerAnswers()) {
    console.log('[integration] Docker engine found: starting Kafka, Apicurio Registry and MongoDB containers');
    const containers = await startContainers();
    project.provide('sagaflowServices', containers.addresses);
    return () => containers.stop();
  }
  console.log('[integration] no service addresses and no Docker engine: using the local stack (npm run stack -- up); it stays running');
  const env = await stackUp({ progress: consoleProgress });
  project.provide('sagaflowServices', addresses(env.KAFKA_BROKERS, env.SCHEMA_REGISTRY_URL, env.MONGODB_URL));
  return undefined;
}
