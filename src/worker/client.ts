import pino from 'pino';
import type { Logger } from 'pino';
import { createBrokerClient } from '../adapters/select.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, ClientName, GroupMember, RecordProducer } from '../broker/ports.ts';
import { headersToStrings } from '../broker/records.ts';
import type { InputRecord } from '../broker/records.ts';
import type { Envelope, ProcessorCodec } from '../kafka/codec.ts';
import { DEFAULT_KAFKA_CLIENT } from '../runtime/env.ts';

export type CommandHandler = (command: { sagaId: string; label: string; payload: unknown; headers: Record<string, string> }) => Promise<void> | void;

export interface WorkerOptions {
  brokers: readonly string[];
  /** The Kafka client (default: sagaflow's default, as SAGAFLOW_KAFKA_CLIENT). */
  client?: ClientName;
  ssl?: boolean | Record<string, unknown>;
  sasl?: { mechanism: string; username: string; password: string };
  codec: ProcessorCodec;
  commandsTopic: string;
  eventsTopic: string;
  groupId: string;
  clientId?: string;
  logger?: Logger;
}

/**
 * A small client for services that take part in sagas, in the spirit of Flow Manager's
 * client library: `onCommand(label, handler)` to react to commands and `emit(label, sagaId,
 * payload)` to answer with events. Commands are read with read_committed, so a command of
 * an aborted orchestrator transaction is never seen. Handlers run in order per partition and
 * in parallel across partitions; a handler that throws stops the worker without committing
 * its position, so the command is delivered again after a restart.
 */
export class SagaWorker {
  private readonly opts: WorkerOptions;
  private readonly handlers = new Map<string, CommandHandler>();
  private client: BrokerClient | undefined;
  private member: GroupMember | undefined;
  private producer: RecordProducer | undefined;
  private eventPartitions = 0;
  private failed: unknown;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
  }

  onCommand(label: string, handler: CommandHandler): this {
    this.handlers.set(label, handler);
    return this;
  }

  async emit(label: string, sagaId: string, payload: unknown = {}, eventId?: string): Promise<void> {
    if (!this.producer) throw new Error('worker not started: call start() first');
    const envelope: Envelope = { messageLabel: label, messagePayload: payload };
    if (eventId !== undefined) envelope.eventId = eventId;
    const value = await this.opts.codec.encodeEvent(this.opts.eventsTopic, envelope);
    // The saga's partition, as the orchestrator computes it (murmur2, like Java clients).
    await this.producer.send([{ topic: this.opts.eventsTopic, partition: partitionForKey(sagaId, this.eventPartitions), key: sagaId, value }]);
  }

  async start(): Promise<void> {
    const { opts } = this;
    const logger = opts.logger ?? pino({ level: 'warn' });
    const client = await createBrokerClient(opts.client ?? DEFAULT_KAFKA_CLIENT, {
      brokers: opts.brokers,
      clientId: opts.clientId ?? opts.groupId,
      logger,
      ...(opts.ssl === undefined ? {} : { ssl: opts.ssl }),
      ...(opts.sasl ? { sasl: opts.sasl } : {}),
    });
    this.client = client;
    const admin = await client.admin();
    try {
      const count = (await admin.partitionCounts([opts.eventsTopic])).get(opts.eventsTopic);
      if (!count) throw new Error(`events topic "${opts.eventsTopic}" does not exist`);
      this.eventPartitions = count;
    } finally {
      await admin.close();
    }
    this.producer = await client.producer();
    const member = client.groupMember({ groupId: opts.groupId, topics: [opts.commandsTopic], advertisedUrl: '', fromBeginning: true, maxWaitMs: 100 });
    this.member = member;
    await member.start({
      onAssigned: async () => undefined,
      onRevoked: async () => undefined,
      onRecords: (records) => this.handle(member, records),
      onFatal: (err) => {
        this.failed = err;
        logger.error({ err }, 'worker consumer failed');
      },
    });
  }

  private async handle(member: GroupMember, records: readonly InputRecord[]): Promise<void> {
    if (this.failed !== undefined) return;
    const byPartition = new Map<number, InputRecord[]>();
    for (const r of records) {
      let list = byPartition.get(r.partition);
      if (!list) byPartition.set(r.partition, (list = []));
      list.push(r);
    }
    try {
      await Promise.all(
        [...byPartition].map(async ([partition, list]) => {
          for (const record of list) {
            if (!record.key) continue;
            const envelope = await this.opts.codec.decodeCommand(this.opts.commandsTopic, record.value);
            const handler = this.handlers.get(envelope.messageLabel);
            if (handler) await handler({ sagaId: record.key.toString('utf8'), label: envelope.messageLabel, payload: envelope.messagePayload, headers: headersToStrings(record.headers) });
          }
          const last = list[list.length - 1];
          if (last) await member.commit([{ topic: this.opts.commandsTopic, partition, offset: last.offset + 1n }]);
        }),
      );
    } catch (err) {
      // The position stays where it is: the command is delivered again after a restart.
      this.failed = err;
      (this.opts.logger ?? pino({ level: 'warn' })).error({ err }, 'command handler failed; the worker stops');
      void this.stop();
    }
  }

  async stop(): Promise<void> {
    const member = this.member;
    this.member = undefined;
    await member?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    this.producer = undefined;
    await this.client?.close().catch(() => undefined);
  }
}
