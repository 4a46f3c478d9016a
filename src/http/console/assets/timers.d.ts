// Types of timers.js for the unit tests (the browser loads the .js; this file is not served).
import type { TimelineEntry } from '../saga-timeline.ts';

type PendingEntry = Extract<TimelineEntry, { kind: 'timer' }>;

export function relativeTime(iso: string, now?: number): string;
export function dueText(iso: string, now?: number): string;
export function pendingTimerText(entry: PendingEntry): { pill: string; subject: string; detail: string };
export function firedTimerText(entry: TimelineEntry): { pill: string; detail: string } | undefined;
