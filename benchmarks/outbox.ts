/**
 * The suite's `outbox` step: how many commands per second the outbox dispatcher delivers to
 * a REST service.
 *
 *   node benchmarks/outbox.ts [--records 20000] [--commands-per-saga 2] [--partitions 12]
 *     [--concurrency 32] [--client librdkafka|kafkajs] [--server-delay-ms 0] [--brokers 127.0.0.1:9092]
 *
 * 1. `records` outbox records, built by outboxRecord() as a partition task writes them (sagas
 *    of `commands-per-saga` commands each, on their saga's partition), are produced into a
 *    fresh `<app>-outbox` topic;
 * 2. a local HTTP server in a process of its own (this file with --serve) answers every request
 *    204 after `server-delay-ms`, and counts requests and distinct Idempotency-Keys;
 * 3. a Dispatcher in this process delivers them, `concurrency` requests at a time, per saga in
 *    order. Deliveries/s from its start to the last command answered (steady: between 10 % and
 *    90 % of them), this process's CPU per delivery (the dispatcher and the Kafka client's
 *    threads), the server's, and the mean request time; the group's committed offsets are
 *    checked to reach the outbox's end and every command to be answered once at least.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createBrokerClient } from '../src/adapters/select.ts';
import { partitionForKey } from '../src/broker/murmur2.ts';
import type { ClientName } from '../src/broker/ports.ts';
import { outboxRecord } from '../src/engine/outbox-records.ts';
import { Dispatcher } from '../src/outbox/dispatcher.ts';
import { DEFAULT_KAFKA_CLIENT } from '../src/runtime/env.ts';
import { connectOrExplain, createTopics, deleteGroups, deleteTopics, runStamp, silenceKafkajsTimeoutWarnings, type BenchKafka } from './kafka.ts';
import { sampleProc, startChild } from './proc.ts';
import { fmt } from './run.ts';

export interface OutboxOptions {
  bench: BenchKafka;
  client: ClientName;
  records: number;
  commandsPerSaga: number;
  partitions: number;
  concurrency: number;
  serverDelayMs: number;
  timeoutMs: number;
  progress?: (line: string) => void;
}

export interface OutboxResult {
  system: 'outbox-dispatcher';
  client: ClientName;
  startedAt: string;
  records: number;
  sagas: number;
  partitions: number;
  concurrency: number;
  serverDelayMs: number;
  seconds: number;
  deliveriesPerSecond: number;
  /** Between 10 % and 90 % of the deliveries; null when that took under 2 s. */
  steadyDeliveriesPerSecond: number | null;
  /** Requests the server received; more than `records` when some were sent again. */
  requests: number;
  /** Commands answered at least once: `records` when nothing was lost. */
  delivered: number;
  failures: number;
  meanRequestMs: number;
  cpuMicrosPerDelivery: number;
  serverCpuMicrosPerDelivery: number;
  /** The dispatcher's group committed the end of every outbox partition. */
  committed: boolean;
  timeline: [number, number][];
  error?: string;
}

/** The server side: answers 204 after the delay; GET /stats says what it received. */
function serve(delayMs: number): void {
  const keys = new Set<string>();
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, unique: keys.size }));
      return;
    }
    req.resume();
    req.on('end', () => {
      requests += 1;
      keys.add(String(req.headers['idempotency-key']));
      const answer = () => {
        res.writeHead(204);
        res.end();
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

export async function runOutboxBenchmark(opts: OutboxOptions): Promise<OutboxResult> {
  const log = opts.progress ?? ((line: string) => console.log(line));
  const app = `sagaflow-bench-outbox-${runStamp()}-${process.pid}`;
  const topics = { outbox: `${app}-outbox`, events: `${app}-events`, deadLetter: `${app}-dead-letter` };
  const sagas = Math.ceil(opts.records / opts.commandsPerSaga);
  const result: OutboxResult = {
    system: 'outbox-dispatcher',
    client: opts.client,
    startedAt: new Date().toISOString(),
    records: opts.records,
    sagas,
    partitions: opts.partitions,
    concurrency: opts.concurrency,
    serverDelayMs: opts.serverDelayMs,
    seconds: 0,
    deliveriesPerSecond: 0,
    steadyDeliveriesPerSecond: null,
    requests: 0,
    delivered: 0,
    failures: 0,
    meanRequestMs: 0,
    cpuMicrosPerDelivery: 0,
    serverCpuMicrosPerDelivery: 0,
    committed: false,
    timeline: [],
  };
  const logDir = mkdtempSync(join(tmpdir(), 'sagaflow-bench-outbox-'));
  let port = 0;
  const server = startChild({
    name: 'outbox-server',
    command: process.execPath,
    args: [new URL(import.meta.url).pathname, '--serve', '--server-delay-ms', String(opts.serverDelayMs)],
    logFile: join(logDir, 'server.log'),
    readyPattern: /^listening \d+$/,
    onLine: (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) port = Number(m[1]);
    },
  });
  const logger = pino({ level: 'warn' });
  const client = await createBrokerClient(opts.client, { brokers: opts.bench.brokers, clientId: app, logger });
  let dispatcher: Dispatcher | undefined;
  try {
    await server.ready;
    await createTopics(opts.bench.admin, Object.values(topics), opts.partitions);
    // The records a partition task writes: each saga's commands on its partition, in order.
    const producer = opts.bench.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const target = { topic: topics.outbox, channels: new Set(['service']) };
    let batch: { key: string; value: Buffer; partition: number; headers: Record<string, string> }[] = [];
    for (let n = 0; n < opts.records; n++) {
      const sagaId = `saga-${Math.floor(n / opts.commandsPerSaga)}`;
      const revision = (n % opts.commandsPerSaga) + 1;
      const payload = { order: { id: sagaId, items: [{ sku: 'BOOK-1', qty: 2 }], total: 39.8 }, customer: { name: 'Ada', email: 'ada@example.com' } };
      const r = outboxRecord(target, partitionForKey(sagaId, opts.partitions), { sagaId, label: 'notify', channel: 'service', payload, kind: 'sideEffect', attempt: 1, revision }, { 'sagaflow-revision': String(revision), 'sagaflow-command-kind': 'sideEffect', 'sagaflow-attempt': '1' });
      batch.push({ key: sagaId, value: r.value as Buffer, partition: r.partition, headers: r.headers as Record<string, string> });
      if (batch.length === 5_000 || n === opts.records - 1) {
        await producer.send({ topic: topics.outbox, acks: -1, messages: batch });
        batch = [];
      }
    }
    await producer.disconnect();
    log(`[outbox] ${fmt(opts.records)} outbox records for ${fmt(sagas)} sagas on ${opts.partitions} partitions; delivering to 127.0.0.1:${port} (${opts.client}, concurrency ${opts.concurrency})`);

    const stats = async (): Promise<{ requests: number; unique: number }> => (await fetch(`http://127.0.0.1:${port}/stats`)).json() as Promise<{ requests: number; unique: number }>;
    const ingress = await client.producer();
    dispatcher = new Dispatcher({
      client,
      applicationId: app,
      outboxTopic: topics.outbox,
      eventsTopic: topics.events,
      deadLetterTopic: { topic: topics.deadLetter, partitions: opts.partitions },
      channels: new Map([['service', { id: 'service', type: 'rest', configurations: { endpoint: '127.0.0.1', port, path: '/commands' } }]]),
      codec: { encodeEvent: async (_t, e) => Buffer.from(JSON.stringify(e)) },
      producer: ingress,
      logger,
      concurrency: opts.concurrency,
    });
    const cpuBefore = process.cpuUsage();
    const serverBefore = sampleProc(server.pid)?.cpuSeconds ?? 0;
    const began = Date.now();
    await dispatcher.start();
    const deadline = began + opts.timeoutMs;
    let lastLog = began;
    for (;;) {
      const s = await stats();
      const now = Date.now();
      result.timeline.push([(now - began) / 1000, s.unique]);
      if (now - lastLog >= 5_000) {
        lastLog = now;
        log(`[outbox] ${fmt(s.unique)}/${fmt(opts.records)} delivered, ${fmt(s.unique / ((now - began) / 1000))}/s`);
      }
      if (s.unique >= opts.records) break;
      if (now > deadline) throw new Error(`only ${s.unique} of ${opts.records} commands delivered in ${opts.timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - began) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpu = (sampleProc(server.pid)?.cpuSeconds ?? serverBefore) - serverBefore;
    const final = await stats();
    const totals = dispatcher.metrics.totals();
    const text = await dispatcher.prometheus();
    const sum = Number(/sagaflow_rest_request_duration_seconds_sum\{channel="service"\} ([\d.e+-]+)/.exec(text)?.[1] ?? 0);
    Object.assign(result, {
      seconds,
      deliveriesPerSecond: opts.records / seconds,
      steadyDeliveriesPerSecond: steadyRate(result.timeline, opts.records),
      requests: final.requests,
      delivered: final.unique,
      failures: totals.failures,
      meanRequestMs: totals.requests > 0 ? (sum * 1000) / totals.requests : 0,
      cpuMicrosPerDelivery: (cpu.user + cpu.system) / opts.records,
      serverCpuMicrosPerDelivery: (serverCpu * 1e6) / opts.records,
    });
    // Offsets follow the 2xx: the group reaches the end shortly after the last answer.
    const admin = await client.admin();
    const committedBy = Date.now() + 30_000;
    while (!result.committed && Date.now() < committedBy) {
      const [ends, committed] = await Promise.all([admin.watermarks(topics.outbox), admin.committedOffsets(dispatcher.groupId, topics.outbox)]);
      result.committed = [...ends].every(([p, { high }]) => (committed.get(p) ?? 0n) === high);
      if (!result.committed) await new Promise((r) => setTimeout(r, 200));
    }
    await admin.close();
    await dispatcher.stop();
    await ingress.close();
    log(`[outbox] ${fmt(result.deliveriesPerSecond)} deliveries/s (steady ${result.steadyDeliveriesPerSecond === null ? '—' : fmt(result.steadyDeliveriesPerSecond)}), ${fmt(result.cpuMicrosPerDelivery)} µs CPU per delivery, ${fmt(result.requests - result.records)} sent again, committed: ${result.committed}`);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    await dispatcher?.stop().catch(() => undefined);
  } finally {
    await server.stop(5_000);
    await client.close().catch(() => undefined);
    await deleteTopics(opts.bench.admin, Object.values(topics)).catch(() => undefined);
    await deleteGroups(opts.bench.admin, [`${app}-outbox`]);
    rmSync(logDir, { recursive: true, force: true });
  }
  return result;
}

/** 80 % of the deliveries over the time between 10 % and 90 % of them; null under 2 s. */
function steadyRate(timeline: [number, number][], total: number): number | null {
  const at = (fraction: number) => timeline.find(([, n]) => n >= total * fraction)?.[0];
  const from = at(0.1);
  const to = at(0.9);
  if (from === undefined || to === undefined || to - from < 2) return null;
  return (0.8 * total) / (to - from);
}

/** The suite report's section. */
export function outboxMarkdown(r: OutboxResult | undefined): string[] {
  const lines = ['## Outbox: commands delivered over REST to a local HTTP server', ''];
  if (!r || r.error) return [...lines, `failed: ${r?.error ?? 'not run'}`, ''];
  return [
    ...lines,
    '| client | commands | sagas | partitions | concurrency | deliveries/s | steady deliveries/s | mean request ms | CPU µs/delivery | server CPU µs/request | sent again | committed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    `| ${r.client} | ${fmt(r.records)} | ${fmt(r.sagas)} | ${r.partitions} | ${r.concurrency} | ${fmt(r.deliveriesPerSecond)} | ${r.steadyDeliveriesPerSecond === null ? '—' : fmt(r.steadyDeliveriesPerSecond)} | ${fmt(r.meanRequestMs, 2)} | ${fmt(r.cpuMicrosPerDelivery)} | ${fmt(r.serverCpuMicrosPerDelivery)} | ${fmt(r.requests - r.records)} | ${r.committed && r.delivered === r.records ? 'yes' : 'NO'} |`,
    '',
    `Outbox records as partition tasks write them, pre-produced; one dispatcher (\`benchmarks/outbox.ts\`) delivers them to a node:http server in another process answering 204${r.serverDelayMs > 0 ? ` after ${r.serverDelayMs} ms` : ''}, ` +
      `each saga's commands one after the other, ${r.concurrency} requests in flight at most, then commits past each 2xx. CPU per delivery is the dispatcher process's, the Kafka client's threads included.`,
    '',
  ];
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      serve: { type: 'boolean', default: false },
      'server-delay-ms': { type: 'string', default: '0' },
      records: { type: 'string', default: '20000' },
      'commands-per-saga': { type: 'string', default: '2' },
      partitions: { type: 'string', default: '12' },
      concurrency: { type: 'string', default: '32' },
      client: { type: 'string', default: process.env.SAGAFLOW_KAFKA_CLIENT ?? DEFAULT_KAFKA_CLIENT },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
      timeout: { type: 'string', default: '600' },
    },
  });
  if (values.serve) {
    serve(Number(values['server-delay-ms']));
    return -1;
  }
  silenceKafkajsTimeoutWarnings();
  const bench = await connectOrExplain(values.brokers);
  if (!bench) return 1;
  try {
    const result = await runOutboxBenchmark({
      bench,
      client: values.client as ClientName,
      records: Number(values.records),
      commandsPerSaga: Number(values['commands-per-saga']),
      partitions: Number(values.partitions),
      concurrency: Number(values.concurrency),
      serverDelayMs: Number(values['server-delay-ms']),
      timeoutMs: Number(values.timeout) * 1000,
    });
    console.log(outboxMarkdown(result).join('\n'));
    return result.error || !result.committed || result.delivered !== result.records ? 1 : 0;
  } finally {
    await bench.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
}
