// Soak of sagaflow: a cluster of `sagaflow start` processes runs a continuous reservation
// workload for --duration while instances are SIGKILLed and restarted, leave and join, the
// broker is stopped and started (on a private broker), every link of the instances (to the
// broker and between instances) goes through a fault proxy that cuts, stalls and slows it in
// windows of a few tens of seconds (on a private broker), and bursts of malformed records arrive.
// Checkpoints every minute check liveness and that no read went back in time; at the end the
// whole run is verified (every saga in its planned state, every command exactly once, the
// changelog equal to what instances serve, every bad record dead-lettered or recorded).
// The last line is the summary: `N passed, N failed`; the exit code is 1 when anything failed.
//
//   npm run stack -- up
//   node test/soak/run.ts --duration 10m [--instances 3] [--partitions 6] [--rate 15] [--seed 42]
//                         [--broker private|shared] [--keep] [--session-timeout 10s]
//                         [--no-network-faults]
//
// Services: KAFKA_BROKERS or the local stack. --broker private (the default when the local
// stack has its Kafka installation) runs the soak on a broker of its own, which it restarts.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { Message } from 'kafkajs';
import { seededRandom } from '../../src/cli/prng.ts';
import { silenceKnownKafkajsWarnings } from '../../src/runtime/warnings.ts';
import { loadStackConfig, serviceEnv } from '../../scripts/stack/config.ts';
import { JSON_KINDS, HEAVY_KINDS, checkBadRecords, makeBadRecord } from '../integration/reliability/support/bad-records.ts';
import type { BadRecord, BadRecordContext } from '../integration/reliability/support/bad-records.ts';
import { between } from '../integration/reliability/support/chaos.ts';
import { faultPlan } from '../support/fault-proxy.ts';
import { KAFKA_LINK_FAULTS, PEER_LINK_FAULTS, PROXIED_BROKER_VARIABLE, ProxiedLinks, sumCounts } from '../integration/reliability/support/proxied-links.ts';
import { reservationSagaJson, runDirectory, SagaflowCluster } from '../integration/reliability/support/cluster.ts';
import { PrivateBroker, privateBrokerUnavailable } from '../integration/reliability/support/private-broker.ts';
import { MonotonicReader } from '../integration/reliability/support/reader.ts';
import { RevisionTail } from '../integration/reliability/support/revision-tail.ts';
import { Tickers } from '../integration/reliability/support/tickers.ts';
import { checkRun, checkRunDetects, collectRun, getSaga, serverErrors, waitAllFinal, waitAllProcessed } from '../integration/reliability/support/verify.ts';
import { jsonCodec, planSaga, planWorkload, produceCreations, startWorkers } from '../integration/reliability/support/workload.ts';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    duration: { type: 'string', default: '10m' },
    instances: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '6' },
    rate: { type: 'string', default: '10' },
    seed: { type: 'string' },
    broker: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'session-timeout': { type: 'string' },
    'network-faults': { type: 'boolean', default: true },
  },
});

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--duration ${text}: use e.g. 90s, 10m or 1h`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

silenceKnownKafkajsWarnings();
const durationMs = parseDuration(values.duration);
const instanceCount = Number(values.instances);
const partitions = Number(values.partitions);
const rate = Number(values.rate);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const random = seededRandom(seed);
const runId = `soak-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const dir = runDirectory(runId);
const started = Date.now();
const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`.padStart(5);
const log = (line: string) => console.log(`[soak ${elapsed()}] ${line}`);

/** Every check of the run, in order: a name and, when it failed, why. */
const checks: { name: string; problems: string[] }[] = [];
function check(name: string, problems: readonly string[]): void {
  checks.push({ name, problems: [...problems] });
  if (problems.length > 0) log(`FAIL ${name}: ${problems.slice(0, 5).join(' | ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
  else log(`pass ${name}`);
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];

async function main(): Promise<void> {
  const local = serviceEnv(loadStackConfig());
  const sharedBrokers = (process.env.KAFKA_BROKERS ?? local.KAFKA_BROKERS).split(',').map((b) => b.trim());
  // A broker of the soak's own needs only the stack's Kafka installation, not its broker running.
  const whyNoPrivate = privateBrokerUnavailable();
  const mode = values.broker ?? (whyNoPrivate ? 'shared' : 'private');
  if (mode === 'private' && whyNoPrivate) throw new Error(`--broker private: ${whyNoPrivate}`);
  const names = Array.from({ length: instanceCount }, (_, i) => String.fromCharCode(97 + i));
  // Network faults need listeners advertised at the proxies: only a broker of the soak's own has them.
  const links = mode === 'private' && values['network-faults'] ? await ProxiedLinks.create(dir, names) : undefined;
  if (links) cleanups.push(() => links.close());
  let broker: PrivateBroker | undefined;
  if (mode === 'private') {
    broker = links?.broker ?? (await PrivateBroker.create(dir));
    const b = broker;
    cleanups.push(() => (values.keep ? b.stop() : b.destroy()));
    await broker.start();
  }
  const brokers = broker?.brokers ?? sharedBrokers;
  const faults = links ? 'network faults' : values['network-faults'] ? 'no network faults (they need --broker private)' : 'no network faults';
  log(`seed ${seed}, ${values.duration} on ${mode} broker ${brokers.join(',')}, ${instanceCount} instances, ${partitions} partitions, ${rate} sagas/s, ${faults}; logs in ${dir}`);

  const kafka = new Kafka({ clientId: runId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const topics = { events: `${runId}-events`, commands: `${runId}-commands`, applicationId: `${runId}-app` };
  if (mode === 'shared' && !values.keep) {
    cleanups.push(async () => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${runId}-`));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
      await admin.deleteGroups([topics.applicationId, `${topics.applicationId}-workers`]).catch(() => undefined);
    });
  }

  const cluster = new SagaflowCluster({
    dir,
    partitions,
    // With network faults each instance resolves the variable to its own proxy (links.memberEnv).
    sagaJson: reservationSagaJson({ brokers: links ? [`\${${PROXIED_BROKER_VARIABLE}}`] : brokers, ...topics, validatePayloads: true }),
    ...(links ? { memberEnv: (member: { name: string; port: number }) => links.memberEnv(member) } : {}),
    // How long a SIGKILLed instance's partitions wait for the group to move them (and its
    // sagas answer 503): the instances' SAGAFLOW_SESSION_TIMEOUT_MS.
    ...(values['session-timeout'] ? { env: { SAGAFLOW_SESSION_TIMEOUT_MS: String(parseDuration(values['session-timeout'])) } } : {}),
  });
  cleanups.push(() => cluster.close());
  for (const name of names) await cluster.start(name);
  await cluster.waitAllReady(180_000);
  const urls = () => cluster.running().map((m) => m.url);

  const codec = await jsonCodec(brokers);
  const { worker, stats } = await startWorkers({ brokers, codec, commandsTopic: topics.commands, eventsTopic: topics.events, groupId: `${topics.applicationId}-workers`, pipelined: true });
  cleanups.push(() => worker.stop());
  // One producer per concurrent sender: concurrent sends on one idempotent kafkajs producer
  // can fail for good with OUT_OF_ORDER_SEQUENCE_NUMBER after a broker restart.
  const newProducer = async () => {
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    cleanups.push(() => p.disconnect());
    return p;
  };
  const producer = await newProducer();
  const burstProducer = await newProducer();
  const tickProducer = await newProducer();

  const victims = Array.from({ length: 20 }, (_, i) => planSaga(`${topics.applicationId}-victim-${i}`, 'hold'));
  const changelogTopic = `${topics.applicationId}-sagas-changelog`;
  // The victims' revisions as they commit: compaction drops the early ones within the hour.
  const victimTail = new RevisionTail(kafka, codec, changelogTopic, new Set(victims.map((v) => v.sagaId)));
  await victimTail.start();
  cleanups.push(() => victimTail.stop());
  await produceCreations(producer, codec, topics.events, victims);
  const tickers = new Tickers({ prefix: topics.applicationId, count: 8, producer: tickProducer, codec, topic: topics.events });
  await tickers.start();

  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const sagas = planWorkload(topics.applicationId, total, seed);
  const producedAt: number[] = [];
  let produced = 0;
  const stopAt = started + durationMs;
  const running = () => Date.now() < stopAt;
  const reader = new MonotonicReader();
  // The ids of created sagas, grown as they are produced (not copied per read: an hour at
  // 100 sagas/s makes 360,000 of them).
  const createdIds: string[] = [];
  reader.start(() => (Math.random() < 0.4 ? tickers.ids : createdIds), urls, 2);
  // An instance started while the broker is away ends after its retries with
  // SAGAFLOW_KAFKA_UNREACHABLE (a start fails fast on unreachable brokers) and the killer
  // starts it again, as a supervisor would: expected. Any other exit is a failure.
  const refusedStart = (logFile: string) => {
    const text = readFileSync(logFile, 'utf8');
    return !text.includes('"msg":"sagaflow started"') && text.includes('SAGAFLOW_KAFKA_UNREACHABLE');
  };
  const exits = () => cluster.unexpectedExits.filter((e) => !refusedStart(e.logFile));
  const describeExit = (e: (typeof cluster.unexpectedExits)[number]) => `${e.name}.${e.generation} exited with ${e.code}${e.signal ? ` (${e.signal})` : ''}${e.error ? ` (${e.error})` : ''} (${e.logFile})`;
  let exitsReported = 0;
  const counts = { kills: 0, restarts: 0, freshRestarts: 0, leaves: 0, joins: 0, brokerRestarts: 0, networkFaultWindows: 0, badRecords: 0, bursts: 0 };

  const send = async (messages: Message[], via = producer) => {
    // A keyless record gets its partition here, once: kafkajs picks one on each attempt, and a
    // retry after a send that was written in part (a broker stopping) reuses the batches'
    // sequence numbers, so the broker takes a retried batch for the one it already has and
    // drops the keyless records that moved into it (4 of 23,002 bad records in one soak).
    messages = messages.map((m) => (m.key === null || m.key === undefined) && m.partition === undefined ? { ...m, partition: Math.floor(random() * partitions) } : m);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await via.send({ topic: topics.events, messages });
        return;
      } catch (err) {
        if (attempt > 600) throw err;
        await delay(500);
      }
    }
  };

  const production = (async () => {
    const chunk = Math.max(1, Math.round(rate / 4));
    for (let i = 0; i < sagas.length; i += chunk) {
      const next = sagas.slice(i, i + chunk);
      const messages = await Promise.all(
        next.map(async (s) => ({
          key: s.sagaId,
          value: await codec.encodeEvent(topics.events, { messageLabel: '__created__', messagePayload: { associatedEntityId: `entity-${s.sagaId}`, metadata: { sagaId: s.sagaId, fail: s.fail } } }),
        })),
      );
      await send(messages);
      for (const s of next) {
        producedAt.push(Date.now());
        createdIds.push(s.sagaId);
      }
      produced = Math.min(sagas.length, i + chunk);
      // Keep the pace of --rate over --duration even after a pause (a broker restart).
      const due = started + (produced / rate) * 1000;
      await delay(Math.max(0, due - Date.now()));
    }
  })();

  // SIGKILL a random instance every 20-45 s; one time in five a clean leave (SIGTERM) instead.
  const killer = (async () => {
    while (running()) {
      await delay(between(random, [20_000, 45_000]));
      if (!running()) break;
      // An instance that ended on its own (a failed check) is started again, as a supervisor would.
      for (const name of names) if (!cluster.isRunning(name)) await cluster.start(name);
      const victim = cluster.running()[Math.floor(random() * cluster.running().length)];
      if (!victim) continue;
      const graceful = random() < 0.2;
      if (graceful) {
        await cluster.stop(victim.name);
        counts.leaves += 1;
      } else {
        await cluster.kill(victim.name);
        counts.kills += 1;
      }
      await delay(between(random, [500, 5_000]));
      const fresh = random() < 0.3;
      await cluster.start(victim.name, { fresh });
      if (graceful) counts.joins += 1;
      else counts.restarts += 1;
      if (fresh) counts.freshRestarts += 1;
      log(`${graceful ? 'stopped' : 'killed'} and restarted ${victim.name}${fresh ? ' with an empty state directory' : ''}`);
    }
  })();

  // A private broker is stopped and started every 2-3 minutes, down for 5-15 s.
  const brokerChaos = (async () => {
    if (!broker) return;
    while (running()) {
      await delay(between(random, [120_000, 180_000]));
      if (!running()) break;
      const down = between(random, [5_000, 15_000]);
      log(`stopping the broker for ${Math.round(down / 1000)} s`);
      await broker.restart(down);
      counts.brokerRestarts += 1;
      log('broker back');
    }
  })();

  // Every 45-90 s, 15-40 s of faults on every link at once (KAFKA_LINK_FAULTS, PEER_LINK_FAULTS):
  // windows rather than all the time, so that hand-overs, restores and broker restarts also
  // happen on clean links, and faults also hit instances that are just starting or restoring.
  const networkChaos = (async () => {
    if (!links) return;
    while (running()) {
      await delay(between(random, [45_000, 90_000]));
      if (!running()) break;
      const windowMs = between(random, [15_000, 40_000]);
      const round = counts.networkFaultWindows;
      log(`network faults on every link for ${Math.round(windowMs / 1000)} s`);
      [...links.kafka.values()].forEach((p, i) => p.startChaos(faultPlan(seed + 1_000 * round + i, KAFKA_LINK_FAULTS)));
      [...links.peers.values()].forEach((p, i) => p.startChaos(faultPlan(seed + 1_000 * round + 100 + i, PEER_LINK_FAULTS)));
      await delay(Math.min(windowMs, Math.max(0, stopAt - Date.now())));
      for (const proxy of links.all()) await proxy.stopChaos();
      counts.networkFaultWindows += 1;
      log(`network faults over: broker links ${JSON.stringify(sumCounts([...links.kafka.values()]))}, peer links ${JSON.stringify(sumCounts([...links.peers.values()]))}`);
    }
  })();

  // Bursts of malformed records every 20 s, mixed with the valid traffic.
  const bad: BadRecord[] = [];
  const badCtx: BadRecordContext = { codec, topic: topics.events, random, victims: victims.map((v) => v.sagaId), existing: victims.map((v) => v.sagaId) };
  const bursts = (async () => {
    while (running()) {
      await delay(20_000);
      if (!running()) break;
      counts.bursts += 1;
      const burst: BadRecord[] = [];
      for (const kind of JSON_KINDS) {
        const n = HEAVY_KINDS.has(kind) ? (counts.bursts % 3 === 0 ? 1 : 0) : 12;
        for (let i = 0; i < n; i += 1) burst.push(await makeBadRecord(kind, `b${counts.bursts}-${kind}-${i}`, badCtx));
      }
      const heavy = burst.filter((b) => (b.message.value?.length ?? 0) > 100_000);
      await send(burst.filter((b) => !heavy.includes(b)).map((b) => b.message), burstProducer);
      for (const b of heavy) await send([b.message], burstProducer);
      bad.push(...burst);
      counts.badRecords += burst.length;
    }
  })();

  // Every minute: what was created more than three minutes ago has ended, nothing went back in
  // time, no instance died on its own, no server error.
  const checkpoints = (async () => {
    let n = 0;
    while (running()) {
      await delay(Math.min(60_000, Math.max(0, stopAt - Date.now())));
      if (!running()) break;
      n += 1;
      const horizon = Date.now() - 180_000;
      const due = sagas.slice(0, producedAt.filter((t) => t < horizon).length);
      const step = Math.max(1, Math.floor(due.length / 60));
      const sample = due.filter((_, i) => i % step === 0);
      // Late: answered by the owner, and not final (or unknown). A 503 or a stale copy is a
      // partition between owners right now (an instance was just killed): counted, not late;
      // the end checks every saga anyway.
      let unavailable = 0;
      const late: string[] = [];
      await Promise.all(
        sample.map(async (s, i) => {
          await delay((i % 10) * 50);
          for (let attempt = 0; attempt < 3; attempt += 1) {
            const url = urls()[Math.floor(Math.random() * urls().length)];
            const r = url ? await getSaga(url, s.sagaId).catch(() => undefined) : undefined;
            if (r?.saga?.isFinal) return;
            // A stale copy (restoring store, unconfirmed owner, projection) may lag: ask again.
            if ((r?.status === 200 && r.stale === undefined) || r?.status === 404) {
              late.push(`${s.sagaId} (${r.status} ${r.saga?.currentState ?? r.code ?? ''})`);
              return;
            }
            await delay(1_000);
          }
          unavailable += 1;
        }),
      );
      check(`checkpoint ${n}: sagas created more than 3 minutes ago have ended (${sample.length} of ${due.length} sampled, ${unavailable} on a partition changing owner)`, late);
      check(`checkpoint ${n}: no read went back in time (${reader.reads} reads)`, reader.staleReads);
      check(`checkpoint ${n}: no instance exited on its own`, exits().slice(exitsReported).map(describeExit));
      exitsReported = exits().length;
      check(`checkpoint ${n}: no 5xx other than 503`, serverErrors(reader.answers));
      log(`${produced}/${sagas.length} sagas produced, ${JSON.stringify(counts)}, ${stats.commands} commands answered (${stats.emitRetries} emit retries, ${stats.emitsHung} hung, ${stats.emitsLost} lost), ${tickers.total} ticks`);
    }
  })();

  await Promise.all([killer, brokerChaos, networkChaos, bursts, checkpoints]);
  await production;
  await tickers.stop();
  log(`chaos over: ${JSON.stringify(counts)}; bringing every instance back and waiting for the end`);
  for (const name of names) if (!cluster.isRunning(name)) await cluster.start(name);

  const answers = new Map<string, number>();
  // Sagas not read back final in time are reported, and everything else is still checked
  // (they show again as problems of the exactly-once check).
  let incomplete: string | undefined;
  const served = await waitAllFinal(sagas, urls, 600_000, answers, (why) => (incomplete = why));
  check(`every saga ends (${served.size} read back final)`, incomplete ? [incomplete] : []);
  await reader.stop();
  await waitAllProcessed(admin, topics.applicationId, topics.events, 300_000).catch((err: unknown) => check('every event processed', [(err as Error).message]));
  const tickersServed = await tickers.waitServed(urls, 300_000);
  const records = await collectRun({
    kafka,
    codec,
    topics: { commands: topics.commands, changelog: changelogTopic, deadLetter: `${topics.applicationId}-dead-letter` },
    keepRevisionsOf: new Set(victims.map((v) => v.sagaId)),
  });
  victimTail.mergeInto(records.revisions);
  if (victimTail.undecodable > 0) log(`${victimTail.undecodable} victim revisions could not be decoded by the tail`);
  const others = new Set([...tickers.ids, ...victims.map((v) => v.sagaId)]);
  check(`${sagas.length} sagas in their planned final state, commands exactly once, changelog equal to what is served`, checkRun({ sagas, served, records, otherKeys: others }));
  check('the checks can fail (tampered copies of this run are caught)', checkRunDetects({ sagas, served, records }));
  check(`${tickers.ids.length} tickers: ${tickers.total} events each applied exactly once`, tickers.check(tickersServed, records));
  const badReport = checkBadRecords(bad, records);
  check(`${bad.length} bad records each dead-lettered or recorded with its reason (${badReport.deadLettered} + ${badReport.inHistory})`, badReport.problems);
  const expectedDead = bad.filter((b) => b.landing.where === 'dead-letter').length;
  const extraDead = records.deadLetters.filter((d) => d.headers['test-bad-id'] === undefined && d.code !== 'SAGAFLOW_DUPLICATE_EVENT');
  check(`dead-letter topic holds the ${expectedDead} bad records and nothing unexpected`, extraDead.map((d) => `${d.key}: ${d.code} ${d.reason}`));
  const victimRevisions: string[] = [];
  const history = new Map<string, number>();
  for (const b of bad) if (b.landing.where === 'history') history.set(b.landing.sagaId, (history.get(b.landing.sagaId) ?? 0) + 1);
  for (const v of victims) {
    const saga = records.changelog.get(v.sagaId);
    if (saga?.revision !== 1 + (history.get(v.sagaId) ?? 0)) victimRevisions.push(`${v.sagaId}: revision ${saga?.revision}, expected ${1 + (history.get(v.sagaId) ?? 0)}`);
  }
  check('victim sagas recorded each refused event once', victimRevisions);
  check(`no read went back in time (${reader.reads} reads)`, reader.staleReads);
  const unavailable = [...reader.answers].filter(([key]) => key.startsWith('503')).reduce((n, [, count]) => n + count, 0);
  log(`availability: ${unavailable} of ${reader.reads} monotonic reads answered 503 (${((100 * unavailable) / Math.max(reader.reads, 1)).toFixed(1)} %), ${reader.answers.get('200 restoring') ?? 0} answered from a restoring store, ${reader.answers.get('200 unconfirmed') ?? 0} from an unconfirmed owner's`);
  for (const [key, n] of reader.answers) answers.set(key, (answers.get(key) ?? 0) + n);
  check('no 5xx other than 503', serverErrors(answers));
  check(`no instance exited on its own (${cluster.unexpectedExits.length - exits().length} refused to start while the broker was away)`, exits().map(describeExit));
  // About one kill a minute is planned: at least one every two minutes, and never fewer than 5.
  const minKills = Math.max(5, Math.floor(durationMs / 120_000));
  check(`workers answered every command they were given (${stats.emitsHung} emits hung and were sent again)`, stats.emitsLost > 0 ? [`${stats.emitsLost} emits failed for good`] : []);
  check(`at least ${minKills} SIGKILLs (${counts.kills})`, counts.kills >= minKills ? [] : [`only ${counts.kills} kills`]);
  if (links) {
    const unmet = [...links.kafka].filter(([, p]) => !(p.counts.cut > 0 && p.counts.stall > 0 && p.counts.slow > 0)).map(([name, p]) => `${name}: ${JSON.stringify(p.counts)}`);
    check(`every broker link was cut, stalled and slowed (${counts.networkFaultWindows} fault windows)`, unmet);
  }
  log(
    `totals: ${sagas.length} sagas, ${records.commands.length} commands, ${records.changelogRecords} changelog records, ${tickers.total} ticks, ` +
      `${bad.length} bad records, ${counts.kills} kills, ${counts.restarts + counts.joins} restarts (${counts.freshRestarts} fresh), ${counts.leaves} clean leaves, ` +
      `${counts.brokerRestarts} broker restarts, ${counts.networkFaultWindows} network fault windows` +
      (links ? ` (broker links ${JSON.stringify(sumCounts([...links.kafka.values()]))}, peer links ${JSON.stringify(sumCounts([...links.peers.values()]))})` : '') +
      `, ${reader.reads} monotonic reads, answers ${JSON.stringify([...answers])}`,
  );
}

// Ctrl-C: stop the instances and the private broker rather than leave them running.
process.once('SIGINT', () => {
  log('interrupted: cleaning up');
  void (async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
    process.exit(130);
  })();
});

let crashed: unknown;
try {
  await main();
} catch (err) {
  crashed = err;
  check('the soak ran to its end', [(err as Error).stack ?? String(err)]);
}
for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
const failed = checks.filter((c) => c.problems.length > 0).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 || crashed ? 1 : 0);
