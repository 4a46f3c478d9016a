import { runStart } from '../../runtime/run.ts';
import type { CliCommand } from '../io.ts';

const usage = `Usage: sagaflow start

Runs the saga processor and its HTTP API until SIGINT/SIGTERM. Configuration comes from
the environment (read once, at start):

  CONFIGURATIONS_FILE_PATH     the saga.json (Flow Manager format)            required
  SAGA_ID_PREFIX               prefix of the sagaIds POST /saga creates         ""
  HTTP_PORT / HTTP_HOST        where the HTTP API listens                     3000 / 0.0.0.0
  SAGAFLOW_ADVERTISED_URL      how other instances reach this one             http://127.0.0.1:HTTP_PORT
  SAGAFLOW_STATE_DIR           RocksDB stores, one per owned partition        ./.sagaflow/state
  SAGAFLOW_DEFAULT_PARTITIONS  partitions of the events topic if it is created 6
  SAGAFLOW_REPLICATION_FACTOR  replication of the topics sagaflow creates     broker default
  LOG_LEVEL                    fatal, error, warn, info, debug, trace, silent info
  SAGAFLOW_PROJECTION          false: do not run the persistencyManagement projection here  true
  SAGAFLOW_KAFKA_CLIENT        librdkafka (exactly-once v2) or kafkajs (v1)   librdkafka
  SAGAFLOW_COMMIT_INTERVAL_MS  longest time between commits while working     100 (kafkajs: 0)
  SAGAFLOW_SHUTDOWN_GRACE_MS   SIGTERM: time to commit, leave, close          30000

Kafka brokers, topics, consumer group (= application id), SASL/SSL and the wire format
(serialization: json | avro, schemaRegistry.url) come from the saga.json kafka channel.`;

export const command: CliCommand = {
  usage,
  async run(_args, io) {
    return runStart(io.env, io.cwd, io.stderr);
  },
};
