/**
 * Where sagaflow's main thread spends its time: runs `sagaflow start` under Node's CPU
 * profiler over a pre-produced backlog (run.ts's runSystem) and sums the profile by category,
 * by pipeline stage and by function. Records benchmarks/results/<date>-profile.{json,md}.
 *
 *   node benchmarks/profile.ts [--sagas 20000] [--flow reservation] [--keep-profile]
 *     [--interval 500] [--seed 42] [--partitions 12] [--brokers 127.0.0.1:9092] [--timeout 600] [--keep]
 *
 * The profile is written by the sagaflow process when it exits (runSystem stops it with
 * SIGTERM and sagaflow shuts down cleanly). `--keep-profile` keeps the .cpuprofile (open it in
 * Chrome DevTools or speedscope): next to the results when it is under 2 MiB, otherwise under
 * .sagaflow/bench/profiles/ (git-ignored); without it the file is deleted after the analysis.
 *
 * Only the processing window counts: from the first processing sample (kafkajs decoding the
 * fetched backlog, or the batch handler; a partition is fetched and processed as soon as it is
 * restored, which can be before the runner sees the instance ready) to "everything committed"
 * as run.ts measures it, mapped onto the profile's clock (both CLOCK_MONOTONIC on Linux).
 * Start-up, restore and shutdown are left out; idle samples are reported but not counted as
 * busy time.
 *
 * The CPU profiler samples the main JavaScript thread only, on a wall-clock timer: RocksDB
 * reads and writes run on libuv's thread pool and GC partly on helper threads, and a sample
 * taken while the thread waits for a core counts as busy where it stands. The report compares
 * the busy samples with the process's CPU time (/proc) in the runner's window.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connectOrExplain, runStamp, silenceKafkajsTimeoutWarnings } from './kafka.ts';
import { repoRoot } from './perf-tools.ts';
import { runSystem, type SystemResult } from './run.ts';
import { DEFAULT_WORKLOAD, emptySummary, generateWorkload, loadSagaConfig, type WorkloadOptions } from './workload.ts';

// ---------------------------------------------------------------------------------------
// The .cpuprofile format (Chrome DevTools protocol, Profiler.Profile)
// ---------------------------------------------------------------------------------------

export interface CallFrame {
  functionName: string;
  /** file:// URL, node:internal/..., or '' for V8 builtins and the pseudo frames. */
  url: string;
  /** 0-based. */
  lineNumber: number;
  columnNumber?: number;
  scriptId?: string;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  hitCount?: number;
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds, on the profiled process's monotonic clock. */
  startTime: number;
  endTime: number;
  /** Node id of each sample (the leaf of the stack at that moment). */
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

export const CATEGORIES = [
  'decode',
  'transition',
  'store',
  'kafka-produce',
  'kafka-fetch',
  'encode',
  'protocol',
  'kafka-client',
  'loop',
  'logging',
  'gc',
  'program',
  'idle',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_LABELS: Readonly<Record<Category, string>> = {
  decode: 'decode (codec/serdes decode, JSON.parse of events)',
  transition: 'transition (src/saga)',
  store: 'store / RocksDB (src/store, rocksdb-native)',
  'kafka-produce': 'Kafka transactions & produce (kafkajs producer, txn/produce requests, BatchingSender)',
  'kafka-fetch': 'Kafka fetch/consume (kafkajs consumer, fetch requests)',
  encode: 'encode (codec/serdes encode, JSON.stringify of commands/changelog)',
  protocol: 'protocol (kafkajs encoder/decoder, record batches, crc32, varint)',
  'kafka-client': 'Kafka client plumbing (kafkajs network, broker, cluster, retry)',
  loop: 'processing loop (src/kafka/task.ts, processor.ts)',
  logging: 'logging (pino)',
  gc: 'GC (garbage collector, main thread)',
  program: '(program): native code with no JavaScript on the stack',
  idle: '(idle): waiting in the event loop',
  other: 'other (Node internals and everything unattributed)',
};

export const STAGES = [
  'batch-loop',
  'process-event',
  'decode',
  'transition',
  'encode',
  'store-read',
  'store-write',
  'store-native',
  'store-other',
  'commit',
  'kafka-produce',
  'kafka-fetch',
  'kafka-client',
  'logging',
  'gc',
  'program',
  'idle',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABELS: Readonly<Record<Stage, string>> = {
  'batch-loop': 'batch loop: eachBatch, processBatch, processMessages (own code)',
  'process-event': 'processOne, encodeCommand (own code around decode/transition/encode)',
  decode: 'decode event (codec.decodeEvent and below)',
  transition: 'transition (src/saga and below)',
  encode: 'encode changelog + commands (codec.encode* and below)',
  'store-read': 'store read (overlay/PartitionStore.getSaga, RocksDbStore.get and below)',
  'store-write': 'store write (applyCommitted, RocksDbStore.write and below)',
  'store-native': 'rocksdb-native JS and binding calls (reads and writes: resumed from microtasks, so not under getSaga/write)',
  'store-other': 'store, other (restore, open, close)',
  commit: 'PartitionTask.commit (synchronous part, kafkajs calls it makes directly)',
  'kafka-produce': 'kafkajs producer/transaction after an await (produce, AddPartitions, TxnOffsetCommit, EndTxn)',
  'kafka-fetch': 'kafkajs fetch: consumer loop, fetch responses, record batch decoding',
  'kafka-client': 'kafkajs network/broker/cluster (socket reads and writes, request queue)',
  logging: 'logging (pino)',
  gc: 'GC (main thread)',
  program: '(program)',
  idle: '(idle)',
  other: 'other (no stage frame on the stack)',
};

/** A frame's file relative to the repository ('' for builtins, node:... kept as is). */
export function framePath(url: string, root: string): string {
  let path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const prefix = root.endsWith('/') ? root : `${root}/`;
  if (path.startsWith(prefix)) path = path.slice(prefix.length);
  return path;
}

const PSEUDO: Readonly<Record<string, Category>> = { '(idle)': 'idle', '(program)': 'program', '(garbage collector)': 'gc' };
const OWN = /^(?:src|dist)\//;
const KAFKAJS = /(?:^|\/)node_modules\/kafkajs\/src\//;
const KAFKAJS_PRODUCE_REQUESTS = /\/protocol\/requests\/(?:produce|addPartitionsToTxn|addOffsetsToTxn|txnOffsetCommit|endTxn|initProducerId)\//;
const KAFKAJS_FETCH_REQUESTS = /\/protocol\/requests\/(?:fetch|listOffsets)\//;
const ROCKSDB = /(?:^|\/)node_modules\/(?:rocksdb-native|ready-resource|refcounter|require-addon|resolve-reject-promise|signal-promise|compact-encoding|streamx)\//;
const LOGGING = /(?:^|\/)node_modules\/(?:pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|on-exit-leak-free|atomic-sleep|fast-safe-stringify|safe-stable-stringify)\//;
/** Libraries our codec calls into: their time belongs to the codec function that called them. */
const CODEC_LIBRARIES = /(?:^|\/)node_modules\/(?:avsc|@kafkajs\/confluent-schema-registry)\//;
const SERDES = /^(?:src|dist)\/kafka\/(?:serdes\/|codec)/;
const ENCODING_NAME = /encode|serialize|stringify/i;
const DECODING_NAME = /decode|deserialize|parse/i;

function isEncodeFunction(name: string): boolean {
  return ENCODING_NAME.test(name) && !DECODING_NAME.test(name);
}

/**
 * The category of a frame's own code, or undefined for a frame whose time belongs to its
 * caller: V8 builtins (JSON.parse, Buffer.from's native part), Node internals and the
 * libraries the codec wraps. Such frames take the category of the nearest caller that has
 * one (JSON.parse called by the serdes is decode, by the store is store).
 */
export function frameCategory(functionName: string, path: string): Category | undefined {
  const pseudo = PSEUDO[functionName];
  if (pseudo) return pseudo;
  if (path === '' || path.startsWith('node:') || CODEC_LIBRARIES.test(path)) return undefined;
  if (OWN.test(path)) {
    const own = path.replace(OWN, '');
    if (own.startsWith('saga/')) return 'transition';
    if (own.startsWith('store/')) return 'store';
    if (SERDES.test(path)) return isEncodeFunction(functionName) ? 'encode' : 'decode';
    if (own.startsWith('kafka/batching-sender')) return 'kafka-produce';
    if (/^kafka\/(?:task|processor|assigner|restore|metrics|topics)\./.test(own)) return 'loop';
    return 'other';
  }
  if (KAFKAJS.test(path)) {
    const inner = path.replace(/^.*node_modules\/kafkajs\/src\//, '');
    if (inner.startsWith('producer/') || KAFKAJS_PRODUCE_REQUESTS.test(`/${inner}`)) return 'kafka-produce';
    if (inner.startsWith('consumer/') || KAFKAJS_FETCH_REQUESTS.test(`/${inner}`)) return 'kafka-fetch';
    if (inner.startsWith('protocol/')) return 'protocol';
    return 'kafka-client';
  }
  if (ROCKSDB.test(path)) return 'store';
  if (LOGGING.test(path)) return 'logging';
  return 'other';
}

const STAGE_PSEUDO: Readonly<Record<string, Stage>> = { '(idle)': 'idle', '(program)': 'program', '(garbage collector)': 'gc' };
const STORE_READ = /^(?:getSaga|get)$/;
const STORE_WRITE = /^(?:applyCommitted|write)$/;
const STORE_OTHER = /^(?:applyRestored|readChangelogMarker|wipe|clear|iterate|sagas|close|openRocksDbStore|openPartitionStore)$/;

/**
 * The pipeline stage a frame starts, or undefined when it starts none. A sample belongs to
 * the innermost stage on its stack, so the stages add up to the busy time: protocol
 * encoding under a produce is produce, the record batch decoder under a fetch is fetch.
 */
export function frameStage(functionName: string, path: string): Stage | undefined {
  const pseudo = STAGE_PSEUDO[functionName];
  if (pseudo) return pseudo;
  if (path === '' || path.startsWith('node:')) return undefined;
  if (OWN.test(path)) {
    const own = path.replace(OWN, '');
    if (own.startsWith('saga/')) return 'transition';
    if (SERDES.test(path)) return isEncodeFunction(functionName) ? 'encode' : 'decode';
    if (own.startsWith('store/')) {
      if (STORE_READ.test(functionName)) return 'store-read';
      if (STORE_WRITE.test(functionName)) return 'store-write';
      if (STORE_OTHER.test(functionName)) return 'store-other';
      // Helpers (encodeSaga, decodeSaga, sagaKey, ...) belong to the operation that called them.
      return undefined;
    }
    if (own.startsWith('kafka/batching-sender')) return 'kafka-produce';
    if (own.startsWith('kafka/task.')) {
      if (functionName === 'commit') return 'commit';
      if (functionName === 'processOne' || functionName === 'encodeCommand') return 'process-event';
      if (/^(?:processBatch|processMessages|include|newPending)$/.test(functionName)) return 'batch-loop';
      return undefined;
    }
    if (own.startsWith('kafka/processor.') && functionName === 'eachBatch') return 'batch-loop';
    return undefined;
  }
  if (KAFKAJS.test(path)) {
    const inner = path.replace(/^.*node_modules\/kafkajs\/src\//, '');
    if (inner.startsWith('producer/') || KAFKAJS_PRODUCE_REQUESTS.test(`/${inner}`)) return 'kafka-produce';
    if (inner.startsWith('consumer/') || KAFKAJS_FETCH_REQUESTS.test(`/${inner}`)) return 'kafka-fetch';
    if (/^(?:network|broker|cluster)\//.test(inner)) return 'kafka-client';
    return undefined;
  }
  if (ROCKSDB.test(path)) return 'store-native';
  if (LOGGING.test(path)) return 'logging';
  return undefined;
}

/**
 * Frames of processing: the batch handler, and kafkajs decoding the records of a fetch
 * response. The second matters because a resumed partition's backlog is fetched and decoded
 * before the handler first runs (on a fresh workload restore reads empty changelogs, so no
 * record is decoded before that).
 */
export function isProcessingFrame(functionName: string, path: string): boolean {
  if (/^(?:src|dist)\/kafka\/task\./.test(path)) return /^(?:processBatch|processMessages|processOne)$/.test(functionName);
  return /(?:^|\/)node_modules\/kafkajs\/src\/protocol\/(?:recordBatch\/v0\/decoder|requests\/fetch\/v\d+\/decodeMessages)\.js$/.test(path);
}

// ---------------------------------------------------------------------------------------
// Analysis
// ---------------------------------------------------------------------------------------

export interface ProfileWindow {
  /** Absolute, on the profile's clock (same unit and origin as startTime). */
  startUs: number;
  endUs: number;
}

export interface FunctionCost {
  name: string;
  /** repo-relative file:line (1-based), or '(native)' for builtins. */
  location: string;
  us: number;
  /** Of the busy (non-idle) time in the window. */
  percentOfBusy: number;
}

export interface SelfCost extends FunctionCost {
  /** Where most of the function's self time was counted (builtins take their caller's). */
  category: Category;
}

export interface Share<K extends string> {
  key: K;
  label: string;
  us: number;
  percentOfWindow: number;
  /** Null for idle, which is not busy time. */
  percentOfBusy: number | null;
  /** The functions with the most self time counted here. */
  top: FunctionCost[];
}

export interface ProfileAnalysis {
  /** Relative to the profile's startTime, in seconds. */
  window: { startSeconds: number; endSeconds: number; seconds: number };
  samples: number;
  windowUs: number;
  idleUs: number;
  busyUs: number;
  categories: Share<Category>[];
  stages: Share<Stage>[];
  /** Own functions (src/) by inclusive time: every sample with the function on its stack, once. */
  inclusive: FunctionCost[];
  topSelf: SelfCost[];
}

export interface AnalyseOptions {
  /** Repository root, to shorten file URLs and recognise src/. */
  root: string;
  /** Only samples taken in this window count; default the whole profile. */
  window?: ProfileWindow;
  /** Length of the top-functions list (default 25). */
  top?: number;
  /** Length of the inclusive list (default 20). */
  inclusiveTop?: number;
}

interface SampleTimes {
  at: number[];
  duration: number[];
}

/**
 * When each sample was taken and how long it stands for: until the next sample (the last:
 * until endTime), as Chrome DevTools counts it.
 */
export function sampleTimes(profile: CpuProfile): SampleTimes {
  const at: number[] = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) {
    t += delta;
    at.push(t);
  }
  const duration = at.map((time, i) => Math.max(0, (at[i + 1] ?? Math.max(profile.endTime, time)) - time));
  return { at, duration };
}

function parentsOf(profile: CpuProfile): Map<number, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  return parent;
}

/** The node and its callers up to the root, leaf first. */
function stackOf(id: number, byId: Map<number, CpuProfileNode>, parent: Map<number, number>): CpuProfileNode[] {
  const stack: CpuProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node) stack.push(node);
  }
  return stack;
}

/**
 * The span from the first to the last processing sample (see isProcessingFrame): a window for
 * a profile whose processing phase is not known from outside.
 */
export function processingWindow(profile: CpuProfile, root: string): ProfileWindow | undefined {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = parentsOf(profile);
  const inside = new Map<number, boolean>();
  const isInside = (id: number): boolean => {
    let known = inside.get(id);
    if (known === undefined) {
      known = stackOf(id, byId, parent).some((n) => isProcessingFrame(n.callFrame.functionName, framePath(n.callFrame.url, root)));
      inside.set(id, known);
    }
    return known;
  };
  const { at, duration } = sampleTimes(profile);
  let first: number | undefined;
  let last: number | undefined;
  profile.samples.forEach((id, i) => {
    if (!isInside(id)) return;
    first ??= at[i];
    last = (at[i] ?? 0) + (duration[i] ?? 0);
  });
  return first === undefined || last === undefined ? undefined : { startUs: first, endUs: last };
}

function functionKey(frame: CallFrame, root: string): { key: string; name: string; location: string } {
  const path = framePath(frame.url, root);
  const name = frame.functionName || '(anonymous)';
  const location = path === '' ? '(native)' : `${path}:${frame.lineNumber + 1}`;
  return { key: `${name}\u0000${location}`, name, location };
}

function addTo<K>(map: Map<K, number>, key: K, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** Sums a profile's samples in `window` by category, by stage and by function. Pure. */
export function analyseProfile(profile: CpuProfile, options: AnalyseOptions): ProfileAnalysis {
  const { root } = options;
  const window = options.window ?? { startUs: profile.startTime, endUs: profile.endTime };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = parentsOf(profile);

  // Self time per node, in the window.
  const self = new Map<number, number>();
  const { at, duration } = sampleTimes(profile);
  let samples = 0;
  profile.samples.forEach((id, i) => {
    const t = at[i] ?? 0;
    if (t < window.startUs || t >= window.endUs) return;
    samples += 1;
    addTo(self, id, duration[i] ?? 0);
  });

  const categoryUs = new Map<Category, number>();
  const stageUs = new Map<Stage, number>();
  const categoryFunctions = new Map<Category, Map<string, number>>();
  const stageFunctions = new Map<Stage, Map<string, number>>();
  const selfByFunction = new Map<string, { name: string; location: string; byCategory: Map<Category, number> }>();
  const inclusiveByFunction = new Map<string, { name: string; location: string; us: number }>();
  const names = new Map<string, { name: string; location: string }>();

  for (const [id, us] of self) {
    const stack = stackOf(id, byId, parent);
    const leaf = stack[0];
    if (!leaf) continue;
    const paths = stack.map((n) => framePath(n.callFrame.url, root));
    let category: Category = 'other';
    for (const [i, node] of stack.entries()) {
      const found = frameCategory(node.callFrame.functionName, paths[i] ?? '');
      if (found) {
        category = found;
        break;
      }
    }
    let stage: Stage = 'other';
    for (const [i, node] of stack.entries()) {
      const found = frameStage(node.callFrame.functionName, paths[i] ?? '');
      if (found) {
        stage = found;
        break;
      }
    }
    addTo(categoryUs, category, us);
    addTo(stageUs, stage, us);

    const fn = functionKey(leaf.callFrame, root);
    names.set(fn.key, fn);
    const entry = selfByFunction.get(fn.key) ?? { name: fn.name, location: fn.location, byCategory: new Map<Category, number>() };
    addTo(entry.byCategory, category, us);
    selfByFunction.set(fn.key, entry);
    const perCategory = categoryFunctions.get(category) ?? new Map<string, number>();
    addTo(perCategory, fn.key, us);
    categoryFunctions.set(category, perCategory);
    const perStage = stageFunctions.get(stage) ?? new Map<string, number>();
    addTo(perStage, fn.key, us);
    stageFunctions.set(stage, perStage);

    // Inclusive: each own function once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (const [i, node] of stack.entries()) {
      if (!OWN.test(paths[i] ?? '')) continue;
      const own = functionKey(node.callFrame, root);
      if (seen.has(own.key)) continue;
      seen.add(own.key);
      const total = inclusiveByFunction.get(own.key) ?? { name: own.name, location: own.location, us: 0 };
      total.us += us;
      inclusiveByFunction.set(own.key, total);
    }
  }

  const windowUs = [...self.values()].reduce((a, b) => a + b, 0);
  const idleUs = categoryUs.get('idle') ?? 0;
  const busyUs = windowUs - idleUs;
  const ofBusy = (us: number): number => (busyUs > 0 ? (100 * us) / busyUs : 0);
  const ofWindow = (us: number): number => (windowUs > 0 ? (100 * us) / windowUs : 0);
  const topOf = (functions: Map<string, number> | undefined, n: number): FunctionCost[] =>
    [...(functions ?? new Map<string, number>())]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({ ...(names.get(key) ?? { name: key, location: '' }), us, percentOfBusy: ofBusy(us) }));
  const shares = <K extends string>(keys: readonly K[], labels: Readonly<Record<K, string>>, totals: Map<K, number>, functions: Map<K, Map<string, number>>): Share<K>[] =>
    keys
      .map((key) => {
        const us = totals.get(key) ?? 0;
        return { key, label: labels[key], us, percentOfWindow: ofWindow(us), percentOfBusy: key === 'idle' ? null : ofBusy(us), top: topOf(functions.get(key), 5) };
      })
      .filter((s) => s.us > 0)
      .sort((a, b) => b.us - a.us);

  const topSelf: SelfCost[] = [...selfByFunction.values()]
    .map((f) => {
      const [category] = [...f.byCategory].sort((a, b) => b[1] - a[1])[0] ?? ['other'];
      const us = [...f.byCategory.values()].reduce((a, b) => a + b, 0);
      return { name: f.name, location: f.location, us, percentOfBusy: ofBusy(us), category };
    })
    .filter((f) => f.category !== 'idle')
    .sort((a, b) => b.us - a.us)
    .slice(0, options.top ?? 25);

  const inclusive: FunctionCost[] = [...inclusiveByFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, options.inclusiveTop ?? 20)
    .map((f) => ({ name: f.name, location: f.location, us: f.us, percentOfBusy: ofBusy(f.us) }));

  return {
    window: {
      startSeconds: (window.startUs - profile.startTime) / 1e6,
      endSeconds: (window.endUs - profile.startTime) / 1e6,
      seconds: (window.endUs - window.startUs) / 1e6,
    },
    samples,
    windowUs,
    idleUs,
    busyUs,
    categories: shares(CATEGORIES, CATEGORY_LABELS, categoryUs, categoryFunctions),
    stages: shares(STAGES, STAGE_LABELS, stageUs, stageFunctions),
    inclusive,
    topSelf,
  };
}

/** Not costs one can act on: waiting, and native code the profile cannot attribute. */
const NOT_A_COST = new Set<string>(['idle', 'program']);

/** The three largest shares that are busy, attributable time. */
export function topThree<K extends string>(shares: readonly Share<K>[]): Share<K>[] {
  return shares.filter((s) => !NOT_A_COST.has(s.key)).slice(0, 3);
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (us: number): string => fmt(us / 1000);
const pct = (p: number | null): string => (p === null ? '—' : `${fmt(p, 1)} %`);

export interface ProfileReport {
  recordedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string };
  /** The code that ran: sagaflow runs from the working tree, uncommitted changes included. */
  git?: { commit: string; uncommittedInSrc: string[] };
  workload: { flow: string; sagas: number; events: number; partitions: number; seed: number; happyRatio: number; window: number };
  profile: { intervalUs: number; file?: string; bytes: number; samples: number; seconds: number };
  /** How the processing window was found, and where it lies in the profile. */
  window: { source: 'runner' | 'first processing sample to runner done' | 'processing samples' | 'whole profile'; note: string };
  run: Pick<SystemResult, 'startupSeconds' | 'processingSeconds' | 'eventsPerSecond' | 'cpuSeconds' | 'cpuMicrosPerEvent' | 'peakRssMB' | 'otherCpuCores'> & {
    outputOk: boolean;
    error?: string;
  };
  /** Busy main-thread time in the window over the process's CPU time (all threads) in the same window. */
  mainThreadShareOfProcessCpu: number | null;
  analysis: ProfileAnalysis;
}

function shareTable<K extends string>(title: string, shares: readonly Share<K>[]): string[] {
  const lines = [`| ${title} | ms | % of busy | % of window | leading functions (self ms) |`, '|---|---:|---:|---:|---|'];
  for (const s of shares) {
    const top = s.top
      .slice(0, 3)
      .map((f) => `\`${f.name}\` ${f.location === '(native)' ? '(native)' : `(${f.location})`} ${ms(f.us)}`)
      .join('; ');
    lines.push(`| ${s.label} | ${ms(s.us)} | ${pct(s.percentOfBusy)} | ${pct(s.percentOfWindow)} | ${top} |`);
  }
  return lines;
}

function describeTop<K extends string>(s: Share<K>, rank: number): string {
  const lead = s.top
    .slice(0, 3)
    .map((f) => `\`${f.name}\` (${f.location}, ${ms(f.us)} ms)`)
    .join(', ');
  return `${rank}. **${s.label}**: ${ms(s.us)} ms, ${pct(s.percentOfBusy)} of the busy main-thread time. Most of it in ${lead}.`;
}

/** The results file's markdown: command, workload, tables and the three largest costs. */
export function renderMarkdown(report: ProfileReport): string {
  const a = report.analysis;
  const r = report.run;
  const lines: string[] = [];
  lines.push(`# sagaflow CPU profile, ${report.recordedAt.slice(0, 10)}`, '');
  lines.push('```sh', report.command, '```', '');
  lines.push(
    `Workload: ${report.workload.flow}, ${fmt(report.workload.sagas)} sagas, ${fmt(report.workload.events)} events pre-produced on ` +
      `${report.workload.partitions} partitions (seed ${report.workload.seed}, happy ratio ${report.workload.happyRatio}, window ${fmt(report.workload.window)}), ` +
      `one \`sagaflow start\` process, LOG_LEVEL warn. Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}.`,
    '',
  );
  if (report.git) {
    const dirty = report.git.uncommittedInSrc;
    lines.push(
      `Code: commit ${report.git.commit.slice(0, 10)}` +
        (dirty.length === 0 ? ', src/ clean.' : `, with uncommitted changes in ${dirty.map((f) => `\`${f}\``).join(', ')} (sagaflow runs from the working tree).`),
      '',
    );
  }
  if (report.profile.file) lines.push(`Profile: \`${report.profile.file}\` (${fmt(report.profile.bytes / 2 ** 20, 1)} MB; Chrome DevTools or speedscope open it).`, '');
  lines.push(
    `Run under the profiler: ${fmt(r.eventsPerSecond)} events/s over ${fmt(r.processingSeconds, 1)} s (start-up ${fmt(r.startupSeconds, 1)} s), ` +
      `process CPU ${fmt(r.cpuSeconds, 1)} s (${fmt(r.cpuMicrosPerEvent)} µs/event), peak RSS ${fmt(r.peakRssMB)} MB, other load ${r.otherCpuCores === undefined ? '?' : fmt(r.otherCpuCores, 2)} cores, ` +
      `output ${r.outputOk ? 'ok' : 'NOT OK'}${r.error ? ` (error: ${r.error})` : ''}. The profiler (${report.profile.intervalUs} µs interval) slows the process down: compare proportions, not rates.`,
    '',
  );
  lines.push(
    `Window: ${fmt(a.window.seconds, 2)} s, ${report.window.note} ` +
      `${fmt(a.samples)} samples: busy ${ms(a.busyUs)} ms, idle ${ms(a.idleUs)} ms (${pct(a.windowUs > 0 ? (100 * a.idleUs) / a.windowUs : 0)} of the window).` +
      (report.mainThreadShareOfProcessCpu === null
        ? ''
        : ` Between the runner's ready and done, the main thread's busy samples add up to ${pct(100 * report.mainThreadShareOfProcessCpu)} of the process's CPU time (all threads, /proc). ` +
          'The profiler samples on a wall-clock timer, so a thread waiting for a core still counts where it stands: on a shared machine this ratio overstates the main thread, ' +
          'and what other threads (libuv pool: RocksDB reads and writes; GC helpers; compiler) used does not appear in the profile at all.'),
    '',
  );
  lines.push('## Top three costs', '');
  lines.push('By pipeline stage (each sample counted in the innermost stage on its stack; idle and (program) left out):', '');
  topThree(a.stages).forEach((s, i) => lines.push(describeTop(s, i + 1)));
  lines.push('', 'By category of the code that was running (self time, builtins counted with their caller):', '');
  topThree(a.categories).forEach((s, i) => lines.push(describeTop(s, i + 1)));
  lines.push('', '## Categories (self time)', '', ...shareTable('category', a.categories), '');
  lines.push('## Pipeline stages (innermost stage frame on the stack)', '', ...shareTable('stage', a.stages), '');
  lines.push(
    '## Own functions, inclusive time',
    '',
    'Every sample with the function on its stack, counted once. Async functions are on the stack only while they run: work kafkajs does after an `await` (socket writes, responses) is not under them.',
    '',
    '| function | file:line | ms | % of busy |',
    '|---|---|---:|---:|',
    ...a.inclusive.map((f) => `| \`${f.name}\` | ${f.location} | ${ms(f.us)} | ${pct(f.percentOfBusy)} |`),
    '',
  );
  lines.push(
    `## Top ${a.topSelf.length} functions by self time`,
    '',
    '| # | function | file:line | category | ms | % of busy |',
    '|---:|---|---|---|---:|---:|',
    ...a.topSelf.map((f, i) => `| ${i + 1} | \`${f.name}\` | ${f.location} | ${f.category} | ${ms(f.us)} | ${pct(f.percentOfBusy)} |`),
    '',
  );
  return lines.join('\n') + '\n';
}

function printAnalysis(a: ProfileAnalysis): void {
  const row = (label: string, us: number, p: number | null): string => `  ${label.padEnd(44).slice(0, 44)} ${ms(us).padStart(8)} ms ${pct(p).padStart(8)}`;
  console.log(`\nbusy ${ms(a.busyUs)} ms, idle ${ms(a.idleUs)} ms in a ${fmt(a.window.seconds, 2)} s window (${fmt(a.samples)} samples); % of busy time\n`);
  console.log('categories (self time):');
  for (const s of a.categories) console.log(row(s.key, s.us, s.percentOfBusy));
  console.log('\npipeline stages (innermost stage on the stack):');
  for (const s of a.stages) console.log(row(s.key, s.us, s.percentOfBusy));
  console.log('\nown functions, inclusive:');
  for (const f of a.inclusive.slice(0, 12)) console.log(row(`${f.name} ${f.location}`, f.us, f.percentOfBusy));
  console.log(`\ntop ${a.topSelf.length} functions by self time:`);
  for (const f of a.topSelf) console.log(`${row(`${f.name} ${f.location}`, f.us, f.percentOfBusy)}  ${f.category}`);
}

// ---------------------------------------------------------------------------------------
// Command
// ---------------------------------------------------------------------------------------

/** A kept profile up to this size goes next to the results (small enough for git). */
const KEEP_NEXT_TO_RESULTS_BYTES = 2 * 2 ** 20;

function gitState(): ProfileReport['git'] {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    // Names only: porcelain status lines start with a space that a trimmed output loses.
    const changed = [git('diff', '--name-only', 'HEAD', '--', 'src'), git('ls-files', '--others', '--exclude-standard', '--', 'src')].join('\n');
    return { commit: git('rev-parse', 'HEAD'), uncommittedInSrc: changed.split('\n').filter((l) => l.trim() !== '') };
  } catch {
    return undefined;
  }
}

/** The main thread's profile among the files in `dir` (worker threads write their own). */
function findProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
  // Node names them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main thread is 0.
  return files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      sagas: { type: 'string', default: '20000' },
      flow: { type: 'string', default: 'reservation' },
      seed: { type: 'string', default: String(DEFAULT_WORKLOAD.seed) },
      partitions: { type: 'string', default: String(DEFAULT_WORKLOAD.partitions) },
      interval: { type: 'string', default: '500' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      timeout: { type: 'string', default: '600' },
      'keep-profile': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const named = join(repoRoot, 'benchmarks', 'flows', `${values.flow}.saga.json`);
  const flowPath = existsSync(named) ? named : resolve(values.flow);
  const workload: WorkloadOptions = {
    config: loadSagaConfig(flowPath),
    sagas: Number(values.sagas),
    seed: Number(values.seed),
    partitions: Number(values.partitions),
    happyRatio: DEFAULT_WORKLOAD.happyRatio,
    window: DEFAULT_WORKLOAD.window,
  };
  const sizes = emptySummary(workload.partitions);
  for (const _ of generateWorkload(workload, sizes));
  const intervalUs = Number(values.interval);

  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  const stamp = runStamp();
  // Outside the run's work dir, which runSystem deletes when it is done.
  const profileDir = join(repoRoot, '.sagaflow', 'bench', 'profiles', stamp);
  mkdirSync(profileDir, { recursive: true });
  // Wall clock -> monotonic clock (the profile's), measured in this process.
  const monotonicMinusWallUs = Number(process.hrtime.bigint() / 1000n) - Date.now() * 1000;
  const opts: Parameters<typeof runSystem>[1] = {
    bench,
    brokers: values.brokers,
    workload,
    flowPath,
    threads: 1,
    instances: 1,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', String(intervalUs)],
    restore: false,
    timeoutMs: Number(values.timeout) * 1000,
    keep: values.keep,
    stamp: `${stamp}-profile`,
  };
  console.log(
    `profiling sagaflow start: ${values.flow}, ${fmt(sizes.sagas)} sagas, ${fmt(sizes.events)} events, ${workload.partitions} partitions, ` +
      `--cpu-prof-interval ${intervalUs} µs, profile in ${relative(repoRoot, profileDir)}`,
  );
  let result: SystemResult;
  try {
    result = await runSystem('sagaflow', opts);
  } finally {
    await bench.close();
  }
  const file = findProfile(profileDir);
  if (!file) {
    console.error(
      `no .cpuprofile in ${profileDir}: Node writes it only when the process exits by itself (process.exit or an empty event loop), ` +
        `not when it is killed; sagaflow did not end within the grace period after SIGTERM${values.keep ? '' : ' (run with --keep to keep its log)'}`,
    );
    return 1;
  }
  const bytes = statSync(file).size;
  console.log(`profile written: ${relative(repoRoot, file)} (${fmt(bytes / 2 ** 20, 1)} MB); analysing`);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

  // The runner's window: ready -> everything committed, both on the wall clock.
  const readyWallMs = Date.parse(result.startedAt) + result.startupSeconds * 1000;
  const runnerWindow: ProfileWindow = {
    startUs: readyWallMs * 1000 + monotonicMinusWallUs,
    endUs: (readyWallMs + result.processingSeconds * 1000) * 1000 + monotonicMinusWallUs,
  };
  const inProfile = (t: number): boolean => t >= profile.startTime && t <= profile.endTime;
  const usable = result.processingSeconds > 0 && inProfile(runnerWindow.startUs) && inProfile(runnerWindow.endUs);
  const handler = processingWindow(profile, repoRoot);
  const at = (t: number): string => `${fmt((t - profile.startTime) / 1e6, 2)} s`;
  let window: ProfileWindow | undefined;
  let source: ProfileReport['window']['source'];
  let note: string;
  if (usable && handler && handler.startUs < runnerWindow.startUs) {
    // Each partition is fetched and processed as soon as it is restored: before the last one is,
    // and before the runner's readiness poll (every 200 ms) sees the instance ready.
    window = { startUs: handler.startUs, endUs: runnerWindow.endUs };
    source = 'first processing sample to runner done';
    note =
      `from the first processing sample, kafkajs decoding fetched events or the batch handler (${at(handler.startUs)}; a partition is fetched and processed as soon as it is restored, ` +
      `before the runner's readiness poll saw GET /-/ready at ${at(runnerWindow.startUs)}) to the runner seeing the events topic fully committed (${at(runnerWindow.endUs)}); ` +
      `the runner's wall-clock times are mapped onto the profile's monotonic clock.`;
  } else if (usable) {
    window = runnerWindow;
    source = 'runner';
    note = `from the runner seeing GET /-/ready (${at(runnerWindow.startUs)}) to it seeing the events topic fully committed (${at(runnerWindow.endUs)}), mapped onto the profile's monotonic clock.`;
  } else if (handler) {
    window = handler;
    source = 'processing samples';
    note = `the span of the samples decoding fetched records or inside PartitionTask.processBatch/processMessages/processOne (the runner's window did not fit in the profile).`;
  } else {
    source = 'whole profile';
    note = 'the whole profile, start-up included (no processing window could be found).';
  }
  const analysis = analyseProfile(profile, window ? { root: repoRoot, window } : { root: repoRoot });
  printAnalysis(analysis);

  const recordedAt = new Date().toISOString();
  const base = join(repoRoot, 'benchmarks', 'results', `${recordedAt.slice(0, 10)}-profile`);
  let kept: string | undefined;
  if (values['keep-profile']) {
    kept = file;
    if (bytes <= KEEP_NEXT_TO_RESULTS_BYTES) {
      kept = `${base}.cpuprofile`;
      mkdirSync(join(repoRoot, 'benchmarks', 'results'), { recursive: true });
      copyFileSync(file, kept);
    }
  }
  const git = gitState();
  const report: ProfileReport = {
    recordedAt,
    command: ['node', 'benchmarks/profile.ts', ...argv].join(' '),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    ...(git ? { git } : {}),
    workload: {
      flow: relative(repoRoot, flowPath),
      sagas: sizes.sagas,
      events: sizes.events,
      partitions: workload.partitions,
      seed: workload.seed,
      happyRatio: workload.happyRatio,
      window: workload.window,
    },
    profile: {
      intervalUs,
      ...(kept ? { file: relative(repoRoot, kept) } : {}),
      bytes,
      samples: profile.samples.length,
      seconds: (profile.endTime - profile.startTime) / 1e6,
    },
    window: { source, note },
    run: {
      startupSeconds: result.startupSeconds,
      processingSeconds: result.processingSeconds,
      eventsPerSecond: result.eventsPerSecond,
      cpuSeconds: result.cpuSeconds,
      cpuMicrosPerEvent: result.cpuMicrosPerEvent,
      peakRssMB: result.peakRssMB,
      ...(result.otherCpuCores === undefined ? {} : { otherCpuCores: result.otherCpuCores }),
      outputOk: result.output.ok,
      ...(result.error ? { error: result.error } : {}),
    },
    // The process CPU time is measured between the runner's ready and done: the same window here.
    mainThreadShareOfProcessCpu: usable && result.cpuSeconds > 0 ? analyseProfile(profile, { root: repoRoot, window: runnerWindow }).busyUs / 1e6 / result.cpuSeconds : null,
    analysis,
  };
  mkdirSync(join(repoRoot, 'benchmarks', 'results'), { recursive: true });
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, renderMarkdown(report));
  console.log(`\nrecorded in ${relative(repoRoot, base)}.json and .md`);
  if (kept) console.log(`profile kept: ${relative(repoRoot, kept)}`);
  if (kept !== file) rmSync(profileDir, { recursive: true, force: true });
  return result.error || !result.output.ok ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2));
