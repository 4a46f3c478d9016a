import type { OutputRecord } from '../broker/records.ts';
import type { Command } from '../saga/types.ts';

/** Where a task writes the commands of rest channels. */
export interface OutboxTarget {
  /** `<applicationId>-outbox`, co-partitioned with the events topic. */
  topic: string;
  /** Ids of the rest channels whose commands go to the outbox. */
  channels: ReadonlySet<string>;
}

/** Headers of an outbox record: what the dispatcher needs besides the envelope. */
export const OUTBOX_HEADERS = {
  channel: 'sagaflow-channel',
  label: 'sagaflow-command-label',
  revision: 'sagaflow-revision',
  kind: 'sagaflow-command-kind',
  /** Which send of the command this is (1, 2, ... with a `retry`); from the second on, part of the Idempotency-Key. */
  attempt: 'sagaflow-attempt',
} as const;

/**
 * A command of a rest channel as an outbox record, written in the same transaction as the
 * saga's changelog record: nothing goes over HTTP from inside a transaction, and a command
 * exists for the dispatcher exactly when the saga change that sent it is committed. It goes
 * on the task's partition (the outbox is co-partitioned with the events topic, as the
 * changelog is), keyed by sagaId, so one dispatcher sees a saga's commands in the order the
 * saga sent them. The value is the Flow Manager envelope as JSON, whatever the channel's wire
 * format, since it is sent as a JSON body; `headers` are the command headers the task gives
 * every command (the revision of its first send, kind, attempt), to which the channel and label
 * are added.
 */
export function outboxRecord(target: OutboxTarget, partition: number, command: Command, headers: Readonly<Record<string, string>>): OutputRecord {
  return {
    topic: target.topic,
    partition,
    key: command.sagaId,
    value: Buffer.from(JSON.stringify({ messageLabel: command.label, messagePayload: command.payload })),
    headers: { ...headers, [OUTBOX_HEADERS.channel]: command.channel, [OUTBOX_HEADERS.label]: command.label },
  };
}
