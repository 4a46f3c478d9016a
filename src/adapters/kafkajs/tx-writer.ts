import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer, RecordMetadata, Transaction } from 'kafkajs';
import { BrokerError } from '../../broker/errors.ts';
import type { GroupMember, TxWriter } from '../../broker/ports.ts';
import type { OutputRecord, TopicPartitionOffset } from '../../broker/records.ts';
import { recordBytes } from '../../broker/records.ts';
import { MAX_REQUEST_BYTES } from './batching-sender.ts';
import { kafkajsCall } from './errors.ts';

export function toKafkajsMessage(r: OutputRecord): Message {
  const m: Message = { key: r.key, value: r.value, partition: r.partition };
  if (r.headers) m.headers = r.headers;
  if (r.timestamp !== undefined) m.timestamp = String(r.timestamp);
  return m;
}

/** Records cut into produce requests of at most MAX_REQUEST_BYTES (a record above it goes alone). */
function chunks(records: readonly OutputRecord[]): OutputRecord[][] {
  const out: OutputRecord[][] = [];
  let current: OutputRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = recordBytes(r);
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * A kafkajs transactional producer. kafkajs sends one produce request per `sendBatch`, and a
 * broker refuses a whole request whose record batch for one partition passes
 * `message.max.bytes`: so records are sent in requests of bounded size, one after the other,
 * all inside the one transaction. The group metadata of KIP-447 cannot be sent (kafkajs
 * omits it), hence exactly-once v1 with a writer per partition.
 */
export class KafkajsTxWriter implements TxWriter {
  readonly transactionalId: string;
  private readonly producer: Producer;
  private tx: Transaction | undefined;
  private sends: Promise<unknown> = Promise.resolve();
  /** The first send of the open transaction that failed: it must not commit then. */
  private failure: unknown;

  private constructor(producer: Producer, transactionalId: string) {
    this.producer = producer;
    this.transactionalId = transactionalId;
  }

  static async create(kafka: Kafka, transactionalId: string, transactionTimeoutMs: number): Promise<KafkajsTxWriter> {
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // Partitions are always given (murmur2.ts); this only keeps kafkajs from warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await kafkajsCall(async () => {
      await producer.connect();
      // kafkajs sends InitProducerId (which fences the previous owner and aborts its open
      // transaction) on the first transaction() call; start and abort an empty one now.
      const fence = await producer.transaction();
      await fence.abort();
    }).catch(async (err: unknown) => {
      await producer.disconnect().catch(() => undefined);
      throw err;
    });
    return new KafkajsTxWriter(producer, transactionalId);
  }

  async begin(): Promise<void> {
    this.tx = await kafkajsCall(() => this.producer.transaction());
    this.sends = Promise.resolve();
    this.failure = undefined;
  }

  private open(): Transaction {
    if (!this.tx) throw new BrokerError('permanent', 'other', 'no transaction is open: call begin() first', { client: 'kafkajs' });
    return this.tx;
  }

  send(records: readonly OutputRecord[]): Promise<bigint[]> {
    const tx = this.open();
    const run = this.sends.then(() =>
      kafkajsCall(async () => {
        const offsets: bigint[] = [];
        for (const chunk of chunks(records)) {
          const byTopic = new Map<string, Message[]>();
          for (const r of chunk) {
            let list = byTopic.get(r.topic);
            if (!list) byTopic.set(r.topic, (list = []));
            list.push(toKafkajsMessage(r));
          }
          const metadata: RecordMetadata[] = await tx.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          // Records of one topic-partition in one request are consecutive from its baseOffset.
          const next = new Map(metadata.map((m) => [`${m.topicName}:${m.partition}`, BigInt(m.baseOffset ?? '0')]));
          for (const r of chunk) {
            const key = `${r.topic}:${r.partition}`;
            const offset = next.get(key) ?? -1n;
            offsets.push(offset);
            next.set(key, offset + 1n);
          }
        }
        return offsets;
      }),
    );
    this.sends = run.catch((err: unknown) => {
      this.failure ??= err;
    });
    return run;
  }

  async sendOffsets(offsets: readonly TopicPartitionOffset[], member: GroupMember): Promise<void> {
    const tx = this.open();
    await this.sends;
    if (this.failure !== undefined) throw this.failure;
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      let list = byTopic.get(o.topic);
      if (!list) byTopic.set(o.topic, (list = []));
      list.push({ partition: o.partition, offset: o.offset.toString() });
    }
    await kafkajsCall(() => tx.sendOffsets({ consumerGroupId: member.groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }));
  }

  async commit(): Promise<void> {
    const tx = this.open();
    await this.sends;
    // A send that failed leaves the transaction incomplete: it must be aborted, never committed.
    if (this.failure !== undefined) throw this.failure;
    this.tx = undefined;
    await kafkajsCall(() => tx.commit());
  }

  async abort(): Promise<void> {
    const tx = this.tx;
    this.tx = undefined;
    if (tx) await kafkajsCall(() => tx.abort());
  }

  async close(): Promise<void> {
    this.tx = undefined;
    await this.producer.disconnect().catch(() => undefined);
  }
}
