import { randomUUID } from 'node:crypto';

/**
 * Everything a command touches outside itself. `main` builds it from the process; tests pass
 * their own to capture output and fix the environment.
 */
export interface CliIo {
  /** Writes one line (a newline is added). */
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Writes to stderr as is (no newline): progress bars redraw their line with `\r`. */
  stderrWrite: (text: string) => void;
  /** Whether stderr is a terminal (a progress bar redraws; otherwise it prints a line now and then). */
  stderrTTY: boolean;
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
  now: () => Date;
  randomId: () => string;
}

let pipeGuarded = false;

export function processIo(): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    // `sagaflow simulate ... | head`: the reader went away; stop quietly like other CLI tools.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(process.exitCode ?? 0);
    });
  }
  return {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    stderrWrite: (text) => process.stderr.write(text),
    stderrTTY: process.stderr.isTTY === true,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    randomId: () => randomUUID(),
  };
}

/** A command of the `sagaflow` CLI: one file in src/cli/commands/ exporting `command`. */
export interface CliCommand {
  /** Full help text, printed by `sagaflow <name> --help`. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run: (args: string[], io: CliIo) => Promise<number>;
}
