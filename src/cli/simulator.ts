import type { CompiledDefinition } from '../definition/compile.ts';
import { transition } from '../saga/transition.ts';
import { CANCEL_EVENT } from '../saga/cancel.ts';
import { DELIVERY_FAILED_EVENT, parseDeliveryFailure } from '../saga/delivery-failure.ts';
import { durationMs } from '../definition/timers.ts';
import type { Outcome, PendingTimer, SagaDocument, SagaInput } from '../saga/types.ts';

export interface SimulatorOptions {
  /** ISO-8601 timestamp of an input line (1-based line number). */
  timestampOf: (line: number) => string;
  /** A new sagaId for a creation line that names none. */
  newSagaId: () => string;
}

export interface LineResult {
  line: number;
  sagaId?: string;
  event?: string;
  /** Set when a timer of the saga fired (virtual time), not an input line. */
  timer?: { kind: PendingTimer['kind']; dueAt: string };
  outcome: Outcome | 'invalid-input';
  state?: string;
  isFinal?: boolean;
  /** A command built by a hook shows the payload the hook returned (others carry the metadata). */
  commands: { label: string; channel: string; kind: 'main' | 'sideEffect'; attempt?: number; payload?: unknown }[];
  reason?: string;
}

export interface SagaSummary {
  summary: true;
  sagaId: string;
  associatedEntityId: string;
  state: string;
  isFinal: boolean;
  revision: number;
  /** States visited, in order, starting with the initial state. */
  path: string[];
  ignoredEvents: number;
  metadata: Record<string, unknown>;
}

type Resolved = { input: SagaInput } | { error: string } | { unknown: string };

/**
 * Feeds JSONL input lines through the transition core, keeping sagas in memory. Accepted lines:
 *   {"create": {"sagaId"?, "associatedEntityId", "metadata"?}}
 *   {"sagaId", "messageLabel", "messagePayload"?, "eventId"?}   (or "associatedEntityId"
 *     instead of "sagaId": the latest saga created for that entity)
 *   {"key": sagaId, "value": {"messageLabel", "messagePayload"?, "eventId"?}}   (POST /event body)
 *   {"advance": "30s"}   moves the virtual clock on (a duration as in saga.json)
 * A message whose label is the creation event creates the saga, as on Kafka. Timers run in
 * virtual time: before each line, every timer due by the line's time fires, soonest first,
 * at its due time, with a result line of its own (`timer` set).
 */
export class Simulator {
  private readonly sagas = new Map<string, SagaDocument>();
  private readonly byEntity = new Map<string, string>();
  private readonly def: CompiledDefinition;
  private readonly options: SimulatorOptions;
  /** Milliseconds the `advance` lines added to the clock so far. */
  private advancedMs = 0;

  constructor(def: CompiledDefinition, options: SimulatorOptions) {
    this.def = def;
    this.options = options;
  }

  /** The results of one line: the timers that came due by its time, then its own (none for a blank line or an advance). */
  run(text: string, line: number): LineResult[] {
    if (text.trim() === '') return [];
    const advance = this.advanceOf(text);
    if (advance !== undefined) {
      if (typeof advance === 'string') return [{ line, outcome: 'invalid-input', commands: [], reason: advance }];
      this.advancedMs += advance;
      return this.fireDue(line, this.now(line));
    }
    const now = this.now(line);
    const fired = this.fireDue(line, now);
    const resolved = this.resolve(text, now);
    if ('error' in resolved) return [...fired, { line, outcome: 'invalid-input', commands: [], reason: resolved.error }];
    if ('unknown' in resolved) return [...fired, { line, outcome: 'unknown-saga', commands: [], reason: resolved.unknown }];
    return [...fired, this.apply(line, resolved.input)];
  }

  private now(line: number): string {
    const at = this.options.timestampOf(line);
    const ms = Date.parse(at);
    return Number.isNaN(ms) || this.advancedMs === 0 ? at : new Date(ms + this.advancedMs).toISOString();
  }

  /** The duration of an `{"advance": ...}` line (a problem as a string), undefined for other lines. */
  private advanceOf(text: string): number | string | undefined {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isRecord(value) || !('advance' in value)) return undefined;
    const ms = typeof value.advance === 'number' || typeof value.advance === 'string' ? durationMs(value.advance) : undefined;
    return ms ?? '"advance" must be a duration: milliseconds, or a string such as "30s", "5m", "1.5h"';
  }

  /** Fires every timer due by `now`, soonest first, each at its due time. */
  private fireDue(line: number, now: string): LineResult[] {
    const results: LineResult[] = [];
    for (;;) {
      let next: { sagaId: string; timer: PendingTimer } | undefined;
      for (const saga of this.sagas.values()) {
        const first = saga.timers?.[0];
        if (first && first.dueAt <= now && (!next || first.dueAt < next.timer.dueAt)) next = { sagaId: saga.sagaId, timer: first };
      }
      if (!next) return results;
      results.push(this.apply(line, { kind: 'timer', sagaId: next.sagaId, timer: next.timer, timestamp: next.timer.dueAt }));
    }
  }

  private apply(line: number, input: SagaInput): LineResult {
    const result = transition(this.def, this.sagas.get(input.sagaId), input);
    if (result.changed && result.saga) {
      this.sagas.set(input.sagaId, result.saga);
      if (input.kind === 'create') this.byEntity.set(input.associatedEntityId, input.sagaId);
    }
    const where = result.saga ? { state: result.saga.currentState, isFinal: result.saga.isFinal } : {};
    const out: LineResult = {
      line,
      sagaId: input.sagaId,
      event: eventOf(this.def, input),
      ...(input.kind === 'timer' ? { timer: { kind: input.timer.kind, dueAt: input.timer.dueAt } } : {}),
      outcome: result.outcome,
      ...where,
      commands: result.commands.map((c) => ({
        label: c.label,
        channel: c.channel,
        kind: c.kind,
        ...(c.attempt > 1 ? { attempt: c.attempt } : {}),
        ...(c.hook === undefined ? {} : { payload: c.payload }),
      })),
    };
    if (result.reason !== undefined) out.reason = result.reason;
    return out;
  }

  /** One summary per saga, in creation order. */
  summaries(): SagaSummary[] {
    return [...this.sagas.values()].map((saga) => ({
      summary: true,
      sagaId: saga.sagaId,
      associatedEntityId: saga.associatedEntityId,
      state: saga.currentState,
      isFinal: saga.isFinal,
      revision: saga.revision,
      path: saga.history.states.map((s) => s.state),
      ignoredEvents: saga.ignoredEvents.length,
      metadata: saga.metadata,
    }));
  }

  private resolve(text: string, timestamp: string): Resolved {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: 'not a JSON object' };
    }
    if (!isRecord(value)) return { error: 'not a JSON object' };

    if ('create' in value) {
      if (!isRecord(value.create)) return { error: '"create" must be an object {sagaId?, associatedEntityId, metadata?}' };
      return this.creation(value.create, undefined, timestamp);
    }
    let message: Record<string, unknown> = value;
    let sagaId: unknown = value.sagaId;
    if ('key' in value) {
      if (!isRecord(value.value)) return { error: '"value" must be an object {messageLabel, messagePayload}' };
      message = value.value;
      sagaId = value.key;
    }
    const label = message.messageLabel;
    if (typeof label !== 'string' || label === '') return { error: 'missing "messageLabel" (or "create")' };
    if (label === this.def.creationEvent) {
      if (!isRecord(message.messagePayload)) {
        return { error: `a "${label}" message needs a messagePayload {associatedEntityId, metadata}` };
      }
      return this.creation(message.messagePayload, sagaId, timestamp);
    }
    if (sagaId === undefined && typeof value.associatedEntityId === 'string') {
      sagaId = this.byEntity.get(value.associatedEntityId);
      if (sagaId === undefined) return { unknown: `no saga was created for associatedEntityId "${value.associatedEntityId}"` };
    }
    if (typeof sagaId !== 'string' || sagaId === '') return { error: 'missing "sagaId" (or "associatedEntityId")' };
    const eventId = message.eventId;
    if (eventId !== undefined && typeof eventId !== 'string') return { error: '"eventId" must be a string' };
    let input: SagaInput;
    if (label === DELIVERY_FAILED_EVENT) {
      const parsed = parseDeliveryFailure(message.messagePayload);
      if ('error' in parsed) return { error: parsed.error };
      input = { kind: 'delivery-failed', sagaId, failure: parsed.failure, timestamp };
    } else {
      input = { kind: 'event', sagaId, label, payload: message.messagePayload, timestamp };
    }
    if (eventId !== undefined) input.eventId = eventId;
    return { input };
  }

  private creation(spec: Record<string, unknown>, sagaIdFromKey: unknown, timestamp: string): Resolved {
    const sagaId = spec.sagaId ?? sagaIdFromKey ?? this.options.newSagaId();
    if (typeof sagaId !== 'string' || sagaId === '') return { error: '"sagaId" must be a non-empty string' };
    if (typeof spec.associatedEntityId !== 'string') return { error: 'a creation needs "associatedEntityId" (a string)' };
    const metadata = spec.metadata ?? {};
    if (!isRecord(metadata)) return { error: '"metadata" must be an object' };
    return { input: { kind: 'create', sagaId, associatedEntityId: spec.associatedEntityId, metadata, timestamp } };
  }
}

function eventOf(def: CompiledDefinition, input: SagaInput): string {
  switch (input.kind) {
    case 'create':
      return def.creationEvent;
    case 'cancel':
      return CANCEL_EVENT;
    case 'timer':
      return input.timer.kind === 'retry' ? input.timer.label : input.timer.event;
    case 'delivery-failed':
      return DELIVERY_FAILED_EVENT;
    default:
      return input.label;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
