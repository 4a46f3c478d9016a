import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadStackConfig, serviceEnv, stackPaths } from '../../../../scripts/stack/config.ts';
import type { KafkaExtraListener, StackConfig } from '../../../../scripts/stack/config.ts';
import { kafkaService } from '../../../../scripts/stack/kafka.ts';
import { silentProgress } from '../../../../scripts/stack/progress.ts';
import type { ServiceContext } from '../../../../scripts/stack/service.ts';
import { isInstalled } from '../../../../scripts/stack/service.ts';
import { runningProcess, startDetached, stopProcess } from '../../../../scripts/stack/supervise.ts';
import { versions } from '../../../../scripts/stack/config.ts';
import { freePort } from './cluster.ts';

/**
 * Why a broker-restart test cannot run here, or undefined when it can: the tests must run on
 * the local stack (`npm run stack -- up`), whose Kafka installation it reuses. Services given
 * through KAFKA_BROKERS or testcontainers are not this suite's to stop.
 */
export async function brokerControlUnavailable(testBrokers: readonly string[]): Promise<string | undefined> {
  const config = loadStackConfig();
  const local = serviceEnv(config).KAFKA_BROKERS;
  if (testBrokers.join(',') !== local) {
    return `the integration services are not the local stack (Kafka at ${testBrokers.join(',')}, the stack's is ${local}); a broker restart is only done on a broker the tests control`;
  }
  const paths = stackPaths(config);
  if (!(await runningProcess(paths.run, 'kafka', config.stackDir))) {
    return `Kafka at ${local} answers but was not started by this checkout's stack (${config.stackDir}); it is not ours to stop`;
  }
  return privateBrokerUnavailable();
}

/** Why a broker of the test's own cannot be started here (no Kafka installation), or undefined. */
export function privateBrokerUnavailable(): string | undefined {
  const { downloads } = stackPaths(loadStackConfig());
  if (!isInstalled(path.join(downloads, `kafka_${versions.scala}-${versions.kafka}`), versions.kafka)) {
    return `the local stack has no Kafka installation (${downloads}) to start a broker from`;
  }
  return undefined;
}

/**
 * A stack of the test's own in `dir` (data, logs, process records) on free ports, using the
 * local stack's installations: a service started from it disturbs nobody else's.
 */
export async function privateStackContext(dir: string, kafkaExtraListeners: readonly KafkaExtraListener[] = []): Promise<ServiceContext> {
  const shared = stackPaths(loadStackConfig());
  const ports = {
    kafka: await freePort(),
    kafkaController: await freePort(),
    registry: await freePort(),
    registryManagement: await freePort(),
    mongo: await freePort(),
  };
  const config: StackConfig = Object.freeze({ repoRoot: loadStackConfig().repoRoot, stackDir: dir, ports, kafkaExtraListeners });
  const own = stackPaths(config);
  return {
    config,
    paths: Object.freeze({ ...own, downloads: shared.downloads, mavenRepo: shared.mavenRepo, goPath: shared.goPath }),
    progress: silentProgress,
  };
}

/**
 * A Kafka broker of the test's own, started and stopped with the local stack's scripts
 * (scripts/stack: the same Kafka service definition and supervisor) from the stack's
 * installation, with its own ports and data directory. Restarting it disturbs nothing else:
 * other test files and other people's runs keep using the shared broker.
 */
export class PrivateBroker {
  readonly config: StackConfig;
  private readonly ctx: ServiceContext;
  restarts = 0;

  private constructor(config: StackConfig, ctx: ServiceContext) {
    this.config = config;
    this.ctx = ctx;
  }

  /** `extraListeners`: further listeners, e.g. advertised at fault proxies (see KafkaExtraListener). */
  static async create(dir: string, extraListeners: readonly KafkaExtraListener[] = []): Promise<PrivateBroker> {
    const ctx = await privateStackContext(dir, extraListeners);
    return new PrivateBroker(ctx.config, ctx);
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.config.ports.kafka}`];
  }

  /** Starts the broker (formatting its storage the first time) and waits until it answers. */
  async start(timeoutMs = 120_000): Promise<void> {
    for (const dir of [this.ctx.paths.data, this.ctx.paths.logs, this.ctx.paths.run]) await mkdir(dir, { recursive: true });
    const launch = await kafkaService.launch(this.ctx);
    const logFile = path.join(this.ctx.paths.logs, 'kafka.log');
    const { exited } = await startDetached('kafka', launch, logFile, this.ctx.paths.run);
    let exitCode: number | null | undefined;
    void exited.then((code) => {
      exitCode = code;
    });
    const deadline = Date.now() + timeoutMs;
    while (!(await kafkaService.probe(this.config))) {
      if (exitCode !== undefined) throw new Error(`private broker exited with ${exitCode}; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`private broker did not answer within ${timeoutMs} ms; see ${logFile}`);
      await delay(250);
    }
  }

  /** Stops the broker as `npm run stack -- down` does (SIGTERM, controlled shutdown). */
  async stop(): Promise<void> {
    const record = await runningProcess(this.ctx.paths.run, 'kafka', this.config.stackDir);
    if (record) await stopProcess(this.ctx.paths.run, record);
  }

  async restart(downMs: number): Promise<void> {
    await this.stop();
    await delay(downMs);
    await this.start();
    this.restarts += 1;
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.ctx.paths.data, { recursive: true, force: true });
  }
}
