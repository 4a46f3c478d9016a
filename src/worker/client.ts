import pino from 'pino';
import type { Logger } from 'pino';
import { createBrokerClient } from '../adapters/select.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, ClientName, GroupMember, RecordProducer } from '../broker/ports.ts';
import { headersToStrings } from '../broker/records.ts';
import type { InputRecord } from '../broker/records.ts';
import type { Envelope, ProcessorCodec } from '../kafka/codec.ts';
import { DEFAULT_KAFKA_CLIENT } from '../runtime/env.ts';

/** What a handler may answer: `{commit: false}` leaves the command's position uncommitted (see `handle`). */
export interface CommandOutcome {
  commit: boolean;
}

/** Runs one command; may resolve to a CommandOutcome (anything else counts as done). */
export type CommandHandler = (command: { sagaId: string; label: string; payload: unknown; headers: Record<string, string> }) => unknown;

function leftUncommitted(outcome: unknown): boolean {
  return typeof outcome === 'object' && outcome !== null && (outcome as Partial<CommandOutcome>).commit === false;
}

export interface WorkerOptions {
  brokers: readonly string[];
  /** The Kafka client (default: sagaflow's default, as SAGAFLOW_KAFKA_CLIENT). */
  client?: ClientName;
  ssl?: boolean | Record<string, unknown>;
  sasl?: { mechanism: string; username: string; password: string };
  codec: ProcessorCodec;
  /** Where commands are read; absent: the worker only emits events. */
  commandsTopic?: string;
  /** Where events are written; absent: the worker only executes commands. */
  eventsTopic?: string;
  /** The consumer group of the command reader (required with `commandsTopic`). */
  groupId?: string;
  clientId?: string;
  logger?: Logger;
  /** A command that cannot be decoded is skipped (logged, its position committed) instead of stopping the worker. */
  skipUndecodable?: boolean;
  /** Called for each command skipped because it could not be decoded. */
  onSkipped?: (command: { sagaId: string; error: unknown }) => void;
  /**
   * A fetched batch whose handlers have not all finished after this long is logged as a
   * warning, again each time it passes (default 60 s): while handlers run the consumer does
   * not poll, and past the client's max.poll.interval.ms (300 s) it leaves its group, which
   * would otherwise go unnoticed.
   */
  slowBatchWarningMs?: number;
}

/** Default of WorkerOptions.slowBatchWarningMs. */
export const SLOW_BATCH_WARNING_MS = 60_000;

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
  private started = false;

  private readonly log: Logger;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? pino({ level: 'warn' });
  }

  onCommand(label: string, handler: CommandHandler): this {
    this.handlers.set(label, handler);
    return this;
  }

  async emit(label: string, sagaId: string, payload: unknown = {}, eventId?: string): Promise<void> {
    const topic = this.opts.eventsTopic;
    if (topic === undefined) throw new Error('events emitter component not configured');
    if (!this.producer) throw new Error('worker not started: call start() first');
    const envelope: Envelope = { messageLabel: label, messagePayload: payload };
    if (eventId !== undefined) envelope.eventId = eventId;
    const value = await this.opts.codec.encodeEvent(topic, envelope);
    // The saga's partition, as the orchestrator computes it (murmur2, like Java clients).
    await this.producer.send([{ topic, partition: partitionForKey(sagaId, this.eventPartitions), key: sagaId, value }]);
  }

  /** False once the worker failed (a handler threw, the consumer stopped for good) or stopped. */
  isHealthy(): boolean {
    return this.failed === undefined;
  }

  /** Started, healthy, and (with a commands topic) a member of its group. */
  isReady(): boolean {
    if (!this.started || !this.isHealthy()) return false;
    if (this.opts.commandsTopic !== undefined && this.member?.memberId() === undefined) return false;
    return this.opts.eventsTopic === undefined || this.producer !== undefined;
  }

  async start(): Promise<void> {
    const { opts } = this;
    const logger = this.log;
    const client = await createBrokerClient(opts.client ?? DEFAULT_KAFKA_CLIENT, {
      brokers: opts.brokers,
      clientId: opts.clientId ?? opts.groupId ?? 'sagaflow-worker',
      logger,
      ...(opts.ssl === undefined ? {} : { ssl: opts.ssl }),
      ...(opts.sasl ? { sasl: opts.sasl } : {}),
    });
    this.client = client;
    if (opts.commandsTopic === undefined && opts.eventsTopic === undefined) throw new Error('configure a commands topic, an events topic or both');
    if (opts.eventsTopic !== undefined) {
      const admin = await client.admin();
      try {
        const count = (await admin.partitionCounts([opts.eventsTopic])).get(opts.eventsTopic);
        if (!count) throw new Error(`events topic "${opts.eventsTopic}" does not exist`);
        this.eventPartitions = count;
      } finally {
        await admin.close();
      }
      this.producer = await client.producer();
    }
    this.started = true;
    if (opts.commandsTopic === undefined) return;
    if (opts.groupId === undefined) throw new Error('a commands topic needs a groupId');
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

  /**
   * Runs the handlers of one fetched batch, in order per partition, in parallel across
   * partitions. A partition's position moves past the last command whose handler did not
   * answer `{commit: false}` (a command without key or handler counts as done): an
   * uncommitted command is delivered again after a restart unless a later one of its
   * partition was committed (positions are offsets; Flow Manager's client behaves the same).
   */
  private async handle(member: GroupMember, records: readonly InputRecord[]): Promise<void> {
    if (this.failed !== undefined) return;
    const topic = this.opts.commandsTopic as string;
    const byPartition = new Map<number, InputRecord[]>();
    for (const r of records) {
      let list = byPartition.get(r.partition);
      if (!list) byPartition.set(r.partition, (list = []));
      list.push(r);
    }
    const began = Date.now();
    const inFlight = new Map<number, string>();
    const every = this.opts.slowBatchWarningMs ?? SLOW_BATCH_WARNING_MS;
    const slow = setInterval(() => {
      const sagas = Object.fromEntries([...inFlight].map(([partition, sagaId]) => [String(partition), sagaId]));
      this.log.warn({ seconds: Math.round((Date.now() - began) / 1000), records: records.length, inFlight: sagas }, 'command handlers still running; past max.poll.interval.ms the consumer leaves its group');
    }, every);
    slow.unref();
    try {
      await Promise.all(
        [...byPartition].map(async ([partition, list]) => {
          let commitTo: bigint | undefined;
          for (const record of list) {
            const done = record.offset + 1n;
            if (!record.key) {
              commitTo = done;
              continue;
            }
            const sagaId = record.key.toString('utf8');
            inFlight.set(partition, sagaId);
            let envelope: Envelope;
            try {
              envelope = await this.opts.codec.decodeCommand(topic, record.value);
            } catch (error) {
              if (!this.opts.skipUndecodable) throw error;
              this.log.warn({ sagaId, partition, offset: record.offset.toString(), err: error }, 'command skipped: it cannot be decoded');
              this.opts.onSkipped?.({ sagaId, error });
              commitTo = done;
              continue;
            }
            const handler = this.handlers.get(envelope.messageLabel);
            const outcome: unknown = handler ? await handler({ sagaId, label: envelope.messageLabel, payload: envelope.messagePayload, headers: headersToStrings(record.headers) }) : undefined;
            if (!leftUncommitted(outcome)) commitTo = done;
          }
          inFlight.set(partition, '(committing)');
          if (commitTo !== undefined) await member.commit([{ topic, partition, offset: commitTo }]);
          inFlight.delete(partition);
        }),
      );
    } catch (err) {
      // The position stays where it is: the command is delivered again after a restart.
      this.failed = err;
      this.log.error({ err }, 'command handler failed; the worker stops');
      void this.stop();
    } finally {
      clearInterval(slow);
    }
  }


  async stop(): Promise<void> {
    this.started = false;
    const member = this.member;
    this.member = undefined;
    await member?.stop().catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    this.producer = undefined;
    await this.client?.close().catch(() => undefined);
  }
}
