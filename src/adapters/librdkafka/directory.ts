import type { KafkaConsumer, Message, Producer } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { BrokerClientConfig, TopicPartition } from '../../broker/ports.ts';
import type { LibrdkafkaTopicAdmin } from './admin.ts';
import { clusterConfig, routeLogs } from './config.ts';
import { classifyRdkafkaError, rdCall } from './errors.ts';
import { rdkafka } from './native.ts';

/** One member's claim: where it serves HTTP and which partitions it owns, as it last said. */
interface Claim {
  url: string;
  partitions: TopicPartition[];
  /** Position of the claim in the directory topic: the later claim of a partition wins. */
  offset: number;
}

/**
 * Who owns which partition, for interactive queries, kept in a compacted one-partition topic
 * `<groupId>-instances`: each member writes `{url, partitions}` under its token after every
 * assignment change (a tombstone when it leaves) and every member reads the topic from the
 * start and follows it. A partition belongs to the latest claim that names it, in log order,
 * so a member that died without leaving is superseded as soon as the partition's next owner
 * claims it.
 *
 * Why not DescribeGroups, as the kafkajs adapter does through the assignor's userData:
 * librdkafka 2.15's coordinator-routed admin requests (DescribeConsumerGroups,
 * ListConsumerGroupOffsets) abort the whole process with "rd_kafka_enq_once_del_source_return:
 * Assertion `eonce->refcnt > 0' failed" when the connection drops while one is in flight
 * (confluentinc/librdkafka#4605, fix proposed in #5397, not released): seen here during a
 * broker restart. The directory uses only produce and fetch.
 */
export class InstanceDirectory {
  readonly topic: string;
  private readonly config: BrokerClientConfig;
  private readonly admin: () => Promise<LibrdkafkaTopicAdmin>;
  private readonly log: Logger;
  private readonly claims = new Map<string, Claim>();
  private producer: Producer | undefined;
  private consumer: KafkaConsumer | undefined;
  private reading: Promise<void> | undefined;
  private stopping = false;
  /** Offset of the next directory record to read. */
  private position = 0;
  /** Claims of this member, written one after the other. */
  private writes: Promise<void> = Promise.resolve();

  constructor(config: BrokerClientConfig, groupId: string, admin: () => Promise<LibrdkafkaTopicAdmin>) {
    this.config = config;
    this.topic = `${groupId}-instances`;
    this.admin = admin;
    this.log = config.logger.child({ component: 'instance-directory', topic: this.topic });
  }

  async start(): Promise<void> {
    await (await this.admin()).createTopics([{ topic: this.topic, partitions: 1, config: { 'cleanup.policy': 'compact', 'segment.ms': String(60 * 60_000) } }]);
    const { Producer, KafkaConsumer } = rdkafka();
    const producer = new Producer({ ...clusterConfig({ ...this.config, clientId: `${this.config.clientId}-directory` }), 'enable.idempotence': true, 'linger.ms': 0, partitioner: 'murmur2_random' });
    routeLogs(producer, this.config);
    await rdCall((cb) => producer.connect({ timeout: 30_000 }, (err) => cb(err)));
    producer.setPollInBackground(true);
    this.producer = producer;
    const consumer: KafkaConsumer = new KafkaConsumer(
      {
        ...clusterConfig({ ...this.config, clientId: `${this.config.clientId}-directory` }),
        // Never subscribed and never committing: the group id joins nothing.
        'group.id': `${this.topic}-reader`,
        'enable.auto.commit': false,
        'fetch.wait.max.ms': 200,
      },
      {},
    );
    routeLogs(consumer, this.config);
    await rdCall((cb) => consumer.connect({ timeout: 30_000 }, (err) => cb(err)));
    consumer.setDefaultConsumeTimeout(500);
    consumer.assign([{ topic: this.topic, partition: 0, offset: 0 }]);
    this.consumer = consumer;
    this.reading = this.follow(consumer);
  }

  private async follow(consumer: KafkaConsumer): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(500, (err, m) => (err ? reject(err) : resolve(m ?? []))));
        failures = 0;
        for (const m of messages) this.apply(m);
      } catch (err) {
        failures += 1;
        if (failures === 1 || failures % 50 === 0) this.log.warn({ err: classifyRdkafkaError(err).message }, 'reading the instance directory failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * failures)));
      }
    }
  }

  private apply(m: Message): void {
    this.position = m.offset + 1;
    const token = m.key === null || m.key === undefined ? undefined : m.key.toString();
    if (!token) return;
    if (m.value === null) {
      this.claims.delete(token);
      return;
    }
    try {
      const parsed = JSON.parse(m.value.toString('utf8')) as { url?: unknown; partitions?: unknown };
      if (typeof parsed.url !== 'string' || !Array.isArray(parsed.partitions)) return;
      const partitions = parsed.partitions.filter((p): p is TopicPartition => typeof (p as TopicPartition)?.topic === 'string' && Number.isInteger((p as TopicPartition)?.partition));
      this.claims.set(token, { url: parsed.url, partitions, offset: m.offset });
    } catch {
      // Not one of ours: ignored.
    }
  }

  /** Writes this member's claim (null: it leaves), after the ones before it. */
  claim(token: string, url: string, partitions: TopicPartition[] | null): Promise<void> {
    const producer = this.producer;
    if (!producer) return Promise.resolve();
    const value = partitions === null ? null : Buffer.from(JSON.stringify({ url, partitions }));
    this.writes = this.writes
      .then(() => new Promise<void>((resolve) => {
        try {
          producer.produce(this.topic, 0, value, Buffer.from(token), null);
          producer.flush(10_000, () => resolve());
        } catch (err) {
          this.log.warn({ err: classifyRdkafkaError(err).message }, 'writing to the instance directory failed');
          resolve();
        }
      }));
    return this.writes;
  }

  /** partition -> the member that claimed it last, for `topic`. */
  owners(topic: string): Map<number, { memberId: string; url: string }> {
    const best = new Map<number, { memberId: string; url: string; offset: number }>();
    for (const [token, claim] of this.claims) {
      for (const tp of claim.partitions) {
        if (tp.topic !== topic) continue;
        const current = best.get(tp.partition);
        if (!current || claim.offset > current.offset) best.set(tp.partition, { memberId: token, url: claim.url, offset: claim.offset });
      }
    }
    return new Map([...best].map(([p, { memberId, url }]) => [p, { memberId, url }]));
  }

  /** Waits until the reader has caught up with the topic's end as it is now (fresh answers). */
  async caughtUp(timeoutMs = 2_000): Promise<void> {
    const end = (await (await this.admin()).watermarks(this.topic)).get(0)?.high ?? 0n;
    const deadline = Date.now() + timeoutMs;
    while (BigInt(this.position) < end && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.writes;
    await this.reading?.catch(() => undefined);
    const done = (c: { disconnect(cb?: () => void): unknown } | undefined) =>
      new Promise<void>((resolve) => {
        if (!c) return resolve();
        try {
          c.disconnect(() => resolve());
        } catch {
          resolve();
        }
      });
    await Promise.all([done(this.consumer), done(this.producer)]);
  }
}
