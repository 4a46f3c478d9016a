import type { InputRecord } from '../broker/records.ts';
import { OUTBOX_HEADERS } from '../engine/outbox-records.ts';
import type { CommandIdentity } from './rest-request.ts';

/**
 * A command to deliver, as read back from its outbox record (src/engine/outbox-records.ts).
 * `attempt` is set from the second send on (a command the saga sends again).
 */
export interface OutboxCommand extends CommandIdentity {
  channel: string;
  /** The `{messageLabel, messagePayload}` JSON text, as written. */
  envelope: string;
}

/**
 * The command an outbox record holds, or why it holds none. sagaflow writes every outbox
 * record itself, so an unreadable one means it was written by hand or by another program:
 * it is dead-lettered, never retried.
 */
export function readOutboxRecord(record: InputRecord): { command: OutboxCommand } | { error: string } {
  const sagaId = record.key?.toString('utf8') ?? '';
  if (sagaId === '') return { error: 'the outbox record has no key; the key must be the sagaId' };
  const header = (name: string) => record.headers[name]?.toString('utf8');
  const channel = header(OUTBOX_HEADERS.channel);
  const label = header(OUTBOX_HEADERS.label);
  const revision = Number(header(OUTBOX_HEADERS.revision));
  const attemptText = header(OUTBOX_HEADERS.attempt);
  if (!channel || !label) return { error: `the outbox record lacks the ${OUTBOX_HEADERS.channel} or ${OUTBOX_HEADERS.label} header` };
  if (!Number.isSafeInteger(revision) || revision < 0) return { error: `the outbox record's ${OUTBOX_HEADERS.revision} header is not a revision` };
  const sent = attemptText === undefined ? 1 : Number(attemptText);
  if (!Number.isSafeInteger(sent) || sent < 1) return { error: `the outbox record's ${OUTBOX_HEADERS.attempt} header is not an attempt number` };
  // The first send has no attempt in its Idempotency-Key; a `retry` of the saga's own adds it.
  const attempt = sent > 1 ? sent : undefined;
  const envelope = record.value?.toString('utf8') ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(envelope);
  } catch {
    return { error: 'the outbox record value is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { messageLabel?: unknown }).messageLabel !== label) {
    return { error: `the outbox record value is not the envelope of "${label}"` };
  }
  return { command: { sagaId, channel, label, revision, ...(attempt === undefined ? {} : { attempt }), envelope } };
}
