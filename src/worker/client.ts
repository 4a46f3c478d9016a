import { Partitioners } from 'kafkajs';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { BatchingSender } from '../kafka/batching-sender.ts';
import type { Envelope, ProcessorCodec } from '../kafka/codec.ts';

export type CommandHandler = (command: { sagaId: string; label: string; payload: unknown; headers: Record<string, string> }) => Promise<void> | void;

export interface WorkerOptions {
  kafka: Kafka;
  codec: ProcessorCodec;
  commandsTopic: string;
  eventsTopic: string;
  groupId: string;
}

/**
 * A small client for services that take part in sagas, in the spirit of Flow Manager's
 * client library: `onCommand(label, handler)` to react to commands and `emit(label, sagaId,
 * payload)` to answer with events. Commands are read with read_committed, so a command of
 * an aborted orchestrator transaction is never seen. Handlers run in partition order; a
 * handler that throws stops the worker (the offset is not committed, so the command is
 * delivered again after a restart).
 */
export class SagaWorker {
  private readonly opts: WorkerOptions;
  private readonly handlers = new Map<string, CommandHandler>();
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private sender: BatchingSender | undefined;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
  }

  onCommand(label: string, handler: CommandHandler): this {
    this.handlers.set(label, handler);
    return this;
  }

  async emit(label: string, sagaId: string, payload: unknown = {}, eventId?: string): Promise<void> {
    if (!this.sender) throw new Error('worker not started: call start() first');
    const envelope: Envelope = { messageLabel: label, messagePayload: payload };
    if (eventId !== undefined) envelope.eventId = eventId;
    await this.sender.send(this.opts.eventsTopic, { key: sagaId, value: await this.opts.codec.encodeEvent(this.opts.eventsTopic, envelope) });
  }

  async start(): Promise<void> {
    this.producer = this.opts.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
    this.sender = new BatchingSender(this.producer);
    this.consumer = this.opts.kafka.consumer({ groupId: this.opts.groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.opts.commandsTopic], fromBeginning: true });
    await this.consumer.run({
      // Partitions are independent (order only matters per saga): handle them in parallel.
      partitionsConsumedConcurrently: 16,
      eachMessage: async ({ message }) => {
        if (!message.key) return;
        const envelope = await this.opts.codec.decodeCommand(this.opts.commandsTopic, message.value);
        const handler = this.handlers.get(envelope.messageLabel);
        if (!handler) return;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
        await handler({ sagaId: message.key.toString('utf8'), label: envelope.messageLabel, payload: envelope.messagePayload, headers });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }
}
