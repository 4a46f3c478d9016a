/** A record read from a topic, whatever client read it. Offsets are bigints: Kafka's are int64. */
export interface InputRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders;
  /** Create or log-append time, in milliseconds since the epoch. */
  timestamp: number;
}

/** Header values as bytes, as Kafka carries them; the last value wins when a key repeats. */
export type RecordHeaders = Record<string, Buffer>;

/** A record to write. The engine always names the partition (see murmur2.ts). */
export interface OutputRecord {
  topic: string;
  partition: number;
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string>;
  /** Create time to write, in milliseconds since the epoch (default: the client's clock). */
  timestamp?: number;
}

/** A consumer position to commit: the offset of the next record to read. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

/** Key and value bytes of a record, the measure the broker's size limits apply to (near enough). */
export function recordBytes(record: Pick<OutputRecord, 'key' | 'value'>): number {
  const size = (v: Buffer | string | null) => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  return size(record.key) + size(record.value);
}

/**
 * Upper bound of the bytes a batch holding only this record takes on the wire (record batch v2):
 * what the broker compares with the topic's `max.message.bytes`, and librdkafka with its
 * `message.max.bytes`. 61 bytes of batch header, at most 36 of record framing (length,
 * attributes, timestamp and offset deltas, key and value lengths, header count), and per
 * header its two lengths (varints of at most 5 bytes each).
 */
export function recordBatchBytes(record: Pick<OutputRecord, 'key' | 'value' | 'headers'>): number {
  const size = (v: Buffer | string | null) => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  let n = 61 + 36 + recordBytes(record);
  for (const [k, v] of Object.entries(record.headers ?? {})) n += 10 + Buffer.byteLength(k) + size(v);
  return n;
}

export function headersToStrings(headers: RecordHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v.toString('utf8');
  return out;
}
