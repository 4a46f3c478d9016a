import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { skipUnlessCi } from '../../support/prerequisites.ts';
import { reservationConfig, startTestInstance, uniqueFlow } from '../../support/sagaflow.ts';
import { waitFor } from '../../support/wait.ts';

const root = new URL('../../../', import.meta.url).pathname;
const json = { 'content-type': 'application/json' };
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** Requests a client may send by mistake or on purpose, and the 4xx each must get. */
const cases: { name: string; method: string; path: string; body?: string; headers?: Record<string, string>; status: number }[] = [
  { name: 'malformed JSON', method: 'POST', path: '/saga', body: '{"associatedEntityId":', headers: json, status: 400 },
  { name: 'JSON null', method: 'POST', path: '/saga', body: 'null', headers: json, status: 400 },
  { name: 'JSON array', method: 'POST', path: '/saga', body: '[]', headers: json, status: 400 },
  { name: 'wrong type', method: 'POST', path: '/saga', body: '{"associatedEntityId":5,"metadata":{}}', headers: json, status: 400 },
  { name: 'metadata not an object', method: 'POST', path: '/saga', body: '{"associatedEntityId":"a","metadata":[1]}', headers: json, status: 400 },
  { name: 'missing field', method: 'POST', path: '/saga', body: '{"metadata":{}}', headers: json, status: 400 },
  { name: 'extra field', method: 'POST', path: '/saga', body: '{"associatedEntityId":"a","metadata":{},"x":1}', headers: json, status: 400 },
  { name: 'prototype pollution', method: 'POST', path: '/saga', body: '{"__proto__":{"admin":true},"associatedEntityId":"a","metadata":{}}', headers: json, status: 400 },
  { name: 'text body', method: 'POST', path: '/saga', body: 'hello', headers: { 'content-type': 'text/plain' }, status: 400 },
  { name: 'unsupported media type', method: 'POST', path: '/saga', body: '<saga/>', headers: { 'content-type': 'application/xml' }, status: 415 },
  { name: 'bad query value', method: 'POST', path: '/saga?wait=maybe', body: '{"associatedEntityId":"a","metadata":{}}', headers: json, status: 400 },
  { name: 'body over the HTTP limit', method: 'POST', path: '/saga', body: JSON.stringify({ associatedEntityId: 'a', metadata: { x: 'x'.repeat(2_000_000) } }), headers: json, status: 413 },
  // Under the HTTP limit (1 MiB) but over the broker's record limit once in an envelope.
  { name: 'body the broker refuses', method: 'POST', path: '/saga', body: JSON.stringify({ associatedEntityId: 'a', metadata: { x: 'x'.repeat(1_048_400) } }), headers: json, status: 413 },
  { name: 'deep nesting (saga)', method: 'POST', path: '/saga', body: `{"associatedEntityId":"a","metadata":{"a":${nested(100_000)}}}`, headers: json, status: 400 },
  { name: 'deep nesting (event)', method: 'POST', path: '/event', body: `{"key":"k","value":{"messageLabel":"x","messagePayload":${nested(100_000)}}}`, headers: json, status: 400 },
  { name: 'empty key', method: 'POST', path: '/event', body: '{"key":"","value":{"messageLabel":"x"}}', headers: json, status: 400 },
  { name: 'key too long', method: 'POST', path: '/event', body: JSON.stringify({ key: 'k'.repeat(513), value: { messageLabel: 'x' } }), headers: json, status: 400 },
  { name: 'value null', method: 'POST', path: '/event', body: '{"key":"k","value":null}', headers: json, status: 400 },
  { name: 'label wrong type', method: 'POST', path: '/event', body: '{"key":"k","value":{"messageLabel":7}}', headers: json, status: 400 },
  { name: 'bad percent-encoding', method: 'GET', path: '/saga/%E0%A4%A', status: 400 },
  { name: 'sagaId too long', method: 'GET', path: `/saga/${'x'.repeat(600)}`, status: 400 },
  { name: 'unknown saga with odd characters', method: 'GET', path: '/saga/..%2F..%2Fetc%00', status: 404 },
  { name: 'unknown route', method: 'DELETE', path: '/saga/x', status: 404 },
];

function runFuzzer(url: string, seed: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(`${root}scripts/fuzz-http.sh`, [url, '--seed', seed, '--workers', '2'], { cwd: root });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('HTTP API under bad input', () => {
  it('answers every malformed, mistyped or oversized request with its 4xx and keeps serving', { timeout: 120_000 }, async () => {
    const flow = uniqueFlow('http-bad');
    const instance = await startTestInstance(reservationConfig(flow), { partitions: 2 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const got: string[] = [];
    for (const c of cases) {
      const res = await fetch(`${instance.url}${c.path}`, { method: c.method, ...(c.headers ? { headers: c.headers } : {}), ...(c.body === undefined ? {} : { body: c.body }) });
      await res.arrayBuffer();
      got.push(`${c.name}: ${res.status}`);
    }
    expect(got).toEqual(cases.map((c) => `${c.name}: ${c.status}`));
    const ok = await fetch(`${instance.url}/saga`, { method: 'POST', headers: json, body: '{"associatedEntityId":"a","metadata":{}}' });
    expect(ok.status).toBe(201);
  });

  it('survives schemathesis fuzzing from its OpenAPI document without a 5xx or an undocumented answer', { timeout: 300_000 }, async (ctx) => {
    const flow = uniqueFlow('http-fuzz');
    const instance = await startTestInstance(reservationConfig(flow), { partitions: 2 });
    await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
    const seed = process.env.SAGAFLOW_FUZZ_SEED ?? '1';
    const result = await runFuzzer(instance.url, seed);
    if (result.code === 3) skipUnlessCi(ctx, result.output.trim().split('\n').at(-1) ?? 'schemathesis is unavailable');
    expect(result.code, `schemathesis (seed ${seed}) found failures:\n${result.output.slice(-6_000)}`).toBe(0);
    expect(result.output).toMatch(/test cases:\s*\n\s*\d+ generated/i);
    expect((await fetch(`${instance.url}/-/ready`)).status).toBe(200);
  });
});
