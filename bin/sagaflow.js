#!/usr/bin/env node
// Entry point of the `sagaflow` command. An installed package runs the compiled `dist/`;
// a source checkout (no dist/) runs the TypeScript sources directly (Node >= 22.18 strips types).
//
// The Node version is checked before anything is imported: on an older Node the first import
// of a .ts file (or of a dependency that needs a newer Node) fails with a raw stack trace
// (ERR_UNKNOWN_FILE_EXTENSION) that says nothing about the version. Keep this part to syntax
// every Node since 14 parses.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `sagaflow: Node ${process.versions.node} is too old; sagaflow needs Node >= 22.18 (24 LTS recommended). Install a newer Node, or run \`npx sagaflow\` in a checkout, which uses the Node 24 that \`npm ci\` installs.\n`,
  );
  process.exit(1);
}

// librdkafka's blocking calls (each consume, each transactional call) run on libuv's thread
// pool, four threads by default, two of them held by consume loops at any time; a call that
// librdkafka never answers keeps its thread (see src/adapters/librdkafka/tx-writer.ts). A
// larger pool keeps the instance going; set before the pool starts, which is on first use.
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '16';

const { existsSync } = await import('node:fs');
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const entry = existsSync(compiled) ? compiled : new URL('../src/cli/main.ts', import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
