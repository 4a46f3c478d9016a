// The deployment files' checks, outside the test suite:
//   node scripts/deploy-tools.ts install   install helm, kubeconform, hadolint, the Compose loader
//                                          and the Kubernetes schemas into .sagaflow/deploy-tools/
//   node scripts/deploy-tools.ts check     run every check (installs first), exit 1 on a failure
//   node scripts/deploy-tools.ts render    write deploy/kubernetes/sagaflow.yaml from the chart
// `npm test` runs the same checks (test/integration/deploy/deploy-checks.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSagaflowError } from '../src/errors.ts';
import { composeConfig, hadolint, helmLint, helmTemplate, kubeconform, plainManifests, plainManifestsText } from './deploy-tools/checks.ts';
import type { CheckResult } from './deploy-tools/checks.ts';
import { ensureDeployTools } from './deploy-tools/install.ts';

const repoRoot = new URL('..', import.meta.url).pathname;
const say = (line: string) => console.log(`[deploy-tools] ${line}`);

function report(name: string, result: CheckResult): boolean {
  const ok = result.code === 0;
  say(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
  if (!ok) console.log(`  $ ${result.command}\n${`${result.stdout}${result.stderr}`.trimEnd().replace(/^/gm, '  ')}`);
  return ok;
}

async function main(command: string | undefined): Promise<number> {
  if (command !== 'install' && command !== 'check' && command !== 'render') {
    console.error('SAGAFLOW_CLI_USAGE: usage: node scripts/deploy-tools.ts install|check|render');
    return 2;
  }
  const began = Date.now();
  const { paths, steps } = await ensureDeployTools(repoRoot, say);
  const built = steps.filter((s) => !s.cached);
  say(built.length === 0 ? 'tools already installed' : `installed ${built.map((s) => `${s.tool} ${s.seconds.toFixed(0)} s`).join(', ')} (${((Date.now() - began) / 1000).toFixed(0)} s in all)`);
  if (command === 'install') return 0;

  const rendered = await helmTemplate(repoRoot, paths);
  if (command === 'render') {
    if (!report('helm template', rendered)) return 1;
    writeFileSync(join(repoRoot, plainManifests), plainManifestsText(rendered.stdout));
    say(`wrote ${plainManifests}`);
    return 0;
  }
  const results = [
    report('hadolint Dockerfile', await hadolint(repoRoot, paths)),
    report('helm lint --strict', await helmLint(repoRoot, paths)),
    report('helm template', rendered),
    report('kubeconform -strict (default values)', await kubeconform(repoRoot, paths, rendered.stdout)),
    report(`kubeconform -strict ${plainManifests}`, await kubeconform(repoRoot, paths, readFileSync(join(repoRoot, plainManifests), 'utf8'))),
    report(`${plainManifests} is the chart rendered (else: render)`, {
      command: `compare ${plainManifests} with helm template`,
      code: readFileSync(join(repoRoot, plainManifests), 'utf8') === plainManifestsText(rendered.stdout) ? 0 : 1,
      stdout: '',
      stderr: 'differs: run `node scripts/deploy-tools.ts render` and commit the result',
    }),
    report('docker-compose.yml loads (compose-go)', await composeConfig(repoRoot, paths)),
  ];
  return results.every(Boolean) ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv[2]);
} catch (error) {
  if (!isSagaflowError(error)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
}
