import type { Admin, ITopicConfig } from 'kafkajs';
import { SagaflowError } from '../errors.ts';

/** Names of the topics one application uses. */
export interface TopicLayout {
  events: string;
  commands: string[];
  changelog: string;
  deadLetter: string;
}

export function changelogTopicName(applicationId: string): string {
  // Kafka Streams names changelogs <application.id>-<store>-changelog; we follow it so
  // operators recognise the topic's role.
  return `${applicationId}-sagas-changelog`;
}

export function deadLetterTopicName(applicationId: string): string {
  return `${applicationId}-dead-letter`;
}

async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  const counts = new Map<string, number>();
  if (present.length === 0) return counts;
  const { topics: meta } = await admin.fetchTopicMetadata({ topics: present });
  for (const t of meta) counts.set(t.name, t.partitions.length);
  return counts;
}

/**
 * Makes sure the events, commands, changelog and dead-letter topics exist and are
 * co-partitioned. Missing topics are created (events with `defaultPartitions`, the others
 * with the events topic's count; the changelog compacted). An existing changelog or
 * commands topic with a different partition count is refused: sagaId -> partition would no
 * longer match between input, state and output, and restore would read the wrong sagas.
 */
export async function ensureTopics(
  admin: Admin,
  layout: TopicLayout,
  opts: { defaultPartitions: number; replicationFactor: number },
): Promise<{ partitions: number }> {
  const all = [layout.events, layout.changelog, layout.deadLetter, ...layout.commands];
  let counts = await partitionCounts(admin, all);
  const toCreate: ITopicConfig[] = [];
  const partitions = counts.get(layout.events) ?? opts.defaultPartitions;
  if (!counts.has(layout.events)) {
    toCreate.push({ topic: layout.events, numPartitions: partitions, replicationFactor: opts.replicationFactor });
  }
  if (!counts.has(layout.changelog)) {
    toCreate.push({
      topic: layout.changelog,
      numPartitions: partitions,
      replicationFactor: opts.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        // Transactional writes; keep the log small enough to restore quickly.
        { name: 'segment.bytes', value: String(64 * 1024 * 1024) },
      ],
    });
  }
  for (const topic of [...layout.commands, layout.deadLetter]) {
    if (!counts.has(topic) && !toCreate.some((t) => t.topic === topic)) {
      toCreate.push({ topic, numPartitions: partitions, replicationFactor: opts.replicationFactor });
    }
  }
  if (toCreate.length > 0) {
    // createTopics answers false when a topic already exists (another instance won the race):
    // that is fine, the partition check below still applies.
    await admin.createTopics({ topics: toCreate, waitForLeaders: true });
    counts = await partitionCounts(admin, all);
  }
  const changelogCount = counts.get(layout.changelog);
  if (changelogCount !== partitions) {
    throw new SagaflowError('SAGAFLOW_TOPIC_PARTITIONS_MISMATCH', {
      message:
        `changelog topic "${layout.changelog}" has ${changelogCount ?? 0} partitions but events topic "${layout.events}" has ${partitions}; ` +
        'they must be co-partitioned: delete the changelog topic (it is rebuilt from nothing only if you also accept losing saga state) or recreate the events topic with the same count',
    });
  }
  return { partitions };
}
