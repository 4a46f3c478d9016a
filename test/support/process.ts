import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { registerCleanup } from './cleanup.ts';

export interface NodeProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code once the process ended (killed after `timeoutMs`). */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs `node <args>` (this test run's Node) with only PATH, HOME and `env`; killed after the test file. */
export function runNode(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): NodeProcess {
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  registerCleanup(() => void child.kill('SIGKILL'));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}
