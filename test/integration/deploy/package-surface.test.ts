// The package as npm installs it: `npm run build`'s dist/ (the web console's static assets
// included) beside bin/, schemas/ and package.json, imported by name through package.json
// "exports".
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerCleanup } from '../../support/cleanup.ts';
import { buildDist } from '../../support/build.ts';
import { runNode } from '../../support/process.ts';

const root = new URL('../../../', import.meta.url).pathname;

describe('package surface: exports sagaflow and sagaflow/worker, files bin, dist, schemas and the console assets', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sagaflow-package-'));
  registerCleanup(() => rmSync(scratch, { recursive: true, force: true }));
  const pkg = join(scratch, 'sagaflow');

  beforeAll(async () => {
    await buildDist(join(pkg, 'dist'));
    for (const entry of ['bin', 'schemas', 'package.json']) cpSync(join(root, entry), join(pkg, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  }, 600_000);

  it('npm pack takes bin, dist, schemas and the console assets, never the sources', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, maxBuffer: 64 * 1024 * 1024 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
    );
    const files = ((JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files ?? []).map((f) => f.path);
    for (const f of ['package.json', 'bin/sagaflow.js', 'dist/index.js', 'dist/index.d.ts', 'dist/worker/index.js', 'dist/worker/index.d.ts', 'dist/cli/main.js']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith('schemas/'))).toBe(true);
    expect(files).toContain('dist/http/console/assets/console.js');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
  });

  it('`sagaflow` and `sagaflow/worker` resolve to the compiled dist/ by name', async () => {
    const probe = [
      "const worker = await import('sagaflow/worker');",
      "const main = await import('sagaflow');",
      "const fm = new worker.FMClientBuilder(undefined, { clientId: 'svc', brokers: '127.0.0.1:9092' }).configureEventsEmitter('events').build();",
      'console.log(JSON.stringify({',
      '  worker: import.meta.resolve("sagaflow/worker"), main: import.meta.resolve("sagaflow"),',
      '  exports: Object.keys(worker).sort(), sameBuilder: main.FMClientBuilder === worker.FMClientBuilder,',
      '  startInstance: typeof main.startInstance, importer: typeof main.importFlowManagerSagas, healthy: fm.isHealthy(), ready: fm.isReady(),',
      '}));',
    ].join('\n');
    const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', probe], { cwd: pkg }).done;
    expect(code, stderr).toBe(0);
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    expect(seen.worker).toBe(`file://${pkg}/dist/worker/index.js`);
    expect(seen.main).toBe(`file://${pkg}/dist/index.js`);
    expect(seen.exports).toEqual(expect.arrayContaining(['FMClientBuilder', 'FlowManagerClient', 'SagaWorker', 'getMetrics', 'partitionForKey']));
    expect(seen).toMatchObject({ sameBuilder: true, startInstance: 'function', importer: 'function', healthy: true, ready: false });
    expect(existsSync(join(pkg, 'src/index.ts'))).toBe(false);
    // A CommonJS service (`require('@mia-platform/flow-manager-client')` before the move) requires it too.
    const cjs = await runNode(['-e', "const w = require('sagaflow/worker'); const s = require('sagaflow'); console.log(typeof w.FMClientBuilder, s.SagaWorker === w.SagaWorker)"], { cwd: pkg }).done;
    expect(cjs.code, cjs.stderr).toBe(0);
    expect(cjs.stdout.trim()).toBe('function true');
  });

  it('bin/sagaflow.js runs the compiled CLI, import among its commands; the HTTP app serves the console from the shipped assets', async () => {
    const { code, stdout } = await runNode([join(pkg, 'bin/sagaflow.js'), '--help'], { cwd: pkg }).done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/import\s+carry the sagas of a Flow Manager store over/);
    const probe = [
      "const { buildHttpApp } = await import('./dist/http/app.js');",
      "const { compileDefinition } = await import('./dist/definition/compile.js');",
      "const { loadSagaConfigFile } = await import('./dist/definition/load.js');",
      "const pino = (await import('pino')).default;",
      "const config = loadSagaConfigFile(process.argv[1], { KAFKA_BROKERS: 'k:9092' });",
      'const app = await buildHttpApp({ definition: await compileDefinition(config), machineDefinition: config.machineDefinition, sagaIdPrefix: "", ingress: { produce: async () => undefined }, queries: { locate: async () => ({ kind: "no-owner", partition: 0 }), isReady: () => true, ownedPartitions: () => [] }, metrics: () => "", logger: pino({ level: "silent" }), console: { applicationId: "a", selfUrl: () => "http://127.0.0.1:1" } });',
      "const res = await app.inject({ method: 'GET', url: '/console/assets/console.js' });",
      'console.log(res.statusCode);',
    ].join('\n');
    const served = await runNode(['--input-type=module', '-e', probe, join(root, 'examples/reservation/saga.json')], { cwd: pkg }).done;
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout.trim()).toBe('200');
  });
});
