/**
 * `sagaflow/worker`: what a service that takes part in sagas needs. `FMClientBuilder` has the
 * shape of @mia-platform/flow-manager-client's builder (a service moves over by changing its
 * import); `SagaWorker` is sagaflow's own client (Avro, eventIds, either Kafka client).
 */
export { SagaWorker } from './client.ts';
export type { CommandHandler, CommandOutcome, WorkerOptions } from './client.ts';
export { SLOW_BATCH_WARNING_MS } from './client.ts';
export { FMClientBuilder, FlowManagerClient, getMetrics } from './flow-manager-client.ts';
export type {
  CommandErrorHandler,
  CommandExecutor,
  CommitCallback,
  ConsumerConfig,
  EventEmitter,
  FlowManagerClientMetrics,
  Heartbeat,
  KafkaConfig,
  ProducerConfig,
} from './flow-manager-client.ts';
export { codecOf, createProcessorCodec } from '../kafka/codec-factory.ts';
export type { Envelope, ProcessorCodec } from '../kafka/codec.ts';
export { partitionForKey } from '../broker/murmur2.ts';
