import { describe, expect, it } from 'vitest';
import { Metrics, engineChannels } from '../../../src/engine/metrics.ts';
import type { CommitMessage, TransitionMessage } from '../../../src/engine/metrics.ts';
import { sample } from '../../support/prometheus.ts';

function transition(scope: Metrics, over: Partial<TransitionMessage> = {}): void {
  engineChannels.transition.publish({ scope, partition: 0, label: 'validationOK', outcome: 'applied', state: 'checking', durationMs: 2, ...over } satisfies TransitionMessage);
}

describe('Metrics on prom-client', () => {
  it('keeps the field API of the engine and serves every sagaflow_* name', async () => {
    const m = new Metrics({ processMetrics: false });
    m.eventsProcessed += 1;
    m.eventsProcessed += 2;
    m.transactions += 1;
    m.commandsSent += 4;
    m.deadLettered += 1;
    m.restoredRecords += 7;
    m.recoveries += 1;
    m.count('outcome:applied');
    m.count('outcome:applied');
    m.count('SAGAFLOW_UNKNOWN_SAGA');
    m.observeRestore(20, 'marker');
    m.observeRestore(3_000, 'start');
    m.observeRestore(4_000, 'start');
    expect(m.eventsProcessed).toBe(3);
    expect(m.restoredRecords).toBe(7);
    expect(m.byCode.get('outcome:applied')).toBe(2);
    const text = await m.toPrometheus({ sagaflow_ready: 1 });
    expect(sample(text, 'sagaflow_events_processed_total')).toBe(3);
    expect(sample(text, 'sagaflow_transactions_committed_total')).toBe(1);
    expect(sample(text, 'sagaflow_commands_sent_total')).toBe(4);
    expect(sample(text, 'sagaflow_dead_lettered_total')).toBe(1);
    expect(sample(text, 'sagaflow_restored_records_total')).toBe(7);
    expect(sample(text, 'sagaflow_task_recoveries_total')).toBe(1);
    expect(sample(text, 'sagaflow_restore_duration_seconds_count{from="marker"}')).toBe(1);
    expect(sample(text, 'sagaflow_restore_duration_seconds_count{from="start"}')).toBe(2);
    expect(sample(text, 'sagaflow_restore_duration_seconds_sum{from="start"}')).toBe(7);
    expect(sample(text, 'sagaflow_restore_duration_seconds_bucket{le="0.05",from="marker"}')).toBe(1);
    expect(sample(text, 'sagaflow_restore_duration_seconds_bucket{le="2.5",from="start"}')).toBe(0);
    expect(sample(text, 'sagaflow_events_total{kind="outcome:applied"}')).toBe(2);
    expect(sample(text, 'sagaflow_events_total{kind="SAGAFLOW_UNKNOWN_SAGA"}')).toBe(1);
    expect(sample(text, 'sagaflow_ready')).toBe(1);
    expect(text).toContain('# TYPE sagaflow_events_processed_total counter');
    // No process metrics asked for.
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it('counts Flow Manager\'s flow_manager_saga_states_total for creations and applied events only, per processor', async () => {
    const mine = new Metrics({ processMetrics: false });
    const other = new Metrics({ processMetrics: false });
    transition(mine, { label: '__created__', outcome: 'created', state: 'reservationCreated' });
    transition(mine, { label: 'validationOK', state: 'checking' });
    transition(mine, { label: 'validationOK', state: 'checking' });
    transition(mine, { label: 'late', outcome: 'unexpected', state: 'checking' });
    transition(mine, { label: 'x', outcome: 'unknown-saga', state: undefined });
    transition(other, { label: 'checkOK', state: 'confirmed' });
    const text = await mine.toPrometheus();
    expect(sample(text, 'flow_manager_saga_states_total{state="reservationCreated",incoming_message_label="__created__"}')).toBe(1);
    expect(sample(text, 'flow_manager_saga_states_total{state="checking",incoming_message_label="validationOK"}')).toBe(2);
    expect(text).not.toContain('incoming_message_label="late"');
    expect(text).not.toContain('confirmed');
    // Every transition is timed, whatever its outcome.
    expect(sample(text, 'sagaflow_transition_duration_seconds_count{outcome="applied"}')).toBe(2);
    expect(sample(text, 'sagaflow_transition_duration_seconds_count{outcome="unexpected"}')).toBe(1);
    expect(sample(text, 'sagaflow_transition_duration_seconds_bucket{le="0.0025",outcome="applied"}')).toBe(2);
    expect(sample(text, 'sagaflow_transition_duration_seconds_bucket{le="0.001",outcome="applied"}')).toBe(0);
  });

  it('commit latency and batch sizes are histograms fed by the commit channel', async () => {
    const m = new Metrics({ processMetrics: false });
    engineChannels.commit.publish({ scope: m, durationMs: 12, inputs: 40, records: 90 } satisfies CommitMessage);
    engineChannels.commit.publish({ scope: m, durationMs: 300, inputs: 1, records: 3 } satisfies CommitMessage);
    engineChannels.commit.publish({ scope: undefined, durationMs: 1, inputs: 1, records: 1 } satisfies CommitMessage);
    const text = await m.toPrometheus();
    expect(sample(text, 'sagaflow_commit_duration_seconds_count')).toBe(2);
    expect(sample(text, 'sagaflow_commit_duration_seconds_sum')).toBeCloseTo(0.312, 6);
    expect(sample(text, 'sagaflow_commit_duration_seconds_bucket{le="0.025"}')).toBe(1);
    expect(sample(text, 'sagaflow_commit_batch_inputs_bucket{le="50"}')).toBe(2);
    expect(sample(text, 'sagaflow_commit_batch_inputs_bucket{le="25"}')).toBe(1);
    expect(sample(text, 'sagaflow_commit_batch_records_sum')).toBe(93);
    expect(text).toContain('# TYPE sagaflow_commit_batch_records histogram');
  });

  it('adds the process metrics, as services built on lc39 do', async () => {
    const text = await new Metrics().toPrometheus();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toContain('sagaflow_events_processed_total 0');
  });

  it('a counter never goes down', () => {
    const m = new Metrics({ processMetrics: false });
    m.transactions = 5;
    m.transactions = 2;
    expect(m.transactions).toBe(5);
  });
});
