import type { BusinessId } from '../../definition/types.ts';
import type {
  DeliveryFailureRecord,
  EventHistoryEntry,
  IgnoredEventRecord,
  SagaDocument,
  SentCommandRecord,
  StateHistoryEntry,
} from '../../saga/types.ts';
import { IGNORED_OUTCOMES as KNOWN_IGNORED_OUTCOMES } from '../../saga/types.ts';
import { toEnvelope } from './json.ts';
import { decodeFailed, describeType, encodeFailed, isPlainObject } from './serde.ts';
import type { MessageEnvelope } from './serde.ts';

/*
 * Pure mapping between sagaflow's values and the records of schemas/avro/*.avsc.
 * Free-form JSON (payloads, metadata) travels as JSON text; optional fields are null in Avro
 * and absent (not undefined) in the value, so a document round-trips to the same JSON.
 *
 * The `*_FIELDS` tables name the Avro field of every property of the TypeScript types. They
 * are typed `Record<keyof T, ...>`, so adding a property to a contract type fails the type
 * check here until the schema and this mapping carry it too; a unit test checks that every
 * named field exists in the .avsc file.
 */

export const ENVELOPE_FIELDS: Record<keyof MessageEnvelope, string> = {
  messageLabel: 'messageLabel',
  messagePayload: 'messagePayloadJson',
  eventId: 'eventId',
  timestamp: 'timestamp',
};

export const SAGA_FIELDS: Record<keyof SagaDocument, string> = {
  sagaId: 'sagaId',
  associatedEntityId: 'associatedEntityId',
  currentState: 'currentState',
  businessStateId: 'businessStateId',
  businessStateDescription: 'businessStateDescription',
  isFinal: 'isFinal',
  metadata: 'metadataJson',
  latestEvent: 'latestEvent',
  history: 'history',
  revision: 'revision',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  commands: 'commands',
  ignoredEvents: 'ignoredEvents',
  recentEventIds: 'recentEventIds',
  timers: 'timersJson',
  deliveryFailures: 'deliveryFailures',
  serviceSummary: 'serviceSummaryJson',
};

export const DELIVERY_FAILURE_FIELDS: Record<keyof DeliveryFailureRecord, string> = {
  channel: 'channel',
  label: 'label',
  revision: 'revision',
  attempt: 'attempt',
  status: 'status',
  reason: 'reason',
  state: 'state',
  timestamp: 'timestamp',
};

export const STATE_HISTORY_FIELDS: Record<keyof StateHistoryEntry, string> = {
  state: 'state',
  timestamp: 'timestamp',
  businessStateId: 'businessStateId',
  businessStateDescription: 'businessStateDescription',
};

export const EVENT_HISTORY_FIELDS: Record<keyof EventHistoryEntry, string> = {
  event: 'event',
  timestamp: 'timestamp',
  businessEventId: 'businessEventId',
  businessEventDescription: 'businessEventDescription',
  eventId: 'eventId',
  by: 'by',
  reason: 'reason',
  timer: 'timerJson',
  unexpected: 'unexpectedJson',
};

export const COMMAND_FIELDS: Record<keyof SentCommandRecord, string> = {
  label: 'label',
  channel: 'channel',
  kind: 'kind',
  state: 'state',
  timestamp: 'timestamp',
  revision: 'revision',
  attempt: 'attempt',
};

export const IGNORED_EVENT_FIELDS: Record<keyof IgnoredEventRecord, string> = {
  event: 'event',
  timestamp: 'timestamp',
  eventId: 'eventId',
  outcome: 'outcome',
  reason: 'reason',
  state: 'state',
};

export interface AvroEnvelope {
  messageLabel: string;
  messagePayloadJson: string | null;
  eventId: string | null;
  timestamp: string | null;
}

interface AvroStateHistoryEntry {
  state: string;
  timestamp: string;
  businessStateId: BusinessId | null;
  businessStateDescription: string | null;
}

interface AvroEventHistoryEntry {
  event: string;
  timestamp: string;
  businessEventId: BusinessId | null;
  businessEventDescription: string | null;
  eventId: string | null;
  by: string | null;
  reason: string | null;
  timerJson: string | null;
  unexpectedJson: string | null;
}

interface AvroSentCommand {
  label: string;
  channel: string;
  kind: SentCommandRecord['kind'];
  state: string;
  timestamp: string;
  revision: number;
  attempt: number | null;
}

interface AvroIgnoredEvent {
  event: string;
  timestamp: string;
  eventId: string | null;
  outcome: string;
  reason: string;
  state: string;
}

interface AvroDeliveryFailure {
  channel: string;
  label: string;
  revision: number;
  attempt: number | null;
  status: number | null;
  reason: string;
  state: string;
  timestamp: string;
}

export interface AvroSagaDocument {
  sagaId: string;
  associatedEntityId: string;
  currentState: string;
  businessStateId: BusinessId | null;
  businessStateDescription: string | null;
  isFinal: boolean;
  metadataJson: string;
  latestEvent: string;
  history: { states: AvroStateHistoryEntry[]; events: AvroEventHistoryEntry[] };
  revision: number;
  createdAt: string;
  updatedAt: string;
  commands: AvroSentCommand[];
  ignoredEvents: AvroIgnoredEvent[];
  recentEventIds: string[];
  timersJson: string | null;
  /** Absent in records written before the field existed (BACKWARD: the reader's default). */
  deliveryFailures?: AvroDeliveryFailure[] | null;
  /** Absent in records written before the field existed. */
  serviceSummaryJson?: string | null;
}

function jsonText(topic: string, value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw encodeFailed(topic, `${what} cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (text === undefined) throw encodeFailed(topic, `${what} cannot be written as JSON`);
  return text;
}

function parseJsonText(topic: string, text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw decodeFailed(topic, `${field} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** `{[key]: value}`, or `{}` when value is null: optional properties stay absent, in place. */
function optional<K extends string, V>(key: K, value: V | null): { [P in K]?: V } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: V };
}

export function envelopeToAvro(topic: string, envelope: MessageEnvelope): AvroEnvelope {
  return {
    messageLabel: envelope.messageLabel,
    messagePayloadJson:
      envelope.messagePayload === undefined ? null : jsonText(topic, envelope.messagePayload, `the payload of "${envelope.messageLabel}"`),
    eventId: envelope.eventId ?? null,
    timestamp: envelope.timestamp ?? null,
  };
}

export function envelopeFromAvro(topic: string, record: AvroEnvelope): MessageEnvelope {
  const payload = record.messagePayloadJson === null ? undefined : parseJsonText(topic, record.messagePayloadJson, 'messagePayloadJson');
  return toEnvelope(topic, {
    messageLabel: record.messageLabel,
    messagePayload: payload,
    eventId: record.eventId,
    timestamp: record.timestamp,
  });
}

export function sagaToAvro(topic: string, saga: SagaDocument): AvroSagaDocument {
  return {
    sagaId: saga.sagaId,
    associatedEntityId: saga.associatedEntityId,
    currentState: saga.currentState,
    businessStateId: saga.businessStateId ?? null,
    businessStateDescription: saga.businessStateDescription ?? null,
    isFinal: saga.isFinal,
    metadataJson: jsonText(topic, saga.metadata, `the metadata of saga ${saga.sagaId}`),
    latestEvent: saga.latestEvent,
    history: {
      states: saga.history.states.map((s) => ({
        state: s.state,
        timestamp: s.timestamp,
        businessStateId: s.businessStateId ?? null,
        businessStateDescription: s.businessStateDescription ?? null,
      })),
      events: saga.history.events.map((e) => ({
        event: e.event,
        timestamp: e.timestamp,
        businessEventId: e.businessEventId ?? null,
        businessEventDescription: e.businessEventDescription ?? null,
        eventId: e.eventId ?? null,
        by: e.by ?? null,
        reason: e.reason ?? null,
        timerJson: e.timer === undefined ? null : JSON.stringify(e.timer),
        unexpectedJson: e.unexpected === undefined ? null : JSON.stringify(e.unexpected),
      })),
    },
    revision: saga.revision,
    createdAt: saga.createdAt,
    updatedAt: saga.updatedAt,
    commands: saga.commands.map((c) => ({
      label: c.label,
      channel: c.channel,
      kind: c.kind,
      state: c.state,
      timestamp: c.timestamp,
      revision: c.revision,
      attempt: c.attempt ?? null,
    })),
    ignoredEvents: saga.ignoredEvents.map((i) => ({
      event: i.event,
      timestamp: i.timestamp,
      eventId: i.eventId ?? null,
      outcome: i.outcome,
      reason: i.reason,
      state: i.state,
    })),
    recentEventIds: [...saga.recentEventIds],
    timersJson: saga.timers === undefined ? null : jsonText(topic, saga.timers, `the timers of saga ${saga.sagaId}`),
    deliveryFailures:
      saga.deliveryFailures === undefined
        ? null
        : saga.deliveryFailures.map((f) => ({
            channel: f.channel,
            label: f.label,
            revision: f.revision,
            attempt: f.attempt ?? null,
            status: f.status ?? null,
            reason: f.reason,
            state: f.state,
            timestamp: f.timestamp,
          })),
    serviceSummaryJson: saga.serviceSummary === undefined ? null : jsonText(topic, saga.serviceSummary, `the service summary of saga ${saga.sagaId}`),
  };
}

const IGNORED_OUTCOMES: ReadonlySet<string> = new Set<IgnoredEventRecord['outcome']>(KNOWN_IGNORED_OUTCOMES);

export function sagaFromAvro(topic: string, record: AvroSagaDocument): SagaDocument {
  const metadata = parseJsonText(topic, record.metadataJson, 'metadataJson');
  if (!isPlainObject(metadata)) throw decodeFailed(topic, `metadataJson is not a JSON object but ${describeType(metadata)}`);
  return {
    sagaId: record.sagaId,
    associatedEntityId: record.associatedEntityId,
    currentState: record.currentState,
    ...optional('businessStateId', record.businessStateId),
    ...optional('businessStateDescription', record.businessStateDescription),
    isFinal: record.isFinal,
    metadata,
    latestEvent: record.latestEvent,
    history: {
      states: record.history.states.map(
        (s): StateHistoryEntry => ({
          state: s.state,
          timestamp: s.timestamp,
          ...optional('businessStateId', s.businessStateId),
          ...optional('businessStateDescription', s.businessStateDescription),
        }),
      ),
      events: record.history.events.map(
        (e): EventHistoryEntry => ({
          event: e.event,
          timestamp: e.timestamp,
          ...optional('businessEventId', e.businessEventId),
          ...optional('businessEventDescription', e.businessEventDescription),
          ...optional('eventId', e.eventId),
          ...optional('by', e.by),
          ...optional('reason', e.reason),
          ...optional('timer', e.timerJson === null ? null : (parseJsonText(topic, e.timerJson, 'history.events[].timerJson') as EventHistoryEntry['timer'])),
          // Absent from documents written before the choreography extensions: read as null.
          ...optional('unexpected', (e.unexpectedJson ?? null) === null ? null : (parseJsonText(topic, e.unexpectedJson ?? '', 'history.events[].unexpectedJson') as EventHistoryEntry['unexpected'])),
        }),
      ),
    },
    revision: record.revision,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    commands: record.commands.map(
      (c): SentCommandRecord => ({
        label: c.label,
        channel: c.channel,
        kind: c.kind,
        state: c.state,
        timestamp: c.timestamp,
        revision: c.revision,
        ...optional('attempt', c.attempt),
      }),
    ),
    ignoredEvents: record.ignoredEvents.map((i): IgnoredEventRecord => {
      if (!IGNORED_OUTCOMES.has(i.outcome)) throw decodeFailed(topic, `ignoredEvents[].outcome "${i.outcome}" is not a known outcome`);
      return {
        event: i.event,
        timestamp: i.timestamp,
        ...optional('eventId', i.eventId),
        outcome: i.outcome as IgnoredEventRecord['outcome'],
        reason: i.reason,
        state: i.state,
      };
    }),
    recentEventIds: [...record.recentEventIds],
    ...optional('timers', record.timersJson === null ? null : (parseJsonText(topic, record.timersJson, 'timersJson') as SagaDocument['timers'])),
    ...(record.deliveryFailures === null || record.deliveryFailures === undefined
      ? {}
      : {
          deliveryFailures: record.deliveryFailures.map(
            (f): DeliveryFailureRecord => ({
              channel: f.channel,
              label: f.label,
              revision: f.revision,
              ...optional('attempt', f.attempt),
              ...optional('status', f.status),
              reason: f.reason,
              state: f.state,
              timestamp: f.timestamp,
            }),
          ),
        }),
    ...(record.serviceSummaryJson === null || record.serviceSummaryJson === undefined
      ? {}
      : { serviceSummary: parseJsonText(topic, record.serviceSummaryJson, 'serviceSummaryJson') as SagaDocument['serviceSummary'] }),
  };
}
