import type { RestTarget } from '../definition/types.ts';

/** One command as an HTTP request to its rest channel. */
export interface RestRequest {
  method: 'POST' | 'PUT' | 'PATCH';
  url: string;
  /** Method, origin and path: what logs, reasons and dead letters name (never the headers). */
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** What identifies one send of a command: the saga, the revision that sent it, its label, and its attempt when it was sent again. */
export interface CommandIdentity {
  sagaId: string;
  revision: number;
  label: string;
  attempt?: number;
}

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/**
 * `<sagaId>:<revision>:<label>[:<attempt>]`: the same for every redelivery of one send (a
 * retry after a 503, a dispatcher that crashed before committing), different for another
 * command or another attempt of the saga's own, so a receiver can drop duplicates by it.
 */
export function idempotencyKey(id: CommandIdentity): string {
  return `${id.sagaId}:${id.revision}:${id.label}${id.attempt === undefined ? '' : `:${id.attempt}`}`;
}

/**
 * Flow Manager's rest channel contract: `{method} {protocol}://{endpoint}:{port}{path}` with
 * the body `{"key": sagaId, "value": {"messageLabel", "messagePayload"}}` and the configured
 * headers (secrets already resolved). Defaults as Flow Manager's: http, POST, path "/"; no
 * port means the protocol's own. `envelope` is the command's JSON envelope, spliced in as it
 * was written to the outbox.
 */
export function restRequest(target: RestTarget, id: CommandIdentity, envelope: string): RestRequest {
  const protocol = target.protocol ?? 'http';
  const method = target.method ?? 'POST';
  const port = target.port === undefined ? '' : `:${target.port}`;
  const raw = target.path ?? '/';
  const path = raw.startsWith('/') ? raw : `/${raw}`;
  const url = `${protocol}://${target.endpoint}${port}${path}`;
  return {
    method,
    url,
    target: `${method} ${protocol}://${target.endpoint}${port}${path.split('?')[0]}`,
    headers: requestHeaders(target.headers ?? {}, idempotencyKey(id)),
    body: `{"key":${JSON.stringify(id.sagaId)},"value":${envelope}}`,
  };
}

/**
 * The channel's headers, a JSON content type unless the channel sets its own, and the
 * Idempotency-Key, which no configured header can replace. Names compare case-insensitively,
 * as HTTP's do: two spellings of one name would be sent as one header with both values.
 */
function requestHeaders(configured: Readonly<Record<string, string>>, key: string): Record<string, string> {
  const headers: Record<string, string> = {};
  let contentType = false;
  for (const [name, value] of Object.entries(configured)) {
    const lower = name.toLowerCase();
    if (lower === IDEMPOTENCY_HEADER.toLowerCase()) continue;
    if (lower === 'content-type') contentType = true;
    headers[name] = value;
  }
  if (!contentType) headers['content-type'] = 'application/json';
  headers[IDEMPOTENCY_HEADER] = key;
  return headers;
}
