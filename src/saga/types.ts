import type { BusinessId, CommandKind } from '../definition/types.ts';

/** Entry of `history.states`, Flow Manager shape. */
export interface StateHistoryEntry {
  state: string;
  timestamp: string;
  businessStateId?: BusinessId;
  businessStateDescription?: string;
}

/** Entry of `history.events`, Flow Manager shape (+ sagaflow's optional eventId). */
export interface EventHistoryEntry {
  event: string;
  timestamp: string;
  businessEventId?: BusinessId;
  businessEventDescription?: string;
  eventId?: string;
  /** Who sent an operator input (a cancel), as the operator gave it. */
  by?: string;
  /** Why an operator input (a cancel) was sent. */
  reason?: string;
  /** Set when a timer (state timeout or saga deadline) delivered the event, not a service. */
  timer?: { kind: 'timeout' | 'deadline'; dueAt: string };
  /** Choreography: the event had no transition in `state` and its onUnexpected moved the saga; `reason` says why it was unexpected. */
  unexpected?: { state: string; reason: string };
}

/** A command emitted on entering a state (main command or side effect). */
export interface Command {
  sagaId: string;
  label: string;
  channel: string;
  payload: unknown;
  kind: CommandKind;
  /** JSON path of the hook that built `payload`; absent when the payload is the saga's metadata. */
  hook?: string;
  /** Which send this is, from 1; a retry resends with the revision of the first send. */
  attempt: number;
  /** The revision of the first send (the state's entry); with the label it names the command. */
  revision: number;
}

export interface SentCommandRecord {
  label: string;
  channel: string;
  kind: CommandKind;
  state: string;
  timestamp: string;
  /** Saga revision that emitted it: (sagaId, revision, label) identifies a command exactly once. */
  revision: number;
  /** Which send of the command this was (absent: the first), see `retry` in saga.json. */
  attempt?: number;
}

/**
 * A timer a saga waits on, kept in its document so that the changelog carries it and a
 * restored store knows it. `entry` is the index in `history.states` of the state entry that
 * scheduled a state's timer: when the saga has left that entry the timer is stale.
 */
export type PendingTimer =
  | { kind: 'timeout'; dueAt: string; event: string; state: string; entry: number }
  | { kind: 'retry'; dueAt: string; label: string; channel: string; attempt: number; revision: number; state: string; entry: number }
  | { kind: 'deadline'; dueAt: string; event: string };

/** Outcomes that leave the saga where it was and record the event in `ignoredEvents`. */
export const IGNORED_OUTCOMES = ['unexpected', 'rejected', 'already-final', 'hook-failed'] as const;

export interface IgnoredEventRecord {
  event: string;
  timestamp: string;
  eventId?: string;
  outcome: (typeof IGNORED_OUTCOMES)[number];
  reason: string;
  state: string;
}

/**
 * A command on a rest channel that the outbox dispatcher could not deliver (a 4xx answer, or
 * retries exhausted), as the saga records it. The saga's state does not change.
 */
export interface DeliveryFailureRecord {
  channel: string;
  label: string;
  /** Revision of the saga that sent the command: with the label, it names the command. */
  revision: number;
  /** The command's attempt, for a command sent again. */
  attempt?: number;
  /** HTTP status of the last answer; absent when none came (timeout, connection refused). */
  status?: number;
  reason: string;
  /** State of the saga when the failure was recorded. */
  state: string;
  timestamp: string;
}

/** What the dispatcher reports; the saga adds its state and the timestamp when recording it. */
export type DeliveryFailure = Omit<DeliveryFailureRecord, 'state' | 'timestamp'>;

/**
 * The saga document: Flow Manager's fields and history shape, plus sagaflow's
 * `revision`, `createdAt`, `updatedAt`, `commands`, `ignoredEvents` and duplicate window.
 * It is plain JSON and round-trips through JSON.stringify / JSON.parse.
 */
export interface SagaDocument {
  sagaId: string;
  associatedEntityId: string;
  currentState: string;
  businessStateId?: BusinessId;
  businessStateDescription?: string;
  isFinal: boolean;
  metadata: Record<string, unknown>;
  latestEvent: string;
  history: { states: StateHistoryEntry[]; events: EventHistoryEntry[] };
  /** +1 for every change of the document; a projection keeps the highest. */
  revision: number;
  createdAt: string;
  updatedAt: string;
  commands: SentCommandRecord[];
  /** The most recent ignored events, oldest first, bounded by settings.ignoredEventsWindow. */
  ignoredEvents: IgnoredEventRecord[];
  /**
   * eventIds of the most recent events that changed the saga (applied or recorded in
   * ignoredEvents), oldest first, bounded by settings.duplicateWindow.
   */
  recentEventIds: string[];
  /** Timers the saga waits on (state timeout, command retries, saga deadline), soonest first. Absent: none. */
  timers?: PendingTimer[];
  /** Failed deliveries of commands on rest channels, oldest first; absent until the first one. */
  deliveryFailures?: DeliveryFailureRecord[];
  /** One entry per command a parallel state sent, in the order sent; absent until the first (src/saga/parallel.ts). */
  serviceSummary?: ServiceInvocation[];
}

/**
 * A parallel branch's command and its answer, as the service summary keeps it. `state`,
 * `entry` (index in `history.states`) and `branch` name it; the answer fields are absent
 * while no `done` event came.
 */
export interface ServiceInvocation {
  state: string;
  entry: number;
  branch: number;
  label: string;
  channel: string;
  /** Revision of the first send: with the label it names the command on the commands topic. */
  revision: number;
  sentAt: string;
  answeredAt?: string;
  /** Label of the `done` event that completed the branch. */
  answer?: string;
  answerEventId?: string;
  /** answeredAt - sentAt. */
  durationMs?: number;
  /** The answer came after the saga had left the state entry (join held without it, timeout, cancel): recorded, not applied. */
  late?: true;
  /** Answers after the first (the branch was already complete): recorded, not applied; bounded by settings.ignoredEventsWindow. */
  ignoredAnswers?: { event: string; timestamp: string; eventId?: string }[];
}

export type SagaInput =
  | {
      kind: 'create';
      sagaId: string;
      associatedEntityId: string;
      metadata: Record<string, unknown>;
      /** ISO-8601, supplied by the caller: the core has no clock. */
      timestamp: string;
    }
  | {
      kind: 'event';
      sagaId: string;
      label: string;
      payload: unknown;
      eventId?: string;
      timestamp: string;
    }
  | {
      /**
       * An operator stops the saga: it moves to `targetState` (a declared state), else to the
       * state the current state's `__cancel__` transition names, else to `__cancelled__` (a
       * declared state of that name, or the built-in final one). See cancel.ts.
       */
      kind: 'cancel';
      sagaId: string;
      by: string;
      reason: string;
      targetState?: string;
      eventId?: string;
      timestamp: string;
    }
  | {
      /** A timer of the saga came due: `timer` as the document holds it; `timestamp` is when it fired. */
      kind: 'timer';
      sagaId: string;
      timer: PendingTimer;
      timestamp: string;
    }
  | {
      /** The outbox dispatcher reports a command it could not deliver (see delivery-failure.ts). */
      kind: 'delivery-failed';
      sagaId: string;
      failure: DeliveryFailure;
      eventId?: string;
      timestamp: string;
    };

export type Outcome =
  | 'created'
  | 'already-exists'
  | 'applied'
  | 'unexpected'
  | 'rejected'
  | 'duplicate'
  | 'unknown-saga'
  | 'already-final'
  /**
   * A hook (command payload or metadata customizer) failed: the saga stays where it was. For
   * an existing saga the event is recorded in ignoredEvents (changed = true); a creation
   * creates nothing (changed = false) and is for the dead-letter topic.
   */
  | 'hook-failed'
  | 'cancelled'
  /** A command retry came due and the command was sent again. */
  | 'retried'
  /** A timer came due that the saga no longer waits on (it moved on, or it fired already). */
  | 'stale-timer'
  /** A failed delivery recorded in `deliveryFailures` (changed = true); the state stays. */
  | 'delivery-failed'
  /** A parallel branch completed and the join does not hold yet (changed = true); the state stays. */
  | 'branch-done'
  /** An answer of a branch already complete, or of a state entry the saga has left: recorded in the service summary only. */
  | 'answer-recorded'
  /** Choreography: an event the state has no transition for moved the saga to the state's onUnexpected target. */
  | 'unexpected-transition'
  /** Choreography: a startOn event for a saga that does not exist, with a payload that cannot be metadata (changed = false, dead-lettered). */
  | 'invalid-start';

export interface TransitionResult {
  outcome: Outcome;
  /**
   * The saga after the input. `changed` says whether it differs from the input saga
   * (and so must be persisted): applied, cancelled and created always change it; unexpected,
   * rejected, already-final and hook-failed record the event in `ignoredEvents` and change it
   * too; duplicate, unknown-saga, already-exists and a creation that hook-failed change nothing.
   */
  saga: SagaDocument | undefined;
  changed: boolean;
  commands: Command[];
  /** Human-readable reason for any outcome other than created / applied / cancelled (for unexpected-transition: why the event was unexpected). */
  reason?: string;
}
