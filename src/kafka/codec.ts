import type { SagaDocument } from '../saga/types.ts';

/** The Flow Manager message envelope, for events and commands alike. */
export interface Envelope {
  messageLabel: string;
  messagePayload: unknown;
  /** sagaflow extension: identifies an event for duplicate detection. */
  eventId?: string;
}

/**
 * Everything the processor encodes or decodes, whatever the wire format (JSON or Avro).
 * Decoding failures throw a SagaflowError with code SAGAFLOW_DECODE_FAILED and a reason.
 */
export interface ProcessorCodec {
  decodeEvent(topic: string, value: Buffer | null): Promise<Envelope>;
  encodeEvent(topic: string, envelope: Envelope): Promise<Buffer>;
  encodeCommand(topic: string, envelope: Envelope): Promise<Buffer>;
  decodeCommand(topic: string, value: Buffer | null): Promise<Envelope>;
  encodeSaga(topic: string, saga: SagaDocument): Promise<Buffer>;
  decodeSaga(topic: string, value: Buffer | null): Promise<SagaDocument>;
  /**
   * True when `encodeSaga` writes exactly `JSON.stringify(saga)` as UTF-8, which is also how the
   * state store keeps a document: the task then stores the changelog bytes as they are instead
   * of encoding each document a second time (and restore copies them without re-encoding).
   */
  readonly sagaJson?: boolean;
}
