import { readFileSync } from 'node:fs';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { MAX_BODY_DEPTH, buildHttpApp, nestingDepthExceeds } from '../../../src/http/app.ts';
import type { EventIngress } from '../../../src/http/app.ts';
import { produceError } from '../../../src/kafka/produce-errors.ts';
import { classifyKafkajsError } from '../../../src/adapters/kafkajs/errors.ts';
import { BrokerError } from '../../../src/broker/errors.ts';

async function appWith(produce: EventIngress['produce']) {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return buildHttpApp({
    definition: await compileDefinition(parsed.config),
    machineDefinition: parsed.config.machineDefinition,
    sagaIdPrefix: '',
    ingress: { produce },
    queries: { locate: async () => ({ kind: 'local', saga: undefined }), isReady: () => true, ownedPartitions: () => [] },
    metrics: () => '',
    logger: pino({ level: 'silent' }),
  });
}

const nested = (depth: number, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

describe('HTTP bad input', () => {
  // Regression: 100 000 nested arrays (a few hundred kB) passed validation, then overflowed the
  // stack of JSON.stringify while the event was encoded: 500 instead of 400.
  it('refuses bodies nested deeper than the limit with 400, before anything is produced', async () => {
    let produced = 0;
    const app = await appWith(async (_id, envelope) => {
      JSON.stringify(envelope);
      produced += 1;
    });
    const deepSaga = `{"associatedEntityId":"a","metadata":{"a":${nested(100_000)}}}`;
    const deepEvent = `{"key":"k","value":{"messageLabel":"x","messagePayload":${nested(100_000)}}}`;
    for (const [url, payload] of [['/saga', deepSaga], ['/event', deepEvent]] as const) {
      const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ code: 'SAGAFLOW_BAD_REQUEST', message: `the body nests deeper than ${MAX_BODY_DEPTH} levels` });
    }
    expect(produced).toBe(0);
    const fine = await app.inject({ method: 'POST', url: '/saga', payload: `{"associatedEntityId":"a","metadata":{"a":${nested(MAX_BODY_DEPTH - 3)}}}`, headers: { 'content-type': 'application/json' } });
    expect(fine.statusCode).toBe(201);
    expect(produced).toBe(1);
  });

  it('measures depth without recursion', () => {
    expect(nestingDepthExceeds(JSON.parse(nested(1_000_000)), 64)).toBe(true);
    expect(nestingDepthExceeds({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestingDepthExceeds({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(nestingDepthExceeds('text', 0)).toBe(false);
  });

  // Regression: a body under the HTTP limit whose record the broker refused as too large, and
  // a broker that could not be reached, both answered 500 "internal error".
  it('answers 413 for an event the broker refuses as too large', async () => {
    const app = await appWith(async () => {
      // As kafkajs builds it from the broker's error code 10 (createErrorFromCode).
      const protocolError = { type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'The request included a message larger than the max message size the server will accept' };
      throw produceError(classifyKafkajsError(new KafkaJSProtocolError(protocolError as unknown as Error)));
    });
    const res = await app.inject({ method: 'POST', url: '/saga', payload: { associatedEntityId: 'a', metadata: {} } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'SAGAFLOW_BODY_TOO_LARGE', retryable: false });
  });

  it('answers 503 with Retry-After semantics when the broker cannot be reached, without naming it', async () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 10.1.2.3:9092', { broker: '10.1.2.3:9092' });
    const app = await appWith(async () => {
      throw produceError(classifyKafkajsError(new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 8, retryTime: 5000 })));
    });
    for (const [url, payload] of [['/saga', { associatedEntityId: 'a', metadata: {} }], ['/event', { key: 'k', value: { messageLabel: 'x' } }]] as const) {
      const res = await app.inject({ method: 'POST', url, payload });
      expect(res.statusCode, url).toBe(503);
      expect(res.json()).toMatchObject({ code: 'SAGAFLOW_UNAVAILABLE', retryable: true });
      expect(res.body).not.toContain('10.1.2.3');
    }
  });

  it('maps produce failures to codes', () => {
    expect(produceError(classifyKafkajsError(Object.assign(new Error('x'), { type: 'RECORD_LIST_TOO_LARGE' }))).code).toBe('SAGAFLOW_EVENT_TOO_LARGE');
    expect(produceError(new BrokerError('permanent', 'record-too-large', 'too large', { client: 'librdkafka' })).code).toBe('SAGAFLOW_EVENT_TOO_LARGE');
    expect(produceError(new Error('socket hang up'))).toMatchObject({ code: 'SAGAFLOW_EVENTS_UNAVAILABLE', retryable: true });
  });

  // Regression: Fastify's maxParamLength (100) answered 414 for GET /saga/:id with any sagaId
  // longer than 100 characters, though POST /event accepts keys of up to 512.
  it('reads sagas with ids up to 512 characters, also non-ASCII, and refuses longer ones with 400', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const app = await appWith(async () => undefined);
    await app.ready();
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    // The limit is set without Fastify's deprecated top-level option (a warning at every start).
    expect(warnings.filter((w) => w.includes('maxParamLength'))).toEqual([]);
    for (const id of ['s'.repeat(512), '\u00ba'.repeat(512), '\u{1F600}'.repeat(256)]) {
      const res = await app.inject({ method: 'GET', url: `/saga/${encodeURIComponent(id)}` });
      expect(res.statusCode, `${id.length} characters`).toBe(404);
      expect(res.json()).toMatchObject({ code: 'SAGAFLOW_SAGA_NOT_FOUND' });
    }
    const tooLong = await app.inject({ method: 'GET', url: `/saga/${'s'.repeat(513)}` });
    expect(tooLong.statusCode).toBe(400);
  });

  // Found by schemathesis: GET /saga/{sagaId} answered 400 for an over-long id, which its
  // OpenAPI description did not list.
  it('documents every status the routes answer with', async () => {
    const app = await appWith(async () => undefined);
    await app.ready();
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths['/saga/{sagaId}']?.get?.responses ?? {}).sort()).toEqual(['200', '400', '401', '404', '502', '503']);
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (method === 'post') expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['400', '413', '415']));
      }
    }
  });
});
