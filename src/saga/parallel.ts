import type { CompiledDefinition, CompiledParallel, CompiledState } from '../definition/compile.ts';
import { currentEntry } from './timers.ts';
import type { Command, PendingTimer, SagaDocument, ServiceInvocation } from './types.ts';

/**
 * Parallel states: every branch's command goes out on entry (with the state's other commands),
 * the service summary records each one, and each `done` event is matched to its branch.
 *
 * Which invocation an event answers, in this order:
 * 1. a `done` label of the current state's parallel block: its branch in the current entry
 *    (validation refuses a `done` label that is also an inputEvent of the same state);
 * 2. an inputEvent of the current state: the transition, as for any event;
 * 3. a `done` label of an earlier entry's branch: the latest unanswered invocation it answers,
 *    else the latest answered one. Such an answer is recorded in the summary and changes
 *    nothing else: the saga has moved on (the join held without it, a timeout, a cancel).
 */
export type AnswerMatch = { index: number; current: true; parallel: CompiledParallel } | { index: number; current: false };

export function matchAnswer(def: CompiledDefinition, saga: SagaDocument, label: string): AnswerMatch | undefined {
  const summary = saga.serviceSummary ?? [];
  if (summary.length === 0) return undefined;
  const state = def.states.get(saga.currentState);
  const branch = state?.parallel?.byDone.get(label);
  if (state?.parallel !== undefined && branch !== undefined) {
    const entry = currentEntry(saga);
    const index = summary.findLastIndex((i) => i.state === state.id && i.entry === entry && i.branch === branch);
    if (index !== -1) return { index, current: true, parallel: state.parallel };
  }
  if (state?.transitions.has(label) === true) return undefined;
  const answers = (i: ServiceInvocation) => def.states.get(i.state)?.parallel?.branches[i.branch]?.done.includes(label) === true;
  let index = summary.findLastIndex((i) => i.answeredAt === undefined && answers(i));
  if (index === -1) index = summary.findLastIndex(answers);
  return index === -1 ? undefined : { index, current: false };
}

/** The summary after entering `state` (the saga already in it, its entry last in history.states), having sent `commands`. */
export function invocationsOnEntry(
  state: CompiledState,
  saga: SagaDocument,
  previous: ServiceInvocation[] | undefined,
  commands: readonly Command[],
  timestamp: string,
): ServiceInvocation[] | undefined {
  if (state.parallel === undefined) return previous;
  const entry = currentEntry(saga);
  const sent = state.parallel.branches.map((b, branch): ServiceInvocation => {
    const command = commands.find((c) => c.kind === 'branch' && c.label === b.label);
    return { state: state.id, entry, branch, label: b.label, channel: b.channel, revision: command?.revision ?? saga.revision, sentAt: timestamp };
  });
  return [...(previous ?? []), ...sent];
}

export interface Answer {
  label: string;
  timestamp: string;
  eventId?: string;
}

/**
 * The summary with `answer` recorded on invocation `index`: as its answer when it had none
 * (`late` when the saga left its entry before), else among its ignored answers.
 */
export function recordAnswer(summary: readonly ServiceInvocation[], index: number, answer: Answer, late: boolean, window: number): ServiceInvocation[] {
  return summary.map((invocation, i) => {
    if (i !== index) return invocation;
    if (invocation.answeredAt === undefined) {
      const answered: ServiceInvocation = { ...invocation, answeredAt: answer.timestamp, answer: answer.label, durationMs: Math.max(0, Date.parse(answer.timestamp) - Date.parse(invocation.sentAt)) };
      if (answer.eventId !== undefined) answered.answerEventId = answer.eventId;
      if (late) answered.late = true;
      return answered;
    }
    const ignored: { event: string; timestamp: string; eventId?: string } = { event: answer.label, timestamp: answer.timestamp };
    if (answer.eventId !== undefined) ignored.eventId = answer.eventId;
    const all = [...(invocation.ignoredAnswers ?? []), ignored];
    return { ...invocation, ignoredAnswers: window <= 0 ? [] : all.slice(Math.max(0, all.length - window)) };
  });
}

/** Whether enough branches of the saga's current entry are complete. */
export function joinHolds(parallel: CompiledParallel, summary: readonly ServiceInvocation[], state: string, entry: number): boolean {
  return completeCount(summary, state, entry) >= parallel.needed;
}

/** How many branches of a state entry are complete. */
export function completeCount(summary: readonly ServiceInvocation[], state: string, entry: number): number {
  return summary.filter((i) => i.state === state && i.entry === entry && i.answeredAt !== undefined).length;
}

/** A complete branch's command is not sent again: its pending retry goes. */
export function withoutRetriesOf(timers: readonly PendingTimer[] | undefined, invocation: ServiceInvocation): PendingTimer[] | undefined {
  const kept = (timers ?? []).filter((t) => !(t.kind === 'retry' && t.label === invocation.label && t.channel === invocation.channel && t.entry === invocation.entry));
  return kept.length > 0 ? kept : undefined;
}
