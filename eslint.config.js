import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const kafkajsOnly = { name: 'kafkajs', message: 'kafkajs is used only by src/adapters/kafkajs; go through the broker ports (src/broker/ports.ts)' };
const librdkafkaOnly = { name: '@confluentinc/kafka-javascript', message: 'librdkafka is used only by src/adapters/librdkafka; go through the broker ports (src/broker/ports.ts)' };
const adapterFolders = { group: ['**/adapters/kafkajs/**', '**/adapters/librdkafka/**'], message: 'an adapter is reached through src/adapters/select.ts and the broker ports (src/broker/ports.ts), never directly' };
const kafkajsFolder = { group: ['**/kafkajs/**'], message: 'the librdkafka adapter does not use the kafkajs adapter' };
const librdkafkaFolder = { group: ['**/librdkafka/**'], message: 'the kafkajs adapter does not use the librdkafka adapter' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.sagaflow/**', 'benchmarks/results/**', 'benchmarks/kafka-streams/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The engine reaches Kafka only through the broker ports (src/broker): each client library
  // is imported by its own adapter folder and nowhere else in src/, and the adapter folders
  // themselves only by src/adapters/select.ts (which picks one by SAGAFLOW_KAFKA_CLIENT).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [kafkajsOnly, librdkafkaOnly], patterns: [adapterFolders] }] },
  },
  { files: ['src/adapters/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [kafkajsOnly, librdkafkaOnly] }] } },
  { files: ['src/adapters/kafkajs/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [librdkafkaOnly], patterns: [librdkafkaFolder] }] } },
  { files: ['src/adapters/librdkafka/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [kafkajsOnly], patterns: [kafkajsFolder] }] } },
);
