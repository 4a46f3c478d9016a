/**
 * SVG charts for the benchmark results, without dependencies: pure functions returning an
 * SVG document as a string (white background, axes with ticks and units, a legend when there
 * are several series), and a command that draws the figures of a results file:
 *
 *   node benchmarks/charts.ts [benchmarks/results/<date>.json]
 *
 * For each session: events/s per system (and the steady rate), CPU µs per event and peak
 * RSS. Writes benchmarks/results/<date>-<session>-<figure>.svg next to the results.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Bar {
  label: string;
  value: number;
}

export interface BarGroup {
  label: string;
  values: { series: string; value: number }[];
}

export interface LineSeries {
  name: string;
  /** [x, y] pairs; drawn in order of x. */
  points: [number, number][];
  dashed?: boolean;
}

export interface LineChartOptions {
  xLabel: string;
  yLabel: string;
  /** 'log': powers of ten on the x axis; points with x <= 0 cannot be placed and are left out. */
  xScale?: 'linear' | 'log';
  series: LineSeries[];
  /** Where the y axis starts (default: 0, or the lowest value if negative); ignored when a point lies below it. */
  yMin?: number;
  /** Print each point's y value above its marker. */
  valueLabels?: boolean;
}

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const INK = '#222';
const MUTED = '#555';
const GRID = '#e3e3e3';
const TITLE_SIZE = 17;
const LABEL_SIZE = 13;
const TICK_SIZE = 12;
const VALUE_SIZE = 12;
const MIN_WIDTH = 760;

/** en-US digits with thousands separators; fewer decimals the larger the number. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const options: Intl.NumberFormatOptions =
    abs >= 100 ? { maximumFractionDigits: 0 } : abs >= 10 ? { maximumFractionDigits: 1 } : abs >= 1 ? { maximumFractionDigits: 2 } : { maximumSignificantDigits: 2 };
  const text = value.toLocaleString('en-US', options);
  return text === '-0' ? '0' : text;
}

/** A horizontal bar chart: one bar per (label, value), the value printed at the bar's end. */
export function barChart(title: string, unit: string, bars: Bar[]): string {
  return horizontalBars(title, unit, [], bars.map((bar, i) => ({ label: bar.label, bars: [{ series: '', value: bar.value, color: color(i) }] })));
}

/**
 * Horizontal bars in groups, one bar per series in each group (e.g. latency p50/p95/p99 per
 * system). A series keeps its color and its place within the group across groups.
 */
export function groupedBarChart(title: string, unit: string, groups: BarGroup[]): string {
  const series = [...new Set(groups.flatMap((group) => group.values.map((v) => v.series)))];
  const colors = new Map(series.map((name, i) => [name, color(i)]));
  const rows = groups.map((group) => ({
    label: group.label,
    bars: series.map((name) => {
      const value = group.values.find((v) => v.series === name)?.value;
      return { series: name, value, color: colors.get(name) ?? INK };
    }),
  }));
  const legendItems = series.length > 1 ? series.map((name) => ({ name, color: colors.get(name) ?? INK, line: false })) : [];
  return horizontalBars(title, unit, legendItems, rows);
}

/** A line chart with a marker on every point; a legend when there are several series. */
export function lineChart(title: string, opts: LineChartOptions): string {
  const log = opts.xScale === 'log';
  const series = opts.series.map((s, i) => ({
    ...s,
    color: color(i),
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || x > 0)).sort((a, b) => a[0] - b[0]),
  }));
  const points = series.flatMap((s) => s.points);
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);

  const yMin = opts.yMin !== undefined && Number.isFinite(opts.yMin) ? opts.yMin : undefined;
  const yBase = yMin ?? Math.min(0, ...ys);
  const yAxis = linearAxis(Math.min(yBase, ...ys), Math.max(yBase, ...ys), 6, { exactLo: yMin !== undefined && ys.every((y) => y >= yMin) });
  const plotWidth = 560;
  const xAxis = log
    ? logAxis(xs.length ? Math.min(...xs) : 1, xs.length ? Math.max(...xs) : 1, plotWidth)
    : linearAxis(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, plotWidth / 80, { integer: xs.every(Number.isInteger) });

  const yTickWidth = Math.max(...yAxis.ticks.map((t) => textWidth(t.label, TICK_SIZE)));
  const left = 16 + LABEL_SIZE + 14 + yTickWidth + 10;
  const lastX = xAxis.ticks.at(-1)?.label ?? '';
  const valueWidth = opts.valueLabels ? Math.max(0, ...ys.map((y) => textWidth(formatNumber(y), VALUE_SIZE))) : 0;
  const right = Math.max(28, textWidth(lastX, TICK_SIZE) / 2 + 12, valueWidth / 2 + 12);
  const width = Math.max(MIN_WIDTH, left + plotWidth + right, textWidth(title, TITLE_SIZE, true) + 32);
  const plotRight = width - right;
  const legendItems = series.length > 1 ? series.map((s) => ({ name: s.name, color: s.color, line: true, dashed: s.dashed === true })) : [];
  const legendBox = legend(legendItems, left, 46, plotRight);
  // Room above the plot for value labels of points at the top of the axis.
  const top = 46 + legendBox.height + (opts.valueLabels ? 24 : 14);
  const plotHeight = 300;
  const bottom = top + plotHeight;
  const height = bottom + 58;

  const px = (x: number) => left + xAxis.fraction(x) * (plotRight - left);
  const py = (y: number) => bottom - yAxis.fraction(y) * plotHeight;

  const parts: string[] = [open(width, height, title), legendBox.svg];
  for (const tick of yAxis.ticks) {
    const y = py(tick.value);
    parts.push(`<line x1="${n(left)}" y1="${n(y)}" x2="${n(plotRight)}" y2="${n(y)}" stroke="${tick.value === 0 ? '#999' : GRID}"/>`);
    parts.push(`<text class="tick-label y" x="${n(left - 8)}" y="${n(y + 4)}" text-anchor="end" font-size="${TICK_SIZE}" fill="${MUTED}">${escapeXml(tick.label)}</text>`);
  }
  for (const tick of xAxis.ticks) {
    const x = px(tick.value);
    parts.push(`<line x1="${n(x)}" y1="${n(top)}" x2="${n(x)}" y2="${n(bottom)}" stroke="${GRID}"/>`);
    parts.push(`<line x1="${n(x)}" y1="${n(bottom)}" x2="${n(x)}" y2="${n(bottom + 5)}" stroke="${MUTED}"/>`);
    if (tick.label) parts.push(`<text class="tick-label x" x="${n(x)}" y="${n(bottom + 20)}" text-anchor="middle" font-size="${TICK_SIZE}" fill="${MUTED}">${escapeXml(tick.label)}</text>`);
  }
  for (const minor of xAxis.minor) {
    const x = px(minor);
    parts.push(`<line x1="${n(x)}" y1="${n(bottom)}" x2="${n(x)}" y2="${n(bottom + 3)}" stroke="${MUTED}"/>`);
  }
  parts.push(axisLines(left, top, plotRight, bottom));
  parts.push(`<text x="${n((left + plotRight) / 2)}" y="${n(bottom + 44)}" text-anchor="middle" font-size="${LABEL_SIZE}" fill="${INK}">${escapeXml(opts.xLabel)}</text>`);
  const yLabelX = 16 + LABEL_SIZE;
  const yLabelY = (top + bottom) / 2;
  parts.push(`<text x="${n(yLabelX)}" y="${n(yLabelY)}" transform="rotate(-90 ${n(yLabelX)} ${n(yLabelY)})" text-anchor="middle" font-size="${LABEL_SIZE}" fill="${INK}">${escapeXml(opts.yLabel)}</text>`);

  if (points.length === 0) parts.push(noData((left + plotRight) / 2, (top + bottom) / 2));
  for (const s of series) {
    const name = escapeXml(s.name);
    if (s.points.length > 1) {
      const path = s.points.map(([x, y]) => `${n(px(x))},${n(py(y))}`).join(' ');
      parts.push(`<polyline class="line" data-series="${name}" points="${path}" fill="none" stroke="${s.color}" stroke-width="2.5" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="7 5"' : ''}/>`);
    }
    for (const [x, y] of s.points) {
      parts.push(`<circle class="marker" data-series="${name}" data-x="${x}" data-y="${y}" cx="${n(px(x))}" cy="${n(py(y))}" r="4.5" fill="${s.color}" stroke="white" stroke-width="1.5"/>`);
    }
  }
  if (opts.valueLabels) parts.push(...pointLabels(series, px, py, left + 4));
  return close(parts);
}

/**
 * The y value above each point, drawn after every line so that no line crosses a number. A
 * label that would overlap one already placed goes below its point instead; points with the
 * same coordinates get one label.
 */
function pointLabels(series: { points: [number, number][] }[], px: (x: number) => number, py: (y: number) => number, minX: number): string[] {
  const seen = new Set<string>();
  const labels = series
    .flatMap((s) => s.points)
    .filter(([x, y]) => !seen.has(`${x},${y}`) && seen.add(`${x},${y}`))
    .map(([x, y]) => ({ text: formatNumber(y), cx: px(x), cy: py(y) }))
    .sort((a, b) => a.cy - b.cy);
  const placed: { x: number; y: number; w: number }[] = [];
  const overlaps = (x: number, y: number, w: number) => placed.some((p) => x < p.x + p.w + 2 && p.x < x + w + 2 && Math.abs(p.y - y) < VALUE_SIZE + 2);
  return labels.map(({ text, cx, cy }) => {
    const w = textWidth(text, VALUE_SIZE);
    // Kept right of the y axis, where the tick labels are.
    const x = Math.max(cx - w / 2, minX);
    const above = cy - 10;
    const below = cy + VALUE_SIZE + 8;
    const y = overlaps(x, above, w) && !overlaps(x, below, w) ? below : above;
    placed.push({ x, y, w });
    return `<text class="value" x="${n(x)}" y="${n(y)}" font-size="${VALUE_SIZE}" fill="${INK}" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(text)}</text>`;
  });
}

interface BarRow {
  label: string;
  bars: { series: string; value: number | undefined; color: string }[];
}

interface LegendItem {
  name: string;
  color: string;
  line: boolean;
  dashed?: boolean;
}

function horizontalBars(title: string, unit: string, legendItems: LegendItem[], rows: BarRow[]): string {
  const values = rows.flatMap((row) => row.bars.map((b) => b.value)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const perRow = Math.max(1, ...rows.map((row) => row.bars.length));
  const barHeight = perRow === 1 ? 22 : 16;
  const rowHeight = perRow === 1 ? 34 : perRow * (barHeight + 2) + 16;

  const labelWidth = Math.max(0, ...rows.map((row) => textWidth(row.label, LABEL_SIZE)));
  const left = Math.max(90, 16 + labelWidth + 12);
  const valueWidth = Math.max(textWidth('n/a', VALUE_SIZE), ...values.map((v) => textWidth(formatNumber(v), VALUE_SIZE)));
  const right = valueWidth + 24;
  const width = Math.max(MIN_WIDTH, left + 320 + right, textWidth(title, TITLE_SIZE, true) + 32);
  const plotRight = width - right;
  const axis = linearAxis(Math.min(0, ...values), Math.max(0, ...values), (plotRight - left) / 90);
  const px = (v: number) => left + axis.fraction(v) * (plotRight - left);

  const legendBox = legend(legendItems, left, 46, plotRight);
  const top = 46 + legendBox.height + 6;
  const bottom = top + Math.max(40, rows.length * rowHeight) + 8;
  const height = bottom + 56;

  const parts: string[] = [open(width, height, title), legendBox.svg];
  for (const tick of axis.ticks) {
    const x = px(tick.value);
    parts.push(`<line x1="${n(x)}" y1="${n(top)}" x2="${n(x)}" y2="${n(bottom)}" stroke="${GRID}"/>`);
    parts.push(`<line x1="${n(x)}" y1="${n(bottom)}" x2="${n(x)}" y2="${n(bottom + 5)}" stroke="${MUTED}"/>`);
    parts.push(`<text class="tick-label x" x="${n(x)}" y="${n(bottom + 20)}" text-anchor="middle" font-size="${TICK_SIZE}" fill="${MUTED}">${escapeXml(tick.label)}</text>`);
  }
  parts.push(`<text x="${n((left + plotRight) / 2)}" y="${n(bottom + 44)}" text-anchor="middle" font-size="${LABEL_SIZE}" fill="${INK}">${escapeXml(unit)}</text>`);
  if (rows.length === 0) parts.push(noData((left + plotRight) / 2, (top + bottom) / 2));

  const zero = px(0);
  rows.forEach((row, r) => {
    const rowTop = top + 4 + r * rowHeight;
    const barsTop = rowTop + (rowHeight - row.bars.length * (barHeight + 2) + 2) / 2;
    const middle = rowTop + rowHeight / 2;
    if (r > 0 && perRow > 1) parts.push(`<line x1="16" y1="${n(rowTop)}" x2="${n(plotRight)}" y2="${n(rowTop)}" stroke="${GRID}"/>`);
    parts.push(`<text class="group-label" x="${n(left - 10)}" y="${n(middle + 5)}" text-anchor="end" font-size="${LABEL_SIZE}" fill="${INK}">${escapeXml(row.label)}</text>`);
    row.bars.forEach((bar, b) => {
      if (bar.value === undefined) return;
      const y = barsTop + b * (barHeight + 2);
      const known = Number.isFinite(bar.value);
      const end = known ? px(bar.value) : zero;
      const x = Math.min(zero, end);
      const w = Math.abs(end - zero);
      if (known) {
        parts.push(`<rect class="bar" data-series="${escapeXml(bar.series)}" data-value="${bar.value}" x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${barHeight}" fill="${bar.color}"/>`);
      }
      const labelX = end >= zero ? end + 6 : end - 6;
      parts.push(`<text class="value" x="${n(labelX)}" y="${n(y + barHeight / 2 + 4)}" text-anchor="${end >= zero ? 'start' : 'end'}" font-size="${VALUE_SIZE}" fill="${INK}">${escapeXml(formatNumber(bar.value))}</text>`);
    });
  });
  parts.push(`<line x1="${n(zero)}" y1="${n(top)}" x2="${n(zero)}" y2="${n(bottom)}" stroke="${MUTED}"/>`);
  parts.push(`<line x1="${n(left)}" y1="${n(bottom)}" x2="${n(plotRight)}" y2="${n(bottom)}" stroke="${MUTED}"/>`);
  return close(parts);
}

interface Axis {
  ticks: { value: number; label: string }[];
  minor: number[];
  /** Where a value falls between the axis' ends, 0 to 1. */
  fraction(value: number): number;
}

/**
 * Ticks on steps of 1, 2 or 5 times a power of ten, about `target` of them, enclosing lo..hi;
 * with `exactLo` the axis starts at lo itself, labelled.
 */
function linearAxis(lo: number, hi: number, target: number, options: { integer?: boolean; exactLo?: boolean } = {}): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (lo === hi) {
    if (lo === 0 || options.exactLo) hi = lo + (Math.abs(lo) || 1);
    else if (lo > 0) [lo, hi] = [lo / 2, hi * 1.5];
    else [lo, hi] = [lo * 1.5, hi / 2];
  }
  const raw = (hi - lo) / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
  if (options.integer) step = Math.max(1, step);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const label = (value: number) => value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: Math.max(decimals, 6) });
  const first = options.exactLo ? Math.ceil(lo / step - 1e-9) : Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const min = options.exactLo ? lo : first * step;
  const ticks = [];
  if (options.exactLo) ticks.push({ value: lo, label: label(lo) });
  for (let i = first; i <= last; i++) {
    const value = Number((i * step).toFixed(decimals));
    // A round tick too close to an exact start would print over its label.
    if (options.exactLo && value - lo < step * 0.4) continue;
    ticks.push({ value, label: label(value) });
  }
  const span = last * step - min;
  return { ticks, minor: [], fraction: (v) => (v - min) / span };
}

/** Powers of ten enclosing lo..hi (both > 0), labelled 1, 10, 100, 1k, 10k, …; marks at 2..9 times each. */
function logAxis(lo: number, hi: number, length: number): Axis {
  let a = Math.floor(Math.log10(lo) + 1e-9);
  let b = Math.ceil(Math.log10(hi) - 1e-9);
  if (a === b) [a, b] = [a - 1, b + 1];
  // Label every power of ten while they fit; otherwise every second, third, … one.
  const every = Math.max(1, Math.ceil((b - a + 1) / Math.max(2, Math.floor(length / 56))));
  const ticks = [];
  const minor = [];
  for (let e = a; e <= b; e++) {
    ticks.push({ value: 10 ** e, label: (e - a) % every === 0 ? powerOfTen(e) : '' });
    if (e < b) for (let m = 2; m <= 9; m++) minor.push(m * 10 ** e);
  }
  return { ticks, minor, fraction: (v) => (Math.log10(v) - a) / (b - a) };
}

function powerOfTen(exponent: number): string {
  if (exponent < 0 || exponent >= 15) return exponent < 0 ? formatNumber(10 ** exponent) : `1e${exponent}`;
  return `${10 ** (exponent % 3)}${['', 'k', 'M', 'G', 'T'][Math.floor(exponent / 3)]}`;
}

function legend(items: LegendItem[], x0: number, y0: number, maxRight: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const rowHeight = 22;
  const parts: string[] = [];
  let x = x0;
  let y = y0;
  for (const item of items) {
    const w = 22 + textWidth(item.name, LABEL_SIZE) + 22;
    if (x > x0 && x + w > maxRight) [x, y] = [x0, y + rowHeight];
    const middle = y + rowHeight / 2;
    parts.push(
      item.line
        ? `<line x1="${n(x)}" y1="${n(middle)}" x2="${n(x + 16)}" y2="${n(middle)}" stroke="${item.color}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="4 3"' : ''}/><circle cx="${n(x + 8)}" cy="${n(middle)}" r="3.5" fill="${item.color}"/>`
        : `<rect x="${n(x + 2)}" y="${n(middle - 6)}" width="12" height="12" fill="${item.color}"/>`,
    );
    parts.push(`<text x="${n(x + 22)}" y="${n(middle + 4.5)}" font-size="${LABEL_SIZE}" fill="${INK}">${escapeXml(item.name)}</text>`);
    x += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: y - y0 + rowHeight };
}

function open(width: number, height: number, title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text class="title" x="16" y="28" font-size="${TITLE_SIZE}" font-weight="bold" fill="${INK}">${escapeXml(title)}</text>`,
  ].join('\n');
}

function close(parts: string[]): string {
  return [...parts.filter((p) => p !== ''), '</svg>', ''].join('\n');
}

function axisLines(left: number, top: number, right: number, bottom: number): string {
  return `<path d="M${n(left)},${n(top)} V${n(bottom)} H${n(right)}" fill="none" stroke="${MUTED}"/>`;
}

function noData(x: number, y: number): string {
  return `<text x="${n(x)}" y="${n(y)}" text-anchor="middle" font-size="${LABEL_SIZE}" fill="${MUTED}">no data</text>`;
}

function color(index: number): string {
  return PALETTE[index % PALETTE.length] ?? INK;
}

/** Coordinates with one decimal at most. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** SVG has no text measurement without a renderer: an average glyph width that errs wide. */
function textWidth(text: string, size: number, bold = false): number {
  return [...text].length * size * (bold ? 0.64 : 0.6);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Result {
  system: string;
  threads?: number;
  eventsPerSecond?: number;
  steadyEventsPerSecond?: number;
  cpuMicrosPerEvent?: number;
  peakRssMB?: number;
}

interface Session {
  recordedAt?: string;
  workload?: { flow?: string; sagas?: number };
  results?: Result[];
}

function systemLabel(r: Result): string {
  return r.threads !== undefined && r.threads > 1 ? `${r.system} (${r.threads} threads)` : r.system;
}

function latestResultsFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort();
  const last = files.at(-1);
  if (!last) throw new Error(`no results file in ${dir}`);
  return join(dir, last);
}

function main(file: string): void {
  const { sessions = [] } = JSON.parse(readFileSync(file, 'utf8')) as { sessions?: Session[] };
  const stem = basename(file, '.json');
  sessions.forEach((session, index) => {
    const results = (session.results ?? []).filter((r) => r.eventsPerSecond !== undefined);
    if (results.length === 0) return;
    const what = `${session.workload?.flow ? basename(session.workload.flow, '.saga.json') : 'flow'}, ${session.workload?.sagas ?? '?'} sagas`;
    const out = (figure: string, svg: string) => {
      const path = join(dirname(file), `${stem}-s${index + 1}-${figure}.svg`);
      writeFileSync(path, svg);
      console.log(`wrote ${path}`);
    };
    out('throughput', barChart(`Events processed per second (${what})`, 'events/s', results.map((r) => ({ label: systemLabel(r), value: r.steadyEventsPerSecond ?? r.eventsPerSecond ?? 0 }))));
    out('cpu', barChart(`CPU per event (${what})`, 'µs/event', results.filter((r) => r.cpuMicrosPerEvent !== undefined).map((r) => ({ label: systemLabel(r), value: r.cpuMicrosPerEvent ?? 0 }))));
    out('rss', barChart(`Peak RSS (${what})`, 'MB', results.filter((r) => r.peakRssMB !== undefined).map((r) => ({ label: systemLabel(r), value: r.peakRssMB ?? 0 }))));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? latestResultsFile(fileURLToPath(new URL('./results/', import.meta.url))));
}
