import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BrokerError } from '../../../src/broker/errors.ts';
import { DeliveryTracker } from '../../../src/adapters/librdkafka/delivery.ts';
import type { DeliveryProducer } from '../../../src/adapters/librdkafka/delivery.ts';

/** Stands in for librdkafka's producer: keeps each message's opaque until the test reports it. */
class FakeProducer extends EventEmitter {
  readonly queued: unknown[] = [];
  produce(_topic: string, _partition: number | null, _value: unknown, _key: unknown, _ts: unknown, opaque: unknown): boolean {
    this.queued.push(opaque);
    return true;
  }
  report(index: number, offset: number, err: unknown = null): void {
    this.emit('delivery-report', err, { opaque: this.queued[index], offset });
  }
}

const record = (n: number) => ({ topic: 't', partition: 0, key: `k${n}`, value: Buffer.from('v') });

describe('librdkafka delivery tracker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function tracker(deadline = 10_000) {
    const producer = new FakeProducer();
    const wedged: BrokerError[] = [];
    const t = new DeliveryTracker(producer as unknown as DeliveryProducer, { reportDeadlineMs: deadline, onWedged: (err) => wedged.push(err), checkEveryMs: 100 });
    return { producer, wedged, t };
  }

  it('resolves a call with each record offset once every record is reported', async () => {
    const { producer, wedged, t } = tracker();
    const sent = t.send([record(1), record(2)]);
    producer.report(1, 8);
    producer.report(0, 7);
    await expect(sent).resolves.toEqual([7n, 8n]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(wedged).toEqual([]);
    expect(t.wedgedBy).toBeUndefined();
  });

  it('fails a call librdkafka never reports at its deadline, says the producer is wedged once, and fails later calls at once', async () => {
    const { producer, wedged, t } = tracker(10_000);
    const stuck = t.send([record(1)]);
    stuck.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(5_000);
    const behind = t.send([record(2)]);
    behind.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(wedged).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_200);
    expect(wedged).toHaveLength(1);
    const err = await stuck.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).kind).toBe('retryable');
    expect((err as BrokerError).message).toMatch(/no delivery for 10 s/);
    // The call queued behind it fails too, before its own deadline.
    await expect(behind).rejects.toBe(err);
    const refused: unknown[] = [];
    await expect(t.send([record(3)], (e) => refused.push(e))).rejects.toBe(err);
    expect(refused).toEqual([err]);
    expect(producer.queued).toHaveLength(2);
    // A report arriving after all changes nothing.
    producer.report(0, 1);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(wedged).toHaveLength(1);
  });

  it('measures the deadline from when a call was queued, not from the oldest call ever made', async () => {
    const { producer, wedged, t } = tracker(10_000);
    const first = t.send([record(1)]);
    await vi.advanceTimersByTimeAsync(8_000);
    producer.report(0, 1);
    await expect(first).resolves.toEqual([1n]);
    const second = t.send([record(2)]);
    await vi.advanceTimersByTimeAsync(8_000);
    producer.report(1, 2);
    await expect(second).resolves.toEqual([2n]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(wedged).toEqual([]);
  });

  it('passes a failed report on as the call failure; only a local message timeout wedges the producer', async () => {
    const { producer, wedged, t } = tracker();
    const tooLarge = t.send([record(1)]);
    producer.report(0, -1, { code: 10, message: 'Broker: Message size too large' });
    await expect(tooLarge).rejects.toMatchObject({ kind: 'permanent', reason: 'record-too-large' });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(wedged).toEqual([]);
    const timedOut = t.send([record(2)]);
    const other = t.send([record(3)]);
    producer.report(1, -1, { code: -192, message: 'Local: Message timed out' });
    await expect(timedOut).rejects.toMatchObject({ kind: 'retryable' });
    expect(wedged).toHaveLength(1);
    await expect(other).rejects.toBe(wedged[0]);
  });
});
