/**
 * Draws the figures of a results file as SVG bar charts (no dependencies):
 *
 *   node benchmarks/charts.ts [benchmarks/results/<date>.json]
 *
 * For each session: events/s per system (and the steady rate), CPU µs per event and peak
 * RSS. Writes benchmarks/results/<date>-<session>-<figure>.svg next to the results.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A horizontal bar chart: one bar per (label, value), values printed at the bar's end. */
export function barChart(title: string, unit: string, bars: { label: string; value: number }[]): string {
  const width = 760;
  const rowHeight = 34;
  const left = 230;
  const top = 48;
  const height = top + bars.length * rowHeight + 24;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const scale = (width - left - 110) / max;
  const rows = bars.map((b, i) => {
    const y = top + i * rowHeight;
    const w = Math.max(1, b.value * scale);
    return [
      `<text x="${left - 10}" y="${y + 21}" text-anchor="end" font-size="14">${escape(b.label)}</text>`,
      `<rect x="${left}" y="${y + 6}" width="${w.toFixed(1)}" height="${rowHeight - 12}" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${(left + w + 8).toFixed(1)}" y="${y + 21}" font-size="13">${Math.round(b.value).toLocaleString('en-US')} ${escape(unit)}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="16" y="28" font-size="17" font-weight="bold">${escape(title)}</text>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}

function label(r: Result): string {
  return r.threads !== undefined && r.threads > 1 ? `${r.system} (${r.threads} threads)` : r.system;
}

function latestResultsFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort();
  const last = files.at(-1);
  if (!last) throw new Error(`no results file in ${dir}`);
  return join(dir, last);
}

const file = process.argv[2] ?? latestResultsFile(new URL('./results/', import.meta.url).pathname);
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
  out('throughput', barChart(`Events processed per second (${what})`, 'events/s', results.map((r) => ({ label: label(r), value: r.steadyEventsPerSecond ?? r.eventsPerSecond ?? 0 }))));
  out('cpu', barChart(`CPU per event (${what})`, 'µs/event', results.filter((r) => r.cpuMicrosPerEvent !== undefined).map((r) => ({ label: label(r), value: r.cpuMicrosPerEvent ?? 0 }))));
  out('rss', barChart(`Peak RSS (${what})`, 'MB', results.filter((r) => r.peakRssMB !== undefined).map((r) => ({ label: label(r), value: r.peakRssMB ?? 0 }))));
});
