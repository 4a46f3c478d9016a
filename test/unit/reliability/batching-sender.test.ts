import type { Producer, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BatchingSender } from '../../../src/adapters/kafkajs/batching-sender.ts';

/** A producer that refuses, like a broker, any request above `limit` bytes of keys and values. */
function fakeProducer(limit: number) {
  const requests: number[] = [];
  const producer = {
    async sendBatch(batch: ProducerBatch) {
      await new Promise((r) => setTimeout(r, 5));
      const bytes = (batch.topicMessages ?? []).flatMap((t) => t.messages).reduce((n, m) => n + Buffer.byteLength(m.key ?? '') + Buffer.byteLength(m.value ?? ''), 0);
      requests.push(bytes);
      if (bytes > limit) throw Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' });
      return [];
    },
  } as unknown as Producer;
  return { producer, requests };
}

// Regression: the sender coalesced up to 1000 queued records into one request whatever their
// size; concurrent callers whose records together passed the broker's limit all failed, and
// one large record failed every caller that shared its request.
describe('BatchingSender', () => {
  it('keeps every request under its byte budget, so concurrent callers all succeed', async () => {
    const { producer, requests } = fakeProducer(1_000_000);
    const sender = new BatchingSender(producer);
    const value = 'v'.repeat(100_000);
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => sender.send('events', { key: `k${i}`, value })));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(Math.max(...requests)).toBeLessThanOrEqual(512 * 1024);
    expect(requests.length).toBeGreaterThan(1);
  });

  it('sends a record above the budget alone, so only its caller fails', async () => {
    const { producer } = fakeProducer(1_000_000);
    const sender = new BatchingSender(producer);
    const first = sender.send('events', { key: 'warm-up', value: 'x' });
    const small = Array.from({ length: 5 }, (_, i) => sender.send('events', { key: `small${i}`, value: 'ok' }));
    const huge = sender.send('events', { key: 'huge', value: 'h'.repeat(1_040_000) });
    const after = sender.send('events', { key: 'after', value: 'ok' });
    await expect(first).resolves.toBeUndefined();
    await expect(Promise.all(small)).resolves.toHaveLength(5);
    await expect(huge).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    await expect(after).resolves.toBeUndefined();
  });
});
