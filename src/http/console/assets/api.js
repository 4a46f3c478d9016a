/* global fetch, sessionStorage, localStorage, TextDecoder, DOMParser, document, URLSearchParams, AbortController */
// Calls to sagaflow's HTTP API. The admin token lives in this tab's sessionStorage and travels
// in the Authorization header (never in a cookie or a URL), which is what keeps the operator
// actions safe from cross-site requests.

const TOKEN_KEY = 'sagaflow.adminToken';
const OPERATOR_KEY = 'sagaflow.operator';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Who the operator says they are: recorded with cancels and dead-letter markers. */
export function operator() {
  return localStorage.getItem(OPERATOR_KEY) ?? '';
}

export function setOperator(value) {
  if (value) localStorage.setItem(OPERATOR_KEY, value);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const t = token();
  return t ? { authorization: `Bearer ${t}`, ...extra } : { ...extra };
}

/** '/sagas', {limit: 10, currentState: ['a', 'b']} -> '/sagas?limit=10&currentState=a&currentState=b' */
export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function failure(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: keep the status
  }
  return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? `${res.status} ${res.statusText}`);
}

/** JSON in, JSON out; throws ApiError with sagaflow's code and message. */
export async function api(path, { method = 'GET', body, query } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(withQuery(path, query), init);
  if (!res.ok) throw await failure(res);
  return { status: res.status, body: await res.json() };
}

/** An SVG document served by the console, as an element to insert. */
export async function svgDocument(path) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  const doc = new DOMParser().parseFromString(await res.text(), 'image/svg+xml');
  return document.importNode(doc.documentElement, true);
}

/**
 * Server-sent events read with fetch, so the Authorization header can travel (EventSource
 * cannot send it). Calls onEvent(name, data) per event; reconnects after a drop until stopped.
 */
export function subscribe(path, onEvent, onState) {
  let stopped = false;
  let controller;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal: controller.signal });
        if (!res.ok) throw await failure(res);
        onState?.('live');
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            const data = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length > 0) onEvent(name, JSON.parse(data.join('\n')));
          }
        }
      } catch (err) {
        if (stopped) return;
        onState?.('offline', err);
        if (err instanceof ApiError && err.status === 401) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 3000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
