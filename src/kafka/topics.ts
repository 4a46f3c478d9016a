import type { TopicAdmin, TopicSpec } from '../broker/ports.ts';
import { SagaflowError } from '../errors.ts';

/** Names of the topics one application uses. */
export interface TopicLayout {
  events: string;
  /** The other input topics (with the saga.json path naming each): co-partitioned with `events`. */
  otherInputs?: readonly { topic: string; path: string }[];
  commands: string[];
  changelog: string;
  deadLetter: string;
  /** The outbox of commands on rest channels; absent when no state sends on one. */
  outbox?: string;
}

export function changelogTopicName(applicationId: string): string {
  // Kafka Streams names changelogs <application.id>-<store>-changelog; we follow it so
  // operators recognise the topic's role.
  return `${applicationId}-sagas-changelog`;
}

export function deadLetterTopicName(applicationId: string): string {
  return `${applicationId}-dead-letter`;
}

export function outboxTopicName(applicationId: string): string {
  return `${applicationId}-outbox`;
}

/**
 * Makes sure the events, commands, changelog, outbox and dead-letter topics exist and are
 * co-partitioned. Missing topics are created (events with `defaultPartitions`, the others
 * with the events topic's count; the changelog compacted). An existing changelog with a
 * different partition count is refused: sagaId -> partition would no longer match between
 * input and state, and restore would read the wrong sagas. So is such an outbox: a
 * dispatcher reports a failed delivery on the outbox record's partition, which must be the
 * saga's. Returns every topic's count (records are routed with murmur2 over it).
 */
export async function ensureTopics(
  admin: TopicAdmin,
  layout: TopicLayout,
  opts: { defaultPartitions: number; replicationFactor: number | undefined },
): Promise<{ partitions: number; counts: Map<string, number> }> {
  const others = layout.otherInputs ?? [];
  const outbox = layout.outbox === undefined ? [] : [layout.outbox];
  const all = [...new Set([layout.events, ...others.map((o) => o.topic), layout.changelog, layout.deadLetter, ...outbox, ...layout.commands])];
  let counts = await admin.partitionCounts(all);
  const toCreate: TopicSpec[] = [];
  const partitions = counts.get(layout.events) ?? opts.defaultPartitions;
  const spec = (topic: string, config?: Record<string, string>): TopicSpec => ({
    topic,
    partitions,
    ...(opts.replicationFactor === undefined ? {} : { replicationFactor: opts.replicationFactor }),
    ...(config ? { config } : {}),
  });
  if (!counts.has(layout.events)) toCreate.push(spec(layout.events));
  if (!counts.has(layout.changelog)) {
    toCreate.push(
      spec(layout.changelog, {
        'cleanup.policy': 'compact',
        // Transactional writes; keep the log small enough to restore quickly.
        'segment.bytes': String(64 * 1024 * 1024),
      }),
    );
  }
  for (const topic of [...others.map((o) => o.topic), ...layout.commands, ...outbox, layout.deadLetter]) {
    if (!counts.has(topic) && !toCreate.some((t) => t.topic === topic)) toCreate.push(spec(topic));
  }
  if (toCreate.length > 0) {
    await admin.createTopics(toCreate);
    counts = await admin.partitionCounts(all);
  }
  const changelogCount = counts.get(layout.changelog);
  if (changelogCount !== partitions) {
    throw new SagaflowError('SAGAFLOW_TOPIC_PARTITIONS_MISMATCH', {
      message:
        `changelog topic "${layout.changelog}" has ${changelogCount ?? 0} partitions but events topic "${layout.events}" has ${partitions}; ` +
        'they must be co-partitioned: delete the changelog topic (it is rebuilt from nothing only if you also accept losing saga state) or recreate the events topic with the same count',
    });
  }
  const outboxCount = layout.outbox === undefined ? partitions : counts.get(layout.outbox);
  if (outboxCount !== partitions) {
    throw new SagaflowError('SAGAFLOW_TOPIC_PARTITIONS_MISMATCH', {
      message:
        `outbox topic "${layout.outbox}" has ${outboxCount ?? 0} partitions but events topic "${layout.events}" has ${partitions}; ` +
        'they must be co-partitioned: once the dispatcher has delivered everything in it (its consumer group shows no lag), delete the outbox topic and start again',
    });
  }
  for (const { topic, path } of others) {
    const count = counts.get(topic);
    if (count !== undefined && count !== partitions) {
      throw new SagaflowError('SAGAFLOW_TOPIC_PARTITIONS_MISMATCH', {
        message:
          `${path}: input topic "${topic}" has ${count} partitions but the events topic "${layout.events}" has ${partitions}; ` +
          'every input topic is read partition by partition with the events topic (partition p of each by the owner of its partition p): give it the same partition count',
        path,
      });
    }
  }
  for (const topic of all) {
    if (!counts.has(topic)) {
      throw new SagaflowError('SAGAFLOW_KAFKA_UNREACHABLE', { message: `topic "${topic}" was created but the cluster does not report it yet; start again`, retryable: true });
    }
  }
  return { partitions, counts };
}

/**
 * The largest one-record batch each topic takes from this instance: the smaller of the
 * topic's `max.message.bytes` and the producer's own cap (either may be unknown: a broker
 * that refuses DescribeConfigs, a client without a cap). Topics with neither are absent.
 */
export function recordLimits(topics: readonly string[], maxMessageBytes: ReadonlyMap<string, number>, producerMax: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const topic of topics) {
    const limit = Math.min(maxMessageBytes.get(topic) ?? Infinity, producerMax ?? Infinity);
    if (Number.isFinite(limit)) out.set(topic, limit);
  }
  return out;
}
