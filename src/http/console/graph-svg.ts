import type { CommandKind } from '../../definition/types.ts';
import type { GraphLayout, GraphNode } from './graph.ts';
import type { SagaPath } from './saga-path.ts';

/** What is drawn over the machine: live counts per state, or one saga's path. */
export interface GraphOverlay {
  counts?: ReadonlyMap<string, number>;
  path?: SagaPath;
  /** Where a click on a state leads (its saga list); none when absent. */
  stateHref?: (state: string) => string;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** At most `max` characters, an ellipsis marking the cut. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** 1234 -> "1,234"; 1234567 -> "1.2M": a badge has room for a few characters. */
export function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(n >= 10_000_000 ? 0 : 1)}M`;
  if (n >= 100_000) return `${Math.round(n / 1000)}k`;
  return n.toLocaleString('en-US');
}

const TITLE_CHARS = 27;
const COMMAND_CHARS = 29;
const LABEL_CHARS = 28;
const COMMAND_KIND_NAMES: Record<CommandKind, string> = { main: 'command', sideEffect: 'side effect', branch: 'parallel branch command' };

function edgeAttributes(from: string, event: string, to: string, steps: number[]): string {
  const stepText = steps.length > 0 ? ` data-steps="${steps.join(' ')}"` : '';
  return `data-from="${escapeXml(from)}" data-event="${escapeXml(event)}" data-to="${escapeXml(to)}"${stepText}`;
}

function label(x: number, y: number, event: string, steps: number[], anchor: 'start' | 'middle' = 'start'): string {
  const prefix = steps.length > 0 ? `${steps.join(',')} · ` : '';
  return `<text class="edge-label" x="${x}" y="${y}" text-anchor="${anchor}"><title>${escapeXml(event)}</title>${escapeXml(prefix + clip(event, LABEL_CHARS))}</text>`;
}

/** Words on lines of at most `width` characters, at most `lines` lines (the last one clipped). */
export function wrap(text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      out.push(line);
      line = word;
    }
  }
  if (line !== '') out.push(line);
  if (out.length > lines) {
    const kept = out.slice(0, lines);
    kept[lines - 1] = clip(`${kept[lines - 1] ?? ''} ${out.slice(lines).join(' ')}`, width);
    return kept;
  }
  return out.map((l) => clip(l, width));
}

function node(n: GraphNode, overlay: GraphOverlay, visits: number[]): string {
  const classes = ['node'];
  if (n.isFinal) classes.push('final');
  if (n.initial) classes.push('initial');
  if (n.builtIn) classes.push('builtin');
  if (visits.length > 0) classes.push('visited');
  if (overlay.path?.current === n.id) classes.push('current');
  const tooltip = [n.id, n.description, n.isFinal ? 'final state' : undefined, n.builtIn ? 'built-in: where POST /saga/:id/cancel leads by default' : undefined]
    .filter((t): t is string => t !== undefined)
    .join('\n');
  const parts: string[] = [`<title>${escapeXml(tooltip)}</title>`];
  parts.push(`<rect class="node-box" x="${n.x}" y="${n.y}" width="${n.width}" height="${n.height}" rx="8"/>`);
  if (n.isFinal) parts.push(`<rect class="node-ring" x="${n.x + 3}" y="${n.y + 3}" width="${n.width - 6}" height="${n.height - 6}" rx="6"/>`);
  parts.push(`<text class="node-title" x="${n.x + 12}" y="${n.y + 21}">${escapeXml(clip(n.id, TITLE_CHARS))}</text>`);
  n.commands.forEach((c, i) => {
    const mark = c.kind === 'main' ? '▸' : c.kind === 'branch' ? '∥' : '+';
    const retries = c.maxAttempts === undefined ? '' : ` ↻${c.maxAttempts}`;
    const text = clip(`${mark} ${c.label}`, COMMAND_CHARS - retries.length) + retries;
    // The channel gets what room the label leaves, and goes first when there is none.
    const room = COMMAND_CHARS - text.length - 3;
    const channel = room >= 5 ? `<tspan class="channel"> · ${escapeXml(clip(c.channel, room))}</tspan>` : '';
    parts.push(
      `<text class="command ${c.kind === 'main' ? 'main' : c.kind === 'branch' ? 'branch' : 'side'}" x="${n.x + 12}" y="${n.y + 32 + 12 + i * 16}"><title>${escapeXml(`${COMMAND_KIND_NAMES[c.kind]} ${c.label} on channel ${c.channel}${c.maxAttempts === undefined ? '' : `, sent up to ${c.maxAttempts} times while the saga stays`}`)}</title>${escapeXml(text)}${channel}</text>`,
    );
  });
  if (n.commands.length === 0) {
    parts.push(`<text class="command none" x="${n.x + 12}" y="${n.y + 44}">${n.isFinal ? 'final · no commands' : 'no commands'}</text>`);
  }
  if (n.timeout) {
    const y = n.y + 32 + 12 + Math.max(n.commands.length, 1) * 16;
    parts.push(
      `<text class="command timer" x="${n.x + 12}" y="${y}"><title>${escapeXml(`timeout: still in ${n.id} ${n.timeout.after} after entering it, the saga gets ${n.timeout.event}`)}</title>${escapeXml(clip(`timeout ${n.timeout.after} → ${n.timeout.event}`, COMMAND_CHARS))}</text>`,
    );
  }
  if (overlay.counts) {
    const count = overlay.counts.get(n.id) ?? 0;
    const bx = n.x + n.width - 52;
    const by = n.y - 10;
    parts.push(
      `<g class="count-badge${count > 0 ? ' nonzero' : ''}"><rect x="${bx}" y="${by}" width="60" height="20" rx="10"/>` +
        `<text class="count" x="${bx + 30}" y="${by + 14}" text-anchor="middle" data-count-for="${escapeXml(n.id)}" data-count="${count}">${formatCount(count)}</text></g>`,
    );
  }
  if (visits.length > 0) {
    parts.push(`<text class="visits" x="${n.x + n.width - 10}" y="${n.y + n.height - 8}" text-anchor="end">${visits.length > 1 ? `×${visits.length}` : ''}</text>`);
  }
  const group = `<g class="${classes.join(' ')}" data-state="${escapeXml(n.id)}"${visits.length > 0 ? ` data-visits="${visits.join(' ')}"` : ''}>${parts.join('')}</g>`;
  return overlay.stateHref ? `<a class="node-link" href="${escapeXml(overlay.stateHref(n.id))}">${group}</a>` : group;
}

/**
 * The machine as a standalone SVG document. Every text is escaped. Elements carry data
 * attributes (`data-state`, `data-count-for`, `data-from`/`data-event`/`data-to`, `data-steps`)
 * so the console script can update counts in place and tests can read what is drawn.
 */
export function renderGraphSvg(layout: GraphLayout, overlay: GraphOverlay = {}): string {
  const path = overlay.path;
  const stepsByEdge = new Map<string, number[]>();
  const visits = new Map<string, number[]>();
  if (path) {
    path.states.forEach((s, i) => visits.set(s, [...(visits.get(s) ?? []), i]));
    for (const step of path.steps) {
      const key = `${step.from}\u0000${step.event}\u0000${step.to}`;
      stepsByEdge.set(key, [...(stepsByEdge.get(key) ?? []), step.step]);
    }
  }
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  const drawn = new Set<string>();
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="machine${path ? ' with-path' : ''}" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-label="The saga state machine">`,
  );
  out.push(
    '<defs>' +
      '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path class="arrow-head" d="M 0 0 L 10 5 L 0 10 z"/></marker>' +
      '<marker id="arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path class="arrow-head taken" d="M 0 0 L 10 5 L 0 10 z"/></marker>' +
      '</defs>',
  );
  layout.lanes.forEach((lane, i) => {
    out.push(
      `<g class="lane ${i % 2 === 0 ? 'even' : 'odd'}" data-lane="${escapeXml(lane.key)}">` +
        `<rect class="lane-bg" x="${8}" y="${lane.y}" width="${layout.width - 16}" height="${lane.height}"/>` +
        `<text class="lane-title" x="18" y="${lane.y + 22}"><title>${escapeXml(lane.title)}</title>` +
        wrap(lane.title, 20, Math.max(1, Math.floor((lane.height - 16) / 15))).map((line, j) => `<tspan x="18" dy="${j === 0 ? 0 : 15}">${escapeXml(line)}</tspan>`).join('') +
        '</text></g>',
    );
  });
  const initial = layout.nodes.find((n) => n.initial);
  if (initial) {
    const { x, y, event } = layout.start;
    out.push(
      `<g class="start"><circle cx="${x}" cy="${y}" r="6"/><path class="edge-line" d="M ${x + 6} ${y} L ${initial.x} ${y}" marker-end="url(#arrow)"/>` +
        `<text class="edge-label" x="${x - 4}" y="${y - 10}" text-anchor="start">${escapeXml(clip(event, 14))}</text></g>`,
    );
  }
  for (const e of layout.edges) {
    const key = `${e.from}\u0000${e.event}\u0000${e.to}`;
    drawn.add(key);
    const steps = stepsByEdge.get(key) ?? [];
    const taken = steps.length > 0;
    out.push(
      `<g class="edge ${e.kind}${taken ? ' taken' : ''}" ${edgeAttributes(e.from, e.event, e.to, steps)}>` +
        `<path class="edge-line" d="${e.path}" marker-end="url(#${taken ? 'arrow-taken' : 'arrow'})"/>${label(e.labelX, e.labelY, e.event, steps)}</g>`,
    );
  }
  // Moves the definition has no edge for (a cancel, or a definition changed since): drawn for this saga only.
  if (path) {
    for (const [key, steps] of stepsByEdge) {
      if (drawn.has(key)) continue;
      const [from, event, to] = key.split('\u0000') as [string, string, string];
      const a = byId.get(from);
      const b = byId.get(to);
      if (!a || !b) continue;
      const x1 = a.x + a.width / 2;
      const y1 = a.y + a.height;
      const x2 = b.x + b.width / 2;
      const y2 = b.y;
      const d = y2 > y1 ? `M ${x1} ${y1} C ${x1} ${(y1 + y2) / 2}, ${x2} ${(y1 + y2) / 2}, ${x2} ${y2}` : `M ${x1} ${a.y} C ${x1} ${a.y - 40}, ${x2} ${b.y + b.height + 40}, ${x2} ${b.y + b.height}`;
      out.push(
        `<g class="edge adhoc taken" ${edgeAttributes(from, event, to, steps)}><path class="edge-line" d="${d}" marker-end="url(#arrow-taken)"/>` +
          `${label((x1 + x2) / 2, (y1 + y2) / 2, event, steps, 'middle')}</g>`,
      );
    }
  }
  for (const n of layout.nodes) out.push(node(n, overlay, visits.get(n.id) ?? []));
  out.push('</svg>');
  return out.join('');
}
