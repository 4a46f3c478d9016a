// A line chart of rates over the last minutes, drawn as SVG from the points the server keeps.
import { svg } from './dom.js';

const W = 560;
const H = 180;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function label(n) {
  return n >= 1000 ? `${(n / 1000).toFixed(n >= 10000 ? 0 : 1)}k` : String(Math.round(n * 10) / 10);
}

/**
 * series: {intervalMs, windowMs, points: [{t, events, commands, deadLetters}]}
 * lines: [{key, name, className}]
 */
export function rateChart(series, lines, now = Date.now()) {
  // The window shown grows with the samples kept, from two minutes up to the whole window.
  const kept = series.points.filter((p) => p.t >= now - series.windowMs);
  const span = Math.min(series.windowMs, Math.max(2 * 60000, kept.length > 0 ? now - kept[0].t + series.intervalMs : 0));
  const from = now - span;
  const points = kept.filter((p) => p.t >= from);
  const max = niceMax(Math.max(0, ...points.flatMap((p) => lines.map((l) => p[l.key]))));
  const x = (t) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': lines.map((l) => l.name).join(' and ') + ' per second' });
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    root.append(
      svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, label(v)),
    );
  }
  const minutes = Math.floor(span / 60000);
  for (let m = 0; m <= minutes; m += Math.max(1, Math.round(minutes / 5))) {
    const t = now - m * 60000;
    root.append(svg('text', { class: 'axis', x: x(t), y: H - 8, 'text-anchor': 'middle' }, m === 0 ? 'now' : `-${m} min`));
  }
  for (const line of lines) {
    if (points.length === 0) continue;
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${x(p.t).toFixed(1)} ${y(p[line.key]).toFixed(1)}`).join(' ');
    root.append(svg('path', { class: ['series', line.className], d, 'data-series': line.key }));
  }
  if (points.length === 0) root.append(svg('text', { class: 'axis', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'collecting samples…'));
  return root;
}
