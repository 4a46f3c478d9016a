import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { LOOPBACK, versions } from './config.ts';
import { withHeartbeat } from './progress.ts';
import { runToCompletion } from './run-command.ts';
import { isInstalled, markInstalled } from './service.ts';
import type { Service, ServiceContext } from './service.ts';
import { requireCargo } from './toolchain.ts';

function installDir(ctx: ServiceContext): string {
  return path.join(ctx.paths.downloads, `secantus-mdb-${versions.secantus}`);
}

function binary(ctx: ServiceContext): string {
  return path.join(installDir(ctx), 'bin', 'secantusd-rs');
}

export const mongoService: Service = {
  name: 'mongo',
  title: `SecantusDB ${versions.secantus} (secantusd-rs: MongoDB wire protocol over WiredTiger)`,

  ports: (config) => [{ port: config.ports.mongo, what: 'MongoDB-compatible server', variable: 'SAGAFLOW_MONGO_PORT' }],

  preflight() {
    requireCargo();
  },

  async install(ctx) {
    const dir = installDir(ctx);
    if (isInstalled(dir, versions.secantus)) return;
    const cargo = requireCargo();
    await mkdir(dir, { recursive: true });
    ctx.progress.line(`mongo: building SecantusDB ${versions.secantus} with cargo (crates from crates.io, WiredTiger compiled from the crate's sources; first run only, several minutes)`);
    const cargoHome = path.join(ctx.paths.downloads, 'cargo');
    await withHeartbeat(
      ctx.progress,
      'mongo: still building',
      runToCompletion(
        'SecantusDB build',
        {
          command: cargo,
          args: [
            'install',
            'secantus-mdb',
            '--version',
            versions.secantus,
            '--root',
            dir,
            '--force',
            // The crate declares rust-version 1.98; it builds and passes sagaflow's tests with
            // the Rust 1.95 these machines have (rustup cannot fetch a newer toolchain here).
            '--ignore-rust-version',
          ],
          cwd: dir,
          env: {
            ...process.env,
            // Registry cache and build folder inside the stack folder, so deleting it just works.
            CARGO_HOME: cargoHome,
            CARGO_TARGET_DIR: path.join(cargoHome, 'target'),
            // The crate's release profile (thin LTO, one codegen unit) compiles its largest
            // crates on one core for most of the build; 16 units without LTO use both cores
            // of a CI machine (measured: 9.5 min at a load of 4 against 24 min at loads of 5 to
            // 18), for a development server whose speed the projection benchmark checks anyway.
            CARGO_PROFILE_RELEASE_LTO: 'false',
            CARGO_PROFILE_RELEASE_CODEGEN_UNITS: '16',
            // rustup's proxies look the toolchain up under RUSTUP_HOME, by default below the
            // CARGO_HOME they were installed with: keep pointing there.
            RUSTUP_HOME: process.env.RUSTUP_HOME ?? path.join(process.env.HOME ?? '/root', '.rustup'),
          },
        },
        path.join(ctx.paths.logs, 'mongo-install.log'),
      ),
    );
    await markInstalled(dir, versions.secantus);
    // The build folder (about 800 MB) is not needed once the binary is installed.
    await rm(path.join(cargoHome, 'target'), { recursive: true, force: true });
  },

  async launch(ctx) {
    const dataDir = path.join(ctx.paths.data, 'mongo');
    await mkdir(dataDir, { recursive: true });
    return {
      command: binary(ctx),
      args: [
        '--host',
        LOOPBACK,
        '--port',
        String(ctx.config.ports.mongo),
        '--storage-path',
        dataDir,
        // WiredTiger's default cache is 4 GB; a development stack shares the machine, and 1 GB
        // holds the benchmark's 100,000 sagas with their indexes.
        '--cache-size',
        '1G',
        '--log-level',
        'WARNING',
      ],
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
