import type { CompiledDefinition } from '../definition/compile.ts';
import { transition } from '../saga/transition.ts';
import { CANCEL_EVENT } from '../saga/cancel.ts';
import { DELIVERY_FAILED_EVENT, parseDeliveryFailure } from '../saga/delivery-failure.ts';
import type { Outcome, SagaDocument, SagaInput } from '../saga/types.ts';

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
  outcome: Outcome | 'invalid-input';
  state?: string;
  isFinal?: boolean;
  /** A command built by a hook shows the payload the hook returned (others carry the metadata). */
  commands: { label: string; channel: string; kind: 'main' | 'sideEffect'; payload?: unknown }[];
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
 * A message whose label is the creation event creates the saga, as on Kafka.
 */
export class Simulator {
  private readonly sagas = new Map<string, SagaDocument>();
  private readonly byEntity = new Map<string, string>();
  private readonly def: CompiledDefinition;
  private readonly options: SimulatorOptions;

  constructor(def: CompiledDefinition, options: SimulatorOptions) {
    this.def = def;
    this.options = options;
  }

  /** The result of one line; undefined for a blank line. */
  run(text: string, line: number): LineResult | undefined {
    if (text.trim() === '') return undefined;
    const resolved = this.resolve(text, this.options.timestampOf(line));
    if ('error' in resolved) return { line, outcome: 'invalid-input', commands: [], reason: resolved.error };
    if ('unknown' in resolved) return { line, outcome: 'unknown-saga', commands: [], reason: resolved.unknown };

    const { input } = resolved;
    const result = transition(this.def, this.sagas.get(input.sagaId), input);
    if (result.changed && result.saga) {
      this.sagas.set(input.sagaId, result.saga);
      if (input.kind === 'create') this.byEntity.set(input.associatedEntityId, input.sagaId);
    }
    const where = result.saga ? { state: result.saga.currentState, isFinal: result.saga.isFinal } : {};
    const out: LineResult = {
      line,
      sagaId: input.sagaId,
      event: input.kind === 'create' ? this.def.creationEvent : input.kind === 'cancel' ? CANCEL_EVENT : input.kind === 'delivery-failed' ? DELIVERY_FAILED_EVENT : input.label,
      outcome: result.outcome,
      ...where,
      commands: result.commands.map((c) => (c.hook === undefined ? { label: c.label, channel: c.channel, kind: c.kind } : { label: c.label, channel: c.channel, kind: c.kind, payload: c.payload })),
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
