import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const root = new URL('../../../../', import.meta.url).pathname;

/** Where child logs go: git-ignored, kept after the run so a failure can be read afterwards. */
export function runDirectory(runId: string): string {
  const dir = join(root, '.sagaflow', 'reliability', runId);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first port of the kernel's ephemeral range, which outgoing connections take their local ports from. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const handedOut = new Set<number>();

/**
 * A port nothing listens on, for a server started later (an instance, a broker listener, a
 * proxy). Drawn below the kernel's ephemeral range: a port from that range, free now, can be
 * taken meanwhile as the local port of any outgoing connection (the soak makes thousands
 * through its proxies), and an instance restarted on it would find it in use. Never the same
 * port twice in one process.
 */
export async function freePort(): Promise<number> {
  const lowest = 10_000;
  const highest = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${lowest} and ${highest}`);
}

/** The tutorial's reservation saga.json (raw JSON) pointed at the given broker and topics. */
export function reservationSagaJson(opts: {
  brokers: string[];
  events: string;
  commands: string;
  applicationId: string;
  authenticationProperties?: unknown;
  /** Avro through this registry instead of Flow Manager's JSON. */
  schemaRegistryUrl?: string;
  /** validationOK must carry {validateReservationBy: string} (what the test workers send). */
  validatePayloads?: boolean;
}): Record<string, unknown> {
  const raw = JSON.parse(readFileSync(join(root, 'examples/reservation/saga.json'), 'utf8')) as Record<string, unknown> & {
    communicationProtocols: { configurations: Record<string, unknown> }[];
  };
  const channel = raw.communicationProtocols[0];
  if (!channel) throw new Error('examples/reservation/saga.json has no protocol');
  channel.configurations = {
    brokers: opts.brokers,
    inputTopics: [opts.events],
    outputTopics: [opts.commands],
    consumerGroup: opts.applicationId,
    ...(opts.authenticationProperties === undefined ? {} : { authenticationProperties: opts.authenticationProperties }),
    ...(opts.schemaRegistryUrl === undefined ? {} : { serialization: 'avro', schemaRegistry: { url: opts.schemaRegistryUrl } }),
  };
  raw.persistencyManagement = {};
  if (opts.validatePayloads) {
    const machine = raw.machineDefinition as { states: { id: string; outgoingTransitions?: { inputEvent: string; payloadValidationSchema?: unknown }[] }[] };
    const transition = machine.states.find((s) => s.id === 'reservationCreated')?.outgoingTransitions?.find((t) => t.inputEvent === 'validationOK');
    if (!transition) throw new Error('the reservation example has no validationOK transition');
    transition.payloadValidationSchema = {
      type: 'object',
      required: ['validateReservationBy'],
      properties: { validateReservationBy: { type: 'string' } },
    };
  }
  return raw;
}

export interface Member {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Incremented by every start; the log file of start n is `<name>.<n>.log`. */
  generation: number;
  stateDir: string;
  child: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
  logFile: string;
  /** Set while the cluster itself kills or stops the member. */
  expectingExit: boolean;
}

export interface ClusterOptions {
  /** Directory for saga.json, state and logs (see runDirectory). */
  dir: string;
  sagaJson: Record<string, unknown>;
  partitions: number;
  logLevel?: string;
  /** Extra environment of every instance. */
  env?: Record<string, string>;
  /** Extra environment of one instance, asked at each start (e.g. addresses of its own proxies). */
  memberEnv?: (member: { name: string; port: number }) => Promise<Record<string, string>>;
  /**
   * Run the projection of saga.json's persistencyManagement inside every instance (it is
   * SIGKILLed with its instance). Off by default: most scenarios test the processor alone.
   */
  projection?: boolean;
}

export interface ClusterCounters {
  starts: number;
  kills: number;
  stops: number;
  freshStarts: number;
}

/**
 * `sagaflow start` child processes of one application (same saga.json, same consumer group),
 * each with a fixed HTTP port and its own state directory, started, SIGKILLed and restarted
 * on demand. Every child is killed by `close()`.
 */
export class SagaflowCluster {
  readonly members = new Map<string, Member>();
  readonly counters: ClusterCounters = { starts: 0, kills: 0, stops: 0, freshStarts: 0 };
  /** Members that ended on their own: an instance must never exit unless told to. */
  /** `code` null: ended by `signal`, or never ran (`error`: why the spawn failed). */
  readonly unexpectedExits: { name: string; generation: number; code: number | null; signal?: string; error?: string; logFile: string }[] = [];
  private readonly opts: ClusterOptions;
  private readonly configPath: string;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.configPath = join(opts.dir, 'saga.json');
    writeFileSync(this.configPath, JSON.stringify(opts.sagaJson, null, 2));
  }

  /**
   * Starts a new member, or restarts a stopped one (same port; `fresh` wipes its state first).
   * `entry`: a script run instead of bin/sagaflow.js, with the same arguments and environment.
   */
  async start(name: string, opts: { fresh?: boolean; entry?: string } = {}): Promise<Member> {
    let member = this.members.get(name);
    if (!member) {
      const port = await freePort();
      member = {
        name,
        port,
        url: `http://127.0.0.1:${port}`,
        generation: 0,
        stateDir: join(this.opts.dir, `state-${name}`),
        child: undefined,
        exited: undefined,
        logFile: '',
        expectingExit: false,
      };
      this.members.set(name, member);
    }
    if (member.child) throw new Error(`member ${name} is already running`);
    if (opts.fresh) {
      rmSync(member.stateDir, { recursive: true, force: true });
      this.counters.freshStarts += 1;
    }
    member.generation += 1;
    member.logFile = join(this.opts.dir, `${name}.${member.generation}.log`);
    const ownEnv = this.opts.memberEnv ? await this.opts.memberEnv({ name, port: member.port }) : {};
    const fd = openSync(member.logFile, 'a');
    const child = spawn(process.execPath, [opts.entry ?? join(root, 'bin/sagaflow.js'), 'start'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        CONFIGURATIONS_FILE_PATH: this.configPath,
        HTTP_PORT: String(member.port),
        HTTP_HOST: '127.0.0.1',
        SAGAFLOW_STATE_DIR: member.stateDir,
        SAGAFLOW_DEFAULT_PARTITIONS: String(this.opts.partitions),
        SAGAFLOW_REPLICATION_FACTOR: '1',
        SAGAFLOW_PROJECTION: this.opts.projection ? 'true' : 'false',
        LOG_LEVEL: this.opts.logLevel ?? 'info',
        ...(process.env.SAGAFLOW_KAFKA_CLIENT ? { SAGAFLOW_KAFKA_CLIENT: process.env.SAGAFLOW_KAFKA_CLIENT } : {}),
        ...this.opts.env,
        ...ownEnv,
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    member.child = child;
    member.expectingExit = false;
    let ended: { signal?: string; error?: string } = {};
    member.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (signal) ended = { signal };
        resolve(code);
      });
      child.once('error', (err) => {
        ended = { error: err.message };
        resolve(null);
      });
    });
    const running = member;
    const generation = member.generation;
    const logFile = member.logFile;
    void member.exited.then((code) => {
      if (running.child !== child) return;
      running.child = undefined;
      if (!running.expectingExit) this.unexpectedExits.push({ name, generation, code, ...ended, logFile });
    });
    this.counters.starts += 1;
    return member;
  }

  /** SIGKILL: no shutdown at all, as a crash or an OOM kill. */
  async kill(name: string): Promise<void> {
    const member = this.require(name);
    const child = member.child;
    if (!child) return;
    member.expectingExit = true;
    child.kill('SIGKILL');
    await member.exited;
    member.child = undefined;
    this.counters.kills += 1;
  }

  /** SIGTERM: the instance leaves the group cleanly. */
  async stop(name: string, timeoutMs = 30_000): Promise<void> {
    const member = this.require(name);
    const child = member.child;
    if (!child) return;
    member.expectingExit = true;
    child.kill('SIGTERM');
    const outcome = await Promise.race([member.exited, delay(timeoutMs).then(() => 'timeout' as const)]);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await member.exited;
    }
    member.child = undefined;
    this.counters.stops += 1;
  }

  /** Sends a signal without waiting for anything (SIGSTOP/SIGCONT pause and resume the whole process). */
  signal(name: string, signal: NodeJS.Signals): void {
    const child = this.require(name).child;
    if (!child) throw new Error(`member ${name} is not running`);
    child.kill(signal);
  }

  /** Whether the member's process is stopped (SIGSTOP), from /proc (Linux). */
  isPaused(name: string): boolean {
    const pid = this.members.get(name)?.child?.pid;
    if (pid === undefined) return false;
    try {
      // "pid (comm) S ...": the state follows the last parenthesis.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
    } catch {
      return false;
    }
  }

  running(): Member[] {
    return [...this.members.values()].filter((m) => m.child !== undefined);
  }

  isRunning(name: string): boolean {
    return this.members.get(name)?.child !== undefined;
  }

  /** Whether GET /-/ready answers 200 on the member. */
  async isReady(name: string): Promise<boolean> {
    const member = this.require(name);
    if (!member.child) return false;
    try {
      const res = await fetch(`${member.url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Waits until every running member is ready and together they own all partitions. */
  async waitAllReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const members = this.running();
      const states = await Promise.all(members.map((m) => this.readiness(m)));
      const owned = new Set(states.flatMap((s) => s?.partitions ?? []));
      if (members.length > 0 && states.every((s) => s?.ready === true) && owned.size === this.opts.partitions) return;
      if (Date.now() > deadline) {
        throw new Error(`cluster not ready within ${timeoutMs} ms: ${JSON.stringify(states)}; logs in ${this.opts.dir}`);
      }
      await delay(250);
    }
  }

  /** GET /-/ready of a member: whether it is ready and the partitions it owns (undefined: no answer). */
  readinessOf(name: string): Promise<{ ready: boolean; partitions: number[] } | undefined> {
    return this.readiness(this.require(name));
  }

  private async readiness(member: Member): Promise<{ ready: boolean; partitions: number[] } | undefined> {
    try {
      const res = await fetch(`${member.url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { partitions?: { partition: number }[] };
      return { ready: res.status === 200, partitions: (body.partitions ?? []).map((p) => p.partition) };
    } catch {
      return undefined;
    }
  }

  /** Kills every running member. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        if (!m.child) return;
        m.expectingExit = true;
        m.child.kill('SIGKILL');
        await m.exited;
        m.child = undefined;
      }),
    );
  }

  logsOf(name: string): string {
    const member = this.require(name);
    const parts: string[] = [];
    for (let g = 1; g <= member.generation; g += 1) {
      try {
        parts.push(readFileSync(join(this.opts.dir, `${name}.${g}.log`), 'utf8'));
      } catch {
        // not written yet
      }
    }
    return parts.join('');
  }

  private require(name: string): Member {
    const member = this.members.get(name);
    if (!member) throw new Error(`no member ${name}`);
    return member;
  }
}
