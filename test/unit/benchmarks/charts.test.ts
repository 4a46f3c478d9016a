import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { barChart, formatNumber, groupedBarChart, lineChart } from '../../../benchmarks/charts.ts';

// Were charts.ts to run its command on import, it would try to read this file and fail the
// import, rather than draw the real results into benchmarks/results.
vi.hoisted(() => {
  process.argv.splice(2, Infinity, '/nonexistent/sagaflow-charts-test.json');
});

type Attributes = Record<string, string>;

const TAG = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/g;

/** Tags balanced and properly nested, one <svg> root, no stray < > or & in text or attributes. */
function expectWellFormed(svg: string): void {
  expect(svg.trim().startsWith('<svg ')).toBe(true);
  expect(svg.trim().endsWith('</svg>')).toBe(true);
  expect(svg.match(/<svg\b/g)).toHaveLength(1);
  expect(svg.match(/<\/svg>/g)).toHaveLength(1);
  const open: string[] = [];
  for (const [, closing, name, , selfClosing] of svg.matchAll(TAG)) {
    if (selfClosing) continue;
    if (closing) expect(open.pop(), `</${name}>`).toBe(name);
    else open.push(name ?? '');
  }
  expect(open).toEqual([]);
  const text = svg.replace(TAG, '');
  expect(text).not.toMatch(/[<>]/);
  expect(svg.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, '')).not.toContain('&');
}

function expectClean(svg: string): void {
  expectWellFormed(svg);
  expect(svg).not.toMatch(/NaN|undefined|Infinity|null/);
  expect(svg).toContain('fill="white"');
}

function attributes(source: string): Attributes {
  return Object.fromEntries([...source.matchAll(/([\w:-]+)="([^"]*)"/g)].map(([, key, value]) => [key ?? '', value ?? '']));
}

/** Elements `<tag class="cls" ...>` in document order. */
function elements(svg: string, tag: string, cls: string): Attributes[] {
  return [...svg.matchAll(new RegExp(`<${tag}\\s([^>]*)>`, 'g'))].map(([, attrs]) => attributes(attrs ?? '')).filter((a) => a.class === cls);
}

/** `<text class="cls">` elements in document order. */
function textElements(svg: string, cls: string): { attributes: Attributes; text: string }[] {
  return [...svg.matchAll(/<text\s([^>]*)>([^<]*)<\/text>/g)].map(([, attrs, text]) => ({ attributes: attributes(attrs ?? ''), text: text ?? '' })).filter((t) => t.attributes.class === cls);
}

function texts(svg: string, cls: string): string[] {
  return textElements(svg, cls).map((t) => t.text);
}

const num = (value: string | undefined) => Number(value);

describe('formatNumber', () => {
  it('groups thousands and keeps fewer decimals the larger the number', () => {
    expect(formatNumber(34411.86)).toBe('34,412');
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(12.44)).toBe('12.4');
    expect(formatNumber(2.345)).toBe('2.35');
    expect(formatNumber(0.0123)).toBe('0.012');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(-0.00001)).toBe('-0.00001');
    expect(formatNumber(Number.NaN)).toBe('n/a');
  });
});

describe('barChart', () => {
  const svg = barChart('Events per second', 'events/s', [
    { label: 'one', value: 1000 },
    { label: 'two', value: 2000 },
    { label: 'four', value: 4000 },
  ]);

  it('draws one bar per value, in order, with lengths proportional to the values', () => {
    expectClean(svg);
    const bars = elements(svg, 'rect', 'bar');
    expect(bars.map((b) => b['data-value'])).toEqual(['1000', '2000', '4000']);
    const [one, two, four] = bars.map((b) => num(b.width));
    expect(one).toBeGreaterThan(0);
    expect(two).toBeCloseTo(2 * (one ?? 0), 0);
    expect(four).toBeCloseTo(4 * (one ?? 0), 0);
    const ys = bars.map((b) => num(b.y));
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
    expect(new Set(bars.map((b) => b.x)).size).toBe(1);
    expect(texts(svg, 'group-label')).toEqual(['one', 'two', 'four']);
  });

  it('prints each value and labels the axis with round ticks and the unit', () => {
    expect(texts(svg, 'value')).toEqual(['1,000', '2,000', '4,000']);
    expect(texts(svg, 'tick-label x')).toEqual(['0', '1,000', '2,000', '3,000', '4,000']);
    expect(svg).toContain('>events/s</text>');
    expect(svg).not.toContain('class="legend"');
  });

  it('steps ticks by 1, 2 or 5 times a power of ten', () => {
    const ticks = texts(barChart('t', 'events/s', [{ label: 'a', value: 34411.86 }, { label: 'b', value: 9011.6 }]), 'tick-label x');
    expect(ticks).toEqual(['0', '10,000', '20,000', '30,000', '40,000']);
    expect(texts(barChart('t', 'ms', [{ label: 'a', value: 0.7 }]), 'tick-label x')).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8']);
  });
});

describe('groupedBarChart', () => {
  const svg = groupedBarChart('Latency', 'ms', [
    { label: 'sagaflow', values: [{ series: 'p50', value: 10 }, { series: 'p95', value: 20 }, { series: 'p99', value: 40 }] },
    { label: 'kafka-streams', values: [{ series: 'p99', value: 80 }, { series: 'p50', value: 20 }] },
  ]);

  it('keeps one color and one place per series across groups, missing values leave their slot empty', () => {
    expectClean(svg);
    const bars = elements(svg, 'rect', 'bar');
    expect(bars.map((b) => `${b['data-series']}=${b['data-value']}`)).toEqual(['p50=10', 'p95=20', 'p99=40', 'p50=20', 'p99=80']);
    const colors = new Map<string, string>();
    for (const bar of bars) {
      const series = bar['data-series'] ?? '';
      expect(bar.fill).toBe(colors.get(series) ?? bar.fill);
      colors.set(series, bar.fill ?? '');
    }
    expect(new Set(colors.values()).size).toBe(3);
    const [p50a, p95a, p99a, p50b, p99b] = bars.map((b) => num(b.y));
    const rowStep = (p50b ?? 0) - (p50a ?? 0);
    expect((p99b ?? 0) - (p99a ?? 0)).toBe(rowStep);
    expect(p50a).toBeLessThan(p95a ?? 0);
    expect(p95a).toBeLessThan(p99a ?? 0);
  });

  it('draws lengths proportional to the values against one axis', () => {
    const widths = elements(svg, 'rect', 'bar').map((b) => num(b.width));
    const unit = (widths[0] ?? 0) / 10;
    expect(unit).toBeGreaterThan(0);
    expect(widths.map((w) => Math.round(w / unit))).toEqual([10, 20, 40, 20, 80]);
  });

  it('prints values and a legend of the series', () => {
    expect(texts(svg, 'value')).toEqual(['10', '20', '40', '20', '80']);
    const legend = svg.slice(svg.indexOf('<g class="legend">'), svg.indexOf('</g>'));
    expect([...legend.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1])).toEqual(['p50', 'p95', 'p99']);
    expect(groupedBarChart('t', 'ms', [{ label: 'a', values: [{ series: 'only', value: 1 }] }])).not.toContain('class="legend"');
  });
});

describe('lineChart', () => {
  const rss = lineChart('RSS', {
    xLabel: 'live sagas',
    yLabel: 'MB',
    xScale: 'log',
    series: [
      { name: 'RSS MB', points: [[1_000_000, 910], [10_000, 180], [100_000, 260]] },
      { name: 'state on disk MB', points: [[10_000, 4], [100_000, 38], [1_000_000, 390]] },
    ],
  });

  it('labels a log axis with the powers of ten, evenly spaced', () => {
    expectClean(rss);
    expect(texts(rss, 'tick-label x')).toEqual(['10k', '100k', '1M']);
    const markers = elements(rss, 'circle', 'marker').filter((m) => m['data-series'] === 'RSS MB');
    expect(markers.map((m) => m['data-x'])).toEqual(['10000', '100000', '1000000']);
    const [a, b, c] = markers.map((m) => num(m.cx));
    expect((b ?? 0) - (a ?? 0)).toBeCloseTo((c ?? 0) - (b ?? 0), 0);
    expect(texts(lineChart('t', { xLabel: 'x', yLabel: 'y', xScale: 'log', series: [{ name: 's', points: [[1, 1], [50_000_000, 2]] }] }), 'tick-label x')).toEqual([
      '1', '10', '100', '1k', '10k', '100k', '1M', '10M', '100M',
    ]);
  });

  it('places markers on a linear y axis from zero, with round ticks and a legend', () => {
    expect(texts(rss, 'tick-label y')).toEqual(['0', '200', '400', '600', '800', '1,000']);
    const tickY = (label: string) => num(textElements(rss, 'tick-label y').find((t) => t.text === label)?.attributes.y);
    const zero = tickY('0');
    const thousand = tickY('1,000');
    for (const marker of elements(rss, 'circle', 'marker')) {
      // Tick labels sit 4 below their line.
      expect(num(marker.cy)).toBeCloseTo(zero - 4 - (num(marker['data-y']) / 1000) * (zero - thousand), 0);
    }
    expect(rss).toContain('class="legend"');
    expect(elements(rss, 'polyline', 'line')).toHaveLength(2);
  });

  it('uses whole-number ticks for whole-number x values', () => {
    const scaling = lineChart('Scaling', {
      xLabel: 'instances',
      yLabel: 'events/s',
      series: [{ name: 'sagaflow', points: [[1, 7185], [2, 13020], [4, 22400]] }],
    });
    expectClean(scaling);
    expect(texts(scaling, 'tick-label x')).toEqual(['1', '2', '3', '4']);
    expect(texts(scaling, 'tick-label y')).toEqual(['0', '5,000', '10,000', '15,000', '20,000', '25,000']);
    expect(scaling).not.toContain('class="legend"');
    expect(texts(scaling, 'value')).toEqual([]);
  });

  it('prints values when asked, once for points two series share', () => {
    const svg = lineChart('Scaling', {
      xLabel: 'instances',
      yLabel: 'events/s',
      valueLabels: true,
      series: [
        { name: 'sagaflow', points: [[1, 7185], [2, 13020]] },
        { name: 'ideal linear', points: [[1, 7185], [2, 14370]], dashed: true },
      ],
    });
    expectClean(svg);
    expect(texts(svg, 'value').sort()).toEqual(['13,020', '14,370', '7,185']);
    expect(svg).toContain('stroke-dasharray');
  });

  it('starts the y axis at yMin, but never above a point', () => {
    const base = { xLabel: 'x', yLabel: 'y' };
    expect(texts(lineChart('t', { ...base, yMin: 100, series: [{ name: 's', points: [[1, 150], [2, 300]] }] }), 'tick-label y')).toEqual(['100', '150', '200', '250', '300']);
    expect(texts(lineChart('t', { ...base, yMin: 1000, series: [{ name: 's', points: [[1, 2000], [2, 12200]] }] }), 'tick-label y')).toEqual([
      '1,000', '2,000', '4,000', '6,000', '8,000', '10,000', '12,000', '14,000',
    ]);
    const zoomed = lineChart('t', { ...base, yMin: 1000, series: [{ name: 's', points: [[1, 1000], [2, 12200]] }] });
    const bottom = textElements(zoomed, 'tick-label y').find((t) => t.text === '1,000')?.attributes.y;
    expect(num(elements(zoomed, 'circle', 'marker')[0]?.cy)).toBe(num(bottom) - 4);
    expect(texts(lineChart('t', { ...base, yMin: 100, series: [{ name: 's', points: [[1, 50], [2, 300]] }] }), 'tick-label y')[0]).toBe('50');
  });
});

describe('edge cases', () => {
  const line = (series: { name: string; points: [number, number][] }[], xScale: 'linear' | 'log' = 'linear') => lineChart('t', { xLabel: 'x', yLabel: 'y', xScale, series, valueLabels: true });
  const cases: [string, string][] = [
    ['bar: no bars', barChart('t', 'u', [])],
    ['bar: one bar', barChart('t', 'u', [{ label: 'a', value: 5 }])],
    ['bar: all zeros', barChart('t', 'u', [{ label: 'a', value: 0 }, { label: 'b', value: 0 }])],
    ['bar: negative and positive', barChart('t', 'u', [{ label: 'a', value: -3 }, { label: 'b', value: 7 }])],
    ['bar: not a number', barChart('t', 'u', [{ label: 'a', value: Number.NaN }, { label: 'b', value: Number.POSITIVE_INFINITY }])],
    ['grouped: no groups', groupedBarChart('t', 'u', [])],
    ['grouped: a group without values', groupedBarChart('t', 'u', [{ label: 'a', values: [] }])],
    ['grouped: one value', groupedBarChart('t', 'u', [{ label: 'a', values: [{ series: 's', value: 3 }] }])],
    ['grouped: all zeros', groupedBarChart('t', 'u', [{ label: 'a', values: [{ series: 'p50', value: 0 }, { series: 'p99', value: 0 }] }])],
    ['line: no series', line([])],
    ['line: a series without points', line([{ name: 's', points: [] }])],
    ['line: one point', line([{ name: 's', points: [[3, 7]] }])],
    ['line: one point at zero', line([{ name: 's', points: [[0, 0]] }])],
    ['line: all zeros', line([{ name: 's', points: [[1, 0], [2, 0]] }])],
    ['line: negative values', line([{ name: 's', points: [[-2, -5], [2, -1]] }])],
    ['line: log, one point', line([{ name: 's', points: [[100_000, 12]] }], 'log')],
    ['line: log, x at zero or below', line([{ name: 's', points: [[0, 1], [-10, 2]] }], 'log')],
    ['line: log, below one', line([{ name: 's', points: [[0.01, 1], [0.5, 2]] }], 'log')],
    ['line: yMin without points', lineChart('t', { xLabel: 'x', yLabel: 'y', yMin: 5, series: [] })],
    ['line: every point at yMin', lineChart('t', { xLabel: 'x', yLabel: 'y', yMin: 5, series: [{ name: 's', points: [[1, 5], [2, 5]] }] })],
    ['line: not a number', line([{ name: 's', points: [[1, Number.NaN], [Number.NaN, 1], [2, 3]] }])],
  ];

  it.each(cases)('%s: well-formed, no NaN, undefined or Infinity', (_name, svg) => {
    expectClean(svg);
  });

  it('says so when there is nothing to draw', () => {
    expect(barChart('t', 'u', [])).toContain('no data');
    expect(line([])).toContain('no data');
    expect(line([{ name: 's', points: [[0, 1]] }], 'log')).toContain('no data');
  });

  it('a single bar of zero has no length; one point gets a marker and no line', () => {
    expect(elements(barChart('t', 'u', [{ label: 'a', value: 0 }]), 'rect', 'bar').map((b) => b.width)).toEqual(['0']);
    const one = line([{ name: 's', points: [[3, 7]] }]);
    expect(elements(one, 'circle', 'marker')).toHaveLength(1);
    expect(elements(one, 'polyline', 'line')).toHaveLength(0);
  });
});

describe('escaping', () => {
  const nasty = 'a<b> & "c"';
  const escaped = 'a&lt;b&gt; &amp; &quot;c&quot;';

  it('escapes titles, labels, units and series names', () => {
    const svgs = [
      barChart(nasty, nasty, [{ label: nasty, value: 1 }]),
      groupedBarChart(nasty, nasty, [{ label: nasty, values: [{ series: nasty, value: 1 }, { series: 'x', value: 2 }] }]),
      lineChart(nasty, { xLabel: nasty, yLabel: nasty, series: [{ name: nasty, points: [[1, 1]] }, { name: 'x', points: [[2, 2]] }] }),
    ];
    for (const svg of svgs) {
      expectClean(svg);
      expect(svg).not.toContain('a<b>');
      expect(svg).toContain(escaped);
    }
    expect(groupedBarChart('t', 'u', [{ label: 'g', values: [{ series: nasty, value: 1 }] }])).toContain(`data-series="${escaped}"`);
  });
});

describe('command', () => {
  it('draws throughput, CPU and RSS of every session next to the results file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-charts-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, '2026-01-02.json');
    const results = [
      { system: 'passthrough', eventsPerSecond: 30000, steadyEventsPerSecond: null, cpuMicrosPerEvent: 18, peakRssMB: 380 },
      { system: 'kafka-streams', threads: 2, eventsPerSecond: 6000, steadyEventsPerSecond: 9000, cpuMicrosPerEvent: 97, peakRssMB: 530 },
    ];
    writeFileSync(file, JSON.stringify({ sessions: [{ workload: { flow: 'benchmarks/flows/reservation.saga.json', sagas: 1000 }, results: [{ system: 'kafka-perf' }] }, { workload: { flow: 'benchmarks/flows/reservation.saga.json', sagas: 1000 }, results }] }));
    const script = fileURLToPath(new URL('../../../benchmarks/charts.ts', import.meta.url));
    const run = spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['2026-01-02-s2-cpu.svg', '2026-01-02-s2-rss.svg', '2026-01-02-s2-throughput.svg', '2026-01-02.json']);
    const throughput = readFileSync(join(dir, '2026-01-02-s2-throughput.svg'), 'utf8');
    expectClean(throughput);
    expect(texts(throughput, 'title')).toEqual(['Events processed per second (reservation, 1000 sagas)']);
    expect(texts(throughput, 'group-label')).toEqual(['passthrough', 'kafka-streams (2 threads)']);
    expect(texts(throughput, 'value')).toEqual(['30,000', '9,000']);
  });
});
