import diagnosticsChannel from 'node:diagnostics_channel';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outcome } from '../saga/types.ts';

/** Published by a partition task for every event it applied to a saga (or tried to). */
export interface TransitionMessage {
  /** The processor's metrics: observers of one processor ignore the others of the process. */
  scope: Metrics;
  partition: number;
  label: string;
  outcome: Outcome;
  /** The saga's state after the event (undefined when there is no saga). */
  state: string | undefined;
  /** Decode, store read and transition (hooks included), in milliseconds. */
  durationMs: number;
}

/** Published by a commit group after each committed transaction. */
export interface CommitMessage {
  scope: Metrics | undefined;
  /** From begin to the commit's acknowledgement, in milliseconds. */
  durationMs: number;
  /** Input records whose positions the transaction committed. */
  inputs: number;
  /** Records the transaction wrote (commands, changelog, dead letters). */
  records: number;
}

/**
 * Engine events for observers (metrics here, the console's live feed): the engine publishes,
 * it does not know who listens (node:diagnostics_channel costs nothing without subscribers).
 */
export const engineChannels = {
  transition: diagnosticsChannel.channel('sagaflow:engine:transition'),
  commit: diagnosticsChannel.channel('sagaflow:engine:commit'),
};

const TRANSITION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const COMMIT_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** A counter that also keeps its value as a plain number, for `metrics.x += 1` and direct reads. */
class Tally {
  private value = 0;
  private readonly counter: Counter;

  constructor(counter: Counter) {
    this.counter = counter;
  }

  get(): number {
    return this.value;
  }

  /** Counters only grow: an assignment below the current value is ignored. */
  set(next: number): void {
    if (next > this.value) this.counter.inc(next - this.value);
    this.value = Math.max(this.value, next);
  }
}

/**
 * The processor's metrics on prom-client, exposed at /-/metrics in the Prometheus text
 * format: sagaflow's own names and Flow Manager's `flow_manager_saga_states_total`, so
 * dashboards built on Flow Manager keep working. Each processor has its own registry (tests
 * run several in one process). Labels are state ids, event labels and outcome/dead-letter
 * codes taken from the machine definition, never configuration values that may be secret.
 *
 * The engine counts through the fields (`metrics.eventsProcessed += 1`, `count(code)`);
 * latencies and batch sizes come from `engineChannels`.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly tallies: Record<'events' | 'transactions' | 'commands' | 'deadLetters' | 'restored' | 'recoveries' | 'timersScheduled' | 'timersFired' | 'timersStale', Tally>;
  private readonly byKind: Counter<'kind'>;
  private readonly byCodeMirror = new Map<string, number>();
  private readonly sagaStates: Counter<'state' | 'incoming_message_label'>;
  private readonly transitionSeconds: Histogram<'outcome'>;
  private readonly commitSeconds: Histogram;
  private readonly batchInputs: Histogram;
  private readonly batchRecords: Histogram;
  private readonly timerLagSeconds: Histogram;
  private readonly restoreSeconds: Histogram<'from'>;

  /** Whether /-/metrics also shows the process's (CPU, memory, event loop, GC), as lc39 services do. */
  private readonly processMetrics: boolean;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const counter = (name: string, help: string) => new Tally(new Counter({ name, help, registers }));
    this.tallies = {
      events: counter('sagaflow_events_processed_total', 'Event records read from the events topic and processed'),
      transactions: counter('sagaflow_transactions_committed_total', 'Units of work committed (one per partition per transaction)'),
      commands: counter('sagaflow_commands_sent_total', 'Commands written to command topics in committed transactions'),
      deadLetters: counter('sagaflow_dead_lettered_total', 'Records written to the dead-letter topic in committed transactions'),
      restored: counter('sagaflow_restored_records_total', 'Changelog records read to restore partition stores'),
      recoveries: counter('sagaflow_task_recoveries_total', 'Partition tasks that dropped their work and re-ran the gain protocol'),
      timersScheduled: counter('sagaflow_timers_scheduled_total', 'Timers saga documents gained: a state with a timeout entered, a command retry scheduled, a deadline set'),
      timersFired: counter('sagaflow_timers_fired_total', 'Due timers applied to their saga (a timeout or deadline event delivered, a command sent again)'),
      timersStale: counter('sagaflow_timers_stale_total', 'Due timers the saga no longer waited on (it had moved on), and stale entries of the due-time index'),
    };
    this.byKind = new Counter({ name: 'sagaflow_events_total', help: 'Processing results by kind: outcome:<outcome> or a dead-letter code', labelNames: ['kind'], registers });
    this.sagaStates = new Counter({
      name: 'flow_manager_saga_states_total',
      help: 'Times sagas entered a machine state (Flow Manager compatible), by state and the event that led there',
      labelNames: ['state', 'incoming_message_label'],
      registers,
    });
    this.transitionSeconds = new Histogram({
      name: 'sagaflow_transition_duration_seconds',
      help: 'Time to apply one event: decode, store read, transition with its hooks',
      labelNames: ['outcome'],
      buckets: TRANSITION_BUCKETS_S,
      registers,
    });
    this.commitSeconds = new Histogram({ name: 'sagaflow_commit_duration_seconds', help: 'Time from a transaction\'s begin to its committed acknowledgement', buckets: COMMIT_BUCKETS_S, registers });
    this.batchInputs = new Histogram({ name: 'sagaflow_commit_batch_inputs', help: 'Input records committed per transaction (the batch a commit amortizes)', buckets: BATCH_BUCKETS, registers });
    this.batchRecords = new Histogram({ name: 'sagaflow_commit_batch_records', help: 'Records written per transaction', buckets: BATCH_BUCKETS, registers });
    this.timerLagSeconds = new Histogram({
      name: 'sagaflow_timer_firing_lag_seconds',
      help: 'From a timer\'s due time to its firing by the owning instance',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.restoreSeconds = new Histogram({
      name: 'sagaflow_restore_duration_seconds',
      help: 'Restores of a partition store from the changelog, from the start of the replay to ready; from="marker": the store resumed after its marker, from="start": it was empty or wiped and replayed everything',
      labelNames: ['from'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.processMetrics = opts.processMetrics ?? true;
  }

  get eventsProcessed(): number {
    return this.tallies.events.get();
  }
  set eventsProcessed(n: number) {
    this.tallies.events.set(n);
  }
  get transactions(): number {
    return this.tallies.transactions.get();
  }
  set transactions(n: number) {
    this.tallies.transactions.set(n);
  }
  get commandsSent(): number {
    return this.tallies.commands.get();
  }
  set commandsSent(n: number) {
    this.tallies.commands.set(n);
  }
  get deadLettered(): number {
    return this.tallies.deadLetters.get();
  }
  set deadLettered(n: number) {
    this.tallies.deadLetters.set(n);
  }
  get restoredRecords(): number {
    return this.tallies.restored.get();
  }
  set restoredRecords(n: number) {
    this.tallies.restored.set(n);
  }
  get recoveries(): number {
    return this.tallies.recoveries.get();
  }
  set recoveries(n: number) {
    this.tallies.recoveries.set(n);
  }

  get timersScheduled(): number {
    return this.tallies.timersScheduled.get();
  }
  set timersScheduled(n: number) {
    this.tallies.timersScheduled.set(n);
  }
  get timersFired(): number {
    return this.tallies.timersFired.get();
  }
  set timersFired(n: number) {
    this.tallies.timersFired.set(n);
  }
  get timersStale(): number {
    return this.tallies.timersStale.get();
  }
  set timersStale(n: number) {
    this.tallies.timersStale.set(n);
  }

  /** A timer fired `lagMs` after it came due. */
  /** One partition restore: its count (`_count`) tells how often partitions came back, its sum how long they waited. */
  observeRestore(durationMs: number, from: 'marker' | 'start'): void {
    this.restoreSeconds.observe({ from }, Math.max(0, durationMs) / 1000);
  }

  observeTimerLag(lagMs: number): void {
    this.timerLagSeconds.observe(Math.max(0, lagMs) / 1000);
  }

  /** Results by kind (`outcome:<outcome>` or a dead-letter code). */
  get byCode(): ReadonlyMap<string, number> {
    return this.byCodeMirror;
  }

  count(code: string): void {
    this.byCodeMirror.set(code, (this.byCodeMirror.get(code) ?? 0) + 1);
    this.byKind.inc({ kind: code });
  }

  /** @internal Called by the module's channel subscriber. */
  observeTransition(m: TransitionMessage): void {
    this.transitionSeconds.observe({ outcome: m.outcome }, m.durationMs / 1000);
    // Flow Manager counts a saga passing through a state: creations and applied events.
    if ((m.outcome === 'applied' || m.outcome === 'created') && m.state !== undefined) {
      this.sagaStates.inc({ state: m.state, incoming_message_label: m.label });
    }
  }

  /** @internal Called by the module's channel subscriber. */
  observeCommit(m: CommitMessage): void {
    this.commitSeconds.observe(m.durationMs / 1000);
    this.batchInputs.observe(m.inputs);
    this.batchRecords.observe(m.records);
  }

  /**
   * The registry in the Prometheus text format; `extra` adds plain samples of other parts
   * (readiness, the projection), one line each, as they are now.
   */
  async toPrometheus(extra: Record<string, number> = {}): Promise<string> {
    const own = await this.registry.metrics();
    const text = this.processMetrics ? `${own}\n${await processRegistry().metrics()}` : own;
    const lines = Object.entries(extra).map(([name, value]) => `${name} ${value}`);
    return lines.length === 0 ? text : `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${lines.join('\n')}\n`;
  }
}

let processWide: Registry | undefined;

/** The process's default metrics, one registry for every processor of the process. */
function processRegistry(): Registry {
  if (!processWide) {
    processWide = new Registry();
    collectDefaultMetrics({ register: processWide });
  }
  return processWide;
}

// One subscriber per channel for the whole process; a message names the processor's Metrics
// it belongs to, so nothing is held per processor (a stopped one is simply not published to).
engineChannels.transition.subscribe((message) => (message as TransitionMessage).scope.observeTransition(message as TransitionMessage));
engineChannels.commit.subscribe((message) => (message as CommitMessage).scope?.observeCommit(message as CommitMessage));
