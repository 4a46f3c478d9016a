import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { loadStackConfig, stackPaths, versions } from '../../../../scripts/stack/config.ts';
import { mongoService } from '../../../../scripts/stack/mongo.ts';
import type { ServiceContext } from '../../../../scripts/stack/service.ts';
import { isInstalled } from '../../../../scripts/stack/service.ts';
import { runningProcess, startDetached, stopProcess } from '../../../../scripts/stack/supervise.ts';
import { privateStackContext } from './private-broker.ts';

/** Why a MongoDB-compatible server with authentication cannot be started here, or undefined. */
export function authMongoUnavailable(): string | undefined {
  const { downloads } = stackPaths(loadStackConfig());
  if (!isInstalled(path.join(downloads, `secantus-mdb-${versions.secantus}`), versions.secantus)) {
    return `the local stack has no SecantusDB ${versions.secantus} installation (${downloads}) to start a server with authentication from`;
  }
  return undefined;
}

/**
 * SecantusDB of the test's own with authentication on (`--auth`: SCRAM-SHA-256 for every
 * command but the handshake), from the local stack's installation, on a free port. Its first
 * user is created through the localhost exception, as on a fresh MongoDB.
 */
export class AuthMongo {
  private readonly ctx: ServiceContext;

  private constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  static async start(dir: string, user: { name: string; password: string }, timeoutMs = 60_000): Promise<AuthMongo> {
    const ctx = await privateStackContext(dir);
    for (const d of [ctx.paths.data, ctx.paths.logs, ctx.paths.run]) await mkdir(d, { recursive: true });
    const launch = await mongoService.launch(ctx);
    const logFile = path.join(ctx.paths.logs, 'mongo.log');
    const { exited } = await startDetached('mongo', { ...launch, args: [...launch.args, '--auth'] }, logFile, ctx.paths.run);
    let exitCode: number | null | undefined;
    void exited.then((code) => {
      exitCode = code;
    });
    const server = new AuthMongo(ctx);
    const deadline = Date.now() + timeoutMs;
    while (!(await mongoService.probe(ctx.config))) {
      if (exitCode !== undefined) throw new Error(`SecantusDB with --auth exited with ${exitCode}; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`SecantusDB with --auth did not answer within ${timeoutMs} ms; see ${logFile}`);
      await delay(250);
    }
    const client = new MongoClient(server.uri(), { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.db('admin').command({ createUser: user.name, pwd: user.password, roles: ['root'] });
    } finally {
      await client.close();
    }
    return server;
  }

  /** The server's URI, with credentials (authenticated against `admin`) when given. */
  uri(user?: { name: string; password: string }, database = ''): string {
    const credentials = user ? `${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@` : '';
    return `mongodb://${credentials}127.0.0.1:${this.ctx.config.ports.mongo}/${database}?directConnection=true${user ? '&authSource=admin' : ''}`;
  }

  async destroy(): Promise<void> {
    const record = await runningProcess(this.ctx.paths.run, 'mongo', this.ctx.config.stackDir);
    if (record) await stopProcess(this.ctx.paths.run, record);
    await rm(this.ctx.paths.data, { recursive: true, force: true });
  }
}
