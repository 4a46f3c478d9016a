import type { Message, Producer } from 'kafkajs';

interface Queued {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Bytes of keys and values per produce request. A broker refuses a whole request whose record
 * batch for one partition passes `message.max.bytes` (1 MB by default): coalescing without a
 * byte bound turned one large event, or many concurrent ones, into a failure of every caller
 * in the request. A message larger than this still goes alone, so only its own caller fails.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

function size(message: Message): number {
  const bytes = (v: Message['key'] | Message['value']) => (v === null || v === undefined ? 0 : Buffer.byteLength(v));
  return bytes(message.key) + bytes(message.value);
}

/**
 * Sends records through one producer, coalescing whatever arrives while a request is in
 * flight into the next request. kafkajs has no linger.ms: without this, concurrent callers
 * (HTTP requests, worker handlers) each pay a full produce round trip, one after the other,
 * since an idempotent producer keeps a single request in flight.
 */
export class BatchingSender {
  private readonly producer: Producer;
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private queue: Queued[] = [];
  private inFlight = false;

  constructor(producer: Producer, maxBatch = 1000, maxBytes = MAX_REQUEST_BYTES) {
    this.producer = producer;
    this.maxBatch = maxBatch;
    this.maxBytes = maxBytes;
  }

  send(topic: string, message: Message): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, resolve, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    let count = 0;
    let bytes = 0;
    for (const q of this.queue) {
      const next = size(q.message);
      if (count > 0 && (count >= this.maxBatch || bytes + next > this.maxBytes)) break;
      count += 1;
      bytes += next;
    }
    const batch = this.queue.splice(0, count);
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      const list = byTopic.get(q.topic) ?? [];
      list.push(q.message);
      byTopic.set(q.topic, list);
    }
    try {
      await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      for (const q of batch) q.resolve();
    } catch (err) {
      for (const q of batch) q.reject(err);
    } finally {
      this.inFlight = false;
      void this.flush();
    }
  }
}
