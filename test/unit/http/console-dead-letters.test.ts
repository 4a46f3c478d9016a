import { describe, expect, it } from 'vitest';
import { DeadLetterIndex } from '../../../src/http/console/dead-letter-index.ts';
import { previewPayload } from '../../../src/http/console/payload-preview.ts';
import type { DeadLetterActionResult, DeadLetterRecord, DeadLetterStore, HandledMarker } from '../../../src/http/console/ports.ts';
import { ADMIN_TOKEN, bearer, operatorApp } from './console-fixtures.ts';

function record(partition: number, offset: number, second: number, code = 'SAGAFLOW_UNKNOWN_SAGA', extra: Record<string, string> = {}): DeadLetterRecord {
  return {
    partition,
    offset: String(offset),
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    key: Buffer.from(`saga-${partition}-${offset}`),
    value: Buffer.from(JSON.stringify({ messageLabel: 'validationOK', messagePayload: { n: offset } })),
    headers: {
      'trace-id': `t-${offset}`,
      'sagaflow-error-code': code,
      'sagaflow-reason': `reason ${offset}`,
      'sagaflow-source-topic': 'events',
      'sagaflow-source-partition': String(partition),
      'sagaflow-source-offset': String(offset * 10),
      ...extra,
    },
  };
}

const marker: HandledMarker = { action: 'handled', by: 'bob', at: '2026-01-02T00:00:00.000Z' };

describe('DeadLetterIndex', () => {
  it('reads code, reason and source from the sagaflow headers', () => {
    const index = new DeadLetterIndex();
    index.add(record(1, 5, 3));
    expect(index.get('1-5')).toMatchObject({
      id: '1-5',
      code: 'SAGAFLOW_UNKNOWN_SAGA',
      reason: 'reason 5',
      source: { topic: 'events', partition: 1, offset: '50' },
    });
  });

  it('lists newest first and pages with a cursor, without gaps or repeats', () => {
    const index = new DeadLetterIndex();
    for (let i = 0; i < 7; i += 1) index.add(record(i % 2, i, i));
    const first = index.list({ limit: 3 });
    expect(first.items.map((l) => l.id)).toEqual(['0-6', '1-5', '0-4']);
    expect(first.total).toBe(7);
    const second = index.list({ limit: 3, cursor: first.nextCursor as string });
    expect(second.items.map((l) => l.id)).toEqual(['1-3', '0-2', '1-1']);
    const third = index.list({ limit: 3, cursor: second.nextCursor as string });
    expect(third.items.map((l) => l.id)).toEqual(['0-0']);
    expect(third.nextCursor).toBeUndefined();
  });

  it('filters by codes and by handled, and counts codes over the handled filter', () => {
    const index = new DeadLetterIndex();
    index.add(record(0, 1, 1, 'SAGAFLOW_DECODE_FAILED'));
    index.add(record(0, 2, 2, 'SAGAFLOW_UNKNOWN_SAGA'));
    index.add(record(0, 3, 3, 'SAGAFLOW_UNKNOWN_SAGA'));
    index.mark('0-3', marker);
    expect(index.list({ limit: 10, codes: ['SAGAFLOW_DECODE_FAILED'] }).items.map((l) => l.id)).toEqual(['0-1']);
    const open = index.list({ limit: 10, handled: false });
    expect(open.items.map((l) => l.id)).toEqual(['0-2', '0-1']);
    expect(open.codes).toEqual([
      { code: 'SAGAFLOW_DECODE_FAILED', count: 1 },
      { code: 'SAGAFLOW_UNKNOWN_SAGA', count: 1 },
    ]);
    expect(index.list({ limit: 10, handled: true }).items.map((l) => [l.id, l.handled?.by])).toEqual([['0-3', 'bob']]);
  });

  it('applies a marker that arrives before its record, and a tombstone takes it back', () => {
    const index = new DeadLetterIndex();
    index.mark('2-9', marker);
    index.add(record(2, 9, 1));
    expect(index.get('2-9')?.handled).toEqual(marker);
    index.mark('2-9', null);
    expect(index.get('2-9')?.handled).toBeUndefined();
  });

  it('holds at most maxRecords, letting the first read go and counting them', () => {
    const index = new DeadLetterIndex(3);
    for (let i = 0; i < 5; i += 1) index.add(record(0, i, i));
    expect(index.size).toBe(3);
    expect(index.evicted).toBe(2);
    expect(index.get('0-0')).toBeUndefined();
    expect(index.list({ limit: 10 }).items.map((l) => l.id)).toEqual(['0-4', '0-3', '0-2']);
    // Reading the same record again (a consumer restart) replaces it, it does not evict.
    index.add(record(0, 4, 4));
    expect(index.evicted).toBe(2);
  });

  it('refuses a cursor it did not make', () => {
    const index = new DeadLetterIndex();
    expect(() => index.list({ limit: 1, cursor: 'bm90LWEtY3Vyc29y' })).toThrow(expect.objectContaining({ code: 'SAGAFLOW_CURSOR_INVALID' }));
  });
});

describe('payload previews', () => {
  const decode = async (value: Buffer) => {
    const parsed = JSON.parse(value.toString('utf8')) as { messageLabel: string; messagePayload: unknown };
    return { messageLabel: parsed.messageLabel, messagePayload: parsed.messagePayload };
  };

  it('shows an event the codec reads as its label and JSON payload', async () => {
    const value = Buffer.from('{"messageLabel":"checkOK","messagePayload":{"seats":2}}');
    expect(await previewPayload(value, decode, 100)).toEqual({ format: 'event', messageLabel: 'checkOK', preview: '{\n  "seats": 2\n}', truncated: false, bytes: value.length });
  });

  it('falls back to text, then to hex bytes, and cuts at the limit', async () => {
    expect(await previewPayload(Buffer.from('not json at all'), decode, 8)).toEqual({ format: 'text', preview: 'not json…', truncated: true, bytes: 15 });
    expect(await previewPayload(Buffer.from([0, 1, 0xff, 0x10]), decode, 100)).toEqual({ format: 'binary', preview: '00 01 ff 10', truncated: false, bytes: 4 });
    expect(await previewPayload(null, decode, 100)).toEqual({ format: 'empty', preview: '', truncated: false, bytes: 0 });
  });
});

/** A DeadLetterStore over the pure index, recording re-drives, as a stand-in for the Kafka adapter. */
function memoryStore(records: DeadLetterRecord[]) {
  const index = new DeadLetterIndex();
  for (const r of records) index.add(r);
  const redriven: string[] = [];
  const act = (ids: string[], m: HandledMarker): DeadLetterActionResult => {
    const result: DeadLetterActionResult = { done: [], skipped: [] };
    for (const id of ids) {
      if (index.get(id)) {
        index.mark(id, m);
        result.done.push(id);
      } else result.skipped.push({ id, reason: 'no such dead letter' });
    }
    return result;
  };
  const store: DeadLetterStore = {
    list: async (q) => ({ ...index.list(q), complete: true }),
    get: async (id) => index.get(id),
    redrive: async (ids, by) => {
      const result = act(ids, { action: 'redriven', by, at: 'now' });
      redriven.push(...result.done);
      return result;
    },
    markHandled: async (ids, by, note) => act(ids, { action: 'handled', by, at: 'now', ...(note ? { note } : {}) }),
    close: async () => undefined,
  };
  return { store, redriven };
}

describe('dead-letter routes', () => {
  const admin = { token: ADMIN_TOKEN, protectReads: false };

  async function app(protectReads = false) {
    const { store, redriven } = memoryStore([record(0, 1, 1, 'SAGAFLOW_DECODE_FAILED'), record(0, 2, 2), record(1, 3, 3)]);
    const { app: http } = await operatorApp({ admin: { ...admin, protectReads }, extra: { deadLetters: { store } } });
    return { http, redriven };
  }

  it('lists with coerced query parameters: one code, handled=false, limit=2', async () => {
    const { http } = await app();
    const res = await http.inject({ method: 'GET', url: '/dead-letters?code=SAGAFLOW_UNKNOWN_SAGA&handled=false&limit=2' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ items: { id: string; key: string; headers: Record<string, string>; payload: { format: string } }[]; total: number; complete: boolean }>();
    expect(body.items.map((i) => i.id)).toEqual(['1-3', '0-2']);
    expect(body.total).toBe(2);
    expect(body.complete).toBe(true);
    expect(body.items[0]?.key).toBe('saga-1-3');
    // Only the original event's headers: sagaflow's are shown as code, reason and source.
    expect(body.items[0]?.headers).toEqual({ 'trace-id': 't-3' });
    expect(body.items[0]?.payload.format).toBe('text');
  });

  it('answers 400 for a bad limit or cursor and 404 for an unknown id', async () => {
    const { http } = await app();
    expect((await http.inject({ method: 'GET', url: '/dead-letters?limit=0' })).statusCode).toBe(400);
    expect((await http.inject({ method: 'GET', url: '/dead-letters?cursor=abc' })).json()).toMatchObject({ statusCode: 400, code: 'SAGAFLOW_BAD_REQUEST' });
    expect((await http.inject({ method: 'GET', url: '/dead-letters/9-9' })).json()).toMatchObject({ statusCode: 404, code: 'SAGAFLOW_DEAD_LETTER_NOT_FOUND' });
    expect((await http.inject({ method: 'GET', url: '/dead-letters/not-an-id' })).statusCode).toBe(400);
  });

  it('re-drives and marks handled only with the admin token, checking auth before the body', async () => {
    const { http, redriven } = await app();
    expect((await http.inject({ method: 'POST', url: '/dead-letters/redrive', payload: { ids: ['0-2'], by: 'alice' } })).statusCode).toBe(401);
    expect((await http.inject({ method: 'POST', url: '/dead-letters/redrive', payload: { nonsense: true } })).statusCode).toBe(401);
    expect(redriven).toEqual([]);
    const res = await http.inject({ method: 'POST', url: '/dead-letters/redrive', payload: { ids: ['0-2', '7-7'], by: 'alice' }, headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ done: ['0-2'], skipped: [{ id: '7-7', reason: 'no such dead letter' }] });
    expect(redriven).toEqual(['0-2']);
    const handled = await http.inject({ method: 'POST', url: '/dead-letters/handled', payload: { ids: ['0-1'], by: 'bob', note: 'garbage from a test producer' }, headers: bearer() });
    expect(handled.json()).toEqual({ done: ['0-1'], skipped: [] });
    const open = await http.inject({ method: 'GET', url: '/dead-letters?handled=false' });
    expect(open.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toEqual(['1-3']);
  });

  it('refuses bad bodies with 400: no ids, a malformed id, an unknown field', async () => {
    const { http } = await app();
    for (const payload of [{ ids: [], by: 'a' }, { ids: ['x'], by: 'a' }, { ids: ['0-1'], by: 'a', extra: 1 }, { ids: ['0-1'], by: ' ' }]) {
      const res = await http.inject({ method: 'POST', url: '/dead-letters/handled', payload, headers: bearer() });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('is off for writes without an admin token, and protects reads with SAGAFLOW_PROTECT_READS', async () => {
    const { store } = memoryStore([record(0, 1, 1)]);
    const { app: open } = await operatorApp({ extra: { deadLetters: { store } } });
    expect((await open.inject({ method: 'POST', url: '/dead-letters/handled', payload: { ids: ['0-1'], by: 'a' }, headers: bearer() })).statusCode).toBe(403);
    expect((await open.inject({ method: 'GET', url: '/dead-letters' })).statusCode).toBe(200);
    const { http } = await app(true);
    expect((await http.inject({ method: 'GET', url: '/dead-letters' })).statusCode).toBe(401);
    expect((await http.inject({ method: 'GET', url: '/dead-letters', headers: bearer() })).statusCode).toBe(200);
  });
});
