import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSagaflowError } from '../errors.ts';
import type { Envelope } from '../kafka/codec.ts';
import type { Guard } from './auth.ts';
import { isSagaflowHeader } from './console/dead-letter-index.ts';
import { previewPayload } from './console/payload-preview.ts';
import type { DeadLetter, DeadLetterStore } from './console/ports.ts';
import { sendError } from './errors.ts';
import { errorBody } from './schemas.ts';

export interface DeadLetterRoutesOptions {
  store: DeadLetterStore;
  /** Reads a value as an event of the events topic (the processor's codec), for previews. */
  decodeEvent?: (value: Buffer) => Promise<Envelope>;
  reads: Guard;
  admin: Guard;
}

/** Characters of payload shown per dead letter in a list, and in GET /dead-letters/:id. */
export const LIST_PREVIEW_CHARS = 600;
export const DETAIL_PREVIEW_CHARS = 64 * 1024;

const id = { type: 'string', pattern: '^\\d{1,5}-\\d{1,20}$', description: '<partition>-<offset> in the dead-letter topic' } as const;
const by = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', description: 'who acts (recorded in the marker)' } as const;
const ids = { type: 'array', items: id, minItems: 1, maxItems: 500, uniqueItems: true } as const;

const marker = {
  type: 'object',
  properties: { action: { type: 'string', enum: ['handled', 'redriven'] }, by: { type: 'string' }, at: { type: 'string' }, note: { type: 'string' } },
} as const;

const deadLetterView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'string' },
    timestamp: { type: 'string' },
    key: { type: 'string', nullable: true, description: 'the sagaId the event was keyed by' },
    code: { type: 'string' },
    reason: { type: 'string' },
    source: {
      type: 'object',
      properties: { topic: { type: 'string', nullable: true }, partition: { type: 'integer', nullable: true }, offset: { type: 'string', nullable: true } },
    },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: "the original event's headers" },
    payload: {
      type: 'object',
      properties: {
        format: { type: 'string', enum: ['event', 'text', 'binary', 'empty'] },
        messageLabel: { type: 'string' },
        preview: { type: 'string' },
        truncated: { type: 'boolean' },
        bytes: { type: 'integer' },
      },
    },
    handled: marker,
  },
} as const;

const actionResult = {
  type: 'object',
  properties: {
    done: { type: 'array', items: { type: 'string' } },
    skipped: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, reason: { type: 'string' } } } },
  },
} as const;

const operatorErrors = { 400: errorBody, 401: errorBody, 403: errorBody, 413: errorBody, 415: errorBody, 503: errorBody } as const;

/** A POST on a selection of dead letters: `{ids, by, ...extra}`, behind the admin token. */
function operatorAction(summary: string, description: string, extra: Record<string, unknown>) {
  return {
    summary,
    description,
    tags: ['dead letters', 'operator'],
    security: [{ adminToken: [] }],
    body: { type: 'object', additionalProperties: false, required: ['ids', 'by'], properties: { ids, by, ...extra } },
    response: { 200: actionResult, ...operatorErrors },
  };
}

const schemas = {
  list: {
    summary: 'Browse the dead-letter topic, newest first',
    description:
      'Dead letters held by this instance (the newest 10,000 by default), each with its error code, reason, source topic/partition/offset ' +
      "and a preview of its payload, and the operators' markers. `complete: false` says the topic could not be read to its end in time.",
    tags: ['dead letters'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        code: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 50, description: 'error code; repeat for several' },
        handled: { type: 'boolean', description: 'true: only handled or re-driven ones; false: only those still to handle' },
        limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
        cursor: { type: 'string', minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' },
      },
    },
    response: {
      200: {
        type: 'object',
        properties: {
          items: { type: 'array', items: deadLetterView },
          nextCursor: { type: 'string' },
          total: { type: 'integer' },
          codes: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, count: { type: 'integer' } } } },
          indexed: { type: 'integer' },
          evicted: { type: 'integer' },
          complete: { type: 'boolean' },
        },
      },
      400: errorBody,
      401: errorBody,
      503: errorBody,
    },
  },
  get: {
    summary: 'One dead letter, with a longer payload preview',
    tags: ['dead letters'],
    params: { type: 'object', required: ['id'], properties: { id } },
    response: { 200: deadLetterView, 400: errorBody, 401: errorBody, 404: errorBody, 503: errorBody },
  },
  redrive: operatorAction(
    'Re-drive dead letters to the events topic (operator action, needs the admin token)',
    "Produces each dead letter's original key, value and headers (plus sagaflow-redriven-from) to the events topic and marks it " +
      'redriven, in one transaction. Already handled or re-driven ones are skipped unless force; keyless ones are skipped.',
    { force: { type: 'boolean', description: 're-drive again what was already handled or re-driven' } },
  ),
  handled: operatorAction('Mark dead letters as handled (operator action, needs the admin token)', 'Writes a handled marker (by, note) for each.', {
    note: { type: 'string', minLength: 1, maxLength: 2000 },
  }),
} as const;

async function view(letter: DeadLetter, decode: DeadLetterRoutesOptions['decodeEvent'], limit: number) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(letter.record.headers)) if (!isSagaflowHeader(name)) headers[name] = value;
  return {
    id: letter.id,
    partition: letter.record.partition,
    offset: letter.record.offset,
    timestamp: letter.record.timestamp,
    key: letter.record.key === null ? null : letter.record.key.toString('utf8'),
    code: letter.code,
    reason: letter.reason,
    source: letter.source,
    headers,
    payload: await previewPayload(letter.record.value, decode, limit),
    ...(letter.handled ? { handled: letter.handled } : {}),
  };
}

/**
 * GET /dead-letters, GET /dead-letters/:id, POST /dead-letters/redrive, POST /dead-letters/handled.
 * Query strings are coerced (`limit=10`, one `code` as a list of one); bodies are not.
 */
export async function deadLettersRoutes(app: FastifyInstance, opts: DeadLetterRoutesOptions): Promise<void> {
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, allErrors: false, strict: false });
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'querystring' ? coercing : strict).compile(schema));
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err.validation) return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    if (isSagaflowError(err, 'SAGAFLOW_CURSOR_INVALID')) return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    if (isSagaflowError(err) && err.retryable) {
      reply.header('retry-after', '1');
      return sendError(reply, 'SAGAFLOW_DEAD_LETTERS_UNAVAILABLE', err.message);
    }
    throw err;
  });

  app.get<{ Querystring: { code?: string[]; handled?: boolean; limit: number; cursor?: string } }>(
    '/dead-letters',
    { schema: schemas.list, onRequest: opts.reads },
    async (req) => {
      const q = req.query;
      const page = await opts.store.list({
        limit: q.limit,
        ...(q.code ? { codes: q.code } : {}),
        ...(q.handled !== undefined ? { handled: q.handled } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return { ...page, items: await Promise.all(page.items.map((l) => view(l, opts.decodeEvent, LIST_PREVIEW_CHARS))) };
    },
  );

  app.get<{ Params: { id: string } }>('/dead-letters/:id', { schema: schemas.get, onRequest: opts.reads }, async (req, reply) => {
    const letter = await opts.store.get(req.params.id);
    if (!letter) return sendError(reply, 'SAGAFLOW_DEAD_LETTER_NOT_FOUND', `no dead letter "${req.params.id}" is held by this instance`);
    return view(letter, opts.decodeEvent, DETAIL_PREVIEW_CHARS);
  });

  app.post<{ Body: { ids: string[]; by: string; force?: boolean } }>(
    '/dead-letters/redrive',
    { schema: schemas.redrive, onRequest: opts.admin },
    async (req) => opts.store.redrive(req.body.ids, req.body.by, { force: req.body.force === true }),
  );

  app.post<{ Body: { ids: string[]; by: string; note?: string } }>(
    '/dead-letters/handled',
    { schema: schemas.handled, onRequest: opts.admin },
    async (req) => opts.store.markHandled(req.body.ids, req.body.by, req.body.note),
  );
}
