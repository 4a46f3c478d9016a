import type { BusinessId, CommandKind } from '../../definition/types.ts';
import type { PendingTimer, SagaDocument } from '../../saga/types.ts';
import type { SagaEventRecord } from './ports.ts';

/** One line of a saga's timeline, oldest first. */
export type TimelineEntry =
  | {
      kind: 'state';
      at: string;
      /** 0 for the creation, then one per move. */
      step: number;
      state: string;
      event: string;
      businessStateId?: BusinessId;
      businessStateDescription?: string;
      businessEventId?: BusinessId;
      businessEventDescription?: string;
      eventId?: string;
      by?: string;
      reason?: string;
      /** Set when a timer (state timeout, saga deadline) delivered the event: when it was due. */
      timer?: { kind: 'timeout' | 'deadline'; dueAt: string };
      /** Choreography: the event had no transition in `state` and the state's onUnexpected made this move. */
      unexpected?: { state: string; reason: string };
      /** The event's payload, when it was read back from the events topic. */
      payload?: unknown;
      offset?: string;
    }
  | {
      kind: 'command';
      at: string;
      label: string;
      channel: string;
      commandKind: CommandKind;
      state: string;
      revision: number;
      /** Which send of the command this was (the sagaflow-attempt header): above 1, a retry timer sent it. */
      attempt: number;
    }
  | {
      kind: 'ignored';
      at: string;
      event: string;
      outcome: string;
      reason: string;
      state: string;
      eventId?: string;
      payload?: unknown;
      offset?: string;
    }
  | {
      /** A timer the saga waits on: not history yet, so after it whatever the clocks say. */
      kind: 'timer';
      /** When it is due. */
      at: string;
      timerKind: PendingTimer['kind'];
      /** What it delivers (a timeout, the deadline)... */
      event?: string;
      /** ... or the command it sends again (a retry), with the send it will be. */
      label?: string;
      channel?: string;
      attempt?: number;
      /** The state whose entry scheduled it (the deadline belongs to no state). */
      state?: string;
    };

const ORDER: Record<TimelineEntry['kind'], number> = { state: 0, command: 1, ignored: 2, timer: 3 };

/** A pending timer as a timeline entry. */
function timerEntry(t: PendingTimer): TimelineEntry {
  if (t.kind === 'retry') return { kind: 'timer', at: t.dueAt, timerKind: t.kind, label: t.label, channel: t.channel, attempt: t.attempt, state: t.state };
  if (t.kind === 'timeout') return { kind: 'timer', at: t.dueAt, timerKind: t.kind, event: t.event, state: t.state };
  return { kind: 'timer', at: t.dueAt, timerKind: t.kind, event: t.event };
}

/**
 * States entered (with the event that moved the saga there, and the timer that delivered it
 * when one did), commands sent (with the revision that sent them and which attempt of that
 * command it was) and ignored events (with why), merged in time order, then the timers the
 * saga waits on, soonest first. Entries of the same instant keep cause before effect: the
 * state, then the commands it sent, then what was ignored.
 */
export function sagaTimeline(saga: SagaDocument): TimelineEntry[] {
  const entries: { entry: TimelineEntry; seq: number }[] = [];
  let seq = 0;
  saga.history.states.forEach((s, i) => {
    const e = saga.history.events[i];
    const entry: TimelineEntry = { kind: 'state', at: s.timestamp, step: i, state: s.state, event: e?.event ?? '?' };
    if (s.businessStateId !== undefined) entry.businessStateId = s.businessStateId;
    if (s.businessStateDescription !== undefined) entry.businessStateDescription = s.businessStateDescription;
    if (e?.businessEventId !== undefined) entry.businessEventId = e.businessEventId;
    if (e?.businessEventDescription !== undefined) entry.businessEventDescription = e.businessEventDescription;
    if (e?.eventId !== undefined) entry.eventId = e.eventId;
    if (e?.by !== undefined) entry.by = e.by;
    if (e?.reason !== undefined) entry.reason = e.reason;
    if (e?.timer !== undefined) entry.timer = { kind: e.timer.kind, dueAt: e.timer.dueAt };
    if (e?.unexpected !== undefined) entry.unexpected = { state: e.unexpected.state, reason: e.unexpected.reason };
    entries.push({ entry, seq: seq++ });
  });
  for (const c of saga.commands) {
    entries.push({
      entry: { kind: 'command', at: c.timestamp, label: c.label, channel: c.channel, commandKind: c.kind, state: c.state, revision: c.revision, attempt: c.attempt ?? 1 },
      seq: seq++,
    });
  }
  for (const i of saga.ignoredEvents) {
    const entry: TimelineEntry = { kind: 'ignored', at: i.timestamp, event: i.event, outcome: i.outcome, reason: i.reason, state: i.state };
    if (i.eventId !== undefined) entry.eventId = i.eventId;
    entries.push({ entry, seq: seq++ });
  }
  entries.sort((a, b) => (a.entry.at < b.entry.at ? -1 : a.entry.at > b.entry.at ? 1 : ORDER[a.entry.kind] - ORDER[b.entry.kind] || a.seq - b.seq));
  // The document keeps them soonest first.
  return [...entries.map((e) => e.entry), ...(saga.timers ?? []).map(timerEntry)];
}

/**
 * Puts each event read back from the events topic on the timeline entry it caused: same label,
 * same timestamp (the processor stamps a history entry with its record's timestamp), same eventId
 * when it has one. Events that match nothing were not applied to the saga (dead-lettered,
 * duplicates) or belong to entries the document no longer keeps (bounded windows).
 */
export function attachPayloads(timeline: readonly TimelineEntry[], events: readonly SagaEventRecord[]): { timeline: TimelineEntry[]; unmatched: SagaEventRecord[] } {
  const left = [...events];
  const out = timeline.map((entry): TimelineEntry => {
    if (entry.kind === 'command' || entry.kind === 'timer') return entry;
    const label = entry.event;
    const index = left.findIndex((e) => e.label === label && e.timestamp === entry.at && (entry.eventId === undefined || e.eventId === entry.eventId));
    if (index < 0) return entry;
    const [match] = left.splice(index, 1) as [SagaEventRecord];
    return { ...entry, payload: match.payload, offset: match.offset };
  });
  return { timeline: out, unmatched: left };
}
