import { inject } from 'vitest';

/** Addresses of the real services the integration tests run against. */
export interface ServiceAddresses {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  mongodbUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sagaflowServices: ServiceAddresses;
  }
}

/** The services chosen by test/support/global-setup.ts (environment, testcontainers or the local stack). */
export function services(): ServiceAddresses {
  const provided = inject('sagaflowServices');
  if (!provided) {
    throw new Error('no services were provided: run integration tests through the vitest project `integration`, whose global setup provides them');
  }
  return provided;
}
