import type { CompiledCommand, CompiledDefinition, CompiledState, CompiledTransition } from '../definition/compile.ts';
import { BUILT_IN_CANCELLED_STATE, CANCELLED_STATE, CANCEL_EVENT, parseCancelPayload } from './cancel.ts';
import { route, startOf, unexpectedTarget } from './choreography.ts';
import { cloneJson, isPlainObject, shallowMergeMetadata } from './merge.ts';
import { completeCount, invocationsOnEntry, joinHolds, matchAnswer, recordAnswer, withoutRetriesOf } from './parallel.ts';
import type { AnswerMatch } from './parallel.ts';
import { addMs, currentEntry, deadlineTimer, retryDelayMs, sameTimer, sortTimers, timersOnEntry } from './timers.ts';
import type {
  Command,
  Outcome,
  DeliveryFailureRecord,
  EventHistoryEntry,
  IgnoredEventRecord,
  PendingTimer,
  SagaDocument,
  SagaInput,
  SentCommandRecord,
  ServiceInvocation,
  StateHistoryEntry,
  TransitionResult,
} from './types.ts';

type CreateInput = Extract<SagaInput, { kind: 'create' }>;
type EventInput = Extract<SagaInput, { kind: 'event' }>;
type DeliveryFailedInput = Extract<SagaInput, { kind: 'delivery-failed' }>;
type CancelInput = Extract<SagaInput, { kind: 'cancel' }>;
type TimerInput = Extract<SagaInput, { kind: 'timer' }>;
/** What an ignored event is recorded with, whatever kind of input it came as. */
interface Received {
  sagaId: string;
  label: string;
  timestamp: string;
  eventId?: string;
  /** The timer that delivered it, when no service did. */
  timer?: { kind: 'timeout' | 'deadline'; dueAt: string };
}

/**
 * The saga state machine as a pure function: given the definition, the saga as stored (or
 * undefined) and one input, returns the saga after the input, the commands to send and what
 * happened. No clock, no randomness, no I/O: timestamps come with the input, so replaying the
 * same inputs gives the same documents and commands. Neither argument is modified.
 * Hooks come compiled with the definition and run in their sandbox, which sees the input's
 * timestamp as its clock and a seed made of sagaId, revision and label as its randomness.
 */
export function transition(def: CompiledDefinition, saga: SagaDocument | undefined, input: SagaInput): TransitionResult {
  if (input.kind === 'create') return create(def, saga, input);
  if (input.kind === 'cancel') return cancel(def, saga, input);
  if (input.kind === 'delivery-failed') return recordDeliveryFailure(def, saga, input);
  if (input.kind === 'timer') return fireTimer(def, saga, input);
  // The wire form of a cancel is an event with a reserved label: the interpreter need not know it.
  if (input.label === CANCEL_EVENT) return cancelFromEvent(def, saga, input);
  return applyEvent(def, saga, input);
}

/** `first`: the saga's first history event when it is not the creation event (a startOn event). */
function create(def: CompiledDefinition, existing: SagaDocument | undefined, input: CreateInput, first: EventHistoryEntry = { event: def.creationEvent, timestamp: input.timestamp }): TransitionResult {
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
    latestEvent: first.event,
    history: {
      states: [stateEntry(state, input.timestamp)],
      events: [first],
    },
    revision,
    createdAt: input.timestamp,
    updatedAt: input.timestamp,
    commands: [],
    ignoredEvents: [],
    recentEventIds: first.eventId === undefined ? [] : remember([], first.eventId, def.settings.duplicateWindow),
  };
  const entered = enter(state, saga, input.timestamp);
  if (!entered.ok) {
    // Nothing to record the event in: the creation creates nothing, and the caller keeps the
    // event (dead-letter topic) so it can be sent again once the hook is fixed.
    return { outcome: 'hook-failed', saga: undefined, changed: false, commands: [], reason: entered.reason };
  }
  saga.commands = entered.records;
  const summary = invocationsOnEntry(state, saga, undefined, entered.commands, input.timestamp);
  if (summary) saga.serviceSummary = summary;
  const timers = state.isFinal ? undefined : timersOnEntry(state, saga, deadlineTimer(def, input.timestamp), input.timestamp);
  if (timers) saga.timers = timers;
  return { outcome: 'created', saga, changed: true, commands: entered.commands };
}

/** What every input to an existing saga goes through first: the saga exists, the event is new, the saga is not final. */
function admit(def: CompiledDefinition, saga: SagaDocument | undefined, input: Received): { saga: SagaDocument } | { result: TransitionResult } {
  if (saga === undefined) {
    return { result: { outcome: 'unknown-saga', saga: undefined, changed: false, commands: [], reason: `saga "${input.sagaId}" does not exist` } };
  }
  if (input.eventId !== undefined && saga.recentEventIds.includes(input.eventId)) {
    return { result: unchanged('duplicate', saga, `event "${input.label}" with eventId "${input.eventId}" was already processed`) };
  }
  if (saga.isFinal) {
    return { result: ignore(def, saga, input, 'already-final', finalReason(saga)) };
  }
  return { saga };
}

function applyEvent(def: CompiledDefinition, stored: SagaDocument | undefined, input: EventInput & Pick<Received, 'timer'>): TransitionResult {
  // Choreography: a startOn event creates the saga it addresses (src/saga/choreography.ts).
  const start = stored === undefined && input.timer === undefined ? startOf(def, input.sagaId, input.label, input.payload) : undefined;
  if (start !== undefined) {
    if ('invalid' in start) return { outcome: 'invalid-start', saga: undefined, changed: false, commands: [], reason: start.invalid };
    return create(def, undefined, { kind: 'create', sagaId: input.sagaId, timestamp: input.timestamp, ...start }, historyEntry(input, undefined));
  }
  const admitted = admit(def, stored, input);
  if ('result' in admitted) return admitted.result;
  const { saga } = admitted;
  const answer = matchAnswer(def, saga, input.label);
  if (answer !== undefined) return answerBranch(def, saga, input, answer);
  const taken = transitionFor(def, saga, input.label, input.payload);
  if ('unexpected' in taken) {
    // Choreography: the state's onUnexpected takes the saga on, metadata unchanged.
    const target = unexpectedTarget(def, def.states.get(saga.currentState));
    if (target === undefined) return ignore(def, saga, input, 'unexpected', taken.unexpected);
    const event = historyEntry(input, undefined);
    event.unexpected = { state: saga.currentState, reason: taken.unexpected };
    const moved = moveTo(def, saga, target, event, saga.metadata, input, 'unexpected-transition');
    return moved.outcome === 'unexpected-transition' ? { ...moved, reason: taken.unexpected } : moved;
  }
  const { state, found } = taken;
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
  const metadata = mergedMetadata(def, saga, input);
  if (!metadata.ok) return hookFailed(def, saga, input, metadata.reason);
  return moveTo(def, saga, target, historyEntry(input, found), metadata.value, input, 'applied');
}

/** The saga's metadata with the event's payload merged in (a payload that is not an object changes nothing). */
function mergedMetadata(def: CompiledDefinition, saga: SagaDocument, input: EventInput): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  if (!isPlainObject(input.payload)) return { ok: true, value: saga.metadata };
  const { enabled, merge } = def.settings.deepMergeMetadata;
  if (!enabled) return { ok: true, value: shallowMergeMetadata(saga.metadata, input.payload) };
  return merge(saga.metadata, input.payload, { timestamp: input.timestamp, seed: `${saga.sagaId}\u0000${saga.revision + 1}\u0000${input.label}` });
}

/**
 * A `done` event (see src/saga/parallel.ts for which invocation it answers). The first answer
 * of a branch of the current entry completes it and merges its payload into the metadata, as
 * an applied event does; when the join then holds the saga moves to onJoin.targetState, with
 * the event in its history. Any other answer is recorded in the service summary only.
 */
function answerBranch(def: CompiledDefinition, saga: SagaDocument, input: EventInput, match: AnswerMatch): TransitionResult {
  const before = saga.serviceSummary ?? [];
  const invocation = before[match.index] as ServiceInvocation;
  const summary = recordAnswer(before, match.index, input, !match.current, def.settings.ignoredEventsWindow);
  const recorded: SagaDocument = {
    ...saga,
    revision: saga.revision + 1,
    updatedAt: input.timestamp,
    recentEventIds: remember(saga.recentEventIds, input.eventId, def.settings.duplicateWindow),
    serviceSummary: summary,
  };
  const what = `"${input.label}" answers "${invocation.label}" (branch ${invocation.branch} of state "${invocation.state}", entered at revision ${invocation.revision})`;
  if (!match.current || invocation.answeredAt !== undefined) {
    const why = invocation.answeredAt !== undefined ? `the branch was already complete (by "${invocation.answer ?? ''}" at ${invocation.answeredAt})` : 'the saga has left that state entry';
    return { outcome: 'answer-recorded', saga: recorded, changed: true, commands: [], reason: `${what}, but ${why}: recorded in the service summary only` };
  }
  const metadata = mergedMetadata(def, saga, input);
  if (!metadata.ok) return hookFailed(def, saga, input, metadata.reason);
  const { parallel } = match;
  if (joinHolds(parallel, summary, invocation.state, invocation.entry)) {
    const target = def.states.get(parallel.targetState);
    if (target === undefined) return ignore(def, saga, input, 'unexpected', `onJoin.targetState "${parallel.targetState}" is not in the saga definition`);
    return moveTo(def, saga, target, historyEntry(input, undefined), metadata.value, input, 'applied', summary);
  }
  recorded.metadata = metadata.value;
  const timers = withoutRetriesOf(saga.timers, invocation);
  if (timers) recorded.timers = timers;
  else delete recorded.timers;
  const complete = completeCount(summary, invocation.state, invocation.entry);
  return { outcome: 'branch-done', saga: recorded, changed: true, commands: [], reason: `${what}: ${complete} of ${parallel.branches.length} branches complete, the join needs ${parallel.needed}` };
}

/** The transition the saga's current state takes on `label` with `payload`, or why there is none. */
function transitionFor(def: CompiledDefinition, saga: SagaDocument, label: string, payload: unknown): { state: CompiledState; found: CompiledTransition } | { unexpected: string } {
  const state = def.states.get(saga.currentState);
  if (state === undefined) return { unexpected: `state "${saga.currentState}" is not in the saga definition` };
  const taken = route(state, label, payload);
  return 'found' in taken ? { state, found: taken.found } : taken;
}

/** Whether an event with this label would be taken by the saga as it is now, and if not, what would become of it. */
export type Acceptance =
  | { accepted: true }
  | { accepted: false; outcome: Extract<Outcome, 'unknown-saga' | 'already-exists' | 'already-final' | 'unexpected'>; reason: string };

/**
 * The question `POST /event` asks with `throwOnUnexpectedEvents`, answered by the same code that
 * applies events: the creation event is accepted when the saga does not exist yet, any other
 * label when the saga exists, is not final and its current state has a transition for it. The
 * payload is not looked at: a payload the transition's schema refuses is accepted here and
 * recorded as `rejected` when applied.
 */
export function acceptance(def: CompiledDefinition, sagaId: string, saga: SagaDocument | undefined, label: string): Acceptance {
  if (label === def.creationEvent) {
    return saga === undefined ? { accepted: true } : { accepted: false, outcome: 'already-exists', reason: `saga "${sagaId}" already exists (state "${saga.currentState}")` };
  }
  if (saga === undefined) return def.startOn.has(label) ? { accepted: true } : { accepted: false, outcome: 'unknown-saga', reason: `saga "${sagaId}" does not exist` };
  if (saga.isFinal) return { accepted: false, outcome: 'already-final', reason: finalReason(saga) };
  if (matchAnswer(def, saga, label) !== undefined) return { accepted: true };
  // The label decides, not the payload: a payload no `when` matches is unexpected when applied.
  const state = def.states.get(saga.currentState);
  if ((state?.routes.get(label)?.length ?? 0) > 0 || state?.onUnexpected !== undefined) return { accepted: true };
  const taken = transitionFor(def, saga, label, undefined);
  return 'unexpected' in taken ? { accepted: false, outcome: 'unexpected', reason: taken.unexpected } : { accepted: true };
}

function finalReason(saga: SagaDocument): string {
  return `saga is in final state "${saga.currentState}", which accepts no events`;
}

function cancelFromEvent(def: CompiledDefinition, stored: SagaDocument | undefined, input: EventInput): TransitionResult {
  const parsed = parseCancelPayload(input.payload);
  if (parsed.ok) {
    const request: CancelInput = { kind: 'cancel', sagaId: input.sagaId, timestamp: input.timestamp, ...parsed.request };
    if (input.eventId !== undefined) request.eventId = input.eventId;
    return cancel(def, stored, request);
  }
  const admitted = admit(def, stored, input);
  if ('result' in admitted) return admitted.result;
  return ignore(def, admitted.saga, input, 'rejected', parsed.problem);
}

/**
 * Cancel: into `targetState` when the request names one (a declared state, or `__cancelled__`),
 * else where the current state's `__cancel__` transition leads, else into `__cancelled__` (the
 * definition's state of that name, or the built-in final one). The target's commands are sent,
 * as on any transition, so a declared target can start a compensation; metadata is unchanged.
 * The history entry records who cancelled and why.
 */
function cancel(def: CompiledDefinition, stored: SagaDocument | undefined, input: CancelInput): TransitionResult {
  const received: Received = { sagaId: input.sagaId, label: CANCEL_EVENT, timestamp: input.timestamp };
  if (input.eventId !== undefined) received.eventId = input.eventId;
  const admitted = admit(def, stored, received);
  if ('result' in admitted) return admitted.result;
  const { saga } = admitted;
  const declared = def.states.get(saga.currentState)?.transitions.get(CANCEL_EVENT);
  let target: CompiledState | undefined;
  if (input.targetState !== undefined) {
    target = def.states.get(input.targetState) ?? (input.targetState === CANCELLED_STATE ? BUILT_IN_CANCELLED_STATE : undefined);
    if (target === undefined) {
      return ignore(def, saga, received, 'rejected', `cancel: targetState "${input.targetState}" is not a state of the saga definition`);
    }
  } else if (declared !== undefined) {
    target = def.states.get(declared.targetState);
    if (target === undefined) {
      return ignore(def, saga, received, 'rejected', `cancel: the "${CANCEL_EVENT}" transition of "${saga.currentState}" leads to "${declared.targetState}", which is not in the saga definition`);
    }
  } else {
    target = def.states.get(CANCELLED_STATE) ?? BUILT_IN_CANCELLED_STATE;
  }
  const event = historyEntry(received, declared !== undefined && declared.targetState === target.id ? declared : undefined);
  event.by = input.by;
  event.reason = input.reason;
  return moveTo(def, saga, target, event, saga.metadata, received, 'cancelled');
}

function historyEntry(input: Received, transitionTaken: CompiledTransition | undefined): EventHistoryEntry {
  const event: EventHistoryEntry = { event: input.label, timestamp: input.timestamp };
  if (input.timer !== undefined) event.timer = input.timer;
  if (transitionTaken?.businessEventId !== undefined) event.businessEventId = transitionTaken.businessEventId;
  if (transitionTaken?.businessEventDescription !== undefined) event.businessEventDescription = transitionTaken.businessEventDescription;
  if (input.eventId !== undefined) event.eventId = input.eventId;
  return event;
}

/**
 * The saga after entering `target` on `event`: history, revision and the target's commands. A
 * command hook that fails leaves the saga where it was, with the event recorded.
 */
function moveTo(
  def: CompiledDefinition,
  saga: SagaDocument,
  target: CompiledState,
  event: EventHistoryEntry,
  metadata: Record<string, unknown>,
  input: Received,
  outcome: 'applied' | 'cancelled' | 'unexpected-transition',
  summary = saga.serviceSummary,
): TransitionResult {
  // Built field by field, Flow Manager's fields first, so the business state of the previous
  // state never lingers when the target state has none.
  const next: SagaDocument = {
    sagaId: saga.sagaId,
    associatedEntityId: saga.associatedEntityId,
    currentState: target.id,
    ...businessState(target),
    isFinal: target.isFinal,
    metadata,
    latestEvent: event.event,
    history: {
      states: [...saga.history.states, stateEntry(target, event.timestamp)],
      events: [...saga.history.events, event],
    },
    revision: saga.revision + 1,
    createdAt: saga.createdAt,
    updatedAt: event.timestamp,
    commands: saga.commands,
    ignoredEvents: saga.ignoredEvents,
    recentEventIds: remember(saga.recentEventIds, input.eventId, def.settings.duplicateWindow),
  };
  // A record of the saga as a whole, kept across states like the history.
  if (saga.deliveryFailures) next.deliveryFailures = saga.deliveryFailures;
  const entered = enter(target, next, event.timestamp);
  if (!entered.ok) return hookFailed(def, saga, input, entered.reason);
  next.commands = [...saga.commands, ...entered.records];
  const invocations = invocationsOnEntry(target, next, summary, entered.commands, event.timestamp);
  if (invocations) next.serviceSummary = invocations;
  const timers = timersOnEntry(target, next, saga.timers ?? [], event.timestamp);
  if (timers) next.timers = timers;
  return { outcome, saga: next, changed: true, commands: entered.commands };
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

/**
 * A timer came due. The saga must still wait on it (the document holds it): a state's timers
 * leave with the state entry that scheduled them, so one the saga no longer holds fired
 * already or was made stale by the saga moving on, and does nothing. A timeout or the
 * deadline is delivered as its event, as if a service had sent it; a retry sends the command
 * again, with the revision of its first send, and schedules the next one.
 */
function fireTimer(def: CompiledDefinition, saga: SagaDocument | undefined, input: TimerInput): TransitionResult {
  const pending = saga?.timers ?? [];
  const index = pending.findIndex((t) => sameTimer(t, input.timer));
  if (saga === undefined || index === -1) {
    return { outcome: 'stale-timer', saga, changed: false, commands: [], reason: `saga "${input.sagaId}" does not wait on this ${input.timer.kind} timer (due ${input.timer.dueAt}) any more` };
  }
  const timer = pending[index] as PendingTimer;
  const rest = pending.filter((_, i) => i !== index);
  const without: SagaDocument = { ...saga };
  if (rest.length > 0) without.timers = rest;
  else delete without.timers;
  const inEntry = timer.kind === 'deadline' || (saga.currentState === timer.state && currentEntry(saga) === timer.entry);
  if (saga.isFinal || !inEntry) {
    return { outcome: 'stale-timer', saga: { ...without, revision: saga.revision + 1, updatedAt: input.timestamp }, changed: true, commands: [], reason: `the saga left the state entry that scheduled this ${timer.kind}` };
  }
  if (timer.kind === 'retry') return retryCommand(def, without, timer, input.timestamp);
  const after = timer.kind === 'timeout' ? (def.states.get(timer.state)?.timeout?.after ?? null) : (def.deadline?.after ?? null);
  const payload = timer.kind === 'timeout' ? { timeout: { state: timer.state, after, dueAt: timer.dueAt } } : { deadline: { after, dueAt: timer.dueAt } };
  return applyEvent(def, without, { kind: 'event', sagaId: saga.sagaId, label: timer.event, payload, timestamp: input.timestamp, timer: { kind: timer.kind, dueAt: timer.dueAt } });
}

function retryCommand(def: CompiledDefinition, saga: SagaDocument, timer: Extract<PendingTimer, { kind: 'retry' }>, timestamp: string): TransitionResult {
  const command = def.states.get(timer.state)?.commands.find((c) => c.label === timer.label && c.channel === timer.channel);
  const next: SagaDocument = { ...saga, revision: saga.revision + 1, updatedAt: timestamp };
  if (command === undefined) {
    return { outcome: 'stale-timer', saga: next, changed: true, commands: [], reason: `state "${timer.state}" sends no command "${timer.label}" on "${timer.channel}" any more` };
  }
  const sent = sendCommand(command, saga, timer.revision, timer.attempt, timestamp);
  if (!sent.ok) {
    // The retry's hook failed: this send is recorded as failed and the next one still comes.
    next.ignoredEvents = lastN([...saga.ignoredEvents, { event: timer.label, timestamp, outcome: 'hook-failed', reason: sent.reason, state: saga.currentState }], def.settings.ignoredEventsWindow);
  } else {
    next.commands = [...saga.commands, { label: command.label, channel: command.channel, kind: command.kind, state: timer.state, timestamp, revision: timer.revision, attempt: timer.attempt }];
  }
  const timers = [...(saga.timers ?? [])];
  if (command.retry && timer.attempt < command.retry.maxAttempts) {
    timers.push({ ...timer, dueAt: addMs(timestamp, retryDelayMs(command.retry, timer.attempt)), attempt: timer.attempt + 1 });
  }
  if (timers.length > 0) next.timers = sortTimers(timers);
  else delete next.timers;
  return sent.ok ? { outcome: 'retried', saga: next, changed: true, commands: [sent.command] } : { outcome: 'hook-failed', saga: next, changed: true, commands: [], reason: sent.reason };
}

/** Unexpected, rejected and already-final events leave the state alone but are recorded. */
function ignore(
  def: CompiledDefinition,
  saga: SagaDocument,
  input: Received,
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
function hookFailed(def: CompiledDefinition, saga: SagaDocument, input: Received, reason: string): TransitionResult {
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
  for (const command of state.commands) {
    const sent = sendCommand(command, saga, saga.revision, 1, timestamp);
    if (!sent.ok) return sent;
    commands.push(sent.command);
    records.push({ label: command.label, channel: command.channel, kind: command.kind, state: state.id, timestamp, revision: saga.revision });
  }
  return { ok: true, commands, records };
}

/**
 * One send of a command of the saga's current state. With a hook, the payload is what the hook
 * builds from the saga (seeded by sagaId, the first send's revision and the label, so a retry
 * builds the same payload); without, a copy of the metadata: the interpreter may serialise or
 * alter payloads without reaching into the stored document.
 */
function sendCommand(
  command: CompiledCommand,
  saga: SagaDocument,
  revision: number,
  attempt: number,
  timestamp: string,
): { ok: true; command: Command } | { ok: false; reason: string } {
  const out: Command = { sagaId: saga.sagaId, label: command.label, channel: command.channel, payload: undefined, kind: command.kind, attempt, revision };
  if (command.hook === undefined) {
    out.payload = cloneJson(saga.metadata);
    return { ok: true, command: out };
  }
  const built = command.hook.run({ saga: hookView(saga), messageLabel: command.label }, { timestamp, seed: `${saga.sagaId}\u0000${revision}\u0000${command.label}` });
  if (!built.ok) return built;
  out.payload = built.value;
  out.hook = command.hook.path;
  return { ok: true, command: out };
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

