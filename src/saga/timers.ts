import type { CompiledDefinition, CompiledState } from '../definition/compile.ts';
import type { PendingTimer, SagaDocument } from './types.ts';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Milliseconds since the epoch as ISO-8601 UTC (`YYYY-MM-DDTHH:mm:ss.sssZ`), computed, not read
 * from a Date object: the core has no clock, and the purity test keeps `Date` construction out.
 * Days to civil date: Howard Hinnant's `civil_from_days`.
 */
export function isoFromMs(epochMs: number): string {
  const ms = Math.floor(epochMs);
  const days = Math.floor(ms / 86_400_000);
  const inDay = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const h = Math.floor(inDay / 3_600_000);
  const m = Math.floor((inDay % 3_600_000) / 60_000);
  const sec = Math.floor((inDay % 60_000) / 1_000);
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(h)}:${pad(m)}:${pad(sec)}.${pad(inDay % 1_000, 3)}Z`;
}

/** `iso` plus `ms`, as ISO-8601 (due times come from input timestamps: the core has no clock). */
export function addMs(iso: string, ms: number): string {
  return isoFromMs(Date.parse(iso) + ms);
}

/** The delay before send number `attempt + 1` of a command with `retry` (attempt = sends so far, from 1). */
export function retryDelayMs(retry: { initialDelayMs: number; multiplier: number; maxDelayMs: number | undefined }, attempt: number): number {
  const delay = retry.initialDelayMs * retry.multiplier ** Math.max(0, attempt - 1);
  return Math.round(retry.maxDelayMs === undefined ? delay : Math.min(delay, retry.maxDelayMs));
}

/** The index in `history.states` of the saga's current state entry. */
export function currentEntry(saga: SagaDocument): number {
  return saga.history.states.length - 1;
}

export function sameTimer(a: PendingTimer, b: PendingTimer): boolean {
  if (a.kind !== b.kind || a.dueAt !== b.dueAt) return false;
  if (a.kind === 'retry' && b.kind === 'retry') return a.label === b.label && a.channel === b.channel && a.attempt === b.attempt && a.entry === b.entry;
  if (a.kind === 'timeout' && b.kind === 'timeout') return a.event === b.event && a.entry === b.entry;
  return a.kind === 'deadline' && b.kind === 'deadline' && a.event === b.event;
}

/** Soonest first; equal due times keep their order (the sort is stable). */
export function sortTimers(timers: PendingTimer[]): PendingTimer[] {
  return timers.sort((a, b) => (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : 0));
}

/** The saga's deadline timer, scheduled at creation when the definition has one. */
export function deadlineTimer(def: CompiledDefinition, createdAt: string): PendingTimer[] {
  return def.deadline ? [{ kind: 'deadline', dueAt: addMs(createdAt, def.deadline.afterMs), event: def.deadline.event }] : [];
}

/**
 * The timers of a saga that has just entered `state` (its document already in that state, the
 * new entry last in `history.states`): the state's own timeout and the first retry of each
 * command that has one; the previous state's timers go, the saga's deadline stays (until a
 * final state, where every timer ends).
 */
export function timersOnEntry(state: CompiledState, saga: SagaDocument, previous: readonly PendingTimer[], timestamp: string): PendingTimer[] | undefined {
  if (state.isFinal) return undefined;
  const entry = currentEntry(saga);
  const timers: PendingTimer[] = previous.filter((t) => t.kind === 'deadline');
  if (state.timeout) timers.push({ kind: 'timeout', dueAt: addMs(timestamp, state.timeout.afterMs), event: state.timeout.event, state: state.id, entry });
  for (const command of state.commands) {
    if (!command.retry) continue;
    timers.push({
      kind: 'retry',
      dueAt: addMs(timestamp, retryDelayMs(command.retry, 1)),
      label: command.label,
      channel: command.channel,
      attempt: 2,
      revision: saga.revision,
      state: state.id,
      entry,
    });
  }
  return timers.length > 0 ? sortTimers(timers) : undefined;
}
