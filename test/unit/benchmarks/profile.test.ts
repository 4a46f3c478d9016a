import { describe, expect, it } from 'vitest';
import {
  analyseProfile,
  frameCategory,
  framePath,
  frameStage,
  isProcessingFrame,
  processingWindow,
  renderMarkdown,
  sampleTimes,
  topThree,
  type CallFrame,
  type CpuProfile,
  type CpuProfileNode,
  type ProfileReport,
  type Share,
} from '../../../benchmarks/profile.ts';

const root = '/repo';
const src = (path: string): string => `file:///repo/${path}`;

/**
 * A hand-made profile. Each entry: id, parent id, frame. Samples are listed with the time
 * each one stands for (the next sample's delta), so expected totals can be read off.
 */
function buildProfile(tree: [number, number | null, Partial<CallFrame> & { functionName: string }][], samples: [number, number][], startTime = 1_000_000): CpuProfile {
  const nodes = new Map<number, CpuProfileNode>();
  for (const [id, , frame] of tree) nodes.set(id, { id, callFrame: { url: '', lineNumber: 0, ...frame }, children: [] });
  for (const [id, parent] of tree) if (parent !== null) nodes.get(parent)?.children?.push(id);
  // Sample i is taken at startTime + sum of the durations before it; it lasts its own duration.
  const timeDeltas: number[] = [];
  let previous = 0;
  for (const [, duration] of samples) {
    timeDeltas.push(previous);
    previous = duration;
  }
  const total = samples.reduce((n, [, d]) => n + d, 0);
  return { nodes: [...nodes.values()], startTime, endTime: startTime + total, samples: samples.map(([id]) => id), timeDeltas };
}

// (root)
// ├─ (idle) 2
// ├─ (program) 3
// ├─ (garbage collector) 4
// ├─ processTicksAndRejections 5 (node internal)
// │  └─ processMessages 6 (task.ts)
// │     └─ processOne 7 (task.ts)
// │        ├─ decodeEvent 8 (codec-factory.ts)
// │        │  └─ deserialize 9 (serdes/json.ts)
// │        │     └─ parse 10 (builtin)
// │        ├─ transition 11 (saga/transition.ts)
// │        │  └─ cloneJson 12 (saga/merge.ts)
// │        │     └─ cloneJson 13 (recursion)
// │        ├─ getSaga 14 (store/partition-store.ts)
// │        │  └─ decodeSaga 15 (store/partition-store.ts)
// │        │     └─ parse 16 (builtin)
// │        └─ encodeSaga 17 (codec-factory.ts)
// │           └─ stringify 18 (builtin)
// ├─ onData 19 (kafkajs network/connection.js)
// │  └─ decode 20 (kafkajs requests/fetch/v11/response.js)
// │     └─ readInt32 21 (kafkajs protocol/decoder.js)
// ├─ sendBatch 22 (kafkajs producer/messageProducer.js)
// │  └─ crc32C 23 (kafkajs protocol/recordBatch/crc32C/crc32C.js)
// ├─ _flush 24 (rocksdb-native lib/batch.js)
// ├─ commit 25 (task.ts)
// │  └─ applyCommitted 26 (store/partition-store.ts)
// │     └─ encodeSaga 27 (store/partition-store.ts)
// └─ write 28 (pino)
const kafkajs = (path: string): string => src(`node_modules/kafkajs/src/${path}`);
const tree: [number, number | null, Partial<CallFrame> & { functionName: string }][] = [
  [1, null, { functionName: '(root)' }],
  [2, 1, { functionName: '(idle)' }],
  [3, 1, { functionName: '(program)' }],
  [4, 1, { functionName: '(garbage collector)' }],
  [5, 1, { functionName: 'processTicksAndRejections', url: 'node:internal/process/task_queues', lineNumber: 71 }],
  [6, 5, { functionName: 'processMessages', url: src('src/kafka/task.ts'), lineNumber: 259 }],
  [7, 6, { functionName: 'processOne', url: src('src/kafka/task.ts'), lineNumber: 357 }],
  [8, 7, { functionName: 'decodeEvent', url: src('src/kafka/codec-factory.ts'), lineNumber: 34 }],
  [9, 8, { functionName: 'deserialize', url: src('src/kafka/serdes/json.ts'), lineNumber: 86 }],
  [10, 9, { functionName: 'parse' }],
  [11, 7, { functionName: 'transition', url: src('src/saga/transition.ts'), lineNumber: 22 }],
  [12, 11, { functionName: 'cloneJson', url: src('src/saga/merge.ts'), lineNumber: 26 }],
  [13, 12, { functionName: 'cloneJson', url: src('src/saga/merge.ts'), lineNumber: 26 }],
  [14, 7, { functionName: 'getSaga', url: src('src/store/partition-store.ts'), lineNumber: 83 }],
  [15, 14, { functionName: 'decodeSaga', url: src('src/store/partition-store.ts'), lineNumber: 32 }],
  [16, 15, { functionName: 'parse' }],
  [17, 7, { functionName: 'encodeSaga', url: src('src/kafka/codec-factory.ts'), lineNumber: 37 }],
  [18, 17, { functionName: 'stringify' }],
  [19, 1, { functionName: 'onData', url: kafkajs('network/connection.js'), lineNumber: 182 }],
  [20, 19, { functionName: 'decode', url: kafkajs('protocol/requests/fetch/v11/response.js'), lineNumber: 40 }],
  [21, 20, { functionName: 'readInt32', url: kafkajs('protocol/decoder.js'), lineNumber: 50 }],
  [22, 1, { functionName: 'sendBatch', url: kafkajs('producer/messageProducer.js'), lineNumber: 60 }],
  [23, 22, { functionName: 'crc32C', url: kafkajs('protocol/recordBatch/crc32C/crc32C.js'), lineNumber: 7 }],
  [24, 1, { functionName: '_flush', url: src('node_modules/rocksdb-native/lib/batch.js'), lineNumber: 198 }],
  [25, 1, { functionName: 'commit', url: src('src/kafka/task.ts'), lineNumber: 310 }],
  [26, 25, { functionName: 'applyCommitted', url: src('src/store/partition-store.ts'), lineNumber: 105 }],
  [27, 26, { functionName: 'encodeSaga', url: src('src/store/partition-store.ts'), lineNumber: 28 }],
  [28, 1, { functionName: 'write', url: src('node_modules/pino/lib/proto.js'), lineNumber: 200 }],
];
// [node, µs]: one sample each, so each node's self time is its duration (node 13 twice).
const samples: [number, number][] = [
  [2, 1000], // idle
  [6, 100], // processMessages self
  [7, 200], // processOne self
  [9, 300], // deserialize self
  [10, 400], // JSON.parse under deserialize -> decode
  [11, 500], // transition self
  [13, 600], // recursive cloneJson
  [13, 50],
  [16, 700], // JSON.parse under decodeSaga -> store
  [18, 800], // JSON.stringify under codec encodeSaga -> encode
  [20, 900], // fetch response decode
  [21, 1000], // protocol decoder under fetch
  [23, 1100], // crc32C under produce
  [24, 1200], // rocksdb-native
  [27, 1300], // encodeSaga of the store, under applyCommitted
  [3, 1400], // (program)
  [4, 1500], // gc
  [28, 1600], // pino
  [5, 1700], // processTicksAndRejections self: nothing above it
];
const profile = buildProfile(tree, samples);
const windowUs = samples.reduce((n, [, d]) => n + d, 0);
const busyUs = windowUs - 1000;

const byKey = <K extends string>(shares: Share<K>[]): Record<string, number> => Object.fromEntries(shares.map((s) => [s.key, s.us]));

describe('framePath', () => {
  it('makes file URLs relative to the repository and leaves node: and builtins alone', () => {
    expect(framePath('file:///repo/src/kafka/task.ts', root)).toBe('src/kafka/task.ts');
    expect(framePath('file:///repo/node_modules/kafkajs/src/a%20b.js', '/repo/')).toBe('node_modules/kafkajs/src/a b.js');
    expect(framePath('file:///elsewhere/x.js', root)).toBe('/elsewhere/x.js');
    expect(framePath('node:internal/buffer', root)).toBe('node:internal/buffer');
    expect(framePath('', root)).toBe('');
  });
});

describe('frameCategory', () => {
  it('classifies own code by folder and serdes functions by direction', () => {
    expect(frameCategory('applyEvent', 'src/saga/transition.ts')).toBe('transition');
    expect(frameCategory('getSaga', 'src/store/transaction-overlay.ts')).toBe('store');
    expect(frameCategory('deserialize', 'src/kafka/serdes/json.ts')).toBe('decode');
    expect(frameCategory('parseJsonObject', 'src/kafka/serdes/json.ts')).toBe('decode');
    expect(frameCategory('serialize', 'src/kafka/serdes/json.ts')).toBe('encode');
    expect(frameCategory('stringify', 'src/kafka/serdes/json.ts')).toBe('encode');
    expect(frameCategory('encodeCommand', 'src/kafka/codec-factory.ts')).toBe('encode');
    expect(frameCategory('decodeEvent', 'src/kafka/codec-factory.ts')).toBe('decode');
    expect(frameCategory('send', 'src/kafka/batching-sender.ts')).toBe('kafka-produce');
    expect(frameCategory('processOne', 'src/kafka/task.ts')).toBe('loop');
    expect(frameCategory('route', 'src/http/app.ts')).toBe('other');
  });

  it('splits kafkajs into produce, fetch, protocol and plumbing', () => {
    const k = (p: string): string => `node_modules/kafkajs/src/${p}`;
    expect(frameCategory('sendOffsets', k('producer/eosManager/index.js'))).toBe('kafka-produce');
    expect(frameCategory('encode', k('protocol/requests/produce/v3/request.js'))).toBe('kafka-produce');
    expect(frameCategory('encode', k('protocol/requests/txnOffsetCommit/v0/request.js'))).toBe('kafka-produce');
    expect(frameCategory('fetch', k('consumer/consumerGroup.js'))).toBe('kafka-fetch');
    expect(frameCategory('decode', k('protocol/requests/fetch/v11/response.js'))).toBe('kafka-fetch');
    expect(frameCategory('readVarInt', k('protocol/decoder.js'))).toBe('protocol');
    expect(frameCategory('crc32C', k('protocol/recordBatch/crc32C/crc32C.js'))).toBe('protocol');
    expect(frameCategory('onData', k('network/connection.js'))).toBe('kafka-client');
  });

  it('leaves builtins, Node internals and codec libraries to their caller', () => {
    expect(frameCategory('parse', '')).toBeUndefined();
    expect(frameCategory('from', 'node:buffer')).toBeUndefined();
    expect(frameCategory('read', 'node_modules/avsc/lib/types.js')).toBeUndefined();
    expect(frameCategory('(garbage collector)', '')).toBe('gc');
    expect(frameCategory('(idle)', '')).toBe('idle');
    expect(frameCategory('(program)', '')).toBe('program');
    expect(frameCategory('_flush', 'node_modules/rocksdb-native/lib/batch.js')).toBe('store');
    expect(frameCategory('write', 'node_modules/pino/lib/proto.js')).toBe('logging');
    expect(frameCategory('x', 'node_modules/fastify/lib/route.js')).toBe('other');
  });
});

describe('frameStage', () => {
  it('names the pipeline stage a frame starts, and none for helpers', () => {
    expect(frameStage('processMessages', 'src/kafka/task.ts')).toBe('batch-loop');
    expect(frameStage('processOne', 'src/kafka/task.ts')).toBe('process-event');
    expect(frameStage('commit', 'src/kafka/task.ts')).toBe('commit');
    expect(frameStage('getSaga', 'src/store/transaction-overlay.ts')).toBe('store-read');
    expect(frameStage('applyCommitted', 'src/store/partition-store.ts')).toBe('store-write');
    expect(frameStage('applyRestored', 'src/store/partition-store.ts')).toBe('store-other');
    expect(frameStage('encodeSaga', 'src/store/partition-store.ts')).toBeUndefined();
    expect(frameStage('onRejoin', 'src/kafka/task.ts')).toBeUndefined();
    expect(frameStage('readInt32', 'node_modules/kafkajs/src/protocol/decoder.js')).toBeUndefined();
    expect(frameStage('_flush', 'node_modules/rocksdb-native/lib/batch.js')).toBe('store-native');
  });
});

describe('isProcessingFrame', () => {
  it('is the batch handler and the decoding of fetched records', () => {
    expect(isProcessingFrame('processBatch', 'src/kafka/task.ts')).toBe(true);
    expect(isProcessingFrame('processOne', 'dist/kafka/task.js')).toBe(true);
    expect(isProcessingFrame('runStart', 'src/kafka/task.ts')).toBe(false);
    expect(isProcessingFrame('decodeRecord', 'node_modules/kafkajs/src/protocol/recordBatch/v0/decoder.js')).toBe(true);
    expect(isProcessingFrame('decodeMessages', 'node_modules/kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js')).toBe(true);
    expect(isProcessingFrame('decodeResponse', 'node_modules/kafkajs/src/protocol/requests/fetch/v11/response.js')).toBe(false);
    expect(isProcessingFrame('processBatch', 'node_modules/other/task.js')).toBe(false);
  });
});

describe('sampleTimes', () => {
  it('counts each sample until the next one, the last until endTime, never negative', () => {
    const p: CpuProfile = { nodes: [], startTime: 100, endTime: 190, samples: [1, 1, 1, 1], timeDeltas: [10, 20, -5, 30] };
    const { at, duration } = sampleTimes(p);
    expect(at).toEqual([110, 130, 125, 155]);
    expect(duration).toEqual([20, 0, 30, 35]);
  });
});

describe('analyseProfile', () => {
  const a = analyseProfile(profile, { root });

  it('sums self time by category, builtins counted with their nearest classified caller', () => {
    expect(a.windowUs).toBe(windowUs);
    expect(a.idleUs).toBe(1000);
    expect(a.busyUs).toBe(busyUs);
    expect(a.samples).toBe(samples.length);
    expect(byKey(a.categories)).toEqual({
      idle: 1000,
      loop: 100 + 200,
      decode: 300 + 400,
      transition: 500 + 600 + 50,
      store: 700 + 1200 + 1300,
      encode: 800,
      'kafka-fetch': 900,
      protocol: 1000 + 1100,
      program: 1400,
      gc: 1500,
      logging: 1600,
      other: 1700,
    });
    expect(a.categories.map((s) => s.us)).toEqual([...a.categories.map((s) => s.us)].sort((x, y) => y - x));
    const store = a.categories.find((s) => s.key === 'store');
    expect(store?.percentOfBusy).toBeCloseTo((100 * 3200) / busyUs, 6);
    expect(store?.percentOfWindow).toBeCloseTo((100 * 3200) / windowUs, 6);
    expect(a.categories.find((s) => s.key === 'idle')?.percentOfBusy).toBeNull();
    // JSON.parse appears in decode (under the serdes) and in store (under decodeSaga).
    expect(store?.top.map((f) => [f.name, f.location, f.us])).toEqual([
      ['encodeSaga', 'src/store/partition-store.ts:29', 1300],
      ['_flush', 'node_modules/rocksdb-native/lib/batch.js:199', 1200],
      ['parse', '(native)', 700],
    ]);
  });

  it('puts each sample in the innermost stage on its stack', () => {
    expect(byKey(a.stages)).toEqual({
      idle: 1000,
      'batch-loop': 100,
      'process-event': 200,
      decode: 300 + 400,
      transition: 500 + 600 + 50,
      'store-read': 700,
      encode: 800,
      'kafka-fetch': 900 + 1000,
      'kafka-produce': 1100,
      'store-native': 1200,
      'store-write': 1300,
      program: 1400,
      gc: 1500,
      logging: 1600,
      other: 1700,
    });
    expect(a.stages.reduce((n, s) => n + s.us, 0)).toBe(windowUs);
  });

  it('gives own functions inclusive time, each sample once even under recursion', () => {
    const inclusive = Object.fromEntries(a.inclusive.map((f) => [`${f.name} ${f.location}`, f.us]));
    const processOne = 200 + 300 + 400 + 500 + 600 + 50 + 700 + 800;
    expect(inclusive['processOne src/kafka/task.ts:358']).toBe(processOne);
    expect(inclusive['processMessages src/kafka/task.ts:260']).toBe(100 + processOne);
    expect(inclusive['transition src/saga/transition.ts:23']).toBe(500 + 600 + 50);
    expect(inclusive['cloneJson src/saga/merge.ts:27']).toBe(600 + 50);
    expect(inclusive['decodeEvent src/kafka/codec-factory.ts:35']).toBe(700);
    expect(inclusive['commit src/kafka/task.ts:311']).toBe(1300);
    // Not own code: kafkajs, rocksdb-native, builtins.
    expect(a.inclusive.some((f) => f.location.startsWith('node_modules/') || f.location === '(native)')).toBe(false);
    expect(a.inclusive[0]?.name).toBe('processMessages');
  });

  it('lists functions by self time without idle, with 1-based lines', () => {
    expect(a.topSelf.map((f) => f.name).slice(0, 3)).toEqual(['processTicksAndRejections', 'write', '(garbage collector)']);
    expect(a.topSelf.some((f) => f.name === '(idle)')).toBe(false);
    const parse = a.topSelf.find((f) => f.name === 'parse');
    // 400 under decode + 700 under store: one function, its larger share names the category.
    expect(parse).toMatchObject({ location: '(native)', us: 1100, category: 'store' });
    expect(a.topSelf.find((f) => f.name === 'cloneJson')).toMatchObject({ location: 'src/saga/merge.ts:27', us: 650, category: 'transition' });
    expect(analyseProfile(profile, { root, top: 2 }).topSelf).toHaveLength(2);
  });

  it('counts only the samples taken inside the window', () => {
    // Samples 2..4 (processMessages, processOne, deserialize) start at +1000, +1100, +1300.
    const start = profile.startTime + 1000;
    const w = analyseProfile(profile, { root, window: { startUs: start, endUs: start + 600 } });
    expect(w.samples).toBe(3);
    expect(byKey(w.categories)).toEqual({ loop: 300, decode: 300 });
    expect(w.idleUs).toBe(0);
    expect(w.window).toEqual({ startSeconds: 0.001, endSeconds: 0.0016, seconds: 0.0006 });
  });
});

describe('processingWindow', () => {
  it('spans the samples inside the batch handler', () => {
    // From processMessages' sample (+1000) to the end of JSON.stringify's under encodeSaga (+3850 + 800).
    expect(processingWindow(profile, root)).toEqual({ startUs: profile.startTime + 1000, endUs: profile.startTime + 4650 });
  });

  it('starts with the decoding of fetched records, which precedes the first batch', () => {
    const p = buildProfile(
      [
        [1, null, { functionName: '(root)' }],
        [2, 1, { functionName: '(idle)' }],
        [3, 1, { functionName: 'decodeMessages', url: kafkajs('protocol/requests/fetch/v4/decodeMessages.js') }],
        [4, 3, { functionName: 'decodeRecord', url: kafkajs('protocol/recordBatch/v0/decoder.js') }],
        [5, 1, { functionName: 'decode', url: kafkajs('protocol/requests/fetch/v11/response.js') }],
        [6, 1, { functionName: 'processBatch', url: src('src/kafka/task.ts') }],
      ],
      [
        [5, 10], // an empty fetch response (restore): not processing
        [2, 20],
        [4, 30], // records decoded: processing starts
        [6, 40],
        [2, 50],
      ],
    );
    expect(processingWindow(p, root)).toEqual({ startUs: p.startTime + 30, endUs: p.startTime + 100 });
  });

  it('is undefined when the handler never ran', () => {
    expect(processingWindow(buildProfile([[1, null, { functionName: '(root)' }], [2, 1, { functionName: '(idle)' }]], [[2, 10]]), root)).toBeUndefined();
  });
});

describe('topThree', () => {
  it('picks the three largest shares, leaving out idle and (program)', () => {
    const a = analyseProfile(profile, { root });
    expect(topThree(a.categories).map((s) => s.key)).toEqual(['store', 'protocol', 'other']);
    expect(topThree(a.stages).map((s) => s.key)).toEqual(['kafka-fetch', 'other', 'logging']);
    const share = (key: string, us: number): Share<string> => ({ key, label: key, us, percentOfWindow: 0, percentOfBusy: 0, top: [] });
    const sorted = [share('idle', 9), share('program', 8), share('store', 7), share('gc', 6), share('encode', 5), share('decode', 4)];
    expect(topThree(sorted).map((s) => s.key)).toEqual(['store', 'gc', 'encode']);
  });
});

describe('renderMarkdown', () => {
  it('writes the command, the tables and the top three costs from the data', () => {
    const analysis = analyseProfile(profile, { root });
    const report: ProfileReport = {
      recordedAt: '2026-11-22T10:00:00.000Z',
      command: 'node benchmarks/profile.ts --sagas 10',
      machine: { cpus: 2, cpuModel: 'test cpu', node: 'v24.0.0' },
      git: { commit: '0123456789abcdef', uncommittedInSrc: ['src/kafka/task.ts'] },
      workload: { flow: 'benchmarks/flows/reservation.saga.json', sagas: 10, events: 29, partitions: 12, seed: 42, happyRatio: 0.9, window: 1000 },
      profile: { intervalUs: 500, bytes: 1, samples: samples.length, seconds: 0.02 },
      window: { source: 'runner', note: 'test window.' },
      run: { startupSeconds: 1, processingSeconds: 2, eventsPerSecond: 14.5, cpuSeconds: 0.5, cpuMicrosPerEvent: 17_000, peakRssMB: 100, outputOk: true },
      mainThreadShareOfProcessCpu: 0.8,
      analysis,
    };
    const md = renderMarkdown(report);
    expect(md).toContain('node benchmarks/profile.ts --sagas 10');
    expect(md).toContain('## Top three costs');
    const top = md.slice(md.indexOf('## Top three costs'), md.indexOf('## Categories'));
    expect(top).toContain('1. **store / RocksDB');
    expect(top).toContain('1. **kafkajs fetch');
    expect(top).not.toContain('(idle)');
    expect(md).toContain('| `cloneJson` | src/saga/merge.ts:27 |');
    expect(md).toContain('80.0 % of the process');
    expect(md).toContain('Code: commit 0123456789, with uncommitted changes in `src/kafka/task.ts`');
    expect(md.endsWith('\n')).toBe(true);
    expect(renderMarkdown({ ...report, git: { commit: '0123456789abcdef', uncommittedInSrc: [] } })).toContain('Code: commit 0123456789, src/ clean.');
  });
});
