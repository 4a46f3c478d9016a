import type { Filter, Sort } from 'mongodb';
import { SagaflowError } from '../errors.ts';
import type { SagaDocument } from '../saga/types.ts';

export type SagaSortField = 'createdAt' | 'updatedAt' | 'sagaId';
export type SortOrder = 'asc' | 'desc';

/** Filters of GET /sagas and GET /sagas/stats. Several values of one field match any of them. */
export interface SagaFilter {
  currentState?: string[];
  /** As given in the query string; matches a numeric id too when it looks like a number. */
  businessStateId?: string[];
  associatedEntityId?: string[];
  isFinal?: boolean;
  /** ISO-8601 instants: `From` inclusive, `To` exclusive. */
  createdFrom?: string;
  createdTo?: string;
  updatedFrom?: string;
  updatedTo?: string;
}

/** Where the previous page ended, in the order the pages are read. */
export interface SagaCursor {
  sort: SagaSortField;
  order: SortOrder;
  /** The sort field's value on the last saga of the previous page (unused when sorting by sagaId). */
  value: string;
  sagaId: string;
}

export interface SagaListRequest {
  filter: SagaFilter;
  limit: number;
  sort: SagaSortField;
  order: SortOrder;
  after?: SagaCursor;
}

export function encodeCursor(cursor: SagaCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.order, cursor.value, cursor.sagaId])).toString('base64url');
}

function cursorInvalid(reason: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_CURSOR_INVALID', {
    message: `cursor: ${reason}; pass the nextCursor of a previous page unchanged, with the same sort and order`,
    retryable: false,
    path: 'querystring.cursor',
  });
}

/** Decodes a cursor made by `encodeCursor`; it must belong to the same sort and order. */
export function decodeCursor(raw: string, sort: SagaSortField, order: SortOrder): SagaCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw cursorInvalid('not a cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((p) => typeof p === 'string')) throw cursorInvalid('not a cursor');
  const [s, o, value, sagaId] = parsed as [string, string, string, string];
  if (s !== sort || o !== order) throw cursorInvalid(`it was made for sort=${s}&order=${o}, not sort=${sort}&order=${order}`);
  return { sort, order, value, sagaId };
}

/** `new Date(x).toISOString()`: stored timestamps are in that form, so strings compare as instants. */
export function normalizeInstant(raw: string, name: string): string {
  const t = Date.parse(raw);
  if (Number.isNaN(t)) {
    throw new SagaflowError('SAGAFLOW_BAD_QUERY', { message: `${name}: "${raw}" is not an ISO-8601 date-time`, retryable: false, path: `querystring.${name}` });
  }
  return new Date(t).toISOString();
}

/** Business ids are usually integers in saga.json, and strings in a query string: match both. */
export function businessIdCandidates(raw: string): (string | number)[] {
  return /^-?\d+(\.\d+)?$/.test(raw) && Number.isFinite(Number(raw)) ? [Number(raw), raw] : [raw];
}

function anyOf(values: readonly (string | number)[]): unknown {
  return values.length === 1 ? values[0] : { $in: values };
}

function range(from: string | undefined, to: string | undefined): Record<string, string> | undefined {
  if (from === undefined && to === undefined) return undefined;
  const r: Record<string, string> = {};
  if (from !== undefined) r.$gte = from;
  if (to !== undefined) r.$lt = to;
  return r;
}

/** The MongoDB filter of a SagaFilter. */
export function mongoFilter(filter: SagaFilter): Filter<SagaDocument> {
  const f: Record<string, unknown> = {};
  if (filter.currentState?.length) f.currentState = anyOf(filter.currentState);
  if (filter.businessStateId?.length) f.businessStateId = anyOf(filter.businessStateId.flatMap(businessIdCandidates));
  if (filter.associatedEntityId?.length) f.associatedEntityId = anyOf(filter.associatedEntityId);
  // Flow Manager deprecated isFinal but still writes it; a missing one counts as false.
  if (filter.isFinal !== undefined) f.isFinal = filter.isFinal ? true : { $ne: true };
  const created = range(filter.createdFrom, filter.createdTo);
  if (created) f.createdAt = created;
  const updated = range(filter.updatedFrom, filter.updatedTo);
  if (updated) f.updatedAt = updated;
  return f as Filter<SagaDocument>;
}

/** Filter plus the keyset condition "after the cursor", and the matching sort. */
export function pageQuery(req: SagaListRequest): { filter: Filter<SagaDocument>; sort: Sort } {
  const base = mongoFilter(req.filter);
  const dir = req.order === 'asc' ? 1 : -1;
  const sort: Sort = req.sort === 'sagaId' ? { sagaId: dir } : { [req.sort]: dir, sagaId: dir };
  if (!req.after) return { filter: base, sort };
  const beyond = req.order === 'asc' ? '$gt' : '$lt';
  const keyset =
    req.sort === 'sagaId'
      ? { sagaId: { [beyond]: req.after.sagaId } }
      : { $or: [{ [req.sort]: { [beyond]: req.after.value } }, { [req.sort]: req.after.value, sagaId: { [beyond]: req.after.sagaId } }] };
  const filter = Object.keys(base).length === 0 ? keyset : { $and: [base, keyset] };
  return { filter: filter as Filter<SagaDocument>, sort };
}

export function cursorAfter(saga: SagaDocument, sort: SagaSortField, order: SortOrder): SagaCursor {
  return { sort, order, value: sort === 'sagaId' ? '' : String(saga[sort] ?? ''), sagaId: saga.sagaId };
}
