import type { Producer } from '@confluentinc/kafka-javascript';
import { BrokerError } from '../../broker/errors.ts';
import type { OutputRecord } from '../../broker/records.ts';
import { classifyRdkafkaError } from './errors.ts';

/** One `send` call: resolved when the last of its records is acknowledged. */
class Batch {
  readonly offsets: bigint[];
  private remaining: number;
  private failure: BrokerError | undefined;
  /** When its first record was queued (for the watchdog). */
  readonly queuedAt = Date.now();
  settled = false;
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
      this.settled = true;
      if (this.failure) this.reject(this.failure);
      else this.resolve(this.offsets);
    }
  }

  /** A record was refused before it was queued, or never reported: the call has failed, whatever the others do. */
  fail(err: BrokerError): void {
    this.failure ??= err;
    this.settled = true;
    this.reject(this.failure);
  }
}

/** The opaque attached to each produced message: its batch and position in it. */
interface Tag {
  batch: Batch;
  index: number;
}

const QUEUE_FULL = -184;
const MSG_TIMED_OUT = -192;

function headersOf(h: OutputRecord['headers']): { [key: string]: string | Buffer }[] | undefined {
  if (!h) return undefined;
  return Object.entries(h).map(([k, v]) => ({ [k]: v }));
}

/** What a DeliveryTracker needs of a librdkafka producer. */
export type DeliveryProducer = Pick<Producer, 'produce' | 'on'>;

export interface DeliveryTrackerOptions {
  /**
   * librdkafka reports every message by its `message.timeout.ms` (delivered, or failed with
   * "Message timed out"); a call still unreported this long after it was queued (that
   * timeout plus a margin) never will be, and fails with a retryable error.
   */
  reportDeadlineMs: number;
  /** Called once, when the first call passes its deadline or a message times out: the producer is wedged. */
  onWedged: (err: BrokerError) => void;
  /** How often the deadline is checked (default 1 s). */
  checkEveryMs?: number;
}

/**
 * Produces records through a librdkafka producer and turns its per-message delivery reports
 * into one promise per call, with each record's offset. Encoding, batching (linger) and
 * compression run on librdkafka's threads; the JavaScript side only queues messages.
 *
 * A watchdog bounds every call: after a broker restart an idempotent librdkafka producer was
 * seen delivering nothing more to one partition (sends to it retried every 30 s did not settle
 * for ten minutes, with message.timeout.ms at five; whether reports were missing or every
 * message timed out is not known, so both count). Such a
 * call fails at its deadline (as does every call after a message that timed out), the tracker
 * says the producer is wedged, and its owner replaces it (a new producer id starts every
 * partition's sequence afresh); callers retry as after any retryable failure.
 */
export class DeliveryTracker {
  private readonly producer: DeliveryProducer;
  private readonly opts: DeliveryTrackerOptions;
  /** Calls not settled yet, oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Batch>();
  private watchdog: NodeJS.Timeout | undefined;
  private wedged: BrokerError | undefined;

  constructor(producer: DeliveryProducer, opts: DeliveryTrackerOptions) {
    this.producer = producer;
    this.opts = opts;
    producer.on('delivery-report', (err, report) => {
      const tag = report?.opaque as Tag | undefined;
      if (!tag) return;
      const failure = err ? classifyRdkafkaError(err) : undefined;
      tag.batch.settle(tag.index, report.offset === undefined || report.offset === null ? undefined : BigInt(report.offset), failure);
      if (tag.batch.settled) this.pending.delete(tag.batch);
      // A message that timed out locally leaves its partition's idempotence state in doubt
      // (the same stall as above was seen behind one): a new producer starts it afresh.
      if (failure && (err as { code?: number }).code === MSG_TIMED_OUT) this.wedge(failure);
    });
  }

  /** Set once the producer is wedged (a call past its deadline, or a message timed out): every call since fails at once. */
  get wedgedBy(): BrokerError | undefined {
    return this.wedged;
  }

  private check(): void {
    const now = Date.now();
    for (const batch of this.pending) {
      if (batch.settled) {
        this.pending.delete(batch);
        continue;
      }
      if (now - batch.queuedAt < this.opts.reportDeadlineMs) break;
      this.wedge(new BrokerError('retryable', 'other', `librdkafka reported no delivery for ${Math.round((now - batch.queuedAt) / 1000)} s (past message.timeout.ms); the producer is replaced`, { client: 'librdkafka' }));
      return;
    }
    if (this.pending.size === 0) this.stopWatchdog();
  }

  /** Fails every pending call and tells the owner, once. */
  private wedge(err: BrokerError): void {
    if (this.wedged) return;
    this.wedged = err;
    for (const batch of this.pending) if (!batch.settled) batch.fail(err);
    this.pending.clear();
    this.stopWatchdog();
    this.opts.onWedged(err);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** Stops the watchdog (the producer is closed or replaced); pending calls are left to their reports. */
  close(): void {
    this.stopWatchdog();
  }

  /** `onRefused` is called at once (not a microtask later) when librdkafka refuses a record. */
  async send(records: readonly OutputRecord[], onRefused?: (err: BrokerError) => void): Promise<bigint[]> {
    const batch = new Batch(records.length);
    if (this.wedged) {
      onRefused?.(this.wedged);
      batch.fail(this.wedged);
      return batch.done;
    }
    if (records.length > 0) {
      this.pending.add(batch);
      if (!this.watchdog) {
        this.watchdog = setInterval(() => this.check(), this.opts.checkEveryMs ?? 1_000);
        this.watchdog.unref();
      }
    }
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
          this.pending.delete(batch);
          return batch.done;
        }
      }
    }
    return batch.done;
  }
}
