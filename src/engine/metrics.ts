/**
 * Processor counters, exposed at /-/metrics in the Prometheus text format. Plain numbers:
 * nothing here can carry a secret (no labels taken from configuration values).
 */
export class Metrics {
  eventsProcessed = 0;
  transactions = 0;
  commandsSent = 0;
  deadLettered = 0;
  restoredRecords = 0;
  recoveries = 0;
  readonly byCode = new Map<string, number>();

  count(code: string): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }

  toPrometheus(extra: Record<string, number> = {}): string {
    const lines = [
      ['sagaflow_events_processed_total', this.eventsProcessed],
      ['sagaflow_transactions_committed_total', this.transactions],
      ['sagaflow_commands_sent_total', this.commandsSent],
      ['sagaflow_dead_lettered_total', this.deadLettered],
      ['sagaflow_restored_records_total', this.restoredRecords],
      ['sagaflow_task_recoveries_total', this.recoveries],
      ...Object.entries(extra),
    ].map(([name, value]) => `${name} ${value}`);
    for (const [code, n] of [...this.byCode].sort()) {
      lines.push(`sagaflow_events_total{kind="${code}"} ${n}`);
    }
    return lines.join('\n') + '\n';
  }
}
