import type { Message, Producer } from 'kafkajs';

interface Queued {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
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
  private queue: Queued[] = [];
  private inFlight = false;

  constructor(producer: Producer, maxBatch = 1000) {
    this.producer = producer;
    this.maxBatch = maxBatch;
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
    const batch = this.queue.splice(0, this.maxBatch);
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
