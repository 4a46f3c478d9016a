import type { Producer } from '@confluentinc/kafka-javascript';
import type { BrokerError } from '../../broker/errors.ts';
import type { OutputRecord } from '../../broker/records.ts';
import { classifyRdkafkaError } from './errors.ts';

/** One `send` call: resolved when the last of its records is acknowledged. */
class Batch {
  readonly offsets: bigint[];
  private remaining: number;
  private failure: BrokerError | undefined;
  readonly done: Promise<bigint[]>;
  private resolve!: (offsets: bigint[]) => void;
  private reject!: (err: unknown) => void;

  constructor(size: number) {
    this.offsets = new Array<bigint>(size).fill(-1n);
    this.remaining = size;
    this.done = new Promise<bigint[]>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (size === 0) this.resolve(this.offsets);
  }

  settle(index: number, offset: bigint | undefined, err: BrokerError | undefined): void {
    if (err) this.failure ??= err;
    else if (offset !== undefined) this.offsets[index] = offset;
    this.remaining -= 1;
    if (this.remaining === 0) {
      if (this.failure) this.reject(this.failure);
      else this.resolve(this.offsets);
    }
  }

  /** A record was refused before it was queued: the call has failed, whatever the others do. */
  fail(err: BrokerError): void {
    this.failure ??= err;
    this.reject(this.failure);
  }
}

/** The opaque attached to each produced message: its batch and position in it. */
interface Tag {
  batch: Batch;
  index: number;
}

const QUEUE_FULL = -184;

function headersOf(h: OutputRecord['headers']): { [key: string]: string | Buffer }[] | undefined {
  if (!h) return undefined;
  return Object.entries(h).map(([k, v]) => ({ [k]: v }));
}

/**
 * Produces records through a librdkafka producer and turns its per-message delivery reports
 * into one promise per call, with each record's offset. Encoding, batching (linger) and
 * compression run on librdkafka's threads; the JavaScript side only queues messages.
 */
export class DeliveryTracker {
  private readonly producer: Producer;

  constructor(producer: Producer) {
    this.producer = producer;
    producer.on('delivery-report', (err, report) => {
      const tag = report?.opaque as Tag | undefined;
      if (!tag) return;
      tag.batch.settle(tag.index, report.offset === undefined || report.offset === null ? undefined : BigInt(report.offset), err ? classifyRdkafkaError(err) : undefined);
    });
  }

  /** `onRefused` is called at once (not a microtask later) when librdkafka refuses a record. */
  async send(records: readonly OutputRecord[], onRefused?: (err: BrokerError) => void): Promise<bigint[]> {
    const batch = new Batch(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as OutputRecord;
      const key = r.key === null ? null : typeof r.key === 'string' ? Buffer.from(r.key) : r.key;
      for (;;) {
        try {
          this.producer.produce(r.topic, r.partition, r.value, key, r.timestamp ?? null, { batch, index: i } satisfies Tag, headersOf(r.headers));
          break;
        } catch (err) {
          // The local queue is bounded (queue.buffering.max.kbytes): wait for it to drain a little.
          if ((err as { code?: number }).code === QUEUE_FULL) {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          const refused = classifyRdkafkaError(err);
          onRefused?.(refused);
          batch.fail(refused);
          return batch.done;
        }
      }
    }
    return batch.done;
  }
}
