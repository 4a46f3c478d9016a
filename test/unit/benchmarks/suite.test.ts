import { describe, expect, it } from 'vitest';
import type { SystemResult } from '../../../benchmarks/run.ts';
import { suiteCharts, suiteMarkdown, type SuiteFigures } from '../../../benchmarks/suite.ts';
import { DEFAULT_WORKLOAD, emptySummary, generateWorkload, loadSagaConfig, planSaga, type WorkloadOptions } from '../../../benchmarks/workload.ts';

function system(system: SystemResult['system'], eventsPerSecond: number, steady: number | null, extra: Partial<SystemResult> = {}): SystemResult {
  return {
    system,
    startedAt: '2026-01-01T00:00:00Z',
    flow: 'benchmarks/flows/reservation.saga.json',
    sagas: 1000,
    events: 3000,
    startupSeconds: 1,
    processingSeconds: 3000 / eventsPerSecond,
    eventsPerSecond,
    sagasPerSecond: eventsPerSecond / 3,
    steadyEventsPerSecond: steady,
    cpuSeconds: 1,
    cpuCores: 0.5,
    cpuMicrosPerEvent: 100,
    totalCpuSeconds: 2,
    peakRssMB: 200,
    loadAverage: 0,
    timeline: [],
    output: { topic: 't', expected: 10, got: 10, ok: true, byLabel: {} },
    ...extra,
  };
}

const meta = { command: 'npm run bench:suite', workload: 'w', live: 100_000, latency: 'l', charts: { throughput: 't.svg', scaling: 's.svg', latency: 'l.svg', memory: 'm.svg' }, recordedAt: '2026-01-01T00:00:00Z', otherLoad: 'quiet' };

describe('suite report', () => {
  const sagaflow = system('sagaflow', 5000, 6000, { instances: 1, client: 'librdkafka', default: true });
  const onKafkajs = system('sagaflow', 2500, 1500, { instances: 1, client: 'kafkajs' });
  const figures: SuiteFigures = {
    throughput: [
      system('passthrough', 20000, 24000, { client: 'librdkafka' }),
      system('passthrough', 10000, 12000, { client: 'kafkajs' }),
      system('kafka-streams', 4000, 3000, { threads: 1 }),
      sagaflow,
      onKafkajs,
    ],
    scaling: [sagaflow, system('sagaflow', 7000, 9000, { instances: 2 })],
    latency: [],
    memory: system('sagaflow', 4000, null, {
      memory: [
        { events: 10_000, rssMB: 300, stateOnDiskMB: 10 },
        { events: 100_000, rssMB: 390, stateOnDiskMB: 100 },
      ],
    }),
  };

  it('gives the ratios per client on steady rates, and on total rates, against the pass-through on the same client', () => {
    const md = suiteMarkdown(figures, meta);
    expect(md).toContain('- librdkafka (the default): sagaflow / Kafka Streams = **2.00**, sagaflow / pass-through on the same client = **0.25** (on total time: 1.25 and 0.25).');
    expect(md).toContain('- kafkajs: sagaflow / Kafka Streams = **0.50**, sagaflow / pass-through on the same client = **0.13** (on total time: 0.63 and 0.25).');
    expect(md).toContain('| sagaflow (librdkafka, default) |');
    expect(md).toContain('| passthrough (kafkajs) |');
  });

  it('states the memory growth per 1,000 live sagas from the samples', () => {
    // 90 MB over 90,000 sagas: 1 MB = 1,024 KB per 1,000.
    expect(suiteMarkdown(figures, meta)).toContain('RSS grew by 90 MB (1,024.0 KB per 1,000 sagas) while the state on disk grew by 90.0 MB');
  });

  it('has no ratio for a system whose output was wrong', () => {
    const wrong = { ...figures, throughput: [...figures.throughput.slice(0, 3), { ...sagaflow, output: { ...sagaflow.output, ok: false } }, onKafkajs] };
    const md = suiteMarkdown(wrong, meta);
    expect(md).toContain('- librdkafka (the default): sagaflow / Kafka Streams = **n/a**');
    expect(md).toContain('- kafkajs: sagaflow / Kafka Streams = **0.50**');
  });

  it('draws the scaling curve against linear scaling from one instance', () => {
    const { scaling } = suiteCharts(figures, 'w', 100_000);
    expect(scaling).toContain('linear from 1 instance');
    expect(scaling).toContain('12,000');
    expect(scaling).not.toMatch(/NaN|undefined/);
  });
});

describe('live-only workload', () => {
  const config = loadSagaConfig(new URL('../../../benchmarks/flows/reservation.saga.json', import.meta.url).pathname);
  const opts: WorkloadOptions = { ...DEFAULT_WORKLOAD, config, sagas: 50 };

  it('keeps the same sagas but only their creation event, each ending live in the initial state', () => {
    const live = { ...opts, liveOnly: true };
    const summary = emptySummary(opts.partitions);
    const messages = [...generateWorkload(live, summary)];
    expect(messages).toHaveLength(50);
    expect(summary.finalStates).toEqual({ [config.machineDefinition.initialState]: 50 });
    for (let i = 0; i < 50; i++) {
      const full = planSaga(opts, i);
      const only = planSaga(live, i);
      expect(only.sagaId).toBe(full.sagaId);
      expect(only.events).toEqual(full.events.slice(0, 1));
    }
  });
});
