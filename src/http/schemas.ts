/** JSON Schemas of every route: they validate requests and document the API (OpenAPI). */
/** The body of every error answer (see errors.ts). */
export const errorBody = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    retryable: { type: 'boolean' },
  },
  required: ['statusCode', 'code', 'message'],
} as const;

const sagaDocument = {
  type: 'object',
  description: 'The saga document (Flow Manager fields plus revision, timestamps, commands and ignored events)',
  additionalProperties: true,
  properties: {
    sagaId: { type: 'string' },
    associatedEntityId: { type: 'string' },
    currentState: { type: 'string' },
    isFinal: { type: 'boolean' },
    revision: { type: 'integer' },
    metadata: { type: 'object', additionalProperties: true },
  },
} as const;

const readyBody = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    partitions: {
      type: 'array',
      items: { type: 'object', properties: { partition: { type: 'integer' }, state: { type: 'string' } } },
    },
  },
} as const;

/** Mia-Platform's status body (lc39's schema: name, status, version), plus one entry per dependency. */
const checkUpBody = {
  type: 'object',
  required: ['name', 'status', 'version'],
  properties: {
    name: { type: 'string' },
    status: { type: 'string', enum: ['OK', 'KO'] },
    version: { type: 'string' },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, status: { type: 'string', enum: ['OK', 'KO'] }, durationMs: { type: 'integer' }, message: { type: 'string' } },
      },
    },
  },
} as const;

const sagaId = { type: 'string', minLength: 1, maxLength: 512 } as const;

export const schemas = {
  createSaga: {
    summary: 'Create a saga in the initial state',
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['associatedEntityId', 'metadata'],
      properties: {
        associatedEntityId: { type: 'string', minLength: 1, maxLength: 512 },
        metadata: { type: 'object', additionalProperties: true },
      },
    },
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: { wait: { type: 'string', enum: ['true', 'false'], description: 'true: answer once the saga exists, with its document' } },
    },
    response: {
      201: { type: 'object', properties: { sagaId: { type: 'string' }, saga: sagaDocument }, required: ['sagaId'] },
      202: { type: 'object', properties: { sagaId: { type: 'string' } }, required: ['sagaId'] },
      400: errorBody,
      413: errorBody,
      415: errorBody,
      503: errorBody,
    },
  },
  postEvent: {
    summary: 'Deliver an event to a saga (Flow Manager REST ingress)',
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['key', 'value'],
      properties: {
        key: sagaId,
        value: {
          type: 'object',
          additionalProperties: false,
          required: ['messageLabel'],
          properties: {
            messageLabel: { type: 'string', minLength: 1, maxLength: 512 },
            messagePayload: {},
            eventId: { type: 'string', minLength: 1, maxLength: 512 },
          },
        },
      },
    },
    response: {
      202: { type: 'object', properties: { accepted: { type: 'boolean' }, sagaId: { type: 'string' } } },
      400: errorBody,
      404: errorBody,
      409: errorBody,
      413: errorBody,
      415: errorBody,
      502: errorBody,
      503: errorBody,
    },
  },
  getSaga: {
    summary: 'Read a saga from the instance that owns it',
    params: { type: 'object', required: ['sagaId'], properties: { sagaId } },
    response: { 200: sagaDocument, 400: errorBody, 401: errorBody, 404: errorBody, 502: errorBody, 503: errorBody },
  },
  machineDefinition: {
    summary: 'The machine definition (never credentials)',
    response: { 200: { type: 'object', additionalProperties: true } },
  },
  health: {
    summary: 'Liveness',
    response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
  },
  checkUp: {
    summary: 'Dependencies (Kafka, schema registry, persistency): 200 when all answer, 503 naming the one that does not',
    response: { 200: checkUpBody, 503: checkUpBody },
  },
  ready: {
    summary: 'Readiness: joined and every owned partition restored',
    response: {
      200: readyBody,
      503: readyBody,
    },
  },
} as const;
