/** Child processes of a benchmark run and what /proc says about them. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, readlinkSync } from 'node:fs';
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

/**
 * The pid of the process listening on 127.0.0.1:`port` (or any address), found through
 * /proc/net/tcp and the processes' socket descriptors. Several brokers may run on one
 * machine; the port says which one the benchmark talks to.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // st 0A = LISTEN; the local address is HEXIP:HEXPORT.
      if (!local || cols[3] !== '0A') continue;
      if (Number.parseInt(local.split(':')[1] ?? '', 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m?.[1] && inodes.has(m[1])) return Number(entry);
      } catch {
        // descriptor closed while we looked
      }
    }
  }
  return undefined;
}

/** CPU time of the whole machine (all cores) from /proc/stat: busy and total. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = first.trim().split(/\s+/);
  const n = values.map(Number);
  // user nice system idle iowait irq softirq steal ...
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() };
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
