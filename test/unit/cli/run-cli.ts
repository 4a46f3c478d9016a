import { main } from '../../../src/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string[];
  stderr: string[];
}

export const ROOT = new URL('../../../', import.meta.url).pathname;

/** Runs the CLI in-process with captured output, from the repository root. */
export async function runCli(
  argv: string[],
  options: { stdin?: string; env?: Record<string, string | undefined>; randomIds?: string[] } = {},
): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const ids = [...(options.randomIds ?? [])];
  const code = await main(argv, {
    stdout: (line) => stdout.push(...line.split('\n')),
    stderr: (line) => stderr.push(...line.split('\n')),
    readStdin: () => Promise.resolve(options.stdin ?? ''),
    env: options.env ?? {},
    cwd: ROOT,
    now: () => new Date(Date.UTC(2030, 0, 1)),
    randomId: () => ids.shift() ?? 'random-id',
  });
  return { code, stdout, stderr };
}
