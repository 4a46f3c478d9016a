import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StackError } from './errors.ts';
import type { CommandSpec } from './run-command.ts';

/** What a pid file records about a service process the stack started. */
export interface PidRecord {
  readonly service: string;
  readonly pid: number;
  readonly startedAt: string;
}

export interface Started {
  readonly record: PidRecord;
  /** Settles with the exit code if the process ends while this process still watches it. */
  readonly exited: Promise<number | null>;
}

function pidFile(runDir: string, service: string): string {
  return path.join(runDir, `${service}.pid`);
}

function processState(pid: number): string | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) S ...": the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * The running process recorded for `service`, if it is still ours. Every command the stack
 * launches names a path inside the stack directory (`marker`), which guards against a pid
 * that the kernel has since reused for an unrelated process. A stale pid file is removed.
 */
export async function runningProcess(runDir: string, service: string, marker: string): Promise<PidRecord | undefined> {
  let record: PidRecord;
  try {
    record = JSON.parse(readFileSync(pidFile(runDir, service), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
  if (isAlive(record.pid) && commandLine(record.pid).includes(marker)) return record;
  await rm(pidFile(runDir, service), { force: true });
  return undefined;
}

/**
 * Starts a long-running service in its own session (detached, output to `logFile`) so that
 * it outlives the command that started it, and records its pid.
 */
export async function startDetached(service: string, launch: CommandSpec, logFile: string, runDir: string): Promise<Started> {
  await mkdir(runDir, { recursive: true });
  await mkdir(path.dirname(logFile), { recursive: true });
  appendFileSync(logFile, `\n=== ${new Date().toISOString()} starting: ${launch.command} ${launch.args.join(' ')}\n`);
  const fd = openSync(logFile, 'a');
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  child.unref();
  if (child.pid === undefined) {
    throw new StackError('SAGAFLOW_STACK_START_FAILED', `${service}: could not start ${launch.command}`, `see ${logFile}`);
  }
  const record: PidRecord = { service, pid: child.pid, startedAt: new Date().toISOString() };
  await writeFile(pidFile(runDir, service), `${JSON.stringify(record)}\n`);
  return { record, exited };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group the detached start created.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a service: SIGTERM to its process group, then SIGKILL if it has not exited within
 * `graceMs` (a broker's controlled shutdown takes a few seconds). Removes the pid file.
 */
export async function stopProcess(runDir: string, record: PidRecord, graceMs = 20_000): Promise<'stopped' | 'killed'> {
  signalGroup(record.pid, 'SIGTERM');
  let outcome: 'stopped' | 'killed' = 'stopped';
  const deadline = Date.now() + graceMs;
  while (isAlive(record.pid) && Date.now() < deadline) await delay(100);
  if (isAlive(record.pid)) {
    outcome = 'killed';
    signalGroup(record.pid, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (isAlive(record.pid) && Date.now() < killDeadline) await delay(100);
    if (isAlive(record.pid)) {
      throw new StackError('SAGAFLOW_STACK_STOP_FAILED', `${record.service} (pid ${record.pid}) survived SIGKILL`, `check it with ps -p ${record.pid}`);
    }
  }
  // The exited process stays a zombie until its parent reaps it; when `up` has already ended
  // that is init, which may take a few seconds. Wait (bounded) so that `ps` right after
  // `down` shows nothing left.
  const reapDeadline = Date.now() + 10_000;
  while (processState(record.pid) !== undefined && Date.now() < reapDeadline) await delay(100);
  await rm(pidFile(runDir, record.service), { force: true });
  return outcome;
}

/**
 * Processes whose command line names the stack directory but that no pid file records (a pid
 * file deleted by hand, a start interrupted between spawn and write). `down` stops them too so
 * that it never leaves a service behind.
 */
export function findStrays(marker: string, known: ReadonlySet<number>): PidRecord[] {
  const strays: PidRecord[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return strays;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid || known.has(pid) || !isAlive(pid)) continue;
    const cmd = commandLine(pid);
    if (cmd.includes(marker)) strays.push({ service: `stray pid ${pid}`, pid, startedAt: '' });
  }
  return strays;
}
