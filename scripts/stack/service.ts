import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StackConfig, stackPaths } from './config.ts';
import type { Progress } from './progress.ts';
import type { CommandSpec } from './run-command.ts';

export type ServiceName = 'kafka' | 'registry' | 'mongo';

export interface ServiceContext {
  readonly config: StackConfig;
  readonly paths: ReturnType<typeof stackPaths>;
  readonly progress: Progress;
}

export interface PortUse {
  readonly port: number;
  readonly what: string;
  readonly variable: string;
}

/** One service of the local stack: how to install it, launch it and tell that it answers. */
export interface Service {
  readonly name: ServiceName;
  readonly title: string;
  ports(config: StackConfig): PortUse[];
  /** Fails fast, before any download, when a tool the service needs is missing. */
  preflight(): void;
  /** Downloads or builds what is missing; a no-op when the cache is complete. */
  install(ctx: ServiceContext): Promise<void>;
  /** Prepares the data folder and returns the long-running command. */
  launch(ctx: ServiceContext): Promise<CommandSpec>;
  /** True once the service really answers a client request. */
  probe(config: StackConfig): Promise<boolean>;
  endpoint(config: StackConfig): string;
}

/**
 * Install steps write a marker file last, so an interrupted download is redone rather than
 * used half-finished.
 */
export function isInstalled(dir: string, fingerprint: string): boolean {
  return existsSync(path.join(dir, `.installed-${fingerprint}`));
}

export async function markInstalled(dir: string, fingerprint: string): Promise<void> {
  await writeFile(path.join(dir, `.installed-${fingerprint}`), `${new Date().toISOString()}\n`);
}
