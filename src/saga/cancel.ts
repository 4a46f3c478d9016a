import type { CompiledState } from '../definition/compile.ts';
import { isPlainObject } from './merge.ts';

/**
 * Label of the cancel event on the events topic. Its payload is `{by, reason, targetState?}`;
 * the key is the sagaId, as for every event. `POST /saga/:sagaId/cancel` produces it, and so
 * may any producer with access to the events topic.
 */
export const CANCEL_EVENT = '__cancel__';

/** The state a cancelled saga moves to when neither the request nor its current state names one. */
export const CANCELLED_STATE = '__cancelled__';

/** Longest `by` and `reason` a cancel carries: they are stored in every copy of the saga. */
export const CANCEL_LIMITS = { by: 200, reason: 2000, targetState: 512 } as const;

/**
 * The built-in `__cancelled__` state, used when the definition declares no state of that name:
 * final, no business state, no commands.
 */
export const BUILT_IN_CANCELLED_STATE: CompiledState = Object.freeze({
  id: CANCELLED_STATE,
  description: 'Cancelled by an operator',
  isFinal: true,
  sideEffects: [],
  commands: [],
  outgoingTransitions: [],
  transitions: new Map(),
  routes: new Map(),
});

export interface CancelRequest {
  by: string;
  reason: string;
  targetState?: string;
}

const KEYS = new Set(['by', 'reason', 'targetState']);

function text(value: unknown, name: keyof typeof CANCEL_LIMITS, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') return `${name} must be a non-empty string`;
  if (value.length > CANCEL_LIMITS[name]) return `${name} has ${value.length} characters, more than ${CANCEL_LIMITS[name]}`;
  return undefined;
}

/**
 * Reads the payload of a `__cancel__` event: `{by: string, reason: string, targetState?: string}`
 * and nothing else (an unknown key is more likely a typo than a field to ignore).
 */
export function parseCancelPayload(payload: unknown): { ok: true; request: CancelRequest } | { ok: false; problem: string } {
  const expected = `a "${CANCEL_EVENT}" event needs the payload {by: string, reason: string, targetState?: string}`;
  if (!isPlainObject(payload)) return { ok: false, problem: `${expected}, not ${Array.isArray(payload) ? 'an array' : payload === null ? 'null' : typeof payload}` };
  const unknown = Object.keys(payload).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) return { ok: false, problem: `${expected}; unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')}` };
  const problem = text(payload.by, 'by', true) ?? text(payload.reason, 'reason', true) ?? text(payload.targetState, 'targetState', false);
  if (problem !== undefined) return { ok: false, problem: `${expected}: ${problem}` };
  const request: CancelRequest = { by: payload.by as string, reason: payload.reason as string };
  if (payload.targetState !== undefined) request.targetState = payload.targetState as string;
  return { ok: true, request };
}
