// The saga page's words for timers: those the saga waits on and those that fired. No DOM here
// (saga.js builds the rows), so the wording is unit tested in Node (test/unit/http/console-timers.test.ts).
import { formatTime } from './dom.js';

function amount(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** "in 2 min", "in 45 s", "now", "3 s ago", as `iso` is from `now`. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((t - now) / 1000);
  if (s === 0) return 'now';
  return s > 0 ? `in ${amount(s)}` : `${amount(-s)} ago`;
}

/** A pending timer's time as it stands: due in some time, or overdue (its owner fires it within a tick, or is down). */
export function dueText(iso, now = Date.now()) {
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(s)) return '';
  return s >= 0 ? `due ${relativeTime(iso, now)}` : `overdue by ${amount(-s)}`;
}

/**
 * A timeline entry of kind `timer` (a timer the saga waits on): its pill, what it delivers or
 * sends, and what it will do.
 */
export function pendingTimerText(entry) {
  if (entry.timerKind === 'retry') {
    return { pill: 'retry pending', subject: entry.label, detail: `on ${entry.channel} · attempt ${entry.attempt} · sent if the saga is still in ${entry.state}` };
  }
  if (entry.timerKind === 'timeout') {
    return { pill: 'timeout pending', subject: entry.event, detail: `delivered if the saga is still in ${entry.state}` };
  }
  return { pill: 'deadline pending', subject: entry.event, detail: 'delivered to whatever state the saga is in, unless it is final' };
}

/**
 * How a timer that already fired shows in the history: a state entry its event caused (a
 * timeout, the deadline), or a command it sent again (a retry, attempt above 1). Undefined for
 * everything a service or an operator did.
 */
export function firedTimerText(entry) {
  if (entry.kind === 'state' && entry.timer) {
    const late = Date.parse(entry.at) - Date.parse(entry.timer.dueAt);
    return { pill: `${entry.timer.kind} fired`, detail: `by the ${entry.timer.kind} due ${formatTime(entry.timer.dueAt)}${late > 0 ? `, fired ${late < 1000 ? `${late} ms` : `${(late / 1000).toFixed(1)} s`} after` : ''}` };
  }
  if (entry.kind === 'command' && entry.attempt > 1) {
    return { pill: 'retry', detail: `sent again by its retry timer (attempt ${entry.attempt})` };
  }
  return undefined;
}
