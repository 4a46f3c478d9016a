import { businessKey } from '../definition/compile.ts';
import type { CompiledDefinition } from '../definition/compile.ts';
import type { BusinessId } from '../definition/types.ts';
import type { EventHistoryEntry, SagaDocument, StateHistoryEntry } from '../saga/types.ts';

/** Why a stored Flow Manager saga cannot be carried over; it is listed, never written. */
export interface RefusedSaga {
  sagaId: string | undefined;
  reason: string;
}

type Mapped = { saga: SagaDocument } | { refused: RefusedSaga };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A timestamp as Flow Manager's stores hold it: an ISO string, a BSON date (a Date once read
 * by the driver) or milliseconds. undefined when it is none of them.
 */
export function isoTimestamp(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value).toISOString();
  if (typeof value === 'string' && value !== '' && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  return undefined;
}

function businessId(value: unknown): BusinessId | undefined {
  return typeof value === 'string' || typeof value === 'number' ? value : undefined;
}

/**
 * The revision an imported saga gets: one per history entry. An imported document that
 * sagaflow has not changed since keeps exactly this revision (sagaflow's own changes add
 * one revision per change, and add two history entries per applied event, or none), which
 * is how a second import tells "still the copy of Flow Manager's" from "advanced here".
 */
export function importRevision(saga: Pick<SagaDocument, 'history'>): number {
  return Math.max(1, saga.history.states.length + saga.history.events.length);
}

/**
 * Maps a document of a Flow Manager store (mongo collection, CRUD or REST persistency) to
 * sagaflow's saga document. Flow Manager's fields are kept as they are; `isFinal` and the
 * business state come from this definition's state (Flow Manager marks `isFinal`
 * deprecated); the fields Flow Manager lacks get defaults: `revision` (see importRevision),
 * `createdAt`/`updatedAt` from the document (the CRUD service adds them) or its history,
 * and empty `commands`, `ignoredEvents` and `recentEventIds` (Flow Manager records none).
 * A document whose state this definition does not have is refused: sagaflow could never
 * move it, and writing it would hide that.
 */
export function fromFlowManager(raw: unknown, definition: CompiledDefinition, now: string): Mapped {
  if (!isRecord(raw)) return { refused: { sagaId: undefined, reason: 'not a JSON object' } };
  const sagaId = typeof raw.sagaId === 'string' && raw.sagaId !== '' ? raw.sagaId : undefined;
  if (sagaId === undefined) return { refused: { sagaId: undefined, reason: 'no sagaId (a non-empty string)' } };
  const refuse = (reason: string): Mapped => ({ refused: { sagaId, reason } });
  if (typeof raw.currentState !== 'string') return refuse('no currentState');
  const state = definition.states.get(raw.currentState);
  if (!state) return refuse(`currentState "${raw.currentState}" is not a state of this machine definition`);
  if (raw.metadata !== undefined && raw.metadata !== null && !isRecord(raw.metadata)) return refuse('metadata is not an object');

  const history = isRecord(raw.history) ? raw.history : {};
  const states: StateHistoryEntry[] = [];
  for (const [i, entry] of (Array.isArray(history.states) ? history.states : []).entries()) {
    const timestamp = isRecord(entry) ? isoTimestamp(entry.timestamp) : undefined;
    if (!isRecord(entry) || typeof entry.state !== 'string' || timestamp === undefined) return refuse(`history.states[${i}] has no state or no valid timestamp`);
    const out: StateHistoryEntry = { state: entry.state, timestamp };
    const id = businessId(entry.businessStateId);
    if (id !== undefined) out.businessStateId = id;
    if (typeof entry.businessStateDescription === 'string') out.businessStateDescription = entry.businessStateDescription;
    states.push(out);
  }
  const events: EventHistoryEntry[] = [];
  for (const [i, entry] of (Array.isArray(history.events) ? history.events : []).entries()) {
    const timestamp = isRecord(entry) ? isoTimestamp(entry.timestamp) : undefined;
    if (!isRecord(entry) || typeof entry.event !== 'string' || timestamp === undefined) return refuse(`history.events[${i}] has no event or no valid timestamp`);
    const out: EventHistoryEntry = { event: entry.event, timestamp };
    const id = businessId(entry.businessEventId);
    if (id !== undefined) out.businessEventId = id;
    if (typeof entry.businessEventDescription === 'string') out.businessEventDescription = entry.businessEventDescription;
    events.push(out);
  }
  const stamps = [...states.map((s) => s.timestamp), ...events.map((e) => e.timestamp)].sort();
  const createdAt = isoTimestamp(raw.createdAt) ?? stamps[0] ?? now;
  const updatedAt = isoTimestamp(raw.updatedAt) ?? stamps.at(-1) ?? createdAt;
  const saga: SagaDocument = {
    sagaId,
    associatedEntityId: typeof raw.associatedEntityId === 'string' || typeof raw.associatedEntityId === 'number' ? String(raw.associatedEntityId) : '',
    currentState: state.id,
    isFinal: state.isFinal,
    metadata: isRecord(raw.metadata) ? (JSON.parse(JSON.stringify(raw.metadata)) as Record<string, unknown>) : {},
    latestEvent: typeof raw.latestEvent === 'string' ? raw.latestEvent : (events.at(-1)?.event ?? definition.creationEvent),
    history: { states, events },
    revision: 0,
    createdAt,
    updatedAt,
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
  };
  const businessStateId = state.businessStateId ?? businessId(raw.businessStateId);
  if (businessStateId !== undefined) {
    saga.businessStateId = businessStateId;
    const description = state.businessStateDescription ?? definition.businessStates.get(businessKey(businessStateId))?.description ?? (typeof raw.businessStateDescription === 'string' ? raw.businessStateDescription : undefined);
    if (description !== undefined) saga.businessStateDescription = description;
  }
  saga.revision = importRevision(saga);
  return { saga };
}

/** What the import does with one saga, given what the changelog holds for it. */
export type ImportDecision = 'import' | 'update' | 'unchanged' | 'kept';

/** Flow Manager's fields, the part of a document an import writes. */
function flowManagerView(saga: SagaDocument): string {
  const { sagaId, associatedEntityId, currentState, isFinal, metadata, latestEvent, history, businessStateId, businessStateDescription } = saga;
  return JSON.stringify({ sagaId, associatedEntityId, currentState, isFinal, metadata, latestEvent, history, businessStateId, businessStateDescription });
}

/** True for a document an import wrote and sagaflow has not changed since. */
function untouchedImport(saga: SagaDocument): boolean {
  return saga.revision === importRevision(saga) && saga.commands.length === 0 && saga.ignoredEvents.length === 0 && saga.recentEventIds.length === 0;
}

/**
 * Never overwrites what sagaflow did: a saga the changelog holds is rewritten only when it is
 * still an untouched import and Flow Manager's copy has moved on since (more history, so a
 * higher import revision). Everything else the changelog holds is kept as it is; running the
 * same import twice writes nothing the second time.
 */
export function importDecision(existing: SagaDocument | undefined, imported: SagaDocument): ImportDecision {
  if (existing === undefined) return 'import';
  if (!untouchedImport(existing)) return 'kept';
  if (flowManagerView(existing) === flowManagerView(imported)) return 'unchanged';
  return imported.revision > existing.revision ? 'update' : 'kept';
}
