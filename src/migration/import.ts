import type { Logger } from 'pino';
import { createBrokerClient } from '../adapters/select.ts';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, RecordProducer, TopicAdmin } from '../broker/ports.ts';
import type { OutputRecord } from '../broker/records.ts';
import { compileDefinition } from '../definition/compile.ts';
import { kafkaLayout } from '../definition/topology.ts';
import type { SagaConfig } from '../definition/types.ts';
import { SagaflowError } from '../errors.ts';
import { createProcessorCodec } from '../kafka/codec-factory.ts';
import type { ProcessorCodec } from '../kafka/codec.ts';
import { changelogTopicName, deadLetterTopicName, ensureTopics } from '../kafka/topics.ts';
import { isBrokerError } from '../broker/errors.ts';
import { brokerConfigOf } from '../runtime/broker-config.ts';
import { kafkaStartError } from '../runtime/start-errors.ts';
import type { RuntimeEnv } from '../runtime/env.ts';
import type { SagaDocument } from '../saga/types.ts';
import { fromFlowManager, importDecision } from './flow-manager-document.ts';
import type { RefusedSaga } from './flow-manager-document.ts';
import { sourceFor } from './sources.ts';
import type { SagaSource } from './sources.ts';

export interface ImportOptions {
  config: SagaConfig;
  env: Pick<RuntimeEnv, 'kafkaClient' | 'defaultPartitions' | 'replicationFactor'> & Partial<Pick<RuntimeEnv, 'librdkafkaDebug'>>;
  /** Only these sagaIds (required for a REST persistency, which cannot list). */
  ids?: readonly string[];
  /** Reads and decides, writes nothing (and creates no topic). */
  dryRun?: boolean;
  logger: Logger;
  now?: () => Date;
  /** Called after each document read from the store. */
  progress?: (done: number, total: number | undefined) => void;
  /** Sagas written per produce call (and between two checks that the application is still stopped). */
  batchSize?: number;
  /** For tests: the store to read instead of persistencyManagement's. */
  source?: SagaSource;
}

export interface ImportSummary {
  source: string;
  applicationId: string;
  changelogTopic: string;
  partitions: number;
  dryRun: boolean;
  /** Documents read from the Flow Manager store. */
  read: number;
  /** Written as new sagas. */
  imported: number;
  /** Written over an earlier import that sagaflow had not changed, Flow Manager's copy being newer. */
  updated: number;
  /** Already in the changelog exactly as the store has them. */
  unchanged: number;
  /** In the changelog and changed by sagaflow since (or created by it): left as they are. */
  kept: number;
  /** Not carried over, with the reason (unknown state, no sagaId, ...). */
  refused: RefusedSaga[];
  /** sagaIds asked for (--ids) that the store does not have. */
  missing: string[];
  /** Sagas written per changelog partition. */
  writtenPerPartition: Record<string, number>;
}

/**
 * The application must not be running while the changelog is written: a running task has
 * restored its partition's store already and never reads the changelog again, so it would
 * not see the imported sagas (their events would be dead-lettered as unknown) and could
 * overwrite them. Its consumer group having members is the sign; the group is described
 * with the kafkajs client whatever client the application uses (librdkafka's
 * DescribeConsumerGroups can abort the process, librdkafka#4605).
 */
async function refuseIfRunning(admin: TopicAdmin, applicationId: string, written: number): Promise<void> {
  const members = (await admin.groupMembers?.(applicationId)) ?? [];
  if (members.length === 0) return;
  const who = members.map((m) => `${m.clientId}@${m.host}`).join(', ');
  throw new SagaflowError('SAGAFLOW_IMPORT_APPLICATION_RUNNING', {
    message:
      `application "${applicationId}" is running (${members.length} member${members.length === 1 ? '' : 's'} in its consumer group: ${who}); ` +
      `stop every instance of it and run the import again${written > 0 ? ` (${written} sagas were written before it started; the import skips them next time)` : ''}`,
  });
}

/** sagaId -> the latest saga document (null: deleted) the changelog holds. */
async function readChangelog(client: BrokerClient, codec: ProcessorCodec, topic: string, partitions: number): Promise<Map<string, SagaDocument | null>> {
  const held = new Map<string, SagaDocument | null>();
  const reader = client.changelogReader();
  for (let p = 0; p < partitions; p += 1) {
    await reader.readPartition(topic, p, undefined, async (records) => {
      for (const r of records) {
        if (r.key === null) continue;
        held.set(r.key.toString('utf8'), r.value === null ? null : await codec.decodeSaga(topic, r.value));
      }
    });
  }
  return held;
}

/**
 * `sagaflow import`: carries the sagas of a Flow Manager store (the saga.json's
 * persistencyManagement) over to sagaflow by writing them into the application's changelog,
 * each on its home partition (murmur2 of the sagaId, as the events are routed), so the next
 * `sagaflow start` restores them and goes on with the events the services send. Topics are
 * created as `start` creates them. Idempotent: see importDecision.
 */
export async function importFlowManagerSagas(opts: ImportOptions): Promise<ImportSummary> {
  const { config, env, logger } = opts;
  const now = (opts.now ?? (() => new Date()))().toISOString();
  const dryRun = opts.dryRun ?? false;
  const definition = await compileDefinition(config);
  const layout = kafkaLayout(config);
  const brokerConfig = brokerConfigOf(layout.channel, `sagaflow-${layout.applicationId}-import`, logger, env.librdkafkaDebug);
  const topics = {
    events: layout.eventsTopic,
    changelog: changelogTopicName(layout.applicationId),
    deadLetter: deadLetterTopicName(layout.applicationId),
    commands: [...new Set(layout.commandTopics.values())],
  };
  const source = opts.source ?? sourceFor(config.persistencyManagement, opts.ids);
  const summary: ImportSummary = {
    source: source.kind,
    applicationId: layout.applicationId,
    changelogTopic: topics.changelog,
    partitions: 0,
    dryRun,
    read: 0,
    imported: 0,
    updated: 0,
    unchanged: 0,
    kept: 0,
    refused: [],
    missing: [],
    writtenPerPartition: {},
  };
  const closers: (() => Promise<unknown>)[] = [() => source.close()];
  try {
    const describer = await createBrokerClient('kafkajs', brokerConfig);
    closers.push(() => describer.close());
    const guard = await describer.admin();
    closers.push(() => guard.close());
    await refuseIfRunning(guard, layout.applicationId, 0);

    const client = env.kafkaClient === 'kafkajs' ? describer : await createBrokerClient(env.kafkaClient, brokerConfig);
    if (client !== describer) closers.push(() => client.close());
    const admin = await client.admin();
    closers.push(() => admin.close());
    let partitions: number;
    if (dryRun) {
      const counts = await admin.partitionCounts([topics.events, topics.changelog]);
      partitions = counts.get(topics.events) ?? env.defaultPartitions;
      const changelogCount = counts.get(topics.changelog);
      if (changelogCount !== undefined && changelogCount !== partitions) {
        throw new SagaflowError('SAGAFLOW_TOPIC_PARTITIONS_MISMATCH', { message: `changelog topic "${topics.changelog}" has ${changelogCount} partitions but events topic "${topics.events}" has ${partitions}` });
      }
    } else {
      partitions = (await ensureTopics(admin, topics, { defaultPartitions: env.defaultPartitions, replicationFactor: env.replicationFactor })).partitions;
    }
    summary.partitions = partitions;
    const codec = await createProcessorCodec(layout.channel, topics);
    const exists = (await admin.partitionCounts([topics.changelog])).has(topics.changelog);
    const held = exists ? await readChangelog(client, codec, topics.changelog, partitions) : new Map<string, SagaDocument | null>();
    logger.info({ sagas: held.size, topic: topics.changelog }, 'changelog read');

    let producer: RecordProducer | undefined;
    let pending: OutputRecord[] = [];
    let written = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      await refuseIfRunning(guard, layout.applicationId, written);
      if (!producer) {
        const p = await client.producer();
        closers.push(() => p.close());
        producer = p;
      }
      await producer.send(pending);
      written += pending.length;
      pending = [];
    };
    const seen = new Set<string>();
    const total = await source.total();
    for await (const doc of source.read()) {
      summary.read += 1;
      opts.progress?.(summary.read, total);
      if (doc.missing !== undefined) {
        summary.missing.push(doc.missing);
        continue;
      }
      const mapped = fromFlowManager(doc.raw, definition, now);
      if ('refused' in mapped) {
        summary.refused.push(mapped.refused);
        continue;
      }
      const { saga } = mapped;
      if (seen.has(saga.sagaId)) {
        summary.refused.push({ sagaId: saga.sagaId, reason: 'the store holds this sagaId more than once; the first document was taken' });
        continue;
      }
      seen.add(saga.sagaId);
      const decision = importDecision(held.get(saga.sagaId) ?? undefined, saga);
      if (decision === 'unchanged' || decision === 'kept') {
        summary[decision] += 1;
        continue;
      }
      summary[decision === 'import' ? 'imported' : 'updated'] += 1;
      const partition = partitionForKey(saga.sagaId, partitions);
      summary.writtenPerPartition[partition] = (summary.writtenPerPartition[partition] ?? 0) + 1;
      if (dryRun) continue;
      pending.push({ topic: topics.changelog, partition, key: saga.sagaId, value: await codec.encodeSaga(topics.changelog, saga), headers: { 'sagaflow-imported-from': `flow-manager-${source.kind}` } });
      if (pending.length >= (opts.batchSize ?? 500)) await flush();
    }
    await flush();
    return summary;
  } catch (err) {
    // Broker addresses and credentials may be secrets: the line names the setting only.
    if (!isBrokerError(err)) throw err;
    const sasl = layout.channel.configurations.authenticationProperties?.sasl;
    const channelPath = `communicationProtocols[${config.communicationProtocols.indexOf(layout.channel)}].configurations`;
    throw kafkaStartError(err, channelPath, [...layout.channel.configurations.brokers, ...(sasl ? [sasl.username, sasl.password] : [])]);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
