/**
 * Per-transition latency of a running system: the time from an event being produced to the
 * command(s) it causes being readable by a read_committed consumer of the commands topic.
 *
 *   node benchmarks/latency.ts --system sagaflow|kafka-streams [--sagas 1000] [--rate 50]
 *     [--flow reservation|order-fulfillment] [--seed 42] [--warmup <s>] [--timeout <s>]
 *     [--brokers 127.0.0.1:9092]
 *
 * Each saga runs closed loop (its next event is produced only once every command of the
 * previous one is seen, as a worker answering commands would), sagas start open loop at a
 * fixed rate, so a slow system meets a growing queue instead of a slower load generator.
 * The events come from workload.ts's plans; the commands each event causes follow from the
 * machine definition (the commands of the state the transition enters).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Partitioners } from 'kafkajs';
import type { MachineDefinition, StateSpec } from '../src/definition/types.ts';
import { BatchingSender } from '../src/adapters/kafkajs/batching-sender.ts';
import { connect, createTopics, runStamp, deleteGroups, deleteTopics, silenceKafkajsTimeoutWarnings, type BenchKafka } from './kafka.ts';
import { repoRoot } from './perf-tools.ts';
import { DEFAULT_WORKLOAD, emptySummary, FLOWS, loadSagaConfig, planSaga, type PlannedEvent, type WorkloadOptions } from './workload.ts';

/**
 * Plans start at this saga index, so a latency run's sagaIds never equal those of a
 * throughput run with the same seed (indexes 0 .. sagas-1).
 */
export const LATENCY_FIRST_INDEX = 10_000_000;

export interface LatencyOptions {
  bench: BenchKafka;
  eventsTopic: string;
  commandsTopic: string;
  /** config, seed and happyRatio drive the plans; its `sagas` and `window` are not used. */
  workload: WorkloadOptions;
  /** Sagas to run. */
  sagas: number;
  /** New sagas started per second (open loop). */
  ratePerSecond: number;
  /** From the first saga's start; sagas not complete by then count as missing commands. */
  timeoutMs: number;
  /**
   * Samples of events sent within this long after the first saga started are left out of
   * the figures (JIT and caches warming up); default 0, every sample counts.
   */
  warmupMs?: number;
  /** Index of the first planned saga (default LATENCY_FIRST_INDEX). */
  firstIndex?: number;
  progress?: (line: string) => void;
  /** Ends the measurement early (e.g. the system under test exited); the promise rejects. */
  signal?: AbortSignal;
}

export interface LatencyResult {
  sagas: number;
  completedSagas: number;
  /** Events sent (each saga step that was started). */
  events: number;
  /** One per event that causes at least one command and whose commands were all seen
   * (after the warm-up): what the figures below are computed from. */
  samples: number;
  /** Samples left out as warm-up. */
  warmupSamples: number;
  targetSagasPerSecond: number;
  /** Events produced over the whole measurement (first start to last command or timeout). */
  achievedEventsPerSecond: number;
  durationSeconds: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Expected commands (of every saga's whole plan) never seen before the end. */
  missing: number;
  /** Commands read that no in-flight step expected (unknown saga, wrong label, duplicate). */
  unexpected: number;
}

/**
 * Nearest-rank percentile of ascending `sorted`: the smallest sample with at least p % of
 * the samples at or below it, so the figure is always a latency that was measured.
 * NaN when there are no samples.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not within [0, 100]`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

function commandLabels(state: StateSpec): string[] {
  return [...(state.outputCommand ? [state.outputCommand.label] : []), ...(state.sideEffects ?? []).map((c) => c.label)];
}

/**
 * For each event of a plan, the labels of the commands it causes: those of the state the
 * event enters (main command, then side effects), the creation event entering the initial
 * state. Computed from the machine definition the way planSaga walks it, so the answer
 * holds for any plan planSaga makes. Throws when the events are not a path of the machine.
 */
export function commandsCausedByEvents(machine: MachineDefinition, events: readonly PlannedEvent[]): string[][] {
  const states = new Map(machine.states.map((s) => [s.id, s]));
  const creation = machine.creationEvent ?? '__created__';
  const caused: string[][] = [];
  let state: StateSpec | undefined;
  for (const [i, event] of events.entries()) {
    let target: string;
    if (i === 0) {
      if (event.label !== creation) throw new Error(`event 0 is "${event.label}", not the creation event "${creation}"`);
      target = machine.initialState;
    } else {
      if (!state || state.isFinal) throw new Error(`event ${i} "${event.label}" comes after the final state "${state?.id}"`);
      const transition = (state.outgoingTransitions ?? []).find((t) => t.inputEvent === event.label);
      if (!transition) throw new Error(`event ${i} "${event.label}" is not a transition of state "${state.id}"`);
      target = transition.targetState;
    }
    state = states.get(target);
    if (!state) throw new Error(`event ${i} "${event.label}" enters unknown state "${target}"`);
    caused.push(commandLabels(state));
  }
  return caused;
}

/** What the driver must do after a command was read. */
export type SeenOutcome = 'unexpected' | 'waiting' | 'step-complete';

interface SagaSteps {
  sagaId: string;
  events: readonly PlannedEvent[];
  caused: readonly string[][];
  step: number;
  /** Labels of the current step's commands not seen yet (a multiset). */
  pending: string[];
  sentAt: number;
}

/**
 * The matching of commands to the steps that caused them, without I/O or clock (times are
 * passed in). A saga has at most one event in flight, so a command for it belongs to that
 * event's step or is unexpected; a step completes when each of its expected labels has been
 * seen once, in any order.
 */
export class StepTracker {
  /** Per completed step: when its event was sent and how long its commands took. */
  readonly samples: { sentAt: number; latencyMs: number }[] = [];
  unexpected = 0;
  completed = 0;
  private matched = 0;
  private readonly expected: number;
  private readonly sagas = new Map<string, SagaSteps>();

  constructor(plans: readonly { sagaId: string; events: readonly PlannedEvent[]; caused: readonly string[][] }[]) {
    let expected = 0;
    for (const p of plans) {
      if (p.events.length === 0 || p.events.length !== p.caused.length) throw new Error(`saga ${p.sagaId}: needs one list of caused commands per event`);
      this.sagas.set(p.sagaId, { ...p, step: 0, pending: [], sentAt: Number.NaN });
      expected += p.caused.reduce((n, c) => n + c.length, 0);
    }
    this.expected = expected;
  }

  /** The event the saga must send next, and whether any command answers it; undefined once complete. */
  next(sagaId: string): { event: PlannedEvent; causesCommands: boolean } | undefined {
    const saga = this.sagas.get(sagaId);
    const event = saga?.events[saga.step];
    if (!saga || !event) return undefined;
    return { event, causesCommands: (saga.caused[saga.step] ?? []).length > 0 };
  }

  /** The current step's event is handed to the producer at `at`: its clock starts. */
  sent(sagaId: string, at: number): void {
    const saga = this.sagas.get(sagaId);
    if (!saga || saga.step >= saga.events.length) throw new Error(`saga ${sagaId} has no step to send`);
    saga.pending = [...(saga.caused[saga.step] ?? [])];
    saga.sentAt = at;
  }

  /** A command read at `at`. On step-complete the latency is recorded and the saga moved on. */
  seen(sagaId: string, label: string, at: number): SeenOutcome {
    const saga = this.sagas.get(sagaId);
    const index = saga ? saga.pending.indexOf(label) : -1;
    if (!saga || index < 0) {
      this.unexpected++;
      return 'unexpected';
    }
    saga.pending.splice(index, 1);
    this.matched++;
    if (saga.pending.length > 0) return 'waiting';
    this.samples.push({ sentAt: saga.sentAt, latencyMs: at - saga.sentAt });
    this.advance(saga);
    return 'step-complete';
  }

  /** The broker acknowledged a step that causes no command: the saga moves on, no sample. */
  acknowledged(sagaId: string): void {
    const saga = this.sagas.get(sagaId);
    if (!saga || (saga.caused[saga.step] ?? []).length > 0) throw new Error(`saga ${sagaId}: its step waits for commands, not an acknowledgement`);
    this.advance(saga);
  }

  get allComplete(): boolean {
    return this.completed === this.sagas.size;
  }

  /** Expected commands not seen (so far). */
  get missing(): number {
    return this.expected - this.matched;
  }

  private advance(saga: SagaSteps): void {
    saga.step++;
    saga.pending = [];
    if (saga.step === saga.events.length) this.completed++;
  }
}

export interface LatencyStats {
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  return {
    minMs: round(sorted[0] ?? Number.NaN),
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
    meanMs: round(sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

/**
 * Drives `opts.sagas` planned sagas through the running system and measures each
 * transition. The system must already consume `eventsTopic` (fresh, so only these sagas'
 * commands appear on `commandsTopic`).
 */
export async function measureLatency(opts: LatencyOptions): Promise<LatencyResult> {
  if (!(opts.sagas > 0 && opts.ratePerSecond > 0)) throw new RangeError('sagas and ratePerSecond must be positive');
  if (!((opts.warmupMs ?? 0) >= 0)) throw new RangeError('warmupMs must be 0 or more');
  const first = opts.firstIndex ?? LATENCY_FIRST_INDEX;
  const plans = Array.from({ length: opts.sagas }, (_, i) => {
    const plan = planSaga(opts.workload, first + i);
    return { sagaId: plan.sagaId, events: plan.events, caused: commandsCausedByEvents(opts.workload.config.machineDefinition, plan.events) };
  });
  const tracker = new StepTracker(plans);
  const { kafka, admin } = opts.bench;
  const groupId = `${opts.commandsTopic}-latency-${process.pid}-${Date.now()}`;
  // A short maxWait: a fetch with nothing to return parks at the broker that long, and a
  // command committed meanwhile is only seen when the next fetch answers.
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 50 });
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  // Events of different sagas sent concurrently share one request rather than queueing one
  // round trip each behind the idempotent producer's per-broker lock; that queueing would
  // be counted as latency.
  const sender = new BatchingSender(producer);
  let events = 0;
  let failure: unknown;
  // Once finished nothing more is produced, and sends cut short by the disconnect are not failures.
  let stopped = false;
  let resolveFinished: () => void = () => undefined;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  const finish = (): void => {
    stopped = true;
    resolveFinished();
  };
  const fail = (err: unknown): void => {
    if (stopped) return;
    failure = err;
    finish();
  };

  const produceStep = (sagaId: string): void => {
    if (stopped) return;
    const step = tracker.next(sagaId);
    if (!step) {
      if (tracker.allComplete) finish();
      return;
    }
    const value = JSON.stringify({ messageLabel: step.event.label, messagePayload: step.event.payload });
    tracker.sent(sagaId, performance.now());
    events++;
    // Key = sagaId, default partitioner (murmur2, as Java's): the partition workload.ts predicts.
    sender.send(opts.eventsTopic, { key: sagaId, value }).then(() => {
      if (step.causesCommands) return;
      tracker.acknowledged(sagaId);
      produceStep(sagaId);
    }, fail);
  };

  let startTimer: NodeJS.Timeout | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const onAbort = (): void => fail(opts.signal?.reason ?? new Error('aborted'));
  let began = Number.NaN;
  let ended: number;
  try {
    await Promise.all([consumer.connect(), producer.connect()]);
    const joined = new Promise<void>((resolveJoin) => {
      // The first fetch after the join: the consumer holds its partitions and positions, so
      // no command waits for a rebalance or an offset lookup.
      const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
        offJoin();
        const offFetch = consumer.on(consumer.events.FETCH, () => {
          offFetch();
          resolveJoin();
        });
      });
    });
    await consumer.subscribe({ topics: [opts.commandsTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (stopped) return;
        // All records of a fetch became visible together: one arrival time for the batch.
        const at = performance.now();
        for (const m of batch.messages) {
          const sagaId = m.key?.toString('utf8') ?? '';
          if (tracker.seen(sagaId, labelOf(m.value), at) === 'step-complete') produceStep(sagaId);
        }
      },
    });
    await withTimeout(joined, 60_000, `the latency consumer did not join group ${groupId}`);

    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    began = performance.now();
    deadline = setTimeout(finish, opts.timeoutMs);
    // Open loop: saga i starts at began + i / rate, whatever the earlier sagas are doing.
    let started = 0;
    const startDue = (): void => {
      const due = Math.min(opts.sagas, Math.floor(((performance.now() - began) * opts.ratePerSecond) / 1000) + 1);
      while (started < due && !stopped) {
        const plan = plans[started++];
        if (plan) produceStep(plan.sagaId);
      }
      if (started < opts.sagas && !stopped) startTimer = setTimeout(startDue, Math.max(0, began + (started * 1000) / opts.ratePerSecond - performance.now()));
    };
    startDue();
    if (opts.progress) {
      const report = opts.progress;
      let last = { at: began, samples: 0 };
      progressTimer = setInterval(() => {
        const now = performance.now();
        const recent = tracker.samples.slice(last.samples).map((x) => x.latencyMs);
        const p50 = percentile(recent.sort((a, b) => a - b), 50);
        report(
          `${((now - began) / 1000).toFixed(0)} s: started ${started}/${opts.sagas} sagas, completed ${tracker.completed}, ` +
            `${events} events, ${tracker.samples.length} samples, last ${((now - last.at) / 1000).toFixed(1)} s p50 ${Number.isNaN(p50) ? '-' : p50.toFixed(1)} ms`,
        );
        last = { at: now, samples: tracker.samples.length };
      }, 2000);
    }
    await finished;
    ended = performance.now();
  } finally {
    clearTimeout(startTimer);
    clearTimeout(deadline);
    clearInterval(progressTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await deleteGroups(admin, [groupId]);
  }
  if (failure !== undefined) throw failure;
  const durationSeconds = (ended - began) / 1000;
  const measuredFrom = began + (opts.warmupMs ?? 0);
  const measured = tracker.samples.filter((x) => x.sentAt >= measuredFrom).map((x) => x.latencyMs);
  return {
    sagas: opts.sagas,
    completedSagas: tracker.completed,
    events,
    samples: measured.length,
    warmupSamples: tracker.samples.length - measured.length,
    targetSagasPerSecond: opts.ratePerSecond,
    achievedEventsPerSecond: Math.round((events / durationSeconds) * 10) / 10,
    durationSeconds: Math.round(durationSeconds * 1000) / 1000,
    ...latencyStats(measured),
    missing: tracker.missing,
    unexpected: tracker.unexpected,
  };
}

/** The record's messageLabel; '' (which no step expects) when it has none. */
function labelOf(value: Buffer | null): string {
  try {
    const label = (JSON.parse(value?.toString('utf8') ?? 'null') as { messageLabel?: unknown } | null)?.messageLabel;
    return typeof label === 'string' ? label : '';
  } catch {
    return '';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Kafka Streams does not leave its group on close (internal.leave.group.on.close=false), so
 * the group keeps the stopped member until its session times out (45 s) and refuses to be
 * deleted meanwhile (NON_EMPTY_GROUP): wait for it to empty, within `waitMs`.
 */
async function deleteGroupOnceEmpty(bench: BenchKafka, groupId: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const [group] = (await bench.admin.describeGroups([groupId])).groups;
    if (!group || group.state === 'Dead') return;
    if (group.state === 'Empty' || Date.now() > deadline) {
      await deleteGroups(bench.admin, [groupId]);
      return;
    }
    if (!told) console.log(`waiting for group ${groupId} to empty (the stopped member's session to time out) to delete it`);
    told = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const LATENCY_SYSTEMS = ['sagaflow', 'kafka-streams'] as const;
export type LatencySystem = (typeof LATENCY_SYSTEMS)[number];

async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      system: { type: 'string' },
      sagas: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '50' },
      flow: { type: 'string', default: 'reservation' },
      seed: { type: 'string', default: String(DEFAULT_WORKLOAD.seed) },
      'happy-ratio': { type: 'string', default: String(DEFAULT_WORKLOAD.happyRatio) },
      partitions: { type: 'string', default: String(DEFAULT_WORKLOAD.partitions) },
      timeout: { type: 'string' },
      warmup: { type: 'string', default: '0' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    },
  });
  const system = LATENCY_SYSTEMS.find((s) => s === values.system);
  if (!system) {
    // The pass-through copies events, it causes no commands to match.
    console.error(`--system must be one of ${LATENCY_SYSTEMS.join(', ')}`);
    return 2;
  }
  const sagas = Number(values.sagas);
  const rate = Number(values.rate);
  const flowPath = resolve(repoRoot, FLOWS[values.flow] ?? values.flow);
  const workload: WorkloadOptions = {
    ...DEFAULT_WORKLOAD,
    config: loadSagaConfig(flowPath),
    sagas,
    seed: Number(values.seed),
    partitions: Number(values.partitions),
    happyRatio: Number(values['happy-ratio']),
  };
  const bench = await connect(values.brokers);
  try {
    const result = await runLatency(system, {
      bench,
      brokers: values.brokers,
      flowPath,
      workload,
      sagas,
      ratePerSecond: rate,
      warmupMs: Number(values.warmup) * 1000,
      ...(values.timeout === undefined ? {} : { timeoutMs: Number(values.timeout) * 1000 }),
      progress: (line) => console.log(line),
    });
    console.log(JSON.stringify({ flow: values.flow, ...result }, null, 2));
    return result.missing === 0 && result.unexpected === 0 ? 0 : 1;
  } finally {
    await bench.close();
  }
}

export interface LatencyRunOptions {
  bench: BenchKafka;
  brokers: string;
  flowPath: string;
  workload: WorkloadOptions;
  sagas: number;
  ratePerSecond: number;
  warmupMs: number;
  /** Default: the time to start every saga plus a minute. */
  timeoutMs?: number;
  progress: (line: string) => void;
}

/**
 * One latency run of a system on fresh topics: start it, wait until ready, measure, stop it
 * and clean up (the system's log folder stays when the run failed or saw a wrong command).
 */
export async function runLatency(system: LatencySystem, opts: LatencyRunOptions): Promise<LatencyResult & { system: LatencySystem; startupSeconds: number }> {
  const { bench, workload, sagas, ratePerSecond: rate } = opts;
  const timeoutMs = opts.timeoutMs ?? (sagas / rate + 60) * 1000;
  // Loaded here, not at the top: the unit tests import this file for its pure parts only.
  const { startSystem } = await import('./systems.ts');
  const stamp = runStamp();
  const runId = `bench-latency-${stamp}-${system}`;
  const eventsTopic = `${runId}-events`;
  const commandsTopic = `${runId}-commands`;
  const workDir = join(repoRoot, '.sagaflow', 'bench', runId);
  mkdirSync(workDir, { recursive: true });
  let ownTopics: string[] = [];
  let groupId: string | undefined;
  let ok = false;
  try {
    await createTopics(bench.admin, [eventsTopic, commandsTopic], workload.partitions);
    const started = await startSystem(system, {
      brokers: opts.brokers,
      runId,
      eventsTopic,
      commandsTopic,
      flowPath: opts.flowPath,
      config: workload.config,
      summary: emptySummary(workload.partitions),
      workDir,
      threads: 1,
      instances: 1,
      nodeArgs: [],
    });
    ownTopics = started.ownTopics;
    groupId = started.groupId;
    const [child] = started.children;
    try {
      if (!child) throw new Error(`${system}: no process started`);
      const readyAt = await withTimeout(child.ready, 300_000, `${system} was not ready; see ${started.logFile}`);
      const startupSeconds = (readyAt - child.startedAt) / 1000;
      opts.progress(`[${system}] ready in ${startupSeconds.toFixed(1)} s; ${sagas} sagas at ${rate}/s`);
      const aborter = new AbortController();
      const watch = setInterval(() => {
        if (child.exited()) aborter.abort(new Error(`${system} exited with code ${child.exitCode()}; see ${started.logFile}`));
      }, 500);
      try {
        const result = await measureLatency({
          bench,
          eventsTopic,
          commandsTopic,
          workload,
          sagas,
          ratePerSecond: rate,
          timeoutMs,
          warmupMs: opts.warmupMs,
          progress: (line) => opts.progress(`[${system}] ${line}`),
          signal: aborter.signal,
        });
        ok = result.missing === 0 && result.unexpected === 0;
        return { system, startupSeconds, ...result };
      } finally {
        clearInterval(watch);
      }
    } finally {
      await Promise.all(started.children.map((c) => c.stop()));
    }
  } finally {
    await deleteTopics(bench.admin, [eventsTopic, commandsTopic, ...ownTopics]);
    if (groupId) await deleteGroupOnceEmpty(bench, groupId, 60_000);
    if (ok) rmSync(workDir, { recursive: true, force: true });
    else console.error(`logs kept in ${workDir}`);
  }
}

// Everything is reported by now: exit even if a kafkajs socket or timer of a cleaned-up client
// is still pending (seen now and then after a run, holding the process for minutes).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
