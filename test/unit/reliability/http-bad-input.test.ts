import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { MAX_BODY_DEPTH, buildHttpApp, nestingDepthExceeds } from '../../../src/http/app.ts';
import type { EventIngress } from '../../../src/http/app.ts';

async function appWith(produce: EventIngress['produce']) {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/reservation/saga.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const parsed = parseSagaConfig(raw, { env: {}, readFile: () => '' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return buildHttpApp({
    definition: compileDefinition(parsed.config),
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
});
