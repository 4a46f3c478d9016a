/**
 * The projection's levers side by side: each variant projects the same changelog into a
 * fresh collection of the same server, one after the other (and again, in the same order,
 * for `--rounds`), so that machine noise hits them alike; compare ratios within one run.
 *
 *   node benchmarks/projection-levers.ts --changelog <topic> [--variants base,read-ahead,...]
 *     [--rounds 1] [--mongodb URL] [--brokers 127.0.0.1:9092] [--flow reservation]
 *
 * Per variant: records/s of the whole changelog, saga documents written, and CPU seconds of
 * this process (the projector) and of the server's process (found by the port it listens on).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { createBrokerClient } from '../src/adapters/select.ts';
import type { KafkaProtocol } from '../src/definition/types.ts';
import { createProcessorCodec } from '../src/kafka/codec-factory.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { SAGA_INDEXES } from '../src/projection/mongo.ts';
import type { SagaCollection } from '../src/projection/mongo.ts';
import type { SagaDocument } from '../src/saga/types.ts';
import { connectOrExplain, runStamp, silenceKafkajsTimeoutWarnings } from './kafka.ts';
import { repoRoot } from './perf-tools.ts';
import { pidListeningOn, sampleProc } from './proc.ts';
import { measureThroughput, readChangelog, serverName, silent } from './projection.ts';
import type { Context, ProjectionResult, ProjectionTuning } from './projection.ts';
import { fmt } from './run.ts';
import { FLOWS, loadSagaConfig } from './workload.ts';

/**
 * The saga without its history, sent commands and event bookkeeping: what a list view shows
 * (state, business state, metadata, timestamps). Not a shape sagaflow stores: it measures
 * what the product decision "smaller projected documents" would buy.
 */
function summaryDocument(saga: SagaDocument): SagaDocument {
  const { history: _history, commands: _commands, ignoredEvents: _ignored, recentEventIds: _recent, ...rest } = saga;
  return rest as SagaDocument;
}

/**
 * The fields Flow Manager's persistency stores (history included), plus what the revision
 * guard and the keyset sorts need (revision, createdAt, updatedAt): sagaflow's other
 * additions (commands sent, ignored events, recent event ids, timers, delivery failures,
 * service summary) left out.
 */
function flowManagerDocument(saga: SagaDocument): SagaDocument {
  const { commands: _c, ignoredEvents: _i, recentEventIds: _r, timers: _t, deliveryFailures: _d, serviceSummary: _s, ...rest } = saga;
  return rest as SagaDocument;
}

/** The settings before read-ahead: each batch read is written before the next is read, ordered bulks. */
const BASE: ProjectionTuning = { projector: { readAheadBytes: 0, chunkSize: 2_000 }, sink: { ordered: true } };
const MiB = 1024 * 1024;

export const VARIANTS: Record<string, ProjectionTuning> = {
  base: BASE,
  'read-ahead-32m': { projector: { readAheadBytes: 32 * MiB, chunkSize: 2_000 }, sink: BASE.sink },
  'read-ahead-32m-chunk-10k': { projector: { readAheadBytes: 32 * MiB, chunkSize: 10_000 }, sink: BASE.sink },
  'read-ahead-32m-unordered': { projector: { readAheadBytes: 32 * MiB, chunkSize: 10_000 }, sink: { ordered: false } },
  'read-ahead-96m': { projector: { readAheadBytes: 96 * MiB, chunkSize: 20_000 }, sink: { ordered: false } },
  /** Reading the stored revisions before each write (the default before insert-first). */
  'read-first': { sink: { insertFirst: false } },
  /** Two writes in flight (of different partitions). */
  'concurrency-2': { sink: { concurrency: 2 } },
  /** Only the unique sagaId index: what the six indexes of GET /sagas cost each write. */
  'sagaId-index-only': { sink: { indexes: SAGA_INDEXES.slice(0, 1) } },
  /** The sagaId index and the two keyset sorts (createdAt, updatedAt), no filter indexes. */
  'sort-indexes-only': { sink: { indexes: SAGA_INDEXES.slice(0, 3) } },
  /** Flow Manager's document fields, revision and timestamps only (flowManagerDocument). */
  'flow-manager-fields': { documents: flowManagerDocument },
  /** Documents without history, commands and event bookkeeping (summaryDocument). */
  'summary-documents': { documents: summaryDocument },
  /** Both: summary documents and only the sagaId index, the most a smaller write could save. */
  'summary-sagaId-index-only': { documents: summaryDocument, sink: { indexes: SAGA_INDEXES.slice(0, 1) } },
  /** What `sagaflow start` uses. */
  default: {},
};

interface VariantRun {
  variant: string;
  round: number;
  recordsPerSecond: number;
  sagasWritten: number;
  complete: boolean;
  projectorCpuSeconds: number;
  serverCpuSeconds: number | undefined;
  error?: string;
}

async function main(argv: string[]): Promise<number> {
  silenceKafkajsTimeoutWarnings();
  const { values } = parseArgs({
    args: argv,
    options: {
      changelog: { type: 'string' },
      variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
      rounds: { type: 'string', default: '1' },
      mongodb: { type: 'string', default: process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/sagaflow_bench?directConnection=true' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      flow: { type: 'string', default: 'reservation' },
      timeout: { type: 'string', default: '900' },
    },
  });
  const names = values.variants.split(',').map((v) => v.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in VARIANTS));
  if (!values.changelog || unknown.length > 0) {
    console.error(`usage: node benchmarks/projection-levers.ts --changelog <topic> [--variants ${Object.keys(VARIANTS).join(',')}] [--rounds N]`);
    if (unknown.length > 0) console.error(`unknown variants: ${unknown.join(', ')}`);
    return 2;
  }
  const config = loadSagaConfig(resolve(repoRoot, FLOWS[values.flow] ?? values.flow));
  const channel = config.communicationProtocols.find((p): p is KafkaProtocol => p.type === 'kafka');
  if (!channel) throw new Error(`${values.flow}: no kafka channel`);
  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  const stamp = runStamp();
  const mongo = new MongoClient(values.mongodb, { serverSelectionTimeoutMS: 10_000, retryWrites: false });
  const client = await createBrokerClient(DEFAULT_KAFKA_CLIENT, { brokers: bench.brokers, clientId: `bench-${stamp}-levers`, logger: silent });
  const serverPid = pidListeningOn(Number(new URL(values.mongodb.replace(/^mongodb:/, 'http:')).port || 27017));
  const runs: VariantRun[] = [];
  try {
    const codec = await createProcessorCodec(channel, { events: '', changelog: values.changelog, deadLetter: '', commands: [] });
    const records = await readChangelog(bench, values.changelog, codec);
    console.log(`${fmt(records.length)} records into ${await serverName(mongo)} (server pid ${serverPid ?? 'not found'})`);
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const variant of names) {
        const collections: SagaCollection[] = [];
        const ctx: Context = { bench, client, mongo, codec, stamp, progress: () => undefined, collections };
        const result = { timeline: [] } as unknown as ProjectionResult;
        const cpu0 = process.cpuUsage();
        const server0 = serverPid === undefined ? undefined : sampleProc(serverPid)?.cpuSeconds;
        let error: string | undefined;
        try {
          await measureThroughput(ctx, values.changelog, records, result, Number(values.timeout) * 1000, VARIANTS[variant], `${variant.replaceAll('-', '_')}_${round}`);
        } catch (err) {
          error = (err as Error).message;
        }
        const cpu = process.cpuUsage(cpu0);
        const server1 = serverPid === undefined ? undefined : sampleProc(serverPid)?.cpuSeconds;
        const run: VariantRun = {
          variant,
          round,
          recordsPerSecond: result.recordsPerSecond ?? 0,
          sagasWritten: result.sagasWritten ?? 0,
          complete: result.complete === true,
          projectorCpuSeconds: (cpu.user + cpu.system) / 1e6,
          serverCpuSeconds: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
          ...(error === undefined ? {} : { error }),
        };
        runs.push(run);
        console.log(JSON.stringify(run));
        for (const c of collections) await c.drop().catch(() => undefined);
        // A drop keeps the server busy for a moment: let it settle before the next variant.
        await new Promise((r) => setTimeout(r, 5_000));
      }
    }
  } finally {
    await client.close();
    await mongo.close();
    await bench.close();
  }
  const first = runs.filter((r) => r.variant === names[0]);
  const baseRate = first.reduce((n, r) => n + r.recordsPerSecond, 0) / Math.max(1, first.length);
  console.log('\n| variant | round | records/s | vs ' + names[0] + ' | sagas written | projector CPU s | server CPU s | complete |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of runs) {
    console.log(
      `| ${r.variant} | ${r.round} | ${fmt(r.recordsPerSecond)} | ${(r.recordsPerSecond / Math.max(1, baseRate)).toFixed(2)} | ${fmt(r.sagasWritten)} | ${r.projectorCpuSeconds.toFixed(1)} | ${r.serverCpuSeconds === undefined ? '—' : r.serverCpuSeconds.toFixed(1)} | ${r.error ?? (r.complete ? 'yes' : '**no**')} |`,
    );
  }
  return runs.every((r) => r.complete) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
