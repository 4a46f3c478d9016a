import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadStackConfig, serviceEnv, stackPaths } from './config.ts';
import type { StackConfig } from './config.ts';
import { StackError } from './errors.ts';
import { kafkaService } from './kafka.ts';
import { withStackLock } from './lock.ts';
import { mongoService } from './mongo.ts';
import { describeListener, isPortFree } from './ports.ts';
import { seconds, silentProgress } from './progress.ts';
import type { Progress } from './progress.ts';
import { registryService } from './registry.ts';
import { tailOf } from './run-command.ts';
import type { Service, ServiceContext, ServiceName } from './service.ts';
import { findStrays, isAlive, runningProcess, startDetached, stopProcess } from './supervise.ts';

export const services: readonly Service[] = [kafkaService, registryService, mongoService];

const readyTimeoutMs = 180_000;

export interface StackOptions {
  readonly config?: StackConfig;
  readonly progress?: Progress;
}

function contextOf(options: StackOptions): ServiceContext {
  const config = options.config ?? loadStackConfig();
  return { config, paths: stackPaths(config), progress: options.progress ?? silentProgress };
}

function logFile(ctx: ServiceContext, service: Service): string {
  return path.join(ctx.paths.logs, `${service.name}.log`);
}

/**
 * Polls the service's probe until it answers. `exited` (a process this call started) or `pid`
 * (one an earlier `up` started) make a crash fail fast instead of waiting for the deadline.
 */
async function waitUntilReady(ctx: ServiceContext, service: Service, exited: Promise<number | null> | undefined, pid?: number): Promise<void> {
  const started = Date.now();
  let lastReport = started;
  let exitCode: number | null | undefined;
  let hasExited = false;
  void exited?.then((code) => {
    hasExited = true;
    exitCode = code;
  });
  while (Date.now() - started < readyTimeoutMs) {
    if (await service.probe(ctx.config)) return;
    if (pid !== undefined && !isAlive(pid)) hasExited = true;
    if (hasExited) {
      throw new StackError(
        'SAGAFLOW_STACK_START_FAILED',
        `${service.name} exited (${exitCode === undefined ? 'exit code unknown' : `code ${exitCode ?? 'by signal'}`}) before answering; last lines of ${logFile(ctx, service)}:\n${tailOf(logFile(ctx, service))}`,
        'fix the cause shown above; `npm run stack -- reset` starts from empty data if the data folder is damaged',
      );
    }
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      ctx.progress.line(`${service.name}: waiting for it to answer (${seconds(started)})`);
    }
    await delay(250);
  }
  throw new StackError(
    'SAGAFLOW_STACK_START_FAILED',
    `${service.name} did not answer within ${readyTimeoutMs / 1000}s; last lines of ${logFile(ctx, service)}:\n${tailOf(logFile(ctx, service))}`,
    'see the log; the machine may be overloaded, a second `npm run stack -- up` waits again',
    { retryable: true },
  );
}

async function checkPorts(ctx: ServiceContext, service: Service): Promise<void> {
  for (const use of service.ports(ctx.config)) {
    if (await isPortFree(use.port)) continue;
    const holder = describeListener(use.port);
    throw new StackError(
      'SAGAFLOW_STACK_PORT_IN_USE',
      `port ${use.port} (${use.what}) on 127.0.0.1 is taken by ${holder ?? 'another process'}, not by this stack`,
      `stop that process, or choose another port: ${use.variable}=<free port> npm run stack -- up (and use the printed addresses)`,
    );
  }
}

async function bringUp(ctx: ServiceContext, service: Service): Promise<'already running' | 'started'> {
  const marker = ctx.config.stackDir;
  const running = await runningProcess(ctx.paths.run, service.name, marker);
  if (running) {
    // Ours and alive: answering already, or still starting from an earlier `up`.
    if (!(await service.probe(ctx.config))) await waitUntilReady(ctx, service, undefined, running.pid);
    return 'already running';
  }
  await checkPorts(ctx, service);
  const installStarted = Date.now();
  await service.install(ctx);
  if (Date.now() - installStarted > 1_000) ctx.progress.line(`${service.name}: installed in ${seconds(installStarted)}`);
  const launch = await service.launch(ctx);
  // Check again: an install of minutes leaves time for something else to take the port.
  await checkPorts(ctx, service);
  const { exited } = await startDetached(service.name, launch, logFile(ctx, service), ctx.paths.run);
  ctx.progress.line(`${service.name}: started, waiting for it to answer`);
  await waitUntilReady(ctx, service, exited);
  return 'started';
}

export interface UpOptions extends StackOptions {
  /** Wipe the data folders (topics, schemas, documents) first; downloads are kept. */
  readonly fresh?: boolean;
}

/**
 * Installs what is missing, starts every service that is not running, and waits until each
 * answers. Safe to call when the stack is already up. Returns the clients' environment.
 */
export async function stackUp(options: UpOptions = {}): Promise<ReturnType<typeof serviceEnv>> {
  const ctx = contextOf(options);
  return withStackLock(ctx.paths.run, ctx.progress, async () => {
    if (options.fresh) await reset(ctx);
    return up(ctx);
  });
}

async function up(ctx: ServiceContext): Promise<ReturnType<typeof serviceEnv>> {
  const started = Date.now();
  for (const dir of Object.values(ctx.paths)) await mkdir(dir, { recursive: true });

  // Missing tools fail here, before any download starts.
  for (const service of services) {
    if (!(await runningProcess(ctx.paths.run, service.name, ctx.config.stackDir))) service.preflight();
  }

  const results = await Promise.allSettled(
    services.map(async (service) => {
      const serviceStarted = Date.now();
      const outcome = await bringUp(ctx, service);
      ctx.progress.line(`${service.name}: ${outcome === 'started' ? `up in ${seconds(serviceStarted)}` : 'already running'}`);
    }),
  );
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) {
    for (const failure of failures.slice(1)) ctx.progress.line(`also failed: ${failure instanceof Error ? failure.message : String(failure)}`);
    throw failures[0];
  }
  ctx.progress.line(`all services answer (${seconds(started)})`);
  return serviceEnv(ctx.config);
}

/** Stops every service the stack started (and any stray process of it); leaves data in place. */
export async function stackDown(options: StackOptions = {}): Promise<void> {
  const ctx = contextOf(options);
  await withStackLock(ctx.paths.run, ctx.progress, () => down(ctx));
}

async function down(ctx: ServiceContext): Promise<void> {
  const marker = ctx.config.stackDir;
  const records = (await Promise.all(services.map((service) => runningProcess(ctx.paths.run, service.name, marker)))).filter(
    (record) => record !== undefined,
  );
  const strays = findStrays(marker, new Set(records.map((record) => record.pid)));
  await Promise.all(
    [...records, ...strays].map(async (record) => {
      const outcome = await stopProcess(ctx.paths.run, record);
      ctx.progress.line(`${record.service}: ${outcome} (pid ${record.pid})`);
    }),
  );
  if (records.length === 0 && strays.length === 0) ctx.progress.line('nothing was running');
}

/** Stops everything and deletes the data folders; downloads and builds stay cached. */
export async function stackReset(options: StackOptions = {}): Promise<void> {
  const ctx = contextOf(options);
  await withStackLock(ctx.paths.run, ctx.progress, () => reset(ctx));
}

async function reset(ctx: ServiceContext): Promise<void> {
  await down(ctx);
  await rm(ctx.paths.data, { recursive: true, force: true });
  ctx.progress.line(`data wiped (${ctx.paths.data})`);
}

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly title: string;
  readonly endpoint: string;
  readonly pid: number | undefined;
  readonly answering: boolean;
}

/** Whether each service's process runs and whether it answers a client request. */
export async function stackStatus(options: StackOptions = {}): Promise<ServiceStatus[]> {
  const ctx = contextOf(options);
  return Promise.all(
    services.map(async (service) => {
      const record = await runningProcess(ctx.paths.run, service.name, ctx.config.stackDir);
      return {
        name: service.name,
        title: service.title,
        endpoint: service.endpoint(ctx.config),
        pid: record?.pid,
        answering: await service.probe(ctx.config),
      };
    }),
  );
}
