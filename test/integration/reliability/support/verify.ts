import { isDeepStrictEqual } from 'node:util';
import type { Admin, Kafka } from 'kafkajs';
import { STALE_HEADER } from '../../../../src/http/app.ts';
import type { ProcessorCodec } from '../../../../src/kafka/codec.ts';
import type { SagaDocument } from '../../../../src/saga/types.ts';
import { readWholeTopic } from './topic-reader.ts';
import type { PlannedSaga } from './workload.ts';

/**
 * GET /saga/:id on `url`: the document, or the status when it is not 200. `stale` is the
 * stale mark of a copy that is not the owner's answer (the projection, a store still being
 * restored, an owner that cannot vouch for its partition): it may lag the owner's store, so it
 * is not what the instances serve.
 */
export async function getSaga(url: string, sagaId: string): Promise<{ status: number; saga?: SagaDocument; code?: string; stale?: string }> {
  const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as SagaDocument & { code?: string };
  if (res.status !== 200) return { status: res.status, ...(body.code === undefined ? {} : { code: body.code }) };
  const stale = res.headers.get(STALE_HEADER);
  return { status: 200, saga: body, ...(stale === null ? {} : { stale }) };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
    }),
  );
  return out;
}

/**
 * Answers other than a plain 200 seen while polling, by status and error code (5xx other than
 * 503 are bugs); `200 projection` counts copies served from the projection (see getSaga).
 */
export type HttpTally = Map<string, number>;

export function tally(t: HttpTally, status: number, code?: string): void {
  const key = code === undefined ? String(status) : `${status} ${code}`;
  t.set(key, (t.get(key) ?? 0) + 1);
}

/** Entries of a tally that no correct instance may answer: 5xx other than 503. */
export function serverErrors(t: HttpTally): string[] {
  return [...t].filter(([key]) => /^5\d\d/.test(key) && !key.startsWith('503')).map(([key, n]) => `${key} x${n}`);
}

/**
 * Polls until every planned saga is final, asking a random running instance each time (the
 * instance forwards to the owner), and returns the final documents. A copy from the projection
 * does not count: it is asked again. Fails at the deadline with how many are still missing and
 * an example. Every answer other than a plain 200 is counted in `answers`.
 */
export async function waitAllFinal(
  sagas: readonly PlannedSaga[],
  urls: () => string[],
  timeoutMs: number,
  answers: HttpTally = new Map(),
  /** Instead of throwing at the deadline, report why and return the sagas read final so far (the soak goes on checking those). */
  onIncomplete?: (why: string) => void,
): Promise<Map<string, SagaDocument>> {
  const deadline = Date.now() + timeoutMs;
  const finals = new Map<string, SagaDocument>();
  let pending = [...sagas];
  let last: { sagaId: string; status: number; state?: string; code?: string } | undefined;
  while (pending.length > 0) {
    const results = await mapLimit(pending, 16, async (s) => {
      const candidates = urls();
      const url = candidates[Math.floor(Math.random() * candidates.length)];
      if (!url) return false;
      try {
        const r = await getSaga(url, s.sagaId);
        if (r.status !== 200) tally(answers, r.status, r.code);
        if (r.stale !== undefined) {
          tally(answers, 200, r.stale);
          last = { sagaId: s.sagaId, status: 200, code: r.stale };
          return false;
        }
        if (r.saga?.isFinal) {
          finals.set(s.sagaId, r.saga);
          return true;
        }
        last = { sagaId: s.sagaId, status: r.status, ...(r.saga ? { state: r.saga.currentState } : {}), ...(r.code ? { code: r.code } : {}) };
      } catch (err) {
        // The instance was killed or is not listening yet: ask another one next round.
        tally(answers, 0, 'connection');
        last = { sagaId: s.sagaId, status: 0, code: (err as Error).message };
      }
      return false;
    });
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const why = `${pending.length} of ${sagas.length} sagas not final within ${timeoutMs} ms (${pending.slice(0, 5).map((p) => p.sagaId).join(', ')}${pending.length > 5 ? ', ...' : ''}); last answer: ${JSON.stringify(last)}`;
      if (!onIncomplete) throw new Error(why);
      onIncomplete(why);
      return finals;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return finals;
}

/** What the topics hold at the end of a run, read with read_committed. */
export interface RunRecords {
  commands: { key: string | null; label: string; revision: string | undefined; at: string }[];
  /** Latest changelog document per key (null for a tombstone). */
  changelog: Map<string, SagaDocument | null>;
  changelogRecords: number;
  /** Every revision, in changelog order, of the keys asked for (see collectRun's keepRevisionsOf). */
  revisions: Map<string, SagaDocument[]>;
  deadLetters: { key: string | null; code: string; reason: string; headers: Record<string, string> }[];
}

export async function collectRun(opts: {
  kafka: Kafka;
  codec: ProcessorCodec;
  topics: { commands: string; changelog: string; deadLetter: string };
  keepRevisionsOf?: ReadonlySet<string>;
}): Promise<RunRecords> {
  const commands: RunRecords['commands'] = [];
  for (const record of await readWholeTopic(opts.kafka, opts.topics.commands)) {
    const envelope = await opts.codec.decodeCommand(opts.topics.commands, record.value);
    commands.push({ key: record.key, label: envelope.messageLabel, revision: record.headers['sagaflow-revision'], at: `${record.partition}:${record.offset}` });
  }
  const changelogRaw = await readWholeTopic(opts.kafka, opts.topics.changelog);
  const latest = new Map<string, Buffer | null>();
  const revisions = new Map<string, SagaDocument[]>();
  for (const record of changelogRaw) {
    if (record.key === null) continue;
    latest.set(record.key, record.value);
    if (record.value !== null && opts.keepRevisionsOf?.has(record.key)) {
      const doc = await opts.codec.decodeSaga(opts.topics.changelog, record.value);
      const list = revisions.get(record.key) ?? [];
      list.push(doc);
      revisions.set(record.key, list);
    }
  }
  const changelog = new Map<string, SagaDocument | null>();
  for (const [key, value] of latest) changelog.set(key, value === null ? null : await opts.codec.decodeSaga(opts.topics.changelog, value));
  const deadLetters = (await readWholeTopic(opts.kafka, opts.topics.deadLetter)).map((r) => ({
    key: r.key,
    code: r.headers['sagaflow-error-code'] ?? '(none)',
    reason: r.headers['sagaflow-reason'] ?? '',
    headers: r.headers,
  }));
  return { commands, changelog, changelogRecords: changelogRaw.length, revisions, deadLetters };
}

/**
 * The end-of-run checks of the reliability suite, against the generator's plan:
 *  - every saga served by the instances is in its planned final state, with the planned
 *    revision, event history and command records;
 *  - the commands topic, read with read_committed, holds every planned command exactly once
 *    (identified by key = sagaId, label and the `sagaflow-revision` header) and nothing else;
 *  - the changelog's latest record per key equals the document the instances serve.
 * Pure: returns the problems found, one line each.
 */
export function checkRun(opts: {
  sagas: readonly PlannedSaga[];
  served: Map<string, SagaDocument>;
  records: RunRecords;
  /** Keys that may appear in the changelog and commands besides the planned sagas (e.g. bad-input victims). */
  otherKeys?: ReadonlySet<string>;
}): string[] {
  const problems: string[] = [];
  const report = (p: string) => problems.push(p);
  const planned = new Map(opts.sagas.map((s) => [s.sagaId, s]));

  for (const plan of opts.sagas) {
    const saga = opts.served.get(plan.sagaId);
    if (!saga) {
      report(`${plan.sagaId}: not served`);
      continue;
    }
    if (saga.currentState !== plan.finalState) report(`${plan.sagaId}: state ${saga.currentState}, expected ${plan.finalState}`);
    if (saga.revision !== plan.revision) report(`${plan.sagaId}: revision ${saga.revision}, expected ${plan.revision}`);
    const events = saga.history.events.map((e) => e.event);
    if (!isDeepStrictEqual(events, plan.events)) report(`${plan.sagaId}: events ${JSON.stringify(events)}, expected ${JSON.stringify(plan.events)}`);
    const commands = saga.commands.map((c) => ({ label: c.label, revision: c.revision }));
    if (!isDeepStrictEqual(commands, plan.commands)) {
      report(`${plan.sagaId}: command records ${JSON.stringify(commands)}, expected ${JSON.stringify(plan.commands)}`);
    }
    if (saga.ignoredEvents.length > 0) report(`${plan.sagaId}: ignored events ${JSON.stringify(saga.ignoredEvents)}`);
  }

  const expected = new Map<string, number>();
  for (const plan of opts.sagas) for (const c of plan.commands) expected.set(`${plan.sagaId}|${c.label}|${c.revision}`, 0);
  for (const command of opts.records.commands) {
    if (command.key === null) {
      report(`command without key at ${command.at}`);
      continue;
    }
    const id = `${command.key}|${command.label}|${command.revision ?? '?'}`;
    const seen = expected.get(id);
    if (seen === undefined) {
      if (!opts.otherKeys?.has(command.key)) report(`unexpected command ${id} at ${command.at}`);
      continue;
    }
    expected.set(id, seen + 1);
  }
  for (const [id, n] of expected) if (n !== 1) report(`command ${id} present ${n} times, expected exactly once`);

  for (const [key, stored] of opts.records.changelog) {
    if (!planned.has(key)) {
      if (!opts.otherKeys?.has(key)) report(`unexpected changelog key ${key}`);
      continue;
    }
    const served = opts.served.get(key);
    if (!isDeepStrictEqual(stored, served)) {
      report(`${key}: changelog latest (revision ${stored?.revision}) differs from the served document (revision ${served?.revision})`);
    }
  }
  for (const plan of opts.sagas) if (!opts.records.changelog.has(plan.sagaId)) report(`${plan.sagaId}: not in the changelog`);
  return problems;
}

/** Dead letters by error code. */
export function deadLetterCodes(records: RunRecords): Map<string, number> {
  const codes = new Map<string, number>();
  for (const d of records.deadLetters) codes.set(d.code, (codes.get(d.code) ?? 0) + 1);
  return codes;
}

/**
 * Shows that checkRun can fail on this run's data: a plan that expects one saga to end the
 * other way, and a copy of the commands topic with one command twice, must both be reported.
 */
export function checkRunDetects(opts: { sagas: readonly PlannedSaga[]; served: Map<string, SagaDocument>; records: RunRecords }): string[] {
  const failures: string[] = [];
  const target = opts.sagas.find((s) => s.commands.length > 1);
  if (!target) return ['no saga with two commands to tamper with'];
  const wrongPlan = opts.sagas.map((s) => (s === target ? { ...s, finalState: s.finalState === 'reservationConfirmed' ? 'reservationFailed' as const : 'reservationConfirmed' as const } : s));
  if (!checkRun({ ...opts, sagas: wrongPlan }).some((p) => p.startsWith(`${target.sagaId}: state`))) failures.push('a wrong final state went unnoticed');
  const duplicate = opts.records.commands.find((c) => c.key === target.sagaId);
  if (duplicate) {
    const records = { ...opts.records, commands: [...opts.records.commands, duplicate] };
    if (!checkRun({ ...opts, records }).some((p) => p.includes('present 2 times'))) failures.push('a duplicated command went unnoticed');
  }
  const changelog = new Map(opts.records.changelog);
  changelog.delete(target.sagaId);
  if (!checkRun({ ...opts, records: { ...opts.records, changelog } }).some((p) => p.includes('not in the changelog'))) {
    failures.push('a missing changelog record went unnoticed');
  }
  return failures;
}

/**
 * Waits until the application's committed offsets reach the end of every partition of the
 * events topic: every event produced so far is processed and its outputs committed.
 */
export async function waitAllProcessed(admin: Admin, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const behind = ends.filter((e) => {
      const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
      return BigInt(c === '-1' ? e.low : c) < BigInt(e.high);
    });
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      const lag = behind.map((e) => `${e.partition}:${committed?.partitions.find((p) => p.partition === e.partition)?.offset}/${e.high}`).join(' ');
      throw new Error(`events of ${topic} not all processed within ${timeoutMs} ms (partition:committed/end ${lag})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The first problems, one per line, for an assertion message. */
export function describeProblems(problems: readonly string[], max = 25): string {
  const shown = problems.slice(0, max).join('\n');
  return problems.length > max ? `${shown}\n... and ${problems.length - max} more` : shown;
}
