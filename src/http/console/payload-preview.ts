import type { Envelope } from '../../kafka/codec.ts';

/** How a dead letter's value reads: as an event of the events topic, as text, or as bytes. */
export interface PayloadPreview {
  format: 'event' | 'text' | 'binary' | 'empty';
  /** The event's label, when the value decodes as an event. */
  messageLabel?: string;
  /** The payload as JSON (event), the text, or hex bytes, cut at the limit. */
  preview: string;
  truncated: boolean;
  bytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function cut(text: string, limit: number): { preview: string; truncated: boolean } {
  return text.length > limit ? { preview: `${text.slice(0, limit)}…`, truncated: true } : { preview: text, truncated: false };
}

/** Text a person can read: valid UTF-8 with no control characters but tab and line breaks. */
function asText(value: Buffer): string | undefined {
  try {
    const text = utf8.decode(value);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * A preview of a dead letter's value for the console. `decode` is the events topic's codec (JSON
 * or Avro through the registry): a value it reads is shown as the event's payload; one it cannot
 * read (often why it was dead-lettered) is shown as text, or as hex bytes.
 */
export async function previewPayload(
  value: Buffer | null,
  decode: ((value: Buffer) => Promise<Envelope>) | undefined,
  limit: number,
): Promise<PayloadPreview> {
  if (value === null || value.length === 0) return { format: 'empty', preview: '', truncated: false, bytes: 0 };
  if (decode) {
    try {
      const envelope = await decode(value);
      const json = JSON.stringify(envelope.messagePayload ?? null, null, 2);
      return { format: 'event', messageLabel: envelope.messageLabel, ...cut(json, limit), bytes: value.length };
    } catch {
      // Not an event this codec reads: fall back to text or bytes.
    }
  }
  const text = asText(value);
  if (text !== undefined) return { format: 'text', ...cut(text, limit), bytes: value.length };
  const shown = value.subarray(0, Math.ceil(limit / 3));
  const hex = [...shown].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return { format: 'binary', preview: shown.length < value.length ? `${hex} …` : hex, truncated: shown.length < value.length, bytes: value.length };
}
