// The deployment checks, each one program run on one repository file, for the CLI
// (scripts/deploy-tools.ts) and the test that runs them (test/integration/deploy/).
import { join } from 'node:path';
import type { DeployToolPaths } from './install.ts';
import { run } from './run.ts';
import type { RunResult } from './run.ts';
import { kubernetesVersion } from './versions.ts';

export const chartDir = 'deploy/helm/sagaflow';
export const plainManifests = 'deploy/kubernetes/sagaflow.yaml';
/** The release name the plain manifests are rendered with: their objects are all called sagaflow. */
export const plainRelease = 'sagaflow';

export interface CheckResult extends RunResult {
  command: string;
}

async function check(repoRoot: string, command: string, args: string[], input?: string): Promise<CheckResult> {
  const result = await run(command, args, { cwd: repoRoot, ...(input === undefined ? {} : { input }) });
  return { ...result, command: [command, ...args].join(' ') };
}

/** hadolint with its default rules; any finding fails. */
export function hadolint(repoRoot: string, tools: DeployToolPaths, dockerfile = 'Dockerfile'): Promise<CheckResult> {
  return check(repoRoot, tools.hadolint, ['--no-color', dockerfile]);
}

/** `--set` pairs, e.g. ['metrics.serviceMonitor.enabled=true']. */
function valueArgs(sets: readonly string[]): string[] {
  return sets.flatMap((set) => ['--set', set]);
}

/** helm lint --strict: warnings fail too. */
export function helmLint(repoRoot: string, tools: DeployToolPaths, sets: readonly string[] = []): Promise<CheckResult> {
  return check(repoRoot, tools.helm, ['lint', '--strict', chartDir, ...valueArgs(sets)]);
}

/** helm template of the chart, for the Kubernetes version the schemas describe. */
export function helmTemplate(repoRoot: string, tools: DeployToolPaths, options: { release?: string; sets?: readonly string[]; setFiles?: readonly string[]; valuesFiles?: readonly string[] } = {}): Promise<CheckResult> {
  return check(repoRoot, tools.helm, [
    'template',
    options.release ?? plainRelease,
    chartDir,
    '--kube-version',
    kubernetesVersion,
    ...valueArgs(options.sets ?? []),
    ...(options.setFiles ?? []).flatMap((set) => ['--set-file', set]),
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
  ]);
}

/** kubeconform -strict on manifests given as text, against the generated schemas only (no network). */
export function kubeconform(repoRoot: string, tools: DeployToolPaths, manifests: string): Promise<CheckResult> {
  return check(
    repoRoot,
    tools.kubeconform,
    ['-strict', '-summary', '-kubernetes-version', kubernetesVersion, '-schema-location', tools.schemaLocation, '-'],
    manifests,
  );
}

/** The Compose file as `docker compose config` would load it, printed as the canonical model in JSON. */
export function composeConfig(repoRoot: string, tools: DeployToolPaths, file = 'docker-compose.yml'): Promise<CheckResult> {
  return check(repoRoot, tools.goHelper, ['compose-config', join(repoRoot, file)]);
}

/** The file deploy/kubernetes/sagaflow.yaml holds: a header, then exactly what helm template prints. */
export function plainManifestsText(rendered: string): string {
  return [
    `# Rendered from ${chartDir} with its default values by \`node scripts/deploy-tools.ts render\``,
    `# (helm template ${plainRelease} ${chartDir} --kube-version ${kubernetesVersion}). Do not edit: a test`,
    '# compares this file with the chart. Apply with `kubectl apply -n <namespace> -f <this file>`.',
    rendered,
  ].join('\n');
}
