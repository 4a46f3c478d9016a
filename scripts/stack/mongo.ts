import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { LOOPBACK, versions } from './config.ts';
import { withHeartbeat } from './progress.ts';
import { runToCompletion } from './run-command.ts';
import { isInstalled, markInstalled } from './service.ts';
import type { Service, ServiceContext } from './service.ts';
import { requireGo } from './toolchain.ts';

const moduleFiles = ['go.mod', 'go.sum', 'main.go'];

function moduleDir(ctx: ServiceContext): string {
  return path.join(ctx.config.repoRoot, 'scripts', 'stack', 'ferretdb');
}

/** The binary is named after a hash of the wrapper's sources, so editing them rebuilds it. */
function binary(ctx: ServiceContext): { dir: string; file: string; fingerprint: string } {
  const hash = createHash('sha256');
  for (const file of moduleFiles) hash.update(readFileSync(path.join(moduleDir(ctx), file)));
  const fingerprint = hash.digest('hex').slice(0, 12);
  const dir = path.join(ctx.paths.downloads, `ferretdb-${versions.ferretdb}`);
  return { dir, file: path.join(dir, `ferretdb-${fingerprint}`), fingerprint };
}

export const mongoService: Service = {
  name: 'mongo',
  title: `FerretDB ${versions.ferretdb} (MongoDB wire protocol, SQLite backend)`,

  ports: (config) => [{ port: config.ports.mongo, what: 'MongoDB-compatible server', variable: 'SAGAFLOW_MONGO_PORT' }],

  preflight() {
    requireGo();
  },

  async install(ctx) {
    const { dir, file, fingerprint } = binary(ctx);
    if (isInstalled(dir, fingerprint)) return;
    const go = requireGo();
    await mkdir(dir, { recursive: true });
    ctx.progress.line(`mongo: building FerretDB ${versions.ferretdb} wrapper with Go (modules from the Go module proxy, first run only)`);
    const goPath = ctx.paths.goPath;
    await withHeartbeat(
      ctx.progress,
      'mongo: still building',
      runToCompletion(
        'FerretDB build',
        {
          command: go,
          args: ['build', '-trimpath', '-o', file, '.'],
          cwd: moduleDir(ctx),
          env: {
            ...process.env,
            GOPATH: goPath,
            GOMODCACHE: path.join(goPath, 'mod'),
            GOCACHE: path.join(goPath, 'cache'),
            // Use the installed Go, never download another toolchain; keep the module cache
            // writable so that deleting the stack folder just works.
            GOTOOLCHAIN: 'local',
            GOFLAGS: '-modcacherw -mod=readonly',
            CGO_ENABLED: '0',
          },
        },
        path.join(ctx.paths.logs, 'mongo-install.log'),
      ),
    );
    await markInstalled(dir, fingerprint);
  },

  async launch(ctx) {
    const dataDir = path.join(ctx.paths.data, 'mongo');
    await mkdir(dataDir, { recursive: true });
    return {
      command: binary(ctx).file,
      args: ['-listen-addr', `${LOOPBACK}:${ctx.config.ports.mongo}`, '-sqlite-dir', dataDir],
      cwd: dataDir,
    };
  },

  async probe(config) {
    const client = new MongoClient(`mongodb://${LOOPBACK}:${config.ports.mongo}/?directConnection=true`, {
      serverSelectionTimeoutMS: 1500,
      connectTimeoutMS: 1500,
    });
    try {
      await client.connect();
      const reply = await client.db('admin').command({ ping: 1 });
      return reply.ok === 1;
    } catch {
      return false;
    } finally {
      await client.close().catch(() => undefined);
    }
  },

  endpoint: (config) => `mongodb://${LOOPBACK}:${config.ports.mongo}/?directConnection=true`,
};
