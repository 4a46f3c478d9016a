import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Collection } from 'mongodb';
import type { SagaDocument } from '../../../../src/saga/types.ts';

/**
 * Where a scenario's instances project their sagas (persistencyManagement of type mongo,
 * see mongoPersistency in test/support/mongo.ts) and how long the end of the run waits for it.
 */
export interface ScenarioProjection {
  persistency: { type: 'mongo'; configurations: { connectionUri: string; collectionName: string } };
  /** The collection named by `persistency`, read at the end. */
  collection: Collection<SagaDocument>;
  /** How long to wait, once the stores are verified, for the collection to hold every saga at its served revision. */
  timeoutMs: number;
}

/** Every document of the collection as the projection wrote it (MongoDB's own _id left out). */
export async function readProjection(collection: Collection<SagaDocument>): Promise<SagaDocument[]> {
  return collection.find({}, { projection: { _id: 0 } }).toArray();
}

/**
 * Polls the collection until every expected saga is there at its expected revision, logging
 * progress every `logEveryMs`. Returns at the deadline too, without throwing: checkProjection
 * then says what is missing or behind.
 */
export async function waitProjected(
  collection: Collection<SagaDocument>,
  expected: ReadonlyMap<string, SagaDocument>,
  opts: { timeoutMs: number; log: (line: string) => void; intervalMs?: number; logEveryMs?: number },
): Promise<{ caughtUp: boolean; ms: number; atRevision: number }> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let nextLog = started;
  let atRevision = 0;
  for (;;) {
    let documents = 0;
    try {
      // Only the two fields the wait needs: FerretDB answers a full read of a few thousand sagas in seconds.
      const rows = await collection.find({}, { projection: { _id: 0, sagaId: 1, revision: 1 } }).toArray();
      documents = rows.length;
      atRevision = rows.filter((r) => expected.get(r.sagaId)?.revision === r.revision).length;
    } catch (err) {
      opts.log(`projection: reading ${collection.collectionName} failed (${(err as Error).message}); retrying`);
    }
    const ms = Date.now() - started;
    if (atRevision >= expected.size) {
      opts.log(`projection: all ${expected.size} sagas at their served revision after ${(ms / 1000).toFixed(1)} s`);
      return { caughtUp: true, ms, atRevision };
    }
    if (Date.now() >= deadline) {
      opts.log(`projection: only ${atRevision} of ${expected.size} sagas at their served revision after ${Math.round(ms / 1000)} s; giving up`);
      return { caughtUp: false, ms, atRevision };
    }
    if (Date.now() >= nextLog) {
      opts.log(`projection: ${atRevision} of ${expected.size} sagas at their served revision (${documents} documents) after ${Math.round(ms / 1000)} s`);
      nextLog = Date.now() + (opts.logEveryMs ?? 10_000);
    }
    await delay(opts.intervalMs ?? 1_000);
  }
}

/** Top-level fields whose values differ between two documents (a field present in one only counts). */
function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !isDeepStrictEqual(a[k], b[k])).sort();
}

/**
 * The projection against what the instances serve. The MongoDB sink stores the whole saga
 * document (src/projection/mongo-sink.ts writes the changelog's document as is, minus
 * nothing but MongoDB's _id), so each projected document must deep-equal the served one:
 * same state, revision, history, command records, ignored events, duplicate window and
 * timestamps, and no field more or less. Every expected saga once, and nothing else.
 * Pure: returns the problems found, one line each.
 */
export function checkProjection(opts: { expected: ReadonlyMap<string, SagaDocument>; projected: readonly SagaDocument[] }): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const doc of opts.projected) {
    const sagaId = (doc as Partial<SagaDocument>).sagaId;
    if (typeof sagaId !== 'string') {
      problems.push(`projected document without a sagaId: ${JSON.stringify(doc).slice(0, 200)}`);
      continue;
    }
    const n = (seen.get(sagaId) ?? 0) + 1;
    seen.set(sagaId, n);
    if (n === 2) problems.push(`${sagaId}: projected more than once`);
    if (n > 1) continue;
    const served = opts.expected.get(sagaId);
    if (!served) {
      problems.push(`${sagaId}: projected but not expected (revision ${doc.revision})`);
      continue;
    }
    if (isDeepStrictEqual(doc, served)) continue;
    const fields = differingFields(doc as unknown as Record<string, unknown>, served as unknown as Record<string, unknown>);
    const where =
      doc.revision !== served.revision || doc.currentState !== served.currentState
        ? `projected ${doc.currentState} at revision ${doc.revision}, served ${served.currentState} at revision ${served.revision}`
        : `projected at the served revision ${served.revision} but differs`;
    problems.push(`${sagaId}: ${where} (fields ${fields.join(', ') || '(none at top level: types differ)'})`);
  }
  for (const [sagaId, served] of opts.expected) {
    if (!seen.has(sagaId)) problems.push(`${sagaId}: not projected (served ${served.currentState} at revision ${served.revision})`);
  }
  return problems;
}

/**
 * Shows that checkProjection can fail on this run's data: tampered copies of the projection
 * (a saga missing, one at an older revision, one whose last history timestamp moved, one
 * with a field more, one twice, one not expected at all) must each be reported.
 */
export function checkProjectionDetects(opts: { expected: ReadonlyMap<string, SagaDocument>; projected: readonly SagaDocument[] }): string[] {
  const failures: string[] = [];
  const [target] = [...opts.expected.values()].filter((s) => s.history.events.length > 1);
  if (!target) return ['no projected saga with two events to tamper with'];
  const index = opts.projected.findIndex((d) => d.sagaId === target.sagaId);
  if (index < 0) return [`${target.sagaId} is not projected: nothing to tamper with`];
  const copy = structuredClone(opts.projected[index] as SagaDocument);
  const replaced = (doc: SagaDocument) => opts.projected.map((d, i) => (i === index ? doc : d));
  const flags = (projected: readonly SagaDocument[], what: string, sign: (p: string) => boolean) => {
    if (!checkProjection({ expected: opts.expected, projected }).some(sign)) failures.push(`${what} went unnoticed`);
  };
  const about = (p: string) => p.startsWith(`${target.sagaId}:`);

  flags(
    opts.projected.filter((_, i) => i !== index),
    'a saga missing from the projection',
    (p) => about(p) && p.includes('not projected'),
  );
  flags(replaced({ ...copy, revision: copy.revision - 1 }), 'a projected saga one revision behind', (p) => about(p) && p.includes(`revision ${copy.revision - 1}`));
  const moved = structuredClone(copy);
  const last = moved.history.events.at(-1);
  if (last) last.timestamp = new Date(Date.parse(last.timestamp) + 1).toISOString();
  flags(replaced(moved), 'a history timestamp changed in the projection', (p) => about(p) && p.includes('history'));
  flags(replaced({ ...copy, extra: true } as SagaDocument), 'a field more in a projected saga', (p) => about(p) && p.includes('extra'));
  flags([...opts.projected, copy], 'a saga projected twice', (p) => about(p) && p.includes('more than once'));
  flags([...opts.projected, { ...copy, sagaId: `${copy.sagaId}-stranger` }], 'a projected saga nobody created', (p) => p.startsWith(`${copy.sagaId}-stranger:`));
  return failures;
}
