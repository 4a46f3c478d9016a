/** Upper bounds of the request-duration histogram, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

interface ChannelCounters {
  deliveries: number;
  retries: number;
  failures: number;
  /** Requests per bucket (not cumulative), the last one +Inf. */
  buckets: number[];
  requests: number;
  seconds: number;
}

/**
 * Counters of the outbox dispatcher per rest channel, in the Prometheus text format. The
 * channel id is the only label: ids name configuration entries, never their values.
 */
export class DeliveryMetrics {
  private readonly channels = new Map<string, ChannelCounters>();
  /** Records received and not finished, across partitions (set by the dispatcher). */
  pending = 0;

  constructor(channelIds: Iterable<string> = []) {
    for (const id of channelIds) this.of(id);
  }

  private of(channel: string): ChannelCounters {
    let c = this.channels.get(channel);
    if (!c) this.channels.set(channel, (c = { deliveries: 0, retries: 0, failures: 0, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), requests: 0, seconds: 0 }));
    return c;
  }

  /** One HTTP request (any outcome) took `seconds`. */
  request(channel: string, seconds: number): void {
    const c = this.of(channel);
    const i = DURATION_BUCKETS.findIndex((le) => seconds <= le);
    (c.buckets[i === -1 ? DURATION_BUCKETS.length : i] as number) += 1;
    c.requests += 1;
    c.seconds += seconds;
  }

  delivered(channel: string): void {
    this.of(channel).deliveries += 1;
  }

  retried(channel: string): void {
    this.of(channel).retries += 1;
  }

  failed(channel: string): void {
    this.of(channel).failures += 1;
  }

  /** Totals over every channel, for tests and the benchmark. */
  totals(): { deliveries: number; retries: number; failures: number; requests: number } {
    const t = { deliveries: 0, retries: 0, failures: 0, requests: 0 };
    for (const c of this.channels.values()) {
      t.deliveries += c.deliveries;
      t.retries += c.retries;
      t.failures += c.failures;
      t.requests += c.requests;
    }
    return t;
  }

  toPrometheus(): string {
    const ids = [...this.channels.keys()].sort();
    const label = (id: string) => `channel="${id.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
    const lines: string[] = [];
    const counter = (name: string, help: string, value: (c: ChannelCounters) => number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const id of ids) lines.push(`${name}{${label(id)}} ${value(this.of(id))}`);
    };
    counter('sagaflow_rest_deliveries_total', 'Commands delivered to a rest channel (2xx).', (c) => c.deliveries);
    counter('sagaflow_rest_delivery_retries_total', 'Requests to a rest channel that are tried again (5xx, 429, 408, timeout, connection error).', (c) => c.retries);
    counter('sagaflow_rest_delivery_failures_total', 'Commands dead-lettered: 4xx, redirect, or retries exhausted.', (c) => c.failures);
    const h = 'sagaflow_rest_request_duration_seconds';
    lines.push(`# HELP ${h} Duration of one request to a rest channel, any outcome.`, `# TYPE ${h} histogram`);
    for (const id of ids) {
      const c = this.of(id);
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += c.buckets[i] as number;
        lines.push(`${h}_bucket{${label(id)},le="${le}"} ${cumulative}`);
      });
      lines.push(`${h}_bucket{${label(id)},le="+Inf"} ${c.requests}`, `${h}_sum{${label(id)}} ${c.seconds}`, `${h}_count{${label(id)}} ${c.requests}`);
    }
    lines.push('# HELP sagaflow_rest_deliveries_pending Outbox records received by this instance and not delivered or dead-lettered yet.', '# TYPE sagaflow_rest_deliveries_pending gauge', `sagaflow_rest_deliveries_pending ${this.pending}`);
    return `${lines.join('\n')}\n`;
  }
}
