import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  analyzeFirings,
  engineTimerFigures,
  flowWithTimeout,
  histogramBound,
  phaseOk,
  promSample,
  TIMEOUT_AFTER_MS,
  timersCharts,
  timersMarkdown,
  type FinalRecord,
  type TimersPhaseResult,
  type TimersResult,
} from '../../../benchmarks/timers.ts';
import { loadSagaConfig } from '../../../benchmarks/workload.ts';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { transition } from '../../../src/saga/transition.ts';

const reservation = loadSagaConfig(fileURLToPath(new URL('../../../benchmarks/flows/reservation.saga.json', import.meta.url)));
const T0 = Date.parse('2026-12-01T12:00:00.000Z');

/** Sagas s0..s(n-1), saga i due at T0 + i * stepMs. */
function dues(n: number, stepMs = 0): Map<string, number> {
  return new Map(Array.from({ length: n }, (_, i) => [`s${i}`, T0 + i * stepMs]));
}

describe('firing analysis', () => {
  it('takes each saga\'s lag from its due time to its read, with nearest-rank percentiles', () => {
    // Saga i read (i + 1) * 10 ms after its due time: lags 10, 20, ..., 1000 ms.
    const due = dues(100, 5);
    const finals: FinalRecord[] = [...due].map(([sagaId, at], i) => ({ sagaId, at: at + (i + 1) * 10 }));
    const { lag, check } = analyzeFirings(due, finals);
    expect(check).toEqual({ expected: 100, once: 100, missing: 0, twice: 0, unexpected: 0, ok: true });
    expect([lag.minMs, lag.p50Ms, lag.p95Ms, lag.p99Ms, lag.maxMs]).toEqual([10, 500, 950, 990, 1000]);
  });

  it('counts firings per second from the first due time to the last read', () => {
    // All due at T0, read over 2 s: 1,000 firings in 2 s.
    const finals: FinalRecord[] = Array.from({ length: 1000 }, (_, i) => ({ sagaId: `s${i}`, at: T0 + 2 + (i * 1998) / 999 }));
    const analysis = analyzeFirings(dues(1000), finals);
    expect(analysis.seconds).toBe(2);
    expect(analysis.firingsPerSecond).toBe(500);
    expect(analysis.timeline[0]).toEqual([0, 0]);
    expect(analysis.timeline.at(-1)).toEqual([2, 1000]);
    // Cumulative, in steps of at least 100 ms, never more than 61 points.
    expect(analysis.timeline.length).toBeLessThanOrEqual(61);
    expect(analysis.timeline.every(([t, n], i, all) => i === 0 || (t > (all[i - 1]?.[0] ?? 0) && n >= (all[i - 1]?.[1] ?? 0)))).toBe(true);
  });

  it('fails the exactly-once check on a saga read twice, one never read and one it did not create', () => {
    const due = dues(4);
    const finals: FinalRecord[] = [
      { sagaId: 's0', at: T0 + 100 },
      { sagaId: 's1', at: T0 + 120 },
      { sagaId: 's1', at: T0 + 900 },
      { sagaId: 's2', at: T0 + 150 },
      { sagaId: 'elsewhere', at: T0 + 160 },
    ];
    const { check, lag } = analyzeFirings(due, finals);
    expect(check).toEqual({ expected: 4, once: 2, missing: 1, twice: 1, unexpected: 1, ok: false });
    // The repeated saga counts once, from its first read.
    expect(lag.maxMs).toBe(150);
  });

  it('shows a firing read before its due time as a negative lag instead of hiding it', () => {
    expect(analyzeFirings(dues(1), [{ sagaId: 's0', at: T0 - 5 }]).lag.minMs).toBe(-5);
  });

  it('is not ok when nothing was expected or nothing read', () => {
    expect(analyzeFirings(new Map(), []).check.ok).toBe(false);
    const none = analyzeFirings(dues(3), []);
    expect(none.check).toMatchObject({ missing: 3, ok: false });
    expect(none.firingsPerSecond).toBe(0);
    expect(none.timeline).toEqual([]);
  });
});

describe('the benchmark flow', () => {
  it('adds a timeout to reservationCreated whose event leads to the final reservationFailed, leaving the file\'s config alone', () => {
    const { config, finalState } = flowWithTimeout(reservation, 'reservationCreated', 'validationKO', TIMEOUT_AFTER_MS);
    expect(finalState).toBe('reservationFailed');
    expect(config.machineDefinition.states.find((s) => s.id === 'reservationCreated')?.timeout).toEqual({ after: TIMEOUT_AFTER_MS, event: 'validationKO' });
    expect(reservation.machineDefinition.states.find((s) => s.id === 'reservationCreated')?.timeout).toBeUndefined();
  });

  it('refuses a final state, an unknown state and an event that does not end the saga', () => {
    expect(() => flowWithTimeout(reservation, 'reservationFailed', 'validationKO', 1000)).toThrow(/not a non-final state/);
    expect(() => flowWithTimeout(reservation, 'nowhere', 'validationKO', 1000)).toThrow(/not a non-final state/);
    expect(() => flowWithTimeout(reservation, 'reservationCreated', 'validationOK', 1000)).toThrow(/does not lead/);
  });

  it('makes a creation stamped due - after come due at `due`, and its firing end the saga', async () => {
    // The benchmark's premise: the due time follows from the creation record's timestamp.
    const { config } = flowWithTimeout(reservation, 'reservationCreated', 'validationKO', TIMEOUT_AFTER_MS);
    const def = await compileDefinition(config);
    const due = T0 + 1234;
    const created = transition(def, undefined, { kind: 'create', sagaId: 's', associatedEntityId: 'e', metadata: {}, timestamp: new Date(due - TIMEOUT_AFTER_MS).toISOString() });
    const timer = created.saga?.timers?.[0];
    expect(timer).toMatchObject({ kind: 'timeout', dueAt: new Date(due).toISOString(), event: 'validationKO' });
    if (!timer || !created.saga) throw new Error('no timer');
    const fired = transition(def, created.saga, { kind: 'timer', sagaId: 's', timer, timestamp: new Date(due).toISOString() });
    expect(fired.saga).toMatchObject({ currentState: 'reservationFailed', isFinal: true, revision: 2 });
    expect(fired.saga?.timers).toBeUndefined();
  });
});

const METRICS = [
  '# HELP sagaflow_timers_fired_total Due timers applied to their saga',
  '# TYPE sagaflow_timers_fired_total counter',
  'sagaflow_timers_fired_total 1000',
  'sagaflow_timers_scheduled_total 1000',
  'sagaflow_timers_stale_total 0',
  'sagaflow_timer_firing_lag_seconds_bucket{le="0.05"} 400',
  'sagaflow_timer_firing_lag_seconds_bucket{le="0.1"} 900',
  'sagaflow_timer_firing_lag_seconds_bucket{le="0.25"} 995',
  'sagaflow_timer_firing_lag_seconds_bucket{le="1"} 1000',
  'sagaflow_timer_firing_lag_seconds_bucket{le="+Inf"} 1000',
  'sagaflow_timer_firing_lag_seconds_sum 75',
  'sagaflow_timer_firing_lag_seconds_count 1000',
].join('\n');

describe('/-/metrics cross-check', () => {
  it('reads unlabelled samples by their exact name', () => {
    expect(promSample(METRICS, 'sagaflow_timers_fired_total')).toBe(1000);
    expect(promSample(METRICS, 'sagaflow_timers_fired')).toBeUndefined();
  });

  it('bounds a percentile of a histogram by the first bucket holding it', () => {
    expect(histogramBound(METRICS, 'sagaflow_timer_firing_lag_seconds', 50)).toBe(0.1);
    expect(histogramBound(METRICS, 'sagaflow_timer_firing_lag_seconds', 99)).toBe(0.25);
    expect(histogramBound('', 'sagaflow_timer_firing_lag_seconds', 99)).toBeUndefined();
  });

  it('gives the timer counters and the engine-side lag', () => {
    expect(engineTimerFigures(METRICS)).toEqual({ scheduled: 1000, fired: 1000, stale: 0, lagMeanMs: 75, lagP50UpToMs: 100, lagP99UpToMs: 250 });
  });
});

function phase(overrides: Partial<TimersPhaseResult> = {}): TimersPhaseResult {
  const due = dues(1000, overrides.spreadSeconds ? 10 : 0);
  const analysis = analyzeFirings(due, [...due].map(([sagaId, at], i) => ({ sagaId, at: at + 100 + i })));
  return {
    phase: 'together',
    sagas: 1000,
    spreadSeconds: 0,
    leadSeconds: 20,
    startupSeconds: 2,
    creationSeconds: 4,
    pendingMarginSeconds: 15,
    rss: { readyMB: 170, pendingMB: 320, peakFiringMB: 420, hwmMB: 450 },
    heapUsed: { pendingMB: 120, afterMB: 140 },
    analysis,
    cpuCores: 0.9,
    cpuMicrosPerFiring: 150,
    brokerCpuSeconds: 0.4,
    otherCpuCores: 0.3,
    engine: engineTimerFigures(METRICS),
    changelogByState: { reservationCreated: 1000, reservationFailed: 1000 },
    ok: true,
    ...overrides,
  };
}

function timers(phases: TimersPhaseResult[]): TimersResult {
  return {
    system: 'timers',
    startedAt: '2026-12-01T12:00:00.000Z',
    client: 'librdkafka',
    flow: 'benchmarks/flows/reservation.saga.json',
    timeout: { state: 'reservationCreated', event: 'validationKO', afterMs: TIMEOUT_AFTER_MS, finalState: 'reservationFailed' },
    commitIntervalMs: 100,
    timerIntervalMs: 100,
    loadAverage: 1.5,
    phases,
    ok: phases.every(phaseOk),
  };
}

describe('timers report', () => {
  const spread = phase({ phase: 'spread', spreadSeconds: 10 });

  it('is ok only with every timer pending before the first due time, each saga fired once and the metric agreeing', () => {
    expect(phaseOk(phase())).toBe(true);
    expect(phaseOk(phase({ pendingMarginSeconds: -1 }))).toBe(false);
    expect(phaseOk(phase({ error: 'boom' }))).toBe(false);
    const engine = engineTimerFigures(METRICS);
    expect(phaseOk(phase({ engine: { ...engine, fired: 1001 } }))).toBe(false);
    const twice = analyzeFirings(dues(1), [{ sagaId: 's0', at: T0 }, { sagaId: 's0', at: T0 + 1 }]);
    expect(phaseOk(phase({ analysis: twice, sagas: 1, engine: { ...engine, fired: 1 } }))).toBe(false);
  });

  it('has a column per phase with RSS, the lag percentiles, firings/s and the check', () => {
    const md = timersMarkdown(timers([phase(), spread]), { lag: 'lag.svg', firings: 'firings.svg' }).join('\n');
    expect(md).toContain('## Timers: 1,000 pending timeouts in one sagaflow instance');
    expect(md).toContain('| figure | due together | spread over 10 s |');
    expect(md).toContain('| RSS MB: ready / timers pending / peak while firing | 170 / **320** / 420 | 170 / **320** / 420 |');
    // Together: lags 100..1099 ms; read over 1.099 s.
    expect(md).toContain('| JS heap used MB: timers pending / after firing | 120 / 140 | 120 / 140 |');
    expect(md).toContain('| firing lag min / p50 / p95 / **p99** / max ms | 100 / 599 / 1,049 / **1,089** / 1,099 |');
    expect(md).toContain('**910**, over 1.1 s');
    expect(md).toContain('(due at 100/s)');
    expect(md).toContain('| read once / missing / twice / unexpected | 1,000 / 0 / 0 / 0 |');
    expect(md).toContain('| /-/metrics timers scheduled / fired / stale | 1,000 / 1,000 / 0 |');
    expect(md).toContain('| check | ok | ok |');
    expect(md).toContain('includes the instance\'s tick and transaction commit and that consumer\'s read latency');
    expect(md).toContain('![timer firing lag](lag.svg)');
    expect(md).toContain('![timer firings over time](firings.svg)');
    expect(md).not.toMatch(/NaN|undefined/);
  });

  it('says which phase failed and why, leaving the figures it has not got empty', () => {
    const failed = phase({ error: 'the creations were read 2 s after the first due time', pendingMarginSeconds: -2 });
    delete failed.analysis;
    delete failed.engine;
    const md = timersMarkdown(timers([failed, spread]), { lag: 'l', firings: 'f' }).join('\n');
    expect(md).toContain('| check | **failed**: the creations were read 2 s after the first due time | ok |');
    expect(md).toContain('| sagas | 1,000 | 1,000 |');
    expect(md).toContain('| firing lag min / p50 / p95 / **p99** / max ms | — | 100 / 599 / 1,049 / **1,089** / 1,099 |');
  });

  it('draws the lag percentiles per phase and the firings over time against the due line', () => {
    const { lag, firings } = timersCharts(timers([phase(), spread]));
    expect(lag).toContain('due together');
    expect(lag).toContain('1,089');
    expect(firings).toContain('spread over 10 s: fired');
    expect(firings).toContain('spread over 10 s: due');
    for (const svg of [lag, firings]) expect(svg).not.toMatch(/NaN|undefined/);
  });
});
