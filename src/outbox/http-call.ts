import type { RestRequest } from './rest-request.ts';
import type { CallOutcome } from './retry.ts';

/** How much of an error answer's body is kept for the reason. */
const BODY_SNIPPET_BYTES = 1024;

/**
 * Sends the request once, within `timeoutMs` (answer and body). Never throws: an answer of
 * any status, a timeout and a connection failure are all outcomes for `decide`. `signal`
 * aborts it (the partition left this dispatcher); that comes back as a network outcome the
 * caller does not act on.
 */
export async function callOnce(request: RestRequest, timeoutMs: number, signal?: AbortSignal): Promise<CallOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    const ok = res.status >= 200 && res.status < 300;
    // A 2xx body is read to its end so the connection is kept for the next request; of an
    // error answer only the start is kept, for the reason.
    const body = ok ? (await res.arrayBuffer(), '') : await snippet(res);
    return { kind: 'answer', status: res.status, statusText: res.statusText, retryAfter: res.headers.get('retry-after'), body };
  } catch (err) {
    if (timeout.aborted) return { kind: 'timeout', afterMs: timeoutMs };
    return { kind: 'network', message: networkReason(err) };
  }
}

async function snippet(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < BODY_SNIPPET_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, BODY_SNIPPET_BYTES).toString('utf8');
}

/** fetch reports every transport failure as "fetch failed"; the cause says which. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const named: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    UND_ERR_SOCKET: 'connection closed',
  };
  if (code !== undefined) return `${named[code] ?? (typeof cause?.message === 'string' ? cause.message : 'request failed')} (${code})`;
  return (err as Error | null)?.message ?? String(err);
}
