import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSagaflowError } from '../errors.ts';
import { decodeCursor, normalizeInstant } from '../projection/query.ts';
import type { SagaFilter, SagaListRequest, SagaSortField, SortOrder } from '../projection/query.ts';
import type { SagaRepository } from '../projection/repository.ts';
import { sendError } from './errors.ts';
import { errorBody } from './schemas.ts';

const addFormats = addFormatsModule.default;

export interface SagasRoutesOptions {
  repository: SagaRepository;
  /** Page size when `limit` is not given. */
  defaultLimit?: number;
  /** Largest `limit` accepted. */
  maxLimit?: number;
}

interface FilterQuery {
  currentState?: string[];
  businessStateId?: string[];
  associatedEntityId?: string[];
  isFinal?: boolean;
  createdFrom?: string;
  createdTo?: string;
  updatedFrom?: string;
  updatedTo?: string;
}

interface ListQuery extends FilterQuery {
  limit: number;
  cursor?: string;
  sort: SagaSortField;
  order: SortOrder;
}


const businessId = { anyOf: [{ type: 'string' }, { type: 'number' }] } as const;

/** The saga document as the projection stores it (Flow Manager's fields plus sagaflow's). */
export const sagaDocumentSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    sagaId: { type: 'string' },
    associatedEntityId: { type: 'string' },
    currentState: { type: 'string' },
    businessStateId: businessId,
    businessStateDescription: { type: 'string' },
    isFinal: { type: 'boolean' },
    metadata: { type: 'object', additionalProperties: true },
    latestEvent: { type: 'string' },
    history: {
      type: 'object',
      additionalProperties: true,
      properties: {
        states: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: true,
            properties: { state: { type: 'string' }, timestamp: { type: 'string' }, businessStateId: businessId, businessStateDescription: { type: 'string' } },
          },
        },
        events: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: true,
            properties: {
              event: { type: 'string' },
              timestamp: { type: 'string' },
              businessEventId: businessId,
              businessEventDescription: { type: 'string' },
              eventId: { type: 'string' },
            },
          },
        },
      },
    },
    revision: { type: 'integer', description: '+1 for every change; the projection keeps the highest' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    commands: { type: 'array', items: { type: 'object', additionalProperties: true } },
    ignoredEvents: { type: 'array', items: { type: 'object', additionalProperties: true } },
    deliveryFailures: {
      type: 'array',
      description: 'commands on rest channels that could not be delivered (4xx, or retries exhausted); absent until the first',
      items: { type: 'object', additionalProperties: true },
    },
    serviceSummary: {
      type: 'array',
      description: 'the commands parallel states sent and their answers (sentAt, answeredAt, answer, durationMs, late); absent until the first',
      items: { type: 'object', additionalProperties: true },
    },
  },
} as const;

const values = (description: string) =>
  ({ type: 'array', items: { type: 'string', minLength: 1, maxLength: 512 }, maxItems: 100, description }) as const;

const instant = (description: string) => ({ type: 'string', anyOf: [{ format: 'date-time' }, { format: 'date' }], description }) as const;

const filterProperties = {
  currentState: values('state id; repeat the parameter to match any of several'),
  businessStateId: values('business state id; repeat to match any of several'),
  associatedEntityId: values('associated entity id; repeat to match any of several'),
  isFinal: { type: 'boolean', description: 'only sagas in a final (true) or non-final (false) state' },
  createdFrom: instant('created at or after (ISO-8601)'),
  createdTo: instant('created before (ISO-8601)'),
  updatedFrom: instant('last changed at or after (ISO-8601)'),
  updatedTo: instant('last changed before (ISO-8601)'),
} as const;

function listSchema(defaultLimit: number, maxLimit: number) {
  return {
    summary: 'List sagas from the projection, filtered, newest first, a page at a time',
    description:
      'Reads the MongoDB projection of the changelog, which can lag the processor by a little. Pages are keyset-based: ' +
      'pass `nextCursor` as `cursor` with the same filters, sort and order to read the next page.',
    tags: ['sagas'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...filterProperties,
        limit: { type: 'integer', minimum: 1, maximum: maxLimit, default: defaultLimit, description: `page size, at most ${maxLimit}` },
        cursor: { type: 'string', minLength: 1, maxLength: 2048, description: 'nextCursor of the previous page' },
        sort: { type: 'string', enum: ['createdAt', 'updatedAt', 'sagaId'], default: 'createdAt' },
        order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['items'],
        properties: {
          items: { type: 'array', items: sagaDocumentSchema },
          nextCursor: { type: 'string', description: 'absent on the last page' },
        },
      },
      400: errorBody,
      401: errorBody,
      503: errorBody,
    },
  };
}

const statsSchema = {
  summary: 'Count sagas per state and per business state (projection)',
  tags: ['sagas'],
  querystring: { type: 'object', additionalProperties: false, properties: filterProperties },
  response: {
    200: {
      type: 'object',
      required: ['total', 'byState', 'byBusinessState'],
      properties: {
        total: { type: 'integer' },
        byState: {
          type: 'array',
          items: {
            type: 'object',
            required: ['currentState', 'isFinal', 'count'],
            properties: { currentState: { type: 'string' }, isFinal: { type: 'boolean' }, count: { type: 'integer' } },
          },
        },
        byBusinessState: {
          type: 'array',
          items: {
            type: 'object',
            required: ['count'],
            properties: {
              businessStateId: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] },
              businessStateDescription: { type: 'string', nullable: true },
              count: { type: 'integer' },
            },
          },
        },
      },
    },
    400: errorBody,
    401: errorBody,
    503: errorBody,
  },
};

function toFilter(q: FilterQuery): SagaFilter {
  const filter: SagaFilter = {};
  if (q.currentState) filter.currentState = q.currentState;
  if (q.businessStateId) filter.businessStateId = q.businessStateId;
  if (q.associatedEntityId) filter.associatedEntityId = q.associatedEntityId;
  if (q.isFinal !== undefined) filter.isFinal = q.isFinal;
  for (const name of ['createdFrom', 'createdTo', 'updatedFrom', 'updatedTo'] as const) {
    const raw = q[name];
    if (raw !== undefined) filter[name] = normalizeInstant(raw, name);
  }
  return filter;
}

/**
 * GET /sagas and GET /sagas/stats over a SagaRepository (the MongoDB projection).
 * Register with `app.register(sagasRoutes, { repository })` after @fastify/swagger.
 * Query strings are validated here with type coercion (`limit=10` is a number, a single
 * `currentState` is a list of one): the app's own validator does not coerce bodies.
 */
export async function sagasRoutes(app: FastifyInstance, opts: SagasRoutesOptions): Promise<void> {
  const maxLimit = opts.maxLimit ?? 500;
  const defaultLimit = Math.min(opts.defaultLimit ?? 50, maxLimit);
  const ajv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats(ajv);
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler((err: Error & { validation?: unknown }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err.validation) return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    if (isSagaflowError(err, 'SAGAFLOW_CURSOR_INVALID') || isSagaflowError(err, 'SAGAFLOW_BAD_QUERY')) {
      return sendError(reply, 'SAGAFLOW_BAD_REQUEST', err.message);
    }
    if (isSagaflowError(err) && err.retryable) {
      reply.header('retry-after', '1');
      return sendError(reply, 'SAGAFLOW_UNAVAILABLE', err.message);
    }
    throw err;
  });

  app.get<{ Querystring: ListQuery }>('/sagas', { schema: listSchema(defaultLimit, maxLimit) }, async (req) => {
    const q = req.query;
    const request: SagaListRequest = { filter: toFilter(q), limit: q.limit, sort: q.sort, order: q.order };
    if (q.cursor !== undefined) request.after = decodeCursor(q.cursor, q.sort, q.order);
    return opts.repository.list(request);
  });

  app.get<{ Querystring: FilterQuery }>('/sagas/stats', { schema: statsSchema }, async (req) => opts.repository.stats(toFilter(req.query)));
}
