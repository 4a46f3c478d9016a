// The deployment files checked by the tools their users would run, since no Docker engine or
// cluster runs here: hadolint on the Dockerfile, helm lint and helm template | kubeconform
// -strict on the chart (against Kubernetes' own API schemas), compose-go (what `docker compose
// config` runs) on docker-compose.yml. The tools are installed into .sagaflow/deploy-tools/ by
// scripts/deploy-tools/install.ts on first use (a few minutes, then cached).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../../scripts/stack/config.ts';
import { chartDir, composeConfig, hadolint, helmLint, helmTemplate, kubeconform, plainManifests, plainManifestsText, plainRelease } from '../../../scripts/deploy-tools/checks.ts';
import type { CheckResult } from '../../../scripts/deploy-tools/checks.ts';
import { ensureDeployTools, missingPrerequisites } from '../../../scripts/deploy-tools/install.ts';
import type { DeployToolPaths } from '../../../scripts/deploy-tools/install.ts';
import { run } from '../../../scripts/deploy-tools/run.ts';
import { underCi } from '../../support/prerequisites.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const missing = await missingPrerequisites();
// A developer machine without Go or pip skips these checks and says why; under CI they never
// skip: the install runs and fails with SAGAFLOW_DEPLOY_TOOL_MISSING instead.
const skip = missing.length > 0 && !underCi();
if (skip) console.warn(`[deploy] deployment checks skipped: this machine lacks ${missing.join(' and ')}`);

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string> } & Record<string, unknown>;
type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type Probe = { httpGet: { path: string; port: string } };
type Container = { env: EnvVar[]; readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe; volumeMounts: { name: string; mountPath: string }[]; resources: { requests: Record<string, string>; limits: Record<string, string> }; ports: { name: string; containerPort: number }[] };
type PodSpec = { containers: Container[]; volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }[]; terminationGracePeriodSeconds: number; enableServiceLinks: boolean };
type StatefulSetSpec = { serviceName: string; template: { spec: PodSpec }; volumeClaimTemplates?: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[] };

function output(result: CheckResult): string {
  return `$ ${result.command}\n${result.stdout}${result.stderr}`;
}

describe.skipIf(skip)('deployment files, checked by their tools', () => {
  let tools: DeployToolPaths;
  const scratch = mkdtempSync(join(tmpdir(), 'sagaflow-deploy-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(async () => {
    ({ paths: tools } = await ensureDeployTools(repoRoot, (line) => console.log(`[deploy-tools] ${line}`)));
  }, 1_800_000);

  async function manifests(text: string): Promise<Manifest[]> {
    const file = join(scratch, `render-${Date.now()}.yaml`);
    writeFileSync(file, text);
    const result = await run(tools.goHelper, ['yaml-to-json', file], { cwd: repoRoot });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Manifest[];
  }

  async function rendered(options: Parameters<typeof helmTemplate>[2] = {}): Promise<string> {
    const result = await helmTemplate(repoRoot, tools, options);
    expect(result.code, output(result)).toBe(0);
    return result.stdout;
  }

  describe('Dockerfile', () => {
    it('passes hadolint', async () => {
      const result = await hadolint(repoRoot, tools);
      expect(result.code, output(result)).toBe(0);
    });

    it('fails hadolint when it has a finding (the check can fail)', async () => {
      const bad = join(scratch, 'Dockerfile.bad');
      writeFileSync(bad, 'FROM node\nRUN cd /app && npm ci\n');
      const result = await hadolint(repoRoot, tools, bad);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain('DL3006');
      expect(result.stdout).toContain('DL3003');
    });

    it('builds on Node 24 in stages and runs dist/ with production dependencies as a non-root user', () => {
      const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
      const instructions = text.split('\n').filter((line) => /^[A-Z]+ /.test(line));
      expect(text).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
      expect(instructions.filter((line) => line.startsWith('FROM '))).toEqual([
        'FROM ${NODE_IMAGE} AS toolchain',
        'FROM toolchain AS build',
        'FROM toolchain AS production-deps',
        'FROM ${NODE_IMAGE} AS runtime',
      ]);
      const runtime = instructions.slice(instructions.indexOf('FROM ${NODE_IMAGE} AS runtime'));
      expect(text).toContain('npm ci --omit=optional');
      expect(text).toContain('RUN npm run build');
      expect(text).toContain('npm ci --omit=dev --omit=optional');
      expect(runtime).toContain('COPY --from=production-deps /app/node_modules ./node_modules');
      expect(runtime).toContain('COPY --from=build /app/dist ./dist');
      expect(runtime).toContain('USER 1000:1000');
      expect(runtime).toContain('STOPSIGNAL SIGTERM');
      expect(runtime).toContain('ENTRYPOINT ["node", "/app/bin/sagaflow.js"]');
      expect(text).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD \[[^\n]*\/-\/healthz/);
      expect(text).toMatch(/SAGAFLOW_SHUTDOWN_GRACE_MS=30000/);
    });
  });

  describe('Helm chart', () => {
    it('passes helm lint --strict, with its defaults and with every optional part switched on', async () => {
      for (const sets of [[], ['metrics.serviceMonitor.enabled=true', 'persistence.enabled=false', 'podAntiAffinity=hard', 'kafka.replicationFactor=3', 'secrets.existingSecret=mine']]) {
        const result = await helmLint(repoRoot, tools, sets);
        expect(result.code, output(result)).toBe(0);
        expect(result.stdout).toContain('0 chart(s) failed');
      }
    });

    it('renders manifests that kubeconform -strict accepts against the Kubernetes API schemas', async () => {
      const result = await kubeconform(repoRoot, tools, await rendered());
      expect(result.code, output(result)).toBe(0);
      expect(result.stdout).toMatch(/Summary: 7 resources found .* Valid: 7, Invalid: 0, Errors: 0, Skipped: 0/);
    });

    it('renders valid manifests with the optional parts on: ServiceMonitor, emptyDir state, hard anti-affinity, existing Secret, saga.json given as YAML', async () => {
      const values = join(scratch, 'values.yaml');
      writeFileSync(values, ['sagaJson:', '  machineDefinition: {initialState: a, states: [{id: a, isFinal: true}]}', '  communicationProtocols: []', ''].join('\n'));
      const text = await rendered({
        sets: ['metrics.serviceMonitor.enabled=true', 'persistence.enabled=false', 'podAntiAffinity=hard', 'secrets.existingSecret=mine', 'extraEnv[0].name=EXTRA', 'extraEnv[0].value=extra'],
        valuesFiles: [values],
      });
      const result = await kubeconform(repoRoot, tools, text);
      expect(result.code, output(result)).toBe(0);
      expect(result.stdout).toMatch(/Valid: 7, Invalid: 0, Errors: 0, Skipped: 0/);
      const docs = await manifests(text);
      expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor', 'StatefulSet']);
      const config = docs.find((d) => d.kind === 'ConfigMap');
      expect(JSON.parse(config?.data?.['saga.json'] ?? '')).toEqual({ machineDefinition: { initialState: 'a', states: [{ id: 'a', isFinal: true }] }, communicationProtocols: [] });
      const pod = (docs.find((d) => d.kind === 'StatefulSet')?.spec as StatefulSetSpec).template.spec;
      expect(pod.volumes.find((v) => v.name === 'state')?.emptyDir).toEqual({});
      expect(pod.volumes.find((v) => v.name === 'secrets')?.secret?.secretName).toBe('mine');
    });

    it('has strict schemas: kubeconform -strict rejects a misspelled field and an unknown kind', async () => {
      const text = await rendered();
      const misspelled = await kubeconform(repoRoot, tools, text.replace('readinessProbe:', 'readinesProbe:'));
      expect(misspelled.code).not.toBe(0);
      expect(misspelled.stdout).toContain("additional properties 'readinesProbe' not allowed");
      const unknown = await kubeconform(repoRoot, tools, 'apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n');
      expect(unknown.code).not.toBe(0);
      expect(unknown.stdout).toContain('could not find schema for Gizmo');
    });

    it('runs a StatefulSet as the issue asks: ConfigMap saga.json, Secret files, probes, advertised pod IP, volume per pod, PDB, resources', async () => {
      const docs = await manifests(await rendered());
      const config = docs.find((d) => d.kind === 'ConfigMap');
      expect(config?.data?.['saga.json']).toBe(readFileSync(join(repoRoot, chartDir, 'files/saga.json'), 'utf8'));
      const set = docs.find((d) => d.kind === 'StatefulSet');
      const spec = set?.spec as StatefulSetSpec;
      expect(spec.serviceName).toBe('sagaflow-headless');
      const pod = spec.template.spec;
      const [container] = pod.containers;
      if (!container) throw new Error('no container');
      const env = new Map(container.env.map((e) => [e.name, e]));
      expect(env.get('POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
      expect(env.get('SAGAFLOW_ADVERTISED_URL')?.value).toBe('http://$(POD_IP):3000');
      // $(VAR) is only expanded when VAR is defined earlier in the list.
      expect(container.env.findIndex((e) => e.name === 'POD_IP')).toBeLessThan(container.env.findIndex((e) => e.name === 'SAGAFLOW_ADVERTISED_URL'));
      expect(env.get('CONFIGURATIONS_FILE_PATH')?.value).toBe('/etc/sagaflow/config/saga.json');
      expect(container.volumeMounts).toEqual(expect.arrayContaining([
        { name: 'config', mountPath: '/etc/sagaflow/config', readOnly: true },
        { name: 'secrets', mountPath: '/etc/sagaflow/secrets', readOnly: true },
        { name: 'state', mountPath: '/var/lib/sagaflow/state' },
      ]));
      expect(pod.volumes.find((v) => v.name === 'config')?.configMap?.name).toBe(config?.metadata.name);
      const secret = docs.find((d) => d.kind === 'Secret');
      expect(pod.volumes.find((v) => v.name === 'secrets')?.secret?.secretName).toBe(secret?.metadata.name);
      // The default saga.json reads its MongoDB URL from the Secret's file.
      expect(Object.keys(secret?.data ?? {})).toEqual(['mongodb-url']);
      expect(config?.data?.['saga.json']).toContain('"path": "/etc/sagaflow/secrets/mongodb-url"');
      expect(container.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/-/healthz', port: 'http' });
      expect(container.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
      expect(spec.volumeClaimTemplates?.map((c) => c.metadata.name)).toEqual(['state']);
      expect(pod.volumes.some((v) => v.name === 'state')).toBe(false);
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(env.get('SAGAFLOW_SHUTDOWN_GRACE_MS')?.value));
      expect(pod.enableServiceLinks).toBe(false);
      expect(container.resources).toEqual({ requests: { cpu: '1', memory: '700Mi' }, limits: { memory: '1Gi' } });
      const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget');
      expect(pdb?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'sagaflow', 'app.kubernetes.io/instance': plainRelease } } });
      const services = docs.filter((d) => d.kind === 'Service');
      expect(services.map((s) => (s.spec as { ports: { name: string }[] }).ports.map((p) => p.name))).toEqual([['http'], ['http']]);
    });

    it('refuses a terminationGracePeriodSeconds that does not exceed shutdownGraceMs', async () => {
      const result = await helmTemplate(repoRoot, tools, { sets: ['shutdownGraceMs=60000', 'terminationGracePeriodSeconds=60'] });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('terminationGracePeriodSeconds (60 s) must exceed shutdownGraceMs (60000 ms)');
    });

    it('refuses values that do not match values.schema.json, naming the key', async () => {
      const result = await helmTemplate(repoRoot, tools, { sets: ['podAntiAffinity=always'] });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('/podAntiAffinity');
    });

    it(`keeps ${plainManifests} equal to the chart rendered with its defaults`, async () => {
      const committed = readFileSync(join(repoRoot, plainManifests), 'utf8');
      expect(committed, 'run `node scripts/deploy-tools.ts render` and commit the result').toBe(plainManifestsText(await rendered()));
      const result = await kubeconform(repoRoot, tools, committed);
      expect(result.code, output(result)).toBe(0);
    });
  });

  describe('docker-compose.yml', () => {
    type Service = {
      build?: { context: string; dockerfile: string };
      image?: string;
      entrypoint?: string[];
      command?: string[];
      environment?: Record<string, string>;
      ports?: { target: number; published: string; host_ip: string }[];
      configs?: { source: string; target: string }[];
      secrets?: { source: string; target: string }[];
      depends_on?: Record<string, { condition: string }>;
    };
    type Project = { services: Record<string, Service>; configs: Record<string, { file: string }>; secrets: Record<string, { file: string }> };

    async function project(): Promise<Project> {
      const result = await composeConfig(repoRoot, tools);
      expect(result.code, output(result)).toBe(0);
      return JSON.parse(result.stdout) as Project;
    }

    it('loads as docker compose config would, with sagaflow built from the Dockerfile and saga.json mounted at CONFIGURATIONS_FILE_PATH', async () => {
      const { services, configs, secrets } = await project();
      expect(Object.keys(services).sort()).toEqual(['check-service', 'demo-client', 'kafka', 'mongo', 'registry', 'sagaflow', 'validation-service']);
      const sagaflow = services.sagaflow as Service;
      expect(sagaflow.build).toEqual({ context: repoRoot.replace(/\/$/, ''), dockerfile: 'Dockerfile' });
      const mounted = sagaflow.configs?.find((c) => c.source === 'saga-json');
      expect(mounted?.target).toBe(sagaflow.environment?.CONFIGURATIONS_FILE_PATH);
      expect(configs['saga-json']?.file).toBe(join(repoRoot, chartDir, 'files/saga.json'));
      expect(sagaflow.secrets).toEqual([{ source: 'mongodb-url', target: '/etc/sagaflow/secrets/mongodb-url' }]);
      expect(readFileSync(secrets['mongodb-url']?.file ?? '', 'utf8').trim()).toBe('mongodb://mongo:27017/sagaflow');
      expect(sagaflow.depends_on).toEqual({ kafka: expect.objectContaining({ condition: 'service_healthy' }), mongo: expect.objectContaining({ condition: 'service_healthy' }) });
      for (const name of ['validation-service', 'check-service', 'demo-client']) {
        const service = services[name] as Service;
        expect(service.image, name).toBe(sagaflow.image);
        expect(service.depends_on?.sagaflow?.condition, name).toBe('service_healthy');
      }
      expect(services['validation-service']?.entrypoint).toEqual(['node', '/app/examples/reservation/workers.ts']);
      expect(services['validation-service']?.command).toEqual(['validation']);
      expect(services['check-service']?.command).toEqual(['check']);
      expect(services['demo-client']?.entrypoint).toEqual(['node', '/app/examples/reservation/client.ts']);
    });

    it("publishes the local stack's ports and uses its variable names", async () => {
      const { services } = await project();
      // Compose interpolates SAGAFLOW_*_PORT from the environment as the local stack reads them.
      const ports = loadStackConfig(process.env).ports;
      const published = (name: string) => services[name]?.ports?.map((p) => [p.host_ip, p.published, p.target]);
      expect(published('kafka')).toEqual([['127.0.0.1', String(ports.kafka), 9092]]);
      expect(published('registry')).toEqual([['127.0.0.1', String(ports.registry), 8080]]);
      expect(published('mongo')).toEqual([['127.0.0.1', String(ports.mongo), 27017]]);
      expect(published('sagaflow')).toEqual([['127.0.0.1', '3000', 3000]]);
      const text = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
      for (const variable of ['SAGAFLOW_KAFKA_PORT', 'SAGAFLOW_REGISTRY_PORT', 'SAGAFLOW_MONGO_PORT', 'HTTP_PORT']) expect(text).toContain(`\${${variable}:-`);
      const env = services.sagaflow?.environment ?? {};
      expect(Object.keys(env).sort()).toEqual([
        'CONFIGURATIONS_FILE_PATH', 'HTTP_PORT', 'KAFKA_BROKERS', 'LOG_LEVEL', 'SAGAFLOW_ADVERTISED_URL', 'SAGAFLOW_DEFAULT_PARTITIONS',
        'SAGAFLOW_REPLICATION_FACTOR', 'SAGAFLOW_SHUTDOWN_GRACE_MS', 'SAGAFLOW_STATE_DIR', 'SAGA_ID_PREFIX',
      ]);
    });

    it('refuses a compose file that names an undefined service (the check can fail)', async () => {
      const broken = join(repoRoot, '.sagaflow', `compose-broken-${process.pid}.yml`);
      writeFileSync(broken, readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8').replace(/^ {6}mongo:\n {8}condition: service_healthy$/m, '      mongodb:\n        condition: service_healthy'));
      try {
        const result = await composeConfig(repoRoot, tools, broken.slice(repoRoot.length));
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain('depends on undefined service "mongodb"');
      } finally {
        rmSync(broken, { force: true });
      }
    });
  });
});
