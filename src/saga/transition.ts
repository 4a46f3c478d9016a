import type { CompiledDefinition, CompiledState } from '../definition/compile.ts';
import { cloneJson, isPlainObject, shallowMergeMetadata } from './merge.ts';
import type {
  Command,
  DeliveryFailureRecord,
  EventHistoryEntry,
  IgnoredEventRecord,
  SagaDocument,
  SagaInput,
  SentCommandRecord,
  StateHistoryEntry,
  TransitionResult,
} from './types.ts';

type CreateInput = Extract<SagaInput, { kind: 'create' }>;
type EventInput = Extract<SagaInput, { kind: 'event' }>;
type DeliveryFailedInput = Extract<SagaInput, { kind: 'delivery-failed' }>;

/**
 * The saga state machine as a pure function: given the definition, the saga as stored (or
 * undefined) and one input, returns the saga after the input, the commands to send and what
 * happened. No clock, no randomness, no I/O: timestamps come with the input, so replaying the
 * same inputs gives the same documents and commands. Neither argument is modified.
 * Hooks come compiled with the definition and run in their sandbox, which sees the input's
 * timestamp as its clock and a seed made of sagaId, revision and label as its randomness.
 */
export function transition(def: CompiledDefinition, saga: SagaDocument | undefined, input: SagaInput): TransitionResult {
  switch (input.kind) {
    case 'create':
      return create(def, saga, input);
    case 'event':
      return applyEvent(def, saga, input);
    case 'delivery-failed':
      return recordDeliveryFailure(def, saga, input);
  }
}

function create(def: CompiledDefinition, existing: SagaDocument | undefined, input: CreateInput): TransitionResult {
  if (existing !== undefined) {
    return unchanged('already-exists', existing, `saga "${input.sagaId}" already exists (state "${existing.currentState}")`);
  }
  const state = def.states.get(def.initialState);
  if (state === undefined) throw new Error(`initialState "${def.initialState}" is not in the compiled definition`);
  const revision = 1;
  const metadata = cloneJson(input.metadata);
  const saga: SagaDocument = {
    sagaId: input.sagaId,
    associatedEntityId: input.associatedEntityId,
    currentState: state.id,
    ...businessState(state),
    isFinal: state.isFinal,
    metadata,
    latestEvent: def.creationEvent,
    history: {
      states: [stateEntry(state, input.timestamp)],
      events: [{ event: def.creationEvent, timestamp: input.timestamp }],
    },
    revision,
    createdAt: input.timestamp,
    updatedAt: input.timestamp,
    commands: [],
    ignoredEvents: [],
    recentEventIds: [],
  };
  const entered = enter(state, saga, input.timestamp);
  if (!entered.ok) {
    // Nothing to record the event in: the creation creates nothing, and the caller keeps the
    // event (dead-letter topic) so it can be sent again once the hook is fixed.
    return { outcome: 'hook-failed', saga: undefined, changed: false, commands: [], reason: entered.reason };
  }
  saga.commands = entered.records;
  return { outcome: 'created', saga, changed: true, commands: entered.commands };
}

function applyEvent(def: CompiledDefinition, saga: SagaDocument | undefined, input: EventInput): TransitionResult {
  if (saga === undefined) {
    return { outcome: 'unknown-saga', saga: undefined, changed: false, commands: [], reason: `saga "${input.sagaId}" does not exist` };
  }
  if (input.eventId !== undefined && saga.recentEventIds.includes(input.eventId)) {
    return unchanged('duplicate', saga, `event "${input.label}" with eventId "${input.eventId}" was already processed`);
  }
  if (saga.isFinal) {
    return ignore(def, saga, input, 'already-final', `saga is in final state "${saga.currentState}", which accepts no events`);
  }
  const state = def.states.get(saga.currentState);
  if (state === undefined) {
    return ignore(def, saga, input, 'unexpected', `state "${saga.currentState}" is not in the saga definition`);
  }
  const found = state.transitions.get(input.label);
  if (found === undefined) {
    const accepted = state.outgoingTransitions.map((t) => `"${t.inputEvent}"`).join(', ');
    return ignore(def, saga, input, 'unexpected', `state "${state.id}" has no transition for event "${input.label}" (it accepts ${accepted || 'no event'})`);
  }
  const problems = found.validatePayload?.(input.payload) ?? [];
  if (problems.length > 0) {
    return ignore(
      def,
      saga,
      input,
      'rejected',
      `payload of event "${input.label}" does not match the payloadValidationSchema of the transition "${state.id}" -> "${found.targetState}": ${problems.join('; ')}`,
    );
  }
  const target = def.states.get(found.targetState);
  if (target === undefined) {
    return ignore(def, saga, input, 'unexpected', `targetState "${found.targetState}" is not in the saga definition`);
  }

  const revision = saga.revision + 1;
  let metadata = saga.metadata;
  if (isPlainObject(input.payload)) {
    const { enabled, merge } = def.settings.deepMergeMetadata;
    if (enabled) {
      const merged = merge(saga.metadata, input.payload, { timestamp: input.timestamp, seed: `${saga.sagaId}\u0000${revision}\u0000${input.label}` });
      if (!merged.ok) return hookFailed(def, saga, input, merged.reason);
      metadata = merged.value;
    } else {
      metadata = shallowMergeMetadata(saga.metadata, input.payload);
    }
  }
  const event: EventHistoryEntry = { event: input.label, timestamp: input.timestamp };
  if (found.businessEventId !== undefined) event.businessEventId = found.businessEventId;
  if (found.businessEventDescription !== undefined) event.businessEventDescription = found.businessEventDescription;
  if (input.eventId !== undefined) event.eventId = input.eventId;

  // Built field by field, Flow Manager's fields first, so the business state of the previous
  // state never lingers when the target state has none.
  const next: SagaDocument = {
    sagaId: saga.sagaId,
    associatedEntityId: saga.associatedEntityId,
    currentState: target.id,
    ...businessState(target),
    isFinal: target.isFinal,
    metadata,
    latestEvent: input.label,
    history: {
      states: [...saga.history.states, stateEntry(target, input.timestamp)],
      events: [...saga.history.events, event],
    },
    revision,
    createdAt: saga.createdAt,
    updatedAt: input.timestamp,
    commands: saga.commands,
    ignoredEvents: saga.ignoredEvents,
    recentEventIds: remember(saga.recentEventIds, input.eventId, def.settings.duplicateWindow),
  };
  const entered = enter(target, next, input.timestamp);
  if (!entered.ok) return hookFailed(def, saga, input, entered.reason);
  next.commands = [...saga.commands, ...entered.records];
  return { outcome: 'applied', saga: next, changed: true, commands: entered.commands };
}

/**
 * A command the outbox dispatcher could not deliver: recorded in `deliveryFailures`, in any
 * state (a final state's side effect can fail too); the state, metadata and history stay.
 */
function recordDeliveryFailure(def: CompiledDefinition, saga: SagaDocument | undefined, input: DeliveryFailedInput): TransitionResult {
  if (saga === undefined) {
    return { outcome: 'unknown-saga', saga: undefined, changed: false, commands: [], reason: `saga "${input.sagaId}" does not exist` };
  }
  const { failure } = input;
  if (input.eventId !== undefined && saga.recentEventIds.includes(input.eventId)) {
    return unchanged('duplicate', saga, `the failed delivery of "${failure.label}" (revision ${failure.revision}) with eventId "${input.eventId}" is already recorded`);
  }
  const record: DeliveryFailureRecord = { ...failure, state: saga.currentState, timestamp: input.timestamp };
  const next: SagaDocument = {
    ...saga,
    revision: saga.revision + 1,
    updatedAt: input.timestamp,
    recentEventIds: remember(saga.recentEventIds, input.eventId, def.settings.duplicateWindow),
    deliveryFailures: [...(saga.deliveryFailures ?? []), record],
  };
  const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`;
  const reason = `"${failure.label}" (revision ${failure.revision}) could not be delivered on channel "${failure.channel}"${status}: ${failure.reason}`;
  return { outcome: 'delivery-failed', saga: next, changed: true, commands: [], reason };
}

/** Unexpected, rejected and already-final events leave the state alone but are recorded. */
function ignore(
  def: CompiledDefinition,
  saga: SagaDocument,
  input: EventInput,
  outcome: IgnoredEventRecord['outcome'],
  reason: string,
  rememberEventId = true,
): TransitionResult {
  const record: IgnoredEventRecord = { event: input.label, timestamp: input.timestamp, outcome, reason, state: saga.currentState };
  if (input.eventId !== undefined) record.eventId = input.eventId;
  const next: SagaDocument = {
    ...saga,
    revision: saga.revision + 1,
    updatedAt: input.timestamp,
    ignoredEvents: lastN([...saga.ignoredEvents, record], def.settings.ignoredEventsWindow),
    recentEventIds: rememberEventId ? remember(saga.recentEventIds, input.eventId, def.settings.duplicateWindow) : saga.recentEventIds,
  };
  return { outcome, saga: next, changed: true, commands: [], reason };
}

/**
 * A hook failed: the saga stays in its state, with the event and the reason recorded. Its
 * eventId is not remembered: once the hook is fixed the same event can be sent again.
 */
function hookFailed(def: CompiledDefinition, saga: SagaDocument, input: EventInput, reason: string): TransitionResult {
  return ignore(def, saga, input, 'hook-failed', reason, false);
}

function unchanged(outcome: 'already-exists' | 'duplicate', saga: SagaDocument, reason: string): TransitionResult {
  return { outcome, saga, changed: false, commands: [], reason };
}

/**
 * The commands of a state being entered by `saga` (already in that state), and their records
 * for the saga document. A command with a hook gets the payload the hook builds from the saga;
 * the others get a copy of the metadata. The first hook that fails fails the whole entry.
 */
function enter(
  state: CompiledState,
  saga: SagaDocument,
  timestamp: string,
): { ok: true; commands: Command[]; records: SentCommandRecord[] } | { ok: false; reason: string } {
  const commands: Command[] = [];
  const records: SentCommandRecord[] = [];
  let view: Record<string, unknown> | undefined;
  for (const command of state.commands) {
    let payload: unknown;
    const out: Command = { sagaId: saga.sagaId, label: command.label, channel: command.channel, payload: undefined, kind: command.kind };
    if (command.hook === undefined) {
      // Each command gets its own copy: the interpreter may serialise or alter payloads
      // without reaching into the stored document.
      payload = cloneJson(saga.metadata);
    } else {
      view ??= hookView(saga);
      const built = command.hook.run({ saga: view, messageLabel: command.label }, { timestamp, seed: `${saga.sagaId}\u0000${saga.revision}\u0000${command.label}` });
      if (!built.ok) return built;
      payload = built.value;
      out.hook = command.hook.path;
    }
    out.payload = payload;
    commands.push(out);
    records.push({ label: command.label, channel: command.channel, kind: command.kind, state: state.id, timestamp, revision: saga.revision });
  }
  return { ok: true, commands, records };
}

/** The saga as a hook sees it: Flow Manager's fields plus revision and timestamps, not sagaflow's bookkeeping. */
function hookView(saga: SagaDocument): Record<string, unknown> {
  const { commands: _commands, ignoredEvents: _ignored, recentEventIds: _recent, ...view } = saga;
  return view;
}

function businessState(state: CompiledState): Pick<SagaDocument, 'businessStateId' | 'businessStateDescription'> {
  const fields: Pick<SagaDocument, 'businessStateId' | 'businessStateDescription'> = {};
  if (state.businessStateId !== undefined) fields.businessStateId = state.businessStateId;
  if (state.businessStateDescription !== undefined) fields.businessStateDescription = state.businessStateDescription;
  return fields;
}

function stateEntry(state: CompiledState, timestamp: string): StateHistoryEntry {
  return { state: state.id, timestamp, ...businessState(state) };
}

/**
 * Every eventId that changed the saga (applied or recorded as ignored) is remembered, so a
 * redelivered event is a no-op whatever its first outcome was.
 */
function remember(ids: readonly string[], eventId: string | undefined, window: number): string[] {
  return lastN(eventId === undefined ? [...ids] : [...ids, eventId], window);
}

function lastN<T>(items: T[], n: number): T[] {
  if (n <= 0) return [];
  return items.length > n ? items.slice(items.length - n) : items;
}

