import type { CompiledDefinition } from '../definition/compile.ts';
import type { CommandKind } from '../definition/types.ts';
import { durationMs } from '../definition/timers.ts';
import { applyInput, correlate, creationEnvelope, toSagaInput, undecodableVerdict } from '../engine/ingress.ts';
import type { DeadLetterVerdict } from '../engine/ingress.ts';
import { eventRequestEnvelope, unexpectedEventRefusal } from '../http/event-request.ts';
import type { Refusal } from '../http/event-request.ts';
import type { KnownErrorCode } from '../errors.ts';
import type { Envelope } from '../kafka/codec.ts';
import { toEnvelope } from '../kafka/serdes/json.ts';
import { CANCEL_EVENT } from '../saga/cancel.ts';
import { DELIVERY_FAILED_EVENT } from '../saga/delivery-failure.ts';
import { transition } from '../saga/transition.ts';
import type { Outcome, PendingTimer, SagaDocument, SagaInput, ServiceInvocation } from '../saga/types.ts';

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
  /**
   * `dead-letter`: the engine sends the record to the dead-letter topic before it reaches a
   * saga (`deadLetter` says with which code); `refused`: `POST /event` answers an error and
   * produces nothing (`refused` holds the HTTP error code); `invalid-input`: the line is none
   * of the accepted shapes.
   */
  outcome: Outcome | 'dead-letter' | 'refused' | 'invalid-input';
  /** Set whenever the engine writes the record to the dead-letter topic: the code it gives it. */
  deadLetter?: KnownErrorCode;
  refused?: Refusal['code'];
  state?: string;
  isFinal?: boolean;
  /** A command built by a hook shows the payload the hook returned (others carry the metadata). */
  commands: { label: string; channel: string; kind: CommandKind; attempt?: number; payload?: unknown }[];
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
  /** The saga's service summary (parallel states' commands and their answers), when it has one. */
  serviceSummary?: ServiceInvocation[];
}

/** A line as what reaches the engine: a record (key and decoded value, or why it does not decode), or what stops it before. */
type Resolved =
  | { key: string | null; decoded: { envelope: Envelope } | { failure: unknown }; observed?: true }
  | { deadLetter: DeadLetterVerdict; event: string }
  | { error: string }
  | { unknown: string }
  | { refused: Refusal; key: string; event: string };

/**
 * Feeds JSONL input lines through the engine's own ingress (src/engine/ingress.ts) and
 * transition core, keeping sagas in memory. Each line stands for what the engine receives:
 *   {"create": {"sagaId"?, "associatedEntityId", "metadata"}}   the record POST /saga produces
 *     (a generated sagaId when none is given)
 *   {"sagaId", "messageLabel", "messagePayload"?, "eventId"?}   a record on the events topic:
 *     key sagaId, the rest its value (or "associatedEntityId" instead of "sagaId": the latest
 *     saga created for that entity)
 *   {"key": sagaId, "value": {"messageLabel", "messagePayload"?, "eventId"?}}   a POST /event
 *     body, refused or produced as the route does
 *   {"topic", "key"?, "value": {"messageLabel", "messagePayload"?, "eventId"?}}   a record on an
 *     input topic: on an observed topic (a channel with `correlation`) the key is anything and
 *     the saga is found in the value, as the engine forwards it; on another, the key is the sagaId
 *   {"advance": "30s"}   moves the virtual clock on (a duration as in saga.json)
 * A message whose label is the creation event creates the saga, as on Kafka; a record the
 * engine dead-letters (no key, a value that does not decode, a bad creation, a duplicate...)
 * is reported with the engine's code. Timers run in virtual time: before each line, every
 * timer due by the line's time fires, soonest first, at its due time, with a result line of
 * its own (`timer` set).
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
    return [...fired, this.receive(line, this.resolve(text), now)];
  }

  /** What the engine (or the HTTP route) does with the line's record. */
  private receive(line: number, resolved: Resolved, now: string): LineResult {
    if ('error' in resolved) return { line, outcome: 'invalid-input', commands: [], reason: resolved.error };
    if ('unknown' in resolved) return { line, outcome: 'unknown-saga', commands: [], reason: resolved.unknown };
    if ('refused' in resolved) return { line, sagaId: resolved.key, event: resolved.event, outcome: 'refused', refused: resolved.refused.code, commands: [], reason: resolved.refused.message };
    if ('deadLetter' in resolved) return deadLettered(line, { event: resolved.event }, resolved.deadLetter);
    const { key, decoded } = resolved;
    const where = key === null || key === '' || resolved.observed ? {} : { sagaId: key };
    if ('failure' in decoded) return deadLettered(line, where, undecodableVerdict(key, decoded.failure, resolved.observed !== true));
    const ingress = toSagaInput(this.def, key, decoded.envelope, Date.parse(now));
    if ('deadLetter' in ingress) return deadLettered(line, { ...where, event: decoded.envelope.messageLabel }, ingress.deadLetter);
    return this.apply(line, ingress.input);
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
    const applied = input.kind === 'timer' ? { result: transition(this.def, this.sagas.get(input.sagaId), input) } : applyInput(this.def, this.sagas.get(input.sagaId), input);
    if (applied.result === undefined) return deadLettered(line, { sagaId: input.sagaId, event: eventOf(this.def, input) }, applied.deadLetter);
    const { result } = applied;
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
      ...(applied.deadLetter ? { deadLetter: applied.deadLetter.code } : {}),
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

  /** One saga's document as the engine would store it. */
  document(sagaId: string): SagaDocument | undefined {
    return this.sagas.get(sagaId);
  }

  /** The saga documents as the engine would store them, in creation order. */
  documents(): SagaDocument[] {
    return [...this.sagas.values()];
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
      ...(saga.serviceSummary === undefined ? {} : { serviceSummary: saga.serviceSummary }),
    }));
  }

  private resolve(text: string): Resolved {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: 'not a JSON object' };
    }
    if (!isRecord(value)) return { error: 'not a JSON object' };

    if ('create' in value) {
      const spec = value.create;
      if (!isRecord(spec)) return { error: '"create" must be an object {sagaId?, associatedEntityId, metadata}' };
      const sagaId = spec.sagaId ?? this.options.newSagaId();
      if (typeof sagaId !== 'string' || sagaId === '') return { error: '"sagaId" must be a non-empty string' };
      return { key: sagaId, decoded: { envelope: creationEnvelope(this.def, spec.associatedEntityId, spec.metadata) } };
    }
    if ('topic' in value) return this.topicRecord(value);
    if ('key' in value) return this.eventRequest(value.key, value.value);
    if (!('messageLabel' in value)) return { error: 'missing "messageLabel" (or "create")' };
    let key: unknown = value.sagaId;
    if (key === undefined && typeof value.associatedEntityId === 'string') {
      key = this.byEntity.get(value.associatedEntityId);
      if (key === undefined) return { unknown: `no saga was created for associatedEntityId "${value.associatedEntityId}"` };
    }
    if (key !== undefined && typeof key !== 'string') return { error: '"sagaId" must be a string' };
    try {
      // The line is the record's value: decoded as the JSON and Avro codecs decode one.
      return { key: key ?? null, decoded: { envelope: toEnvelope('simulate', value) } };
    } catch (failure) {
      return { key: key ?? null, decoded: { failure } };
    }
  }

  /** A record on a named input topic; an observed topic's record as the engine forwards it (keyed by the sagaId its value names). */
  private topicRecord(line: Record<string, unknown>): Resolved {
    const { topic, key, value } = line;
    if (typeof topic !== 'string' || topic === '') return { error: '"topic" must be a non-empty string' };
    if (key !== undefined && key !== null && typeof key !== 'string') return { error: '"key" must be a string or null' };
    if (!isRecord(value)) return { error: '"value" must be an object {messageLabel, messagePayload}' };
    const observed = this.def.observed.has(topic);
    let envelope: Envelope;
    try {
      envelope = toEnvelope(topic, value);
    } catch (failure) {
      return { key: key ?? null, decoded: { failure }, ...(observed ? { observed } : {}) };
    }
    const correlated = correlate(this.def, topic, envelope);
    if (correlated === undefined) return { key: key ?? null, decoded: { envelope } };
    if ('deadLetter' in correlated) return { deadLetter: correlated.deadLetter, event: envelope.messageLabel };
    return { key: correlated.sagaId, decoded: { envelope } };
  }

  /** A POST /event body: refused as the route refuses it, else the record it produces. */
  private eventRequest(key: unknown, value: unknown): Resolved {
    if (typeof key !== 'string' || key === '') return { error: '"key" must be a non-empty string (the sagaId)' };
    if (!isRecord(value)) return { error: '"value" must be an object {messageLabel, messagePayload}' };
    const { messageLabel, messagePayload, eventId } = value;
    if (typeof messageLabel !== 'string' || messageLabel === '') return { error: '"value.messageLabel" must be a non-empty string' };
    if (eventId !== undefined && (typeof eventId !== 'string' || eventId === '')) return { error: '"value.eventId" must be a non-empty string' };
    const request = eventRequestEnvelope(key, { messageLabel, messagePayload, ...(eventId === undefined ? {} : { eventId }) });
    if ('refused' in request) return { refused: request.refused, key, event: messageLabel };
    if (this.def.settings.throwOnUnexpectedEvents) {
      const refused = unexpectedEventRefusal(this.def, key, this.sagas.get(key), messageLabel);
      if (refused) return { refused, key, event: messageLabel };
    }
    return { key, decoded: { envelope: request.envelope } };
  }
}

function deadLettered(line: number, where: { sagaId?: string; event?: string }, verdict: DeadLetterVerdict): LineResult {
  return { line, ...where, outcome: 'dead-letter', deadLetter: verdict.code, commands: [], reason: verdict.reason };
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
