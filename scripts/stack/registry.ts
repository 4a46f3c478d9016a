import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { LOOPBACK, versions } from './config.ts';
import { StackError } from './errors.ts';
import { copyArtifact } from './maven.ts';
import { withHeartbeat } from './progress.ts';
import { runToCompletion } from './run-command.ts';
import { isInstalled, markInstalled } from './service.ts';
import type { Service, ServiceContext } from './service.ts';
import { findOnPath, pickJdk, requireMaven } from './toolchain.ts';

// Apicurio 3.3 is compiled for Java 21 (class file 65): Java 17 fails at start.
const javaRange = { min: 21, preferMax: 25 } as const;
const artifact = `io.apicurio:apicurio-registry-app:${versions.apicurio}:tar.gz:all`;

function installDir(ctx: ServiceContext): string {
  return path.join(ctx.paths.downloads, `apicurio-registry-${versions.apicurio}`);
}

export const registryService: Service = {
  name: 'registry',
  title: `Apicurio Registry ${versions.apicurio} (Confluent-compatible API /apis/ccompat/v7, BACKWARD)`,

  ports: (config) => [
    { port: config.ports.registry, what: 'schema registry HTTP', variable: 'SAGAFLOW_REGISTRY_PORT' },
    { port: config.ports.registryManagement, what: 'schema registry management', variable: 'SAGAFLOW_REGISTRY_MANAGEMENT_PORT' },
  ],

  preflight() {
    pickJdk('Apicurio Registry', javaRange.min, javaRange.preferMax);
  },

  async install(ctx) {
    const dir = installDir(ctx);
    if (isInstalled(dir, versions.apicurio)) return;
    requireMaven();
    if (!findOnPath('tar')) {
      throw new StackError('SAGAFLOW_STACK_INSTALL_FAILED', 'tar is not on PATH; it unpacks the Apicurio Registry distribution', 'install tar and run again');
    }
    ctx.progress.line(`registry: downloading ${artifact} from Maven Central (about 160 MB, first run only)`);
    const downloadDir = path.join(dir, 'download');
    const logFile = path.join(ctx.paths.logs, 'registry-install.log');
    await rm(dir, { recursive: true, force: true });
    await mkdir(downloadDir, { recursive: true });
    await withHeartbeat(
      ctx.progress,
      'registry: still downloading',
      copyArtifact({ artifact, workDir: downloadDir, outputDir: downloadDir, localRepo: ctx.paths.mavenRepo, logFile }),
    );
    const tarball = (await readdir(downloadDir)).find((name) => name.endsWith('.tar.gz'));
    if (!tarball) {
      throw new StackError('SAGAFLOW_STACK_INSTALL_FAILED', `Maven reported success but no tar.gz is in ${downloadDir}`, `see ${logFile}`);
    }
    const appDir = path.join(dir, 'app');
    await mkdir(appDir, { recursive: true });
    await runToCompletion('unpacking Apicurio Registry', { command: 'tar', args: ['-xzf', path.join(downloadDir, tarball), '-C', appDir], cwd: dir }, logFile);
    await rm(downloadDir, { recursive: true, force: true });
    if (!existsSync(path.join(appDir, 'quarkus-run.jar'))) {
      throw new StackError('SAGAFLOW_STACK_INSTALL_FAILED', `${artifact} has no quarkus-run.jar at its top level`, 'the distribution layout changed; see docs/local-stack.md for the versions known to work');
    }
    await markInstalled(dir, versions.apicurio);
  },

  async launch(ctx) {
    const jdk = pickJdk('Apicurio Registry', javaRange.min, javaRange.preferMax);
    const dataDir = path.join(ctx.paths.data, 'registry');
    await mkdir(dataDir, { recursive: true });
    const { registry, registryManagement } = ctx.config.ports;
    return {
      command: jdk.java,
      args: [
        '-Xms128m',
        '-Xmx512m',
        '-XX:+ExitOnOutOfMemoryError',
        `-Dquarkus.http.host=${LOOPBACK}`,
        `-Dquarkus.http.port=${registry}`,
        `-Dquarkus.management.host=${LOOPBACK}`,
        `-Dquarkus.management.port=${registryManagement}`,
        '-Dquarkus.http.access-log.enabled=false',
        // Confluent's default; without it Apicurio accepts any change to a subject.
        '-Dapicurio.rules.global.compatibility=BACKWARD',
        // An H2 file instead of the default in-memory database: schema ids must survive a
        // restart, or records already in Kafka would point at ids that no longer exist.
        `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(dataDir, 'registry')}`,
        '-jar',
        path.join(installDir(ctx), 'app', 'quarkus-run.jar'),
      ],
      cwd: dataDir,
    };
  },

  async probe(config) {
    try {
      const response = await fetch(`http://${LOOPBACK}:${config.ports.registry}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  },

  endpoint: (config) => `http://${LOOPBACK}:${config.ports.registry}/apis/ccompat/v7`,
};
