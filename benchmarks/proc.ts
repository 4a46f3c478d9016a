/** Child processes of a benchmark run and what /proc says about them. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** User + system CPU time of all the process's threads. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size so far (VmHWM). */
  peakRssBytes: number;
}

/** Undefined once the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: (utime + stime) / ticksPerSecond(), rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** The local Kafka broker's pid, if it runs on this machine (read-only scan of /proc). */
export function findBrokerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes('kafka.Kafka')) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** stdout and stderr go here. */
  logFile: string;
  /** A stdout line matching this marks the system ready (alternative: `readyCheck`). */
  readyPattern?: RegExp;
  /** Polled every 200 ms until it answers true. */
  readyCheck?: () => Promise<boolean>;
  /** Called with each stdout line (e.g. to keep the last COUNTS line). */
  onLine?: (line: string) => void;
}

export interface RunningChild {
  readonly name: string;
  readonly pid: number;
  readonly startedAt: number;
  /** Resolves with the time the system became ready; rejects if it exits first. */
  readonly ready: Promise<number>;
  exited(): boolean;
  exitCode(): number | null;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function startChild(spec: ChildSpec): RunningChild {
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const startedAt = Date.now();
  const child: ChildProcess = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
  const pid = child.pid;
  let code: number | null = null;
  let gone = false;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (c, signal) => {
      gone = true;
      code = c ?? (signal ? 128 : null);
      resolve();
    });
  });
  child.stderr?.pipe(log, { end: false });
  let markReady: (at: number) => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const ready = new Promise<number>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  let isReady = false;
  const becomeReady = (): void => {
    if (isReady) return;
    isReady = true;
    markReady(Date.now());
  };
  if (!child.stdout) throw new Error(`${spec.name}: no stdout pipe`);
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    log.write(line + '\n');
    if (spec.readyPattern?.test(line)) becomeReady();
    spec.onLine?.(line);
  });
  if (spec.readyCheck) {
    const check = spec.readyCheck;
    const poll = async (): Promise<void> => {
      while (!isReady && !gone) {
        if (await check().catch(() => false)) becomeReady();
        else await new Promise((r) => setTimeout(r, 200));
      }
    };
    void poll();
  }
  void exit.then(() => {
    if (!isReady) failReady(new Error(`${spec.name} exited with code ${code} before it was ready; see ${spec.logFile}`));
  });
  ready.catch(() => undefined);
  return {
    name: spec.name,
    pid,
    startedAt,
    ready,
    exited: () => gone,
    exitCode: () => code,
    async stop(graceMs = 30_000) {
      if (!gone) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}
