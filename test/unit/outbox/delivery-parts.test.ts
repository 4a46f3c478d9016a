import { describe, expect, it } from 'vitest';
import type { InputRecord } from '../../../src/broker/records.ts';
import { outboxRecord } from '../../../src/engine/outbox-records.ts';
import { DeliveryMetrics } from '../../../src/outbox/metrics.ts';
import { readOutboxRecord } from '../../../src/outbox/outbox-command.ts';
import { PartitionWindow } from '../../../src/outbox/partition-window.ts';
import { idempotencyKey, restRequest } from '../../../src/outbox/rest-request.ts';
import { Slots } from '../../../src/outbox/slots.ts';

describe('the REST request of a command', () => {
  const id = { sagaId: 'order-1', revision: 3, label: 'sendEmail' };
  const envelope = '{"messageLabel":"sendEmail","messagePayload":{"to":"a@b.c"}}';

  it('follows Flow Manager: {method} {protocol}://{endpoint}:{port}{path}, body {key, value}, the configured headers', () => {
    const request = restRequest({ protocol: 'https', endpoint: 'mail.internal', port: 8443, method: 'PUT', path: '/commands', headers: { Authorization: 'Bearer s3cret' } }, id, envelope);
    expect(request).toEqual({
      method: 'PUT',
      url: 'https://mail.internal:8443/commands',
      target: 'PUT https://mail.internal:8443/commands',
      headers: { Authorization: 'Bearer s3cret', 'content-type': 'application/json', 'Idempotency-Key': 'order-1:3:sendEmail' },
      body: '{"key":"order-1","value":{"messageLabel":"sendEmail","messagePayload":{"to":"a@b.c"}}}',
    });
    expect(JSON.parse(request.body)).toEqual({ key: 'order-1', value: { messageLabel: 'sendEmail', messagePayload: { to: 'a@b.c' } } });
    expect(request.target).not.toContain('s3cret');
  });

  it('defaults to http, POST and path "/", and the protocol port', () => {
    const request = restRequest({ endpoint: 'svc' }, id, envelope);
    expect([request.method, request.url]).toEqual(['POST', 'http://svc/']);
    expect(restRequest({ endpoint: 'svc', path: 'in', port: 80 }, id, envelope).url).toBe('http://svc:80/in');
  });

  it('keeps a content type of the channel, and its Idempotency-Key cannot be replaced by a configured header', () => {
    const request = restRequest({ endpoint: 'svc', headers: { 'Content-Type': 'application/vnd.orders+json', 'idempotency-key': 'fixed' } }, { ...id, attempt: 2 }, envelope);
    expect(request.headers).toEqual({ 'Content-Type': 'application/vnd.orders+json', 'Idempotency-Key': 'order-1:3:sendEmail:2' });
  });

  it('names one send with its Idempotency-Key: <sagaId>:<revision>:<label>[:<attempt>]', () => {
    expect(idempotencyKey(id)).toBe('order-1:3:sendEmail');
    expect(idempotencyKey({ ...id, attempt: 1 })).toBe('order-1:3:sendEmail:1');
    expect(idempotencyKey({ ...id, revision: 4 })).not.toBe(idempotencyKey(id));
  });
});

describe('reading an outbox record', () => {
  const written = outboxRecord({ topic: 'o', channels: new Set(['mail']) }, 0, { sagaId: 's', label: 'sendEmail', channel: 'mail', payload: { x: 1 }, kind: 'sideEffect', attempt: 1, revision: 2 }, { 'sagaflow-revision': '2', 'sagaflow-command-kind': 'sideEffect', 'sagaflow-attempt': '1' });
  const asRead = (edit: Partial<InputRecord> = {}): InputRecord => ({
    topic: 'o',
    partition: 0,
    offset: 7n,
    key: Buffer.from('s'),
    value: written.value,
    headers: Object.fromEntries(Object.entries(written.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
    timestamp: 0,
    ...edit,
  });

  it('gives back what the task wrote, the attempt from the second send on', () => {
    expect(readOutboxRecord(asRead())).toEqual({ command: { sagaId: 's', channel: 'mail', label: 'sendEmail', revision: 2, envelope: '{"messageLabel":"sendEmail","messagePayload":{"x":1}}' } });
    const retried = readOutboxRecord(asRead({ headers: { ...asRead().headers, 'sagaflow-attempt': Buffer.from('3') } }));
    expect('command' in retried && retried.command.attempt).toBe(3);
    expect('command' in retried && idempotencyKey(retried.command)).toBe('s:2:sendEmail:3');
    const { 'sagaflow-attempt': _attempt, ...older } = asRead().headers;
    expect(readOutboxRecord(asRead({ headers: older }))).toEqual(readOutboxRecord(asRead()));
  });

  it.each([
    [{ key: null }, /has no key/],
    [{ value: Buffer.from('{oops') }, /is not JSON/],
    [{ value: Buffer.from('{"messageLabel":"other"}') }, /not the envelope of "sendEmail"/],
    [{ headers: {} }, /lacks the sagaflow-channel or sagaflow-command-label header/],
    [{ headers: { 'sagaflow-channel': Buffer.from('mail'), 'sagaflow-command-label': Buffer.from('sendEmail'), 'sagaflow-revision': Buffer.from('x') } }, /revision header/],
    [{ headers: { 'sagaflow-channel': Buffer.from('mail'), 'sagaflow-command-label': Buffer.from('sendEmail'), 'sagaflow-revision': Buffer.from('1'), 'sagaflow-attempt': Buffer.from('0') } }, /attempt header/],
  ] as [Partial<InputRecord>, RegExp][])('refuses a record that sagaflow did not write (%#)', (edit, error) => {
    const read = readOutboxRecord(asRead(edit));
    expect('error' in read && read.error).toMatch(error);
  });
});

describe('the commit position of a partition', () => {
  it('stops at the first record not finished, whatever finished after it', () => {
    const w = new PartitionWindow();
    for (const o of [10n, 11n, 12n, 13n]) w.add(o);
    expect(w.commitPosition()).toBe(10n);
    w.finish(12n);
    w.finish(11n);
    expect(w.commitPosition()).toBe(10n);
    expect(w.pending).toBe(2);
    w.finish(10n);
    expect(w.commitPosition()).toBe(13n);
    w.committed(13n);
    expect(w.commitPosition()).toBeUndefined();
    w.finish(13n);
    expect(w.commitPosition()).toBe(14n);
    expect(w.pending).toBe(0);
  });

  it('goes past commit markers to the end the member reached, once everything is finished', () => {
    const w = new PartitionWindow();
    w.reachedEnd(5n);
    expect(w.commitPosition()).toBe(5n);
    w.committed(5n);
    w.add(6n);
    w.reachedEnd(8n);
    expect(w.commitPosition()).toBe(6n);
    w.finish(6n);
    expect(w.commitPosition()).toBe(8n);
    w.reachedEnd(7n);
    expect(w.commitPosition()).toBe(8n);
  });

  it('keeps its memory bounded on a partition that never idles', () => {
    const w = new PartitionWindow();
    for (let i = 0n; i < 10_000n; i++) {
      w.add(i);
      w.finish(i);
    }
    expect(w.commitPosition()).toBe(10_000n);
    expect(w.pending).toBe(0);
  });
});

describe('slots', () => {
  it('lets at most `size` holders in and hands a released slot to the first waiter', async () => {
    const slots = new Slots(2);
    await slots.acquire();
    await slots.acquire();
    const order: number[] = [];
    const third = slots.acquire().then(() => order.push(3));
    const fourth = slots.acquire().then(() => order.push(4));
    await Promise.resolve();
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual([3]);
    expect(slots.inUse).toBe(2);
    slots.release();
    await fourth;
    slots.release();
    slots.release();
    expect(slots.inUse).toBe(0);
    expect(() => new Slots(0)).toThrow(RangeError);
  });
});

describe('delivery metrics', () => {
  it('counts per channel on prom-client, every channel shown from the start, with a request-duration histogram', async () => {
    const m = new DeliveryMetrics(['mail', 'crm']);
    m.request('mail', 0.004);
    m.request('mail', 0.2);
    m.request('mail', 99);
    m.delivered('mail');
    m.retried('mail');
    m.failed('crm');
    m.pending = () => 3;
    const text = await m.toPrometheus();
    expect(text).toContain('sagaflow_rest_deliveries_total{channel="mail"} 1');
    expect(text).toContain('sagaflow_rest_deliveries_total{channel="crm"} 0');
    expect(text).toContain('sagaflow_rest_delivery_retries_total{channel="mail"} 1');
    expect(text).toContain('sagaflow_rest_delivery_failures_total{channel="crm"} 1');
    expect(text).toContain('sagaflow_rest_request_duration_seconds_bucket{le="0.005",channel="mail"} 1');
    expect(text).toContain('sagaflow_rest_request_duration_seconds_bucket{le="0.25",channel="mail"} 2');
    expect(text).toContain('sagaflow_rest_request_duration_seconds_bucket{le="+Inf",channel="mail"} 3');
    expect(text).toContain('sagaflow_rest_request_duration_seconds_count{channel="mail"} 3');
    expect(text).toContain('sagaflow_rest_request_duration_seconds_count{channel="crm"} 0');
    expect(text).toContain('sagaflow_rest_deliveries_pending 3');
    expect(m.totals()).toEqual({ deliveries: 1, retries: 1, failures: 1, requests: 3 });
    expect(await new DeliveryMetrics(['a"b']).toPrometheus()).toContain('{channel="a\\"b"}');
  });
});
