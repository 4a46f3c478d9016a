/**
 * Deterministic saga workload for the processing-throughput benchmark.
 *
 * Events depend on state, so to measure processing alone (as Kafka Streams' own benchmarks
 * do) the whole event sequence of each saga is decided up front from the seed: creation,
 * then one answer event per non-final state, until a final state. Everything is keyed by
 * sagaId so per-saga order holds in the partition. Sagas are laid out in windows: all
 * creations of a window, then every saga's first answer, then the second, ... so the
 * processors see many live sagas at once and look up different keys back to back.
 *
 * Run directly to print a summary, or to produce the workload into a topic:
 *   node benchmarks/workload.ts --flow benchmarks/flows/reservation.saga.json --sagas 20000 [--produce <topic>]
 */
import { partitionForKey } from '../src/broker/murmur2.ts';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { SagaConfig, StateSpec } from '../src/definition/types.ts';

export interface WorkloadOptions {
  /** The saga.json (Flow Manager format) whose machineDefinition drives the sagas. */
  config: SagaConfig;
  sagas: number;
  seed: number;
  partitions: number;
  /** Probability of taking a state's first declared transition (the "happy path"). */
  happyRatio: number;
  /** Sagas interleaved per window (see the file comment). */
  window: number;
  /**
   * Only each saga's creation event: every saga stays live in its initial state (the
   * memory benchmark's "N live sagas").
   */
  liveOnly?: boolean;
}

export interface PlannedEvent {
  label: string;
  payload: unknown;
}

export interface SagaPlan {
  sagaId: string;
  partition: number;
  /** Creation first, then the answers in order. */
  events: PlannedEvent[];
  finalState: string;
  /** Labels of every command the orchestrator must emit (main commands and side effects). */
  commands: string[];
}

export interface WorkloadMessage {
  key: string;
  value: string;
  partition: number;
  /** The record's timestamp (ms since the epoch, as kafkajs takes it); default: when it is sent. */
  timestamp?: string;
}

/** What the processors must end up doing, computed while the messages are generated. */
export interface WorkloadSummary {
  sagas: number;
  events: number;
  /** Records per partition, in produce order: equals each partition's end offset on a fresh topic. */
  eventsPerPartition: number[];
  commands: number;
  commandsByLabel: Record<string, number>;
  finalStates: Record<string, number>;
  /** Per partition, ascending offsets of each saga's last event: a saga is complete once its
   * partition's committed offset passes it. */
  finalOffsets: number[][];
  averageEventBytes: number;
}

/** The flows under benchmarks/flows, by the name the scripts' --flow takes. */
export const FLOWS: Readonly<Record<string, string>> = {
  reservation: 'benchmarks/flows/reservation.saga.json',
  'order-fulfillment': 'benchmarks/flows/order-fulfillment.saga.json',
};

export const DEFAULT_WORKLOAD = Object.freeze({ seed: 42, partitions: 12, happyRatio: 0.9, window: 1000 });

/** The partition the Java (and kafkajs default) partitioner gives a key. */
export function partitionFor(key: string, partitions: number): number {
  return partitionForKey(key, partitions);
}

/** splitmix32: small, fast, and identical on every platform. */
function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

const SKUS = ['sku-apple', 'sku-pear', 'sku-plum', 'sku-fig', 'sku-kiwi', 'sku-lime', 'sku-date', 'sku-yuzu'];

function hex(next: () => number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += Math.floor(next() * 16).toString(16);
  return out;
}

function commandLabels(state: StateSpec): string[] {
  const labels: string[] = [];
  if (state.outputCommand) labels.push(state.outputCommand.label);
  for (const c of state.sideEffects ?? []) labels.push(c.label);
  return labels;
}

/** Plans saga number `index`; depends only on (seed, index), so windows can be regenerated. */
export function planSaga(opts: WorkloadOptions, index: number): SagaPlan {
  const md = opts.config.machineDefinition;
  const states = new Map(md.states.map((s) => [s.id, s]));
  const next = rng(Math.imul(opts.seed ^ 0x5bf03635, 0x9e3779b1) ^ Math.imul(index + 1, 0x27d4eb2d));
  const sagaId = `bench-${opts.seed}-${index.toString().padStart(8, '0')}-${hex(next, 6)}`;
  const items = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
    sku: SKUS[Math.floor(next() * SKUS.length)] ?? 'sku-none',
    quantity: 1 + Math.floor(next() * 5),
  }));
  const events: PlannedEvent[] = [
    {
      label: md.creationEvent ?? '__created__',
      payload: {
        associatedEntityId: `entity-${index}`,
        metadata: {
          requestId: index,
          customerId: `customer-${hex(next, 8)}`,
          amount: Math.round(next() * 100_000) / 100,
          currency: 'EUR',
          items,
        },
      },
    },
  ];
  let state = states.get(md.initialState);
  if (!state) throw new Error(`initialState "${md.initialState}" is not a state`);
  const commands = commandLabels(state);
  // Flows in benchmarks/flows are acyclic; the bound only guards against a cyclic saga.json.
  for (let step = 1; !state.isFinal && step <= 100; step++) {
    const transitions = state.outgoingTransitions ?? [];
    if (transitions.length === 0) break;
    const pick =
      transitions.length === 1 || next() < opts.happyRatio ? 0 : 1 + Math.floor(next() * (transitions.length - 1));
    const t = transitions[pick];
    if (!t) break;
    events.push({ label: t.inputEvent, payload: { step, lastEvent: t.inputEvent, [`${t.inputEvent}Ref`]: hex(next, 8) } });
    const target = states.get(t.targetState);
    if (!target) throw new Error(`state "${state.id}" targets unknown state "${t.targetState}"`);
    state = target;
    commands.push(...commandLabels(state));
  }
  const plan = { sagaId, partition: partitionFor(sagaId, opts.partitions), events, finalState: state.id, commands };
  if (!opts.liveOnly) return plan;
  const initial = states.get(md.initialState);
  return { ...plan, events: events.slice(0, 1), finalState: md.initialState, commands: initial ? commandLabels(initial) : [] };
}

/**
 * Generates the workload's messages in produce order and fills `summary` as it goes
 * (the summary is complete once the generator is exhausted).
 */
export function* generateWorkload(opts: WorkloadOptions, summary: WorkloadSummary): Generator<WorkloadMessage> {
  let bytes = 0;
  for (let start = 0; start < opts.sagas; start += opts.window) {
    const plans: SagaPlan[] = [];
    for (let i = start; i < Math.min(opts.sagas, start + opts.window); i++) plans.push(planSaga(opts, i));
    const longest = Math.max(...plans.map((p) => p.events.length));
    for (let step = 0; step < longest; step++) {
      for (const plan of plans) {
        const event = plan.events[step];
        if (!event) continue;
        const value = JSON.stringify({ messageLabel: event.label, messagePayload: event.payload });
        const offset = summary.eventsPerPartition[plan.partition] ?? 0;
        summary.eventsPerPartition[plan.partition] = offset + 1;
        summary.events++;
        bytes += value.length + plan.sagaId.length;
        if (step === plan.events.length - 1) {
          summary.finalOffsets[plan.partition]?.push(offset);
          summary.finalStates[plan.finalState] = (summary.finalStates[plan.finalState] ?? 0) + 1;
          for (const label of plan.commands) summary.commandsByLabel[label] = (summary.commandsByLabel[label] ?? 0) + 1;
          summary.commands += plan.commands.length;
          summary.sagas++;
        }
        yield { key: plan.sagaId, value, partition: plan.partition };
      }
    }
    summary.averageEventBytes = summary.events === 0 ? 0 : Math.round(bytes / summary.events);
  }
}

export function emptySummary(partitions: number): WorkloadSummary {
  return {
    sagas: 0,
    events: 0,
    eventsPerPartition: new Array<number>(partitions).fill(0),
    commands: 0,
    commandsByLabel: {},
    finalStates: {},
    finalOffsets: Array.from({ length: partitions }, () => []),
    averageEventBytes: 0,
  };
}

/** Sagas whose last event lies below the committed offsets (one per partition). */
export function sagasCompleted(summary: WorkloadSummary, committed: readonly number[]): number {
  let done = 0;
  summary.finalOffsets.forEach((offsets, p) => {
    const c = committed[p] ?? 0;
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((offsets[mid] ?? Infinity) < c) lo = mid + 1;
      else hi = mid;
    }
    done += lo;
  });
  return done;
}

export function loadSagaConfig(path: string): SagaConfig {
  return JSON.parse(readFileSync(path, 'utf8')) as SagaConfig;
}

async function main(argv: string[]): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    args: argv,
    options: {
      flow: { type: 'string', default: 'benchmarks/flows/reservation.saga.json' },
      sagas: { type: 'string', default: '20000' },
      seed: { type: 'string', default: String(DEFAULT_WORKLOAD.seed) },
      partitions: { type: 'string', default: String(DEFAULT_WORKLOAD.partitions) },
      'happy-ratio': { type: 'string', default: String(DEFAULT_WORKLOAD.happyRatio) },
      window: { type: 'string', default: String(DEFAULT_WORKLOAD.window) },
      produce: { type: 'string' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    },
  });
  const opts: WorkloadOptions = {
    config: loadSagaConfig(values.flow),
    sagas: Number(values.sagas),
    seed: Number(values.seed),
    partitions: Number(values.partitions),
    happyRatio: Number(values['happy-ratio']),
    window: Number(values.window),
  };
  const summary = emptySummary(opts.partitions);
  if (values.produce) {
    const { connect, produceAll } = await import('./kafka.ts');
    const kafka = await connect(values.brokers);
    try {
      await produceAll(kafka, values.produce, generateWorkload(opts, summary), (n) => process.stdout.write(`\rproduced ${n}`));
      process.stdout.write('\n');
    } finally {
      await kafka.close();
    }
  } else {
    for (const _ of generateWorkload(opts, summary));
  }
  const { finalOffsets: _offsets, ...printable } = summary;
  console.log(JSON.stringify(printable, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
