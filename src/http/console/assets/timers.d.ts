// Types of timers.js for the unit tests (the browser loads the .js; the console serves no .ts).
// '../saga-timeline.js': the source in a checkout, its declaration in dist/.
import type { TimelineEntry } from '../saga-timeline.js';

type PendingEntry = Extract<TimelineEntry, { kind: 'timer' }>;

export function relativeTime(iso: string, now?: number): string;
export function dueText(iso: string, now?: number): string;
export function pendingTimerText(entry: PendingEntry): { pill: string; subject: string; detail: string };
export function firedTimerText(entry: TimelineEntry): { pill: string; detail: string } | undefined;
