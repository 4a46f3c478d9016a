import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bearerToken, tokenMatches } from '../../../src/http/auth.ts';
import { FORWARDED_HEADER } from '../../../src/http/app.ts';
import { readRuntimeEnv } from '../../../src/runtime/env.ts';
import { CANCEL_EVENT } from '../../../src/saga/cancel.ts';
import { ADMIN_TOKEN, bearer, operatorApp, sagaDoc } from './console-fixtures.ts';

const admin = { token: ADMIN_TOKEN, protectReads: false };
const dir = mkdtempSync(join(tmpdir(), 'sagaflow-admin-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('admin token from the environment', () => {
  const base = { CONFIGURATIONS_FILE_PATH: 'saga.json' };

  it('is off when neither variable is set', () => {
    expect(readRuntimeEnv(base, '/').admin).toBeUndefined();
  });

  it('reads SAGAFLOW_ADMIN_TOKEN, reads stay open unless SAGAFLOW_PROTECT_READS=true', () => {
    expect(readRuntimeEnv({ ...base, SAGAFLOW_ADMIN_TOKEN: ADMIN_TOKEN }, '/').admin).toEqual({ token: ADMIN_TOKEN, protectReads: false });
    expect(readRuntimeEnv({ ...base, SAGAFLOW_ADMIN_TOKEN: ADMIN_TOKEN, SAGAFLOW_PROTECT_READS: 'true' }, '/').admin).toEqual({ token: ADMIN_TOKEN, protectReads: true });
  });

  it('reads SAGAFLOW_ADMIN_TOKEN_FILE relative to the working directory, without its final newline', () => {
    writeFileSync(join(dir, 'token'), `${ADMIN_TOKEN}\n`);
    expect(readRuntimeEnv({ ...base, SAGAFLOW_ADMIN_TOKEN_FILE: 'token' }, dir).admin?.token).toBe(ADMIN_TOKEN);
  });

  it.each([
    [{ SAGAFLOW_ADMIN_TOKEN: 'short' }, 'env.SAGAFLOW_ADMIN_TOKEN', 'the token has 5 characters; use at least 16'],
    [{ SAGAFLOW_ADMIN_TOKEN: 'with a space 0123456789' }, 'env.SAGAFLOW_ADMIN_TOKEN', 'printable ASCII'],
    [{ SAGAFLOW_ADMIN_TOKEN: ADMIN_TOKEN, SAGAFLOW_ADMIN_TOKEN_FILE: 'token' }, 'env.SAGAFLOW_ADMIN_TOKEN_FILE', 'set only one of them'],
    [{ SAGAFLOW_ADMIN_TOKEN_FILE: 'missing' }, 'env.SAGAFLOW_ADMIN_TOKEN_FILE', 'cannot be read (ENOENT)'],
    [{ SAGAFLOW_PROTECT_READS: 'true' }, 'env.SAGAFLOW_PROTECT_READS', 'no admin token is set'],
    [{ SAGAFLOW_ADMIN_TOKEN: ADMIN_TOKEN, SAGAFLOW_PROTECT_READS: 'yes' }, 'env.SAGAFLOW_PROTECT_READS', 'not a boolean'],
  ])('refuses %j at %s, never repeating the token', (extra, path, message) => {
    let error: unknown;
    try {
      readRuntimeEnv({ ...base, ...extra }, dir);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'SAGAFLOW_CONFIG_INVALID', path });
    expect((error as Error).message).toContain(message);
    const token = (extra as Record<string, string>).SAGAFLOW_ADMIN_TOKEN;
    if (token) expect((error as Error).message).not.toContain(token);
  });
});

describe('bearer tokens', () => {
  it('reads only "Bearer <token>"', () => {
    expect(bearerToken(`Bearer ${ADMIN_TOKEN}`)).toBe(ADMIN_TOKEN);
    expect(bearerToken(`bearer  ${ADMIN_TOKEN}`)).toBe(ADMIN_TOKEN);
    expect(bearerToken(`Basic ${ADMIN_TOKEN}`)).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
  });

  it('matches the exact token only', () => {
    expect(tokenMatches(ADMIN_TOKEN, ADMIN_TOKEN)).toBe(true);
    expect(tokenMatches(ADMIN_TOKEN, `${ADMIN_TOKEN}x`)).toBe(false);
    expect(tokenMatches(ADMIN_TOKEN, ADMIN_TOKEN.slice(1))).toBe(false);
    expect(tokenMatches(ADMIN_TOKEN, undefined)).toBe(false);
  });
});

describe('POST /saga/:sagaId/cancel', () => {
  const body = { by: 'alice', reason: 'customer called' };

  it('is off without an admin token: 403 SAGAFLOW_ADMIN_DISABLED, nothing produced', async () => {
    const { app, produced } = await operatorApp({ sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: body, headers: bearer() });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_ADMIN_DISABLED' });
    expect(produced).toEqual([]);
  });

  it('answers 401 without the token or with another, and never echoes a token', async () => {
    const { app, produced } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const missing = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: body });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="sagaflow"');
    const wrong = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: body, headers: bearer('not-the-token-0123456789') });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'SAGAFLOW_UNAUTHORIZED' });
    expect(wrong.body).not.toContain('not-the-token');
    expect(wrong.body).not.toContain(ADMIN_TOKEN);
    expect(produced).toEqual([]);
  });

  it('produces a __cancel__ event with {by, reason} and an eventId, and answers 202', async () => {
    const { app, produced } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: { ...body, targetState: 'reservationFailed' }, headers: bearer() });
    expect(res.statusCode).toBe(202);
    const { eventId } = res.json<{ eventId: string }>();
    expect(eventId).toMatch(/^cancel-[0-9a-f-]{36}$/);
    expect(res.json()).toEqual({ accepted: true, sagaId: 's-1', eventId });
    expect(produced).toEqual([
      { sagaId: 's-1', envelope: { messageLabel: CANCEL_EVENT, messagePayload: { ...body, targetState: 'reservationFailed' }, eventId } },
    ]);
  });

  it('with ?wait=true answers 200 with the saga once it carries the cancel', async () => {
    const { app } = await operatorApp({
      admin,
      sagas: new Map([['s-1', sagaDoc('s-1')]]),
      apply: (sagaId, envelope, sagas) => {
        const saga = sagas.get(sagaId);
        if (!saga) return;
        setTimeout(() => {
          sagas.set(sagaId, {
            ...saga,
            currentState: '__cancelled__',
            isFinal: true,
            revision: 2,
            history: { ...saga.history, events: [...saga.history.events, { event: CANCEL_EVENT, timestamp: 't', eventId: envelope.eventId as string }] },
          });
        }, 100);
      },
    });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel?wait=true', payload: body, headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ sagaId: 's-1', saga: { currentState: '__cancelled__', revision: 2 } });
  });

  it('with ?wait=true answers 202 when the cancel is not visible in time', async () => {
    const { app } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel?wait=true', payload: body, headers: bearer() });
    expect(res.statusCode).toBe(202);
  });

  it.each([
    [{ reason: 'why' }, "must have required property 'by'"],
    [{ by: 'alice', reason: '   ' }, 'must match pattern'],
    [{ by: 'alice', reason: 'why', note: 1 }, 'must NOT have additional properties'],
    [{ by: 'a'.repeat(201), reason: 'why' }, 'must NOT have more than 200 characters'],
  ])('refuses the body %j with 400', async (payload, message) => {
    const { app, produced } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload, headers: bearer() });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toContain(message);
    expect(produced).toEqual([]);
  });

  it('refuses a targetState the definition does not declare, naming the declared ones', async () => {
    const { app } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: { ...body, targetState: 'nowhere' }, headers: bearer() });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toBe(
      'targetState "nowhere" is not a state of the saga definition (declared: "reservationCreated", "reservationValidated", "reservationConfirmed", "reservationFailed", or "__cancelled__")',
    );
  });

  it('answers 404 for an unknown saga and 409 SAGAFLOW_SAGA_FINAL for a final one', async () => {
    const { app, produced } = await operatorApp({ admin, sagas: new Map([['done', sagaDoc('done', 'reservationConfirmed', true)]]) });
    const unknown = await app.inject({ method: 'POST', url: '/saga/nope/cancel', payload: body, headers: bearer() });
    expect(unknown.statusCode).toBe(404);
    const final = await app.inject({ method: 'POST', url: '/saga/done/cancel', payload: body, headers: bearer() });
    expect(final.statusCode).toBe(409);
    expect(final.json()).toMatchObject({ code: 'SAGAFLOW_SAGA_FINAL', message: 'saga "done" is in final state "reservationConfirmed" and cannot be cancelled' });
    expect(produced).toEqual([]);
  });

  it('answers 503 with Retry-After while the partition restores', async () => {
    const { app } = await operatorApp({
      admin,
      extra: { queries: { locate: async () => ({ kind: 'restoring', partition: 2, saga: undefined }), isReady: () => false, ownedPartitions: () => [] } },
    });
    const res = await app.inject({ method: 'POST', url: '/saga/s-1/cancel', payload: body, headers: bearer() });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
  });
});

describe('POST /event with the reserved cancel label', () => {
  it('refuses it: a cancel goes through the admin route', async () => {
    const { app, produced } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    const res = await app.inject({ method: 'POST', url: '/event', payload: { key: 's-1', value: { messageLabel: CANCEL_EVENT, messagePayload: { by: 'x', reason: 'y' } } } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toBe('"__cancel__" is reserved for cancels; use POST /saga/s-1/cancel with the admin token');
    expect(produced).toEqual([]);
  });
});

describe('SAGAFLOW_PROTECT_READS', () => {
  it('leaves GET /saga/:sagaId open by default', async () => {
    const { app } = await operatorApp({ admin, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    expect((await app.inject({ method: 'GET', url: '/saga/s-1' })).statusCode).toBe(200);
  });

  it('puts GET /saga/:sagaId behind the token, and keeps the Flow Manager ingress and health open', async () => {
    const { app } = await operatorApp({ admin: { token: ADMIN_TOKEN, protectReads: true }, sagas: new Map([['s-1', sagaDoc('s-1')]]) });
    expect((await app.inject({ method: 'GET', url: '/saga/s-1' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/saga/s-1', headers: bearer() })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/event', payload: { key: 's-1', value: { messageLabel: 'validationOK' } } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/-/healthz' })).statusCode).toBe(200);
  });

  it('forwards a query to the owner with the token, so the owner lets it through', async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const fetchImpl: typeof fetch = async (url, init) => {
      calls.push({ url: String(url), headers: init?.headers as Record<string, string> });
      return new Response(JSON.stringify(sagaDoc('s-9')), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const { app } = await operatorApp({
      admin: { token: ADMIN_TOKEN, protectReads: true },
      extra: { fetchImpl, queries: { locate: async () => ({ kind: 'remote', url: 'http://other:3000', partition: 1 }), isReady: () => true, ownedPartitions: () => [] } },
    });
    const res = await app.inject({ method: 'GET', url: '/saga/s-9', headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(calls).toEqual([{ url: 'http://other:3000/saga/s-9', headers: { [FORWARDED_HEADER]: '1', authorization: `Bearer ${ADMIN_TOKEN}` } }]);
  });
});
