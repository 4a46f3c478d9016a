import { isBrokerError } from '../broker/errors.ts';
import type { TopicAdmin } from '../broker/ports.ts';
import type { KafkaProtocol, PersistencyManagement } from '../definition/types.ts';
import { isSagaflowError } from '../errors.ts';
import { httpAnswers } from '../http/check-up.ts';
import type { DependencyCheck } from '../http/check-up.ts';
import type { ProjectionHandle } from '../projection/run.ts';

/** A sagaId no saga can have (sagaIds are non-empty printable text): a lookup that reaches the store. */
const PROBE_SAGA_ID = '\u0000sagaflow-check-up';

/**
 * The dependencies of a running instance, for GET /-/check-up: Kafka (the events topic's
 * metadata), the schema registry (Avro channels), the persistency (MongoDB answers a read,
 * the CRUD service its /-/healthz) and the projection (not failing its writes). Messages name
 * what failed and a code, never an address or a credential: broker lists, connection URIs
 * and headers may be secrets.
 */
export function dependencyChecks(opts: {
  admin: TopicAdmin;
  eventsTopic: string;
  channel: KafkaProtocol;
  persistency: PersistencyManagement;
  projection: ProjectionHandle | undefined;
  fetchImpl?: typeof fetch;
}): DependencyCheck[] {
  const checks: DependencyCheck[] = [
    {
      name: 'kafka',
      async run() {
        let counts: Map<string, number>;
        try {
          counts = await opts.admin.partitionCounts([opts.eventsTopic]);
        } catch (err) {
          throw new Error(`the brokers did not answer (${isBrokerError(err) ? `${err.kind}, ${err.reason}` : 'error'})`, { cause: err });
        }
        if (!counts.has(opts.eventsTopic)) throw new Error(`the events topic "${opts.eventsTopic}" does not exist`);
      },
    },
  ];
  const { serialization, schemaRegistry } = opts.channel.configurations;
  if (serialization === 'avro' && schemaRegistry) {
    const headers: Record<string, string> = schemaRegistry.auth
      ? { authorization: `Basic ${Buffer.from(`${schemaRegistry.auth.username}:${schemaRegistry.auth.password}`).toString('base64')}` }
      : {};
    checks.push({
      name: 'schema-registry',
      run: (signal) => httpAnswers(`${schemaRegistry.url.replace(/\/+$/, '')}/subjects`, signal, { headers, what: 'the schema registry', ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}) }),
    });
  }
  const persistency = opts.persistency;
  if ('type' in persistency && persistency.type === 'mongo' && opts.projection?.repository) {
    const repository = opts.projection.repository;
    checks.push({
      name: 'persistency',
      async run() {
        try {
          await repository.findById(PROBE_SAGA_ID);
        } catch (err) {
          const cause = (err as { cause?: { name?: string; code?: unknown; codeName?: unknown } }).cause;
          // AuthenticationFailed (18): the server answered, and said no. "Did not answer" sent
          // people looking at the network instead of the password.
          if (cause?.code === 18 || cause?.codeName === 'AuthenticationFailed') {
            throw new Error('MongoDB refused the credentials (authentication failed): check the user and password of persistencyManagement.configurations.connectionUri', { cause: err });
          }
          throw new Error(`MongoDB did not answer (${isSagaflowError(err) ? err.code : 'error'}${cause?.name ? `, ${cause.name}` : ''})`, { cause: err });
        }
      },
    });
  } else if ('type' in persistency && persistency.type === 'crud') {
    const c = persistency.configurations;
    // Flow Manager's defaults for the CRUD service; its liveness route, as Mia-Platform's
    // check-up contract asks for a dependency that is another microservice.
    const url = `${c.protocol ?? 'http'}://${c.host || 'crud-service'}:${c.port ?? 80}/-/healthz`;
    checks.push({
      name: 'persistency',
      run: (signal) => httpAnswers(url, signal, { headers: c.headers ?? {}, what: 'the CRUD service', ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}) }),
    });
  }
  const projection = opts.projection;
  if (projection) {
    checks.push({
      name: 'projection',
      async run() {
        const status = projection.projector.status();
        if (status.state === 'crashed') throw new Error('the projection stopped');
        if (status.failing) throw new Error(`the projection's writes are failing${status.lastError ? ` (${status.lastError.code})` : ''}`);
      },
    });
  }
  return checks;
}
