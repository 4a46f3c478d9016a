import { Partitioners } from 'kafkajs';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { BrokerClient, BrokerClientConfig, ChangelogReader, GroupMember, GroupMemberOptions, RecordProducer, TopicAdmin, TxWriter } from '../../broker/ports.ts';
import type { OutputRecord } from '../../broker/records.ts';
import { KafkajsTopicAdmin } from './admin.ts';
import { BatchingSender } from './batching-sender.ts';
import { KafkajsChangelogReader } from './changelog-reader.ts';
import { kafkajsCall } from './errors.ts';
import { KafkajsGroupMember } from './group-member.ts';
import { kafkajsClient } from './logging.ts';
import { KafkajsTxWriter, toKafkajsMessage } from './tx-writer.ts';

class KafkajsProducer implements RecordProducer {
  private readonly producer: Producer;
  private readonly sender: BatchingSender;

  constructor(producer: Producer) {
    this.producer = producer;
    this.sender = new BatchingSender(producer);
  }

  send(records: readonly OutputRecord[]): Promise<void> {
    return kafkajsCall(async () => {
      await Promise.all(records.map((r) => this.sender.send(r.topic, toKafkajsMessage(r))));
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}

/**
 * The kafkajs adapter: exactly-once v1 (kafkajs sends no group metadata with transactional
 * offsets, KIP-447), restore through throwaway groups (no `assign()`), rebalances seen after
 * the fact (no callbacks), linger emulated by BatchingSender.
 */
export class KafkajsBrokerClient implements BrokerClient {
  readonly name = 'kafkajs' as const;
  readonly exactlyOnce = 'v1' as const;
  readonly kafka: Kafka;
  private readonly config: BrokerClientConfig;
  private sharedAdmin: Promise<Admin> | undefined;

  constructor(config: BrokerClientConfig) {
    this.config = config;
    this.kafka = kafkajsClient(config);
  }

  /** One connected kafkajs admin shared by the members and readers of this client. */
  private connectedAdmin(): Promise<Admin> {
    this.sharedAdmin ??= (async () => {
      const admin = this.kafka.admin();
      await kafkajsCall(() => admin.connect());
      return admin;
    })().catch((err: unknown) => {
      this.sharedAdmin = undefined;
      throw err;
    });
    return this.sharedAdmin;
  }

  async admin(): Promise<TopicAdmin> {
    const admin = this.kafka.admin();
    await kafkajsCall(() => admin.connect());
    return new KafkajsTopicAdmin(admin);
  }

  groupMember(opts: GroupMemberOptions): GroupMember {
    return new KafkajsGroupMember(this.kafka, () => this.connectedAdmin(), opts, this.config.logger);
  }

  txWriter(transactionalId: string, opts: { transactionTimeoutMs?: number } = {}): Promise<TxWriter> {
    return KafkajsTxWriter.create(this.kafka, transactionalId, opts.transactionTimeoutMs ?? 60_000);
  }

  changelogReader(): ChangelogReader {
    return {
      readPartition: async (topic, partition, after, onRecords, opts) => {
        const reader = new KafkajsChangelogReader({ kafka: this.kafka, admin: await this.connectedAdmin(), groupPrefix: this.config.clientId });
        return reader.readPartition(topic, partition, after, onRecords, opts);
      },
    };
  }

  async producer(): Promise<RecordProducer> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await kafkajsCall(() => producer.connect());
    return new KafkajsProducer(producer);
  }

  async close(): Promise<void> {
    const admin = this.sharedAdmin;
    this.sharedAdmin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect().catch(() => undefined);
  }
}
