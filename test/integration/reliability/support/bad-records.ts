import type { Message } from 'kafkajs';
import type { ProcessorCodec } from '../../../../src/kafka/codec.ts';
import type { RunRecords } from './verify.ts';

/** Header that identifies a bad record; the dead-letter topic keeps the original headers. */
export const BAD_ID_HEADER = 'test-bad-id';

export type BadKind =
  | 'garbage'
  | 'empty-value'
  | 'tombstone'
  | 'missing-key'
  | 'unknown-saga'
  | 'invalid-creation'
  | 'existing-saga'
  | 'unexpected-label'
  | 'invalid-payload'
  | 'oversized-payload'
  | 'oversized-saga'
  | 'deep-nesting'
  | 'invalid-json'
  | 'json-wrong-shape'
  | 'wrong-magic-byte'
  | 'truncated-header'
  | 'unknown-schema-id'
  | 'avro-wrong-shape';

export const JSON_KINDS: readonly BadKind[] = [
  'garbage', 'empty-value', 'tombstone', 'missing-key', 'unknown-saga', 'invalid-creation', 'existing-saga',
  'unexpected-label', 'invalid-payload', 'oversized-payload', 'oversized-saga', 'deep-nesting', 'invalid-json', 'json-wrong-shape',
];
export const AVRO_KINDS: readonly BadKind[] = [
  'garbage', 'empty-value', 'tombstone', 'missing-key', 'unknown-saga', 'invalid-creation', 'existing-saga',
  'unexpected-label', 'invalid-payload', 'wrong-magic-byte', 'truncated-header', 'unknown-schema-id', 'avro-wrong-shape',
];
/** Kinds that cost a megabyte each: a handful per run, not thousands. */
export const HEAVY_KINDS: ReadonlySet<BadKind> = new Set(['oversized-payload', 'oversized-saga']);

/** Where a bad record must end up. */
export type Landing =
  | { where: 'dead-letter'; code: string; orCode?: string }
  | { where: 'history'; sagaId: string; outcome: 'unexpected' | 'rejected' };

export interface BadRecord {
  id: string;
  kind: BadKind;
  message: Message;
  landing: Landing;
}

export interface BadRecordContext {
  codec: ProcessorCodec;
  topic: string;
  random: () => number;
  /** Sagas that stay in reservationCreated (nobody answers them): targets of history-landing records. */
  victims: readonly string[];
  /** Sagas that exist (their creation was produced earlier): targets of duplicate creations. */
  existing: readonly string[];
  /** Encodes a value with a schema the events topic does not use (Avro only). */
  foreignAvro?: () => Promise<Buffer>;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

function garbage(random: () => number, n: number): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i += 1) bytes[i] = Math.floor(random() * 256);
  // Never a valid Confluent header or a JSON object: both are separate kinds.
  bytes[0] = 0xff;
  return bytes;
}

/**
 * One malformed or unacceptable record of `kind`, and where the processor must put it:
 * the dead-letter topic with a code, or the history of a victim saga with an outcome.
 */
export async function makeBadRecord(kind: BadKind, id: string, ctx: BadRecordContext): Promise<BadRecord> {
  const { codec, topic, random } = ctx;
  const headers = { [BAD_ID_HEADER]: id };
  const event = (label: string, payload: unknown, eventId?: string) =>
    codec.encodeEvent(topic, { messageLabel: label, messagePayload: payload, ...(eventId === undefined ? {} : { eventId }) });
  const dead = (key: string | null, value: Buffer | null, code: string): BadRecord => ({ id, kind, message: { key, value, headers }, landing: { where: 'dead-letter', code } });
  const decodeFailed = (value: Buffer | null) => dead(`bad-${id}`, value, 'SAGAFLOW_DECODE_FAILED');
  switch (kind) {
    case 'garbage':
      return decodeFailed(garbage(random, 1 + Math.floor(random() * 200)));
    case 'empty-value':
      return decodeFailed(Buffer.alloc(0));
    case 'tombstone':
      return decodeFailed(null);
    case 'invalid-json':
      return decodeFailed(Buffer.from(pick(random, ['{"messageLabel": "validationOK", ', '{"messageLabel":}', '{{}}', '\u0000\u0001{', 'true false'])));
    case 'json-wrong-shape':
      return decodeFailed(Buffer.from(pick(random, ['[1,2,3]', '"validationOK"', '42', 'null', '{"messageLabel": 7}', '{"label": "validationOK"}', '{"messageLabel": ""}'])));
    case 'wrong-magic-byte': {
      const value = await event('validationOK', {});
      value[0] = 1 + Math.floor(random() * 250);
      return decodeFailed(value);
    }
    case 'truncated-header':
      return decodeFailed(Buffer.from([0, 0, 0]));
    case 'unknown-schema-id': {
      const value = await event('validationOK', {});
      value.writeInt32BE(2_000_000_000 + Math.floor(random() * 100_000_000), 1);
      return decodeFailed(value);
    }
    case 'avro-wrong-shape': {
      if (!ctx.foreignAvro) throw new Error('avro-wrong-shape needs foreignAvro');
      return decodeFailed(await ctx.foreignAvro());
    }
    case 'missing-key':
      return { id, kind, message: { key: null, value: await event('validationOK', {}), headers }, landing: { where: 'dead-letter', code: 'SAGAFLOW_EVENT_MISSING_KEY' } };
    case 'unknown-saga':
      return dead(`no-such-saga-${id}`, await event(pick(random, ['validationOK', 'checkOK', 'anything'] as const), { n: id }), 'SAGAFLOW_UNKNOWN_SAGA');
    case 'invalid-creation':
      return dead(`bad-creation-${id}`, await event('__created__', pick(random, [{}, { associatedEntityId: 5, metadata: {} }, { associatedEntityId: 'a', metadata: [1] }, 'x'])), 'SAGAFLOW_INVALID_CREATION');
    case 'existing-saga':
      return dead(pick(random, ctx.existing), await event('__created__', { associatedEntityId: 'again', metadata: { again: id } }), 'SAGAFLOW_SAGA_EXISTS');
    case 'deep-nesting': {
      // Deeper than JSON.stringify's stack: the event decodes, then either the transition's
      // copy of the metadata overflows (internal error) or, a few hundred levels shallower,
      // only encoding the new document does (encode failure). Regression: the second used to
      // fail the transaction on every retry and stall the partition. JSON only: on an Avro
      // topic the same text travels inside a record.
      const depth = pick(random, [4_500, 4_600, 4_700, 5_000, 10_000, 100_000]);
      const value = Buffer.from(`{"messageLabel":"__created__","messagePayload":{"associatedEntityId":"deep","metadata":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}}`);
      return { id, kind, message: { key: `deep-${id}`, value, headers }, landing: { where: 'dead-letter', code: 'SAGAFLOW_INTERNAL_ERROR', orCode: 'SAGAFLOW_ENCODE_FAILED' } };
    }
    case 'unexpected-label': {
      const sagaId = pick(random, ctx.victims);
      return { id, kind, message: { key: sagaId, value: await event(pick(random, ['checkOK', 'noSuchEvent', 'VALIDATIONOK']), { bad: id }, id), headers }, landing: { where: 'history', sagaId, outcome: 'unexpected' } };
    }
    case 'invalid-payload': {
      const sagaId = pick(random, ctx.victims);
      const payload = pick(random, [{ validateReservationBy: 5 }, { other: true }, { validateReservationBy: null }]);
      return { id, kind, message: { key: sagaId, value: await event('validationOK', payload, id), headers }, landing: { where: 'history', sagaId, outcome: 'rejected' } };
    }
    case 'oversized-payload': {
      // 900 kB to a state that does not accept the label: recorded as ignored, payload dropped.
      const sagaId = pick(random, ctx.victims);
      return { id, kind, message: { key: sagaId, value: await event('noSuchEvent', { blob: 'x'.repeat(900_000) }, id), headers }, landing: { where: 'history', sagaId, outcome: 'unexpected' } };
    }
    case 'oversized-saga':
      // Accepted by the broker, but the saga it would create is over the 1 MB record limit.
      return dead(`huge-${id}`, await event('__created__', { associatedEntityId: 'huge', metadata: { blob: 'x'.repeat(1_000_100) } }), 'SAGAFLOW_SAGA_TOO_LARGE');
  }
}

export interface BadRecordReport {
  problems: string[];
  deadLettered: number;
  inHistory: number;
  byKind: Record<string, number>;
}

/**
 * Checks that every bad record landed where it must: in the dead-letter topic with its code
 * and a reason (matched by the BAD_ID_HEADER the topic keeps), or in the history of its victim
 * saga with its outcome and a reason (matched by eventId across the victim's changelog
 * revisions, since the document keeps only the latest ignored events).
 */
export function checkBadRecords(
  bad: readonly BadRecord[],
  records: RunRecords,
): BadRecordReport {
  const deadLetters = new Map<string, { code: string; reason: string }>();
  for (const d of records.deadLetters) {
    const id = d.headers[BAD_ID_HEADER];
    if (id !== undefined) deadLetters.set(id, d);
  }
  const problems: string[] = [];
  const byKind: Record<string, number> = {};
  let deadLettered = 0;
  let inHistory = 0;
  const ignored = new Map<string, { outcome: string; reason: string; sagaId: string }>();
  for (const [sagaId, docs] of records.revisions) {
    for (const doc of docs) for (const e of doc.ignoredEvents) if (e.eventId) ignored.set(e.eventId, { outcome: e.outcome, reason: e.reason, sagaId });
  }
  for (const b of bad) {
    byKind[b.kind] = (byKind[b.kind] ?? 0) + 1;
    if (b.landing.where === 'dead-letter') {
      const found = deadLetters.get(b.id);
      if (!found) problems.push(`${b.kind} ${b.id}: not in the dead-letter topic`);
      else if (found.code !== b.landing.code && found.code !== b.landing.orCode) problems.push(`${b.kind} ${b.id}: dead-lettered with ${found.code}, expected ${b.landing.code} (${found.reason})`);
      else if (found.reason.trim() === '') problems.push(`${b.kind} ${b.id}: dead-lettered without a reason`);
      else deadLettered += 1;
    } else {
      const found = ignored.get(b.id);
      if (!found) problems.push(`${b.kind} ${b.id}: not in the history of ${b.landing.sagaId}`);
      else if (found.sagaId !== b.landing.sagaId || found.outcome !== b.landing.outcome) {
        problems.push(`${b.kind} ${b.id}: recorded on ${found.sagaId} as ${found.outcome}, expected ${b.landing.sagaId} as ${b.landing.outcome}`);
      } else if (found.reason.trim() === '') problems.push(`${b.kind} ${b.id}: recorded without a reason`);
      else inHistory += 1;
    }
  }
  return { problems, deadLettered, inHistory, byKind };
}
