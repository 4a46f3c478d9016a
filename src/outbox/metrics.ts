import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Upper bounds of the request-duration histogram, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The outbox dispatcher's metrics on prom-client, per rest channel, in a registry of their
 * own (the instance appends them to /-/metrics). The channel id is the only label: ids name
 * configuration entries, never their values.
 */
export class DeliveryMetrics {
  readonly registry = new Registry();
  /** Records received and not finished, across partitions (read when scraped). */
  pending: () => number = () => 0;
  private readonly deliveries: Counter<'channel'>;
  private readonly retries: Counter<'channel'>;
  private readonly failures: Counter<'channel'>;
  private readonly duration: Histogram<'channel'>;
  private readonly mirror = { deliveries: 0, retries: 0, failures: 0, requests: 0 };

  constructor(channelIds: Iterable<string> = []) {
    const registers = [this.registry];
    this.deliveries = new Counter({ name: 'sagaflow_rest_deliveries_total', help: 'Commands delivered to a rest channel (2xx)', labelNames: ['channel'], registers });
    this.retries = new Counter({
      name: 'sagaflow_rest_delivery_retries_total',
      help: 'Requests to a rest channel that are tried again (5xx, 429, 408, timeout, connection error)',
      labelNames: ['channel'],
      registers,
    });
    this.failures = new Counter({ name: 'sagaflow_rest_delivery_failures_total', help: 'Commands dead-lettered: 4xx, redirect, or retries exhausted', labelNames: ['channel'], registers });
    this.duration = new Histogram({
      name: 'sagaflow_rest_request_duration_seconds',
      help: 'Duration of one request to a rest channel, any outcome',
      labelNames: ['channel'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    const pending = () => this.pending();
    new Gauge({
      name: 'sagaflow_rest_deliveries_pending',
      help: 'Outbox records received by this instance and not delivered or dead-lettered yet',
      registers,
      collect() {
        this.set(pending());
      },
    });
    // Every channel shows up from the start, at 0.
    for (const channel of channelIds) {
      for (const counter of [this.deliveries, this.retries, this.failures]) counter.inc({ channel }, 0);
      this.duration.zero({ channel });
    }
  }

  /** One HTTP request (any outcome) took `seconds`. */
  request(channel: string, seconds: number): void {
    this.duration.observe({ channel }, seconds);
    this.mirror.requests += 1;
  }

  delivered(channel: string): void {
    this.deliveries.inc({ channel });
    this.mirror.deliveries += 1;
  }

  retried(channel: string): void {
    this.retries.inc({ channel });
    this.mirror.retries += 1;
  }

  failed(channel: string): void {
    this.failures.inc({ channel });
    this.mirror.failures += 1;
  }

  /** Totals over every channel, for tests and the benchmark. */
  totals(): { deliveries: number; retries: number; failures: number; requests: number } {
    return { ...this.mirror };
  }

  toPrometheus(): Promise<string> {
    return this.registry.metrics();
  }
}
