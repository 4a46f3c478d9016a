import type { FastifyReply } from 'fastify';

/** Every error the HTTP API answers with: stable code, status, whether a retry can help. */
export const HTTP_ERRORS = {
  SAGAFLOW_BAD_REQUEST: { status: 400, retryable: false },
  SAGAFLOW_UNAUTHORIZED: { status: 401, retryable: false },
  SAGAFLOW_ADMIN_DISABLED: { status: 403, retryable: false },
  SAGAFLOW_SAGA_NOT_FOUND: { status: 404, retryable: false },
  SAGAFLOW_ROUTE_NOT_FOUND: { status: 404, retryable: false },
  SAGAFLOW_DEAD_LETTER_NOT_FOUND: { status: 404, retryable: false },
  SAGAFLOW_UNEXPECTED_EVENT: { status: 409, retryable: false },
  SAGAFLOW_SAGA_FINAL: { status: 409, retryable: false },
  SAGAFLOW_BODY_TOO_LARGE: { status: 413, retryable: false },
  SAGAFLOW_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  SAGAFLOW_INTERNAL_ERROR: { status: 500, retryable: false },
  SAGAFLOW_OWNER_FAILED: { status: 502, retryable: true },
  SAGAFLOW_RESTORING: { status: 503, retryable: true },
  SAGAFLOW_OWNER_UNAVAILABLE: { status: 503, retryable: true },
  SAGAFLOW_UNAVAILABLE: { status: 503, retryable: true },
  SAGAFLOW_DEAD_LETTERS_UNAVAILABLE: { status: 503, retryable: true },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export function sendError(reply: FastifyReply, code: HttpErrorCode, message: string): FastifyReply {
  const { status, retryable } = HTTP_ERRORS[code];
  return reply.code(status).send({ statusCode: status, code, error: message, message, retryable });
}
