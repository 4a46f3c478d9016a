import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { CompiledDefinition } from '../definition/compile.ts';
import { CANCELLED_STATE, CANCEL_EVENT, CANCEL_LIMITS } from '../saga/cancel.ts';
import type { CancelRequest } from '../saga/cancel.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { EventIngress, SagaLookup } from './app.ts';
import type { Guard } from './auth.ts';
import { sendError } from './errors.ts';
import { errorBody } from './schemas.ts';

export interface CancelRouteOptions {
  definition: CompiledDefinition;
  ingress: EventIngress;
  lookup: (sagaId: string) => Promise<SagaLookup>;
  /** Waits until the saga passes `done`, or the deadline: the saga seen last. */
  waitFor: (sagaId: string, done: (saga: SagaDocument) => boolean) => Promise<SagaDocument | undefined>;
  guard: Guard;
  newEventId?: () => string;
}

const text = (maxLength: number, description: string) => ({ type: 'string', minLength: 1, maxLength, pattern: '\\S', description }) as const;

const cancelSchema = {
  summary: 'Cancel a saga (operator action, needs the admin token)',
  description:
    `Produces a "${CANCEL_EVENT}" event {by, reason, targetState?} keyed by the sagaId to the events topic, so the cancel is applied ` +
    'exactly once like any event. The saga moves to targetState (a declared state) when given, else to the state its current ' +
    `state's "${CANCEL_EVENT}" transition names, else to "${CANCELLED_STATE}" (a declared state of that name, or the built-in final one). ` +
    'The history entry records by and reason. With ?wait=true the answer carries the saga once the cancel is applied.',
  tags: ['operator'],
  security: [{ adminToken: [] }],
  params: { type: 'object', required: ['sagaId'], properties: { sagaId: { type: 'string', minLength: 1, maxLength: 512 } } },
  querystring: { type: 'object', additionalProperties: false, properties: { wait: { type: 'string', enum: ['true', 'false'] } } },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['by', 'reason'],
    properties: {
      by: text(CANCEL_LIMITS.by, 'who cancels (recorded in the history)'),
      reason: text(CANCEL_LIMITS.reason, 'why (recorded in the history)'),
      targetState: text(CANCEL_LIMITS.targetState, `a declared state, or "${CANCELLED_STATE}"`),
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { sagaId: { type: 'string' }, eventId: { type: 'string' }, saga: { type: 'object', additionalProperties: true } },
    },
    202: { type: 'object', properties: { accepted: { type: 'boolean' }, sagaId: { type: 'string' }, eventId: { type: 'string' } } },
    400: errorBody,
    401: errorBody,
    403: errorBody,
    404: errorBody,
    409: errorBody,
    413: errorBody,
    415: errorBody,
    502: errorBody,
    503: errorBody,
  },
} as const;

/** POST /saga/:sagaId/cancel. Checks what it can before producing, so an operator gets a 4xx rather than a silent ignored event. */
export async function cancelRoute(app: FastifyInstance, opts: CancelRouteOptions): Promise<void> {
  const newEventId = opts.newEventId ?? (() => `cancel-${randomUUID()}`);
  app.post<{ Params: { sagaId: string }; Body: CancelRequest; Querystring: { wait?: 'true' | 'false' } }>(
    '/saga/:sagaId/cancel',
    { schema: cancelSchema, onRequest: opts.guard },
    async (req, reply) => {
      const { sagaId } = req.params;
      const { targetState } = req.body;
      if (targetState !== undefined && targetState !== CANCELLED_STATE && !opts.definition.states.has(targetState)) {
        const declared = [...opts.definition.states.keys()].map((s) => `"${s}"`).join(', ');
        return sendError(reply, 'SAGAFLOW_BAD_REQUEST', `targetState "${targetState}" is not a state of the saga definition (declared: ${declared}, or "${CANCELLED_STATE}")`);
      }
      const found = await opts.lookup(sagaId);
      if (found.kind === 'not-found') return sendError(reply, 'SAGAFLOW_SAGA_NOT_FOUND', `saga "${sagaId}" does not exist`);
      if (found.kind === 'unavailable') {
        reply.header('retry-after', '1');
        return sendError(reply, found.code, found.message);
      }
      if (found.saga.isFinal) {
        return sendError(reply, 'SAGAFLOW_SAGA_FINAL', `saga "${sagaId}" is in final state "${found.saga.currentState}" and cannot be cancelled`);
      }
      const eventId = newEventId();
      const payload: CancelRequest = { by: req.body.by, reason: req.body.reason };
      if (targetState !== undefined) payload.targetState = targetState;
      await opts.ingress.produce(sagaId, { messageLabel: CANCEL_EVENT, messagePayload: payload, eventId });
      if (req.query.wait !== 'true') return reply.code(202).send({ accepted: true, sagaId, eventId });
      // Applied or recorded as ignored: either way the saga carries the eventId.
      const handled = (s: SagaDocument) => s.history.events.some((e) => e.eventId === eventId) || s.ignoredEvents.some((e) => e.eventId === eventId);
      const saga = await opts.waitFor(sagaId, handled);
      if (saga && handled(saga)) return reply.code(200).send({ sagaId, eventId, saga });
      return reply.code(202).send({ accepted: true, sagaId, eventId });
    },
  );
}
