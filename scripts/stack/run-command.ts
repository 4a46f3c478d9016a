import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { StackError } from './errors.ts';

export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Last lines of a log file, for error messages. */
export function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Runs a one-shot command (a Maven resolution, a Go build, a storage format) to completion,
 * its output appended to `logFile`; throws SAGAFLOW_STACK_INSTALL_FAILED with the log's tail.
 */
export async function runToCompletion(what: string, spec: CommandSpec, logFile: string): Promise<void> {
  const fd = openSync(logFile, 'a');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
      });
      child.once('error', reject);
      child.once('exit', (exitCode, signal) => resolve(signal ? null : exitCode));
    });
    if (code !== 0) {
      throw new StackError(
        'SAGAFLOW_STACK_INSTALL_FAILED',
        `${what} failed (exit ${code ?? 'by signal'}); last lines of ${logFile}:\n${tailOf(logFile)}`,
        'fix the cause shown above (a registry that does not answer is worth one more try) and run `npm run stack -- up` again',
        { retryable: true },
      );
    }
  } catch (error) {
    if (error instanceof StackError) throw error;
    throw new StackError('SAGAFLOW_STACK_INSTALL_FAILED', `${what}: could not run ${spec.command}`, 'check that the tool is installed', { cause: error });
  } finally {
    closeSync(fd);
  }
}
