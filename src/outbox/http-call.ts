import http from 'node:http';
import https from 'node:https';
import type { RestRequest } from './rest-request.ts';
import type { CallOutcome } from './retry.ts';

/** How much of an error answer's body is kept for the reason. */
const BODY_SNIPPET_BYTES = 1024;

/** Keep-alive connection pools of one dispatcher; `destroy` closes their idle sockets. */
export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

export function httpAgents(maxSockets: number): HttpAgents {
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets }), https: new https.Agent({ keepAlive: true, maxSockets }) };
  return { ...agents, destroy: () => (agents.http.destroy(), agents.https.destroy()) };
}

/**
 * Sends the request once, within `timeoutMs` (answer and body). Never throws: an answer of
 * any status, a timeout and a connection failure are all outcomes for `decide`. `signal`
 * aborts it (the partition left this dispatcher); that comes back as a network outcome the
 * caller does not act on. node:http rather than fetch: a delivery costs a third of the CPU
 * (fetch's web streams and abort signals made most of it), and redirects are never followed.
 */
export function callOnce(request: RestRequest, timeoutMs: number, agents: HttpAgents, signal?: AbortSignal): Promise<CallOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let complete = false;
    const secure = request.url.startsWith('https:');
    const body = Buffer.from(request.body);
    const req = (secure ? https : http).request(request.url, {
      method: request.method,
      headers: { ...request.headers, 'content-length': String(body.length) },
      agent: secure ? agents.https : agents.http,
    });
    const finish = (outcome: CallOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
      // Anything not read to its end (a timeout, an error body cut short) closes the connection.
      if (outcome.kind !== 'answer' || !complete) req.destroy();
    };
    const onAbort = () => finish({ kind: 'network', message: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout', afterMs: timeoutMs }), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish({ kind: 'network', message: networkReason(err) }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const chunks: Buffer[] = [];
      let size = 0;
      const answer = (): CallOutcome => ({
        kind: 'answer',
        status,
        statusText: res.statusMessage ?? '',
        retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null,
        body: Buffer.concat(chunks).subarray(0, BODY_SNIPPET_BYTES).toString('utf8'),
      });
      res.on('data', (chunk: Buffer) => {
        // A 2xx body is read to its end so the connection is kept for the next request; of
        // an error answer only the start is kept, for the reason.
        if (ok) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= BODY_SNIPPET_BYTES) finish(answer());
      });
      res.on('end', () => {
        complete = true;
        finish(answer());
      });
      res.on('error', (err) => finish({ kind: 'network', message: networkReason(err) }));
    });
    req.end(body);
  });
}

/** A transport failure in a few words, with the system's code. */
function networkReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const named: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    EPIPE: 'connection closed',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
  };
  if (code !== undefined) return `${named[code] ?? (typeof e?.message === 'string' ? e.message : 'request failed')} (${code})`;
  return typeof e?.message === 'string' ? e.message : String(err);
}
