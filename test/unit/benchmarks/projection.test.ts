import { describe, expect, it } from 'vitest';
import { meetsGoal, projectionMarkdown, type LagResult, type ProjectionResult } from '../../../benchmarks/projection.ts';

const lag: LagResult = { minMs: 1, p50Ms: 100, p95Ms: 400, p99Ms: 900, maxMs: 1_200, meanMs: 150, targetRecordsPerSecond: 4_700, achievedRecordsPerSecond: 4_690, records: 141_000, missing: 0 };

function result(overrides: Partial<ProjectionResult> = {}): ProjectionResult {
  return {
    system: 'projection',
    startedAt: '2026-12-01T00:00:00.000Z',
    server: 'MongoDB-compatible 8.2.11',
    changelogTopic: 't',
    records: 104_146,
    sagas: 100_000,
    seconds: 30,
    recordsPerSecond: 9_667,
    steadyRecordsPerSecond: 9_800,
    sagasWritten: 120_000,
    sagasStale: 0,
    // 290,006 events written as 104,146 changelog records: 9,400 events/s write 3,376 records/s.
    processorEventsPerSecond: 9_400,
    processorEvents: 290_006,
    processorRecordsPerSecond: 3_376,
    complete: true,
    timeline: [],
    lag,
    ...overrides,
  };
}

describe('projection goal', () => {
  it('is met at or above the rate the processor writes changelog records with lag p99 under a second and every saga stored', () => {
    expect(meetsGoal(result())).toBe(true);
    expect(meetsGoal(result({ recordsPerSecond: 3_376 }))).toBe(true);
  });

  it('is not met below the processor rate, with a lag p99 of a second or more, a missing record or an incomplete collection', () => {
    expect(meetsGoal(result({ recordsPerSecond: 3_375 }))).toBe(false);
    expect(meetsGoal(result({ lag: { ...lag, p99Ms: 1_000 } }))).toBe(false);
    expect(meetsGoal(result({ lag: { ...lag, missing: 1 } }))).toBe(false);
    expect(meetsGoal(result({ complete: false }))).toBe(false);
    expect(meetsGoal(result({ error: 'boom' }))).toBe(false);
  });

  it('reports the figures and whether the goal is met', () => {
    const md = projectionMarkdown(result({ lag: { ...lag, p99Ms: 1_500 } }), 'chart.svg').join('\n');
    expect(md).toContain('**9,667**');
    expect(md).toContain('**p99 1,500 ms**');
    expect(md).toContain('**not met**');
    expect(md).toContain('| processor changelog records/s at that rate (events/s x records / events) | 3,376 |');
    expect(md).toContain('| projection / processor (changelog records/s) | 2.86 |');
    expect(md).toContain('![projection](chart.svg)');
  });
});
