import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.ts';

/** The operator token and whether reads need it too (SAGAFLOW_ADMIN_TOKEN, SAGAFLOW_PROTECT_READS). */
export interface AdminAccess {
  token: string;
  protectReads: boolean;
}

export type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** The token of an `Authorization: Bearer <token>` header, if the request has one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Compares digests in constant time, so neither the token nor its length leaks through timing. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/*
 * Why a header and no cookie: a browser attaches cookies to requests other sites make, never an
 * Authorization header. A cross-site page cannot set that header without a CORS preflight, which
 * sagaflow never grants, so operator actions are CSRF-safe without tokens in forms. The console
 * keeps the token in the tab's sessionStorage and sends it on each call.
 */
function requireToken(access: AdminAccess, req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if (tokenMatches(access.token, bearerToken(req.headers.authorization))) return undefined;
  reply.header('www-authenticate', 'Bearer realm="sagaflow"');
  const given = req.headers.authorization === undefined ? 'no Authorization header was sent' : 'the token sent is not the admin token';
  return sendError(reply, 'SAGAFLOW_UNAUTHORIZED', `${given}; send Authorization: Bearer <SAGAFLOW_ADMIN_TOKEN>`);
}

/** Operator actions: off (403) without an admin token, 401 without the right one. */
export function adminGuard(access: AdminAccess | undefined): Guard {
  return async (req, reply) => {
    if (access === undefined) {
      return sendError(reply, 'SAGAFLOW_ADMIN_DISABLED', 'operator actions are off: start sagaflow with SAGAFLOW_ADMIN_TOKEN or SAGAFLOW_ADMIN_TOKEN_FILE');
    }
    return requireToken(access, req, reply);
  };
}

/** Read-only data: open unless SAGAFLOW_PROTECT_READS put it behind the admin token. */
export function readGuard(access: AdminAccess | undefined): Guard {
  return async (req, reply) => (access?.protectReads ? requireToken(access, req, reply) : undefined);
}

/** Headers a request to another instance carries so that instance's read guard lets it through. */
export function forwardedAuthorization(access: AdminAccess | undefined): Record<string, string> {
  return access?.protectReads ? { authorization: `Bearer ${access.token}` } : {};
}
