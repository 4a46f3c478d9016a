/* global document */
// Small DOM helpers for the console. Text always goes in as text nodes, never as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
}

function apply(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (name === 'value' && 'value' in el) el.value = value;
    else if (name === 'checked' || name === 'disabled' || name === 'selected' || name === 'required') el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

/** h('a', {href, class, onclick}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** 2026-01-01 12:00:00.123 in the browser's time zone. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** "12 s ago", "3 min ago", "2 h ago", else the date. */
export function ago(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return formatTime(iso).slice(0, 10);
}

export function formatNumber(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '–';
}

/** A JSON value as an indented, coloured <pre>. */
export function jsonView(value, attrs = {}) {
  const pre = h('pre', { class: 'json', ...attrs });
  const walk = (v, indent) => {
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return pre.append('[]');
      pre.append('[\n');
      v.forEach((item, i) => {
        pre.append(inner);
        walk(item, inner);
        pre.append(i < v.length - 1 ? ',\n' : '\n');
      });
      pre.append(`${indent}]`);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length === 0) return pre.append('{}');
      pre.append('{\n');
      keys.forEach((k, i) => {
        pre.append(inner, h('span', { class: 'k' }, JSON.stringify(k)), ': ');
        walk(v[k], inner);
        pre.append(i < keys.length - 1 ? ',\n' : '\n');
      });
      pre.append(`${indent}}`);
    } else {
      const kind = v === null ? 'null' : typeof v;
      pre.append(h('span', { class: kind === 'string' ? 's' : kind === 'number' ? 'n' : 'b' }, JSON.stringify(v)));
    }
  };
  walk(value, '');
  return pre;
}

export function pill(text, kind = '') {
  return h('span', { class: ['pill', kind] }, text);
}

export function panel(title, hint, ...children) {
  return h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, title), hint ? h('span', { class: 'hint' }, hint) : null), ...children);
}

export function notice(text, kind = '') {
  return h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, text);
}
