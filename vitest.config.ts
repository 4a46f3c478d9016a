import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and needs no services; `integration` runs against a real
// Kafka broker, schema registry and MongoDB-compatible server provided by the global setup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/quiet-warnings.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Integration tests share one broker on a 2-core machine: run files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
