import pino from 'pino';
import type { DefinitionIssue } from '../definition/issues.ts';
import { loadSagaConfigFile } from '../definition/load.ts';
import { isSagaflowError } from '../errors.ts';
import { readRuntimeEnv } from './env.ts';
import { startInstance } from './instance.ts';
import { silenceKnownKafkajsWarnings } from './warnings.ts';

/**
 * `sagaflow start`: reads the environment and saga.json once, starts an instance and runs
 * until SIGINT/SIGTERM. Invalid configuration ends with one clear line and exit code 1.
 */
export async function runStart(
  env: Record<string, string | undefined>,
  cwd: string,
  stderr: (line: string) => void,
  /** Fault injection for tests that run the real command in a child process (see Processor). */
  faults: { beforeCommit?: (partitions: number[]) => Promise<void> | void } = {},
): Promise<number> {
  silenceKnownKafkajsWarnings();
  let runtime;
  let config;
  try {
    runtime = readRuntimeEnv(env, cwd);
    config = loadSagaConfigFile(runtime.configurationsFilePath, env);
  } catch (err) {
    for (const line of describe(err)) stderr(line);
    return 1;
  }
  const logger = pino({ level: runtime.logLevel, base: { service: 'sagaflow' } });
  let instance;
  try {
    instance = await startInstance({ env: runtime, config, logger, ...(faults.beforeCommit ? { beforeCommit: faults.beforeCommit } : {}) });
  } catch (err) {
    // One line, no stack: the code and message say what to fix.
    for (const line of describe(err)) stderr(line);
    return 1;
  }
  const started = instance;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      // Graceful: no new batches, commit what the tasks hold, leave the group (its partitions
      // move at once, no session timeout), close the stores. Bounded by the grace period, after
      // which the process exits anyway: a commit not done by then is aborted by the next owner.
      logger.info({ graceMs: runtime.shutdownGraceMs }, 'stopping');
      const exit = (exitCode: number) => {
        resolve(exitCode);
        // A client handle left behind (a socket, a native thread) must not keep the process
        // alive past its stop; unref'd, this timer alone keeps nothing alive.
        setTimeout(() => process.exit(exitCode), 1_000).unref();
      };
      const deadline = setTimeout(() => {
        logger.warn({ graceMs: runtime.shutdownGraceMs }, 'shutdown grace period passed; exiting without finishing');
        exit(code === 0 ? 1 : code);
      }, runtime.shutdownGraceMs);
      started.stop().finally(() => {
        clearTimeout(deadline);
        logger.info('stopped');
        exit(code);
      });
    };
    process.once('SIGINT', () => stop(0));
    process.once('SIGTERM', () => stop(0));
    started.processor.fatal = (err) => {
      logger.fatal({ err }, 'processor failed');
      stop(1);
    };
  });
}

/**
 * One line per problem: `CODE: message`. An invalid definition gives one line per issue,
 * each with the file and the JSON path (a log collector keeps lines, not paragraphs).
 */
export function describe(err: unknown): string[] {
  if (isSagaflowError(err, 'SAGAFLOW_DEFINITION_INVALID') && Array.isArray(err.details) && err.details.length > 0) {
    // The more specific code of an issue (SAGAFLOW_SECRET_UNRESOLVED, ...) when it has one.
    return (err.details as DefinitionIssue[]).map((issue) => `${issue.code ?? err.code}: ${err.path ?? 'saga.json'}: ${issue.path}: ${issue.message}`);
  }
  if (isSagaflowError(err)) return [`${err.code}: ${err.message}`.replaceAll('\n', ' ')];
  return [`SAGAFLOW_START_FAILED: ${(err as Error).message ?? String(err)}`.replaceAll('\n', ' ')];
}
