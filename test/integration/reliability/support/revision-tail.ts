import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { ProcessorCodec } from '../../../../src/kafka/codec.ts';
import type { SagaDocument } from '../../../../src/saga/types.ts';

/**
 * Keeps every committed revision of a few sagas while a long run goes on. The changelog is
 * compacted (64 MiB segments): over an hour the cleaner drops the early revisions of sagas
 * updated often, and the end-of-run read no longer holds the ignored events their documents
 * have since shifted out of their window. This tail reads the changelog read_committed from
 * the start of the run, so each revision is kept before compaction can remove it; the
 * end-of-run read is merged in (`mergeInto`) for what the tail had not reached yet.
 */
export class RevisionTail {
  private readonly consumer: Consumer;
  private readonly kept = new Map<string, SagaDocument[]>();
  private failures = 0;
  private readonly codec: ProcessorCodec;
  private readonly topic: string;
  private readonly keys: ReadonlySet<string>;

  constructor(kafka: Kafka, codec: ProcessorCodec, topic: string, keys: ReadonlySet<string>) {
    this.codec = codec;
    this.topic = topic;
    this.keys = keys;
    this.consumer = kafka.consumer({ groupId: `reliability-tail-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 500 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const key = message.key?.toString();
        if (key === undefined || !this.keys.has(key) || message.value === null) return;
        try {
          const doc = await this.codec.decodeSaga(this.topic, message.value);
          const list = this.kept.get(key) ?? [];
          list.push(doc);
          this.kept.set(key, list);
        } catch {
          // Counted, not thrown: kafkajs would retry the batch and keep duplicates.
          this.failures += 1;
        }
      },
    });
  }

  /** Revisions that could not be decoded (the checks fail on the missing ones anyway). */
  get undecodable(): number {
    return this.failures;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  /** Adds the kept revisions to `revisions` (sagaId -> documents, read at the end of the run). */
  mergeInto(revisions: Map<string, SagaDocument[]>): void {
    for (const [key, docs] of this.kept) revisions.set(key, [...docs, ...(revisions.get(key) ?? [])]);
  }
}
