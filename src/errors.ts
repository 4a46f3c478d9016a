/**
 * The one error type of sagaflow. Callers branch on `code` (stable, documented in
 * `ERROR_CATALOG`), never on message text. `retryable` is decided where the error is raised:
 * true only when trying the same thing again later can succeed (a broker or store that is
 * down), false when the input or configuration must change first.
 */
export interface ErrorCatalogEntry {
  message: string;
  retryable: boolean;
}

/**
 * Every error code sagaflow raises, with its default message and retryable flag.
 * Codes are part of the public contract: add new ones, never rename or reuse one.
 */
export const ERROR_CATALOG = {
  SAGAFLOW_DEFINITION_INVALID: {
    message: 'The saga definition is invalid; fix the listed paths and load it again',
    retryable: false,
  },
  SAGAFLOW_DEFINITION_NOT_FOUND: {
    message: 'The saga definition file could not be read; check the path and its permissions',
    retryable: false,
  },
  SAGAFLOW_SECRET_UNRESOLVED: {
    message: 'A secret reference could not be resolved; set the environment variable or provide the file',
    retryable: false,
  },
  SAGAFLOW_HOOK_INVALID: {
    message: 'A hook of the saga definition cannot be used: its content is not valid base64, does not evaluate, or exports no function; the issue names its path',
    retryable: false,
  },
  SAGAFLOW_HOOK_FAILED: {
    message: 'A hook threw, ran out of time or memory, or returned something else than it must; the event is recorded in the saga\'s ignoredEvents (a creation is dead-lettered) and the saga does not advance',
    retryable: false,
  },
  SAGAFLOW_CONFIG_INVALID: {
    message: 'The service configuration is invalid',
    retryable: false,
  },
  SAGAFLOW_CLI_USAGE: {
    message: 'Invalid command line; run `sagaflow --help`',
    retryable: false,
  },
  SAGAFLOW_DEPLOY_TOOL_MISSING: {
    message: 'A program needed to install the deployment checks (Go, or Python with pip) is missing; install it and run again',
    retryable: false,
  },
  SAGAFLOW_DEPLOY_TOOL_INSTALL_FAILED: {
    message: 'A deployment check tool could not be downloaded or built; the log names the cause (a registry that does not answer is worth one more try)',
    retryable: true,
  },
  SAGAFLOW_INPUT_INVALID: {
    message: 'An input line could not be understood',
    retryable: false,
  },
  SAGAFLOW_TOPIC_PARTITIONS_MISMATCH: {
    message: 'The changelog topic is not co-partitioned with the events topic; give them the same partition count',
    retryable: false,
  },
  SAGAFLOW_CHANNEL_UNSUPPORTED: {
    message: 'A state sends commands on a channel sagaflow start cannot send on (a kafka channel on other brokers, credentials or wire format than the events channel)',
    retryable: false,
  },
  SAGAFLOW_DELIVERY_FAILED: {
    message: 'A command on a rest channel could not be delivered (a 4xx answer, a redirect, or retries exhausted): it is in the dead-letter topic with the reason and the HTTP status, and the saga records it in deliveryFailures',
    retryable: false,
  },
  SAGAFLOW_DELIVERY_REPORT_INVALID: {
    message: 'A __delivery_failed__ event does not carry the dispatcher\'s report {channel, label, revision, reason, status?, attempt?} (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_DECODE_FAILED: {
    message: 'A record cannot be decoded; it goes to the dead-letter topic with the reason',
    retryable: false,
  },
  SAGAFLOW_ENCODE_FAILED: {
    message: 'A value cannot be encoded for its topic',
    retryable: false,
  },
  SAGAFLOW_SCHEMA_REGISTRY_FAILED: {
    message: 'The schema registry could not be reached or failed; the work is retried',
    retryable: true,
  },
  SAGAFLOW_SCHEMA_REGISTRATION_FAILED: {
    message: 'The schema registry refused a schema (incompatible change or bad subject configuration)',
    retryable: false,
  },
  SAGAFLOW_EVENT_MISSING_KEY: {
    message: 'An event has no key; the key must be the sagaId (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_INVALID_CREATION: {
    message: 'A creation event lacks {associatedEntityId, metadata} (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_CORRELATION_MISSING: {
    message: 'An event of an observed topic has no string saga id at its channel\'s correlation.sagaId pointer (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_INVALID_START: {
    message: 'A startOn event for a saga that does not exist has a payload that is not an object, so it cannot become the metadata (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_UNKNOWN_SAGA: {
    message: 'An event addresses a saga that does not exist (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_DUPLICATE_EVENT: {
    message: 'An event repeats an eventId the saga already applied (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_SAGA_EXISTS: {
    message: 'A creation event addresses a saga that already exists (dead-lettered)',
    retryable: false,
  },
  SAGAFLOW_KAFKA_UNREACHABLE: {
    message: 'Kafka could not be reached or refused a request while sagaflow started; check the brokers, network, ssl and sasl',
    retryable: true,
  },
  SAGAFLOW_KAFKA_AUTHENTICATION_FAILED: {
    message: 'The Kafka brokers refused the SASL credentials; check mechanism, username and password',
    retryable: false,
  },
  SAGAFLOW_EVENT_TOO_LARGE: {
    message: 'The event is larger than the broker accepts for the events topic; send a smaller payload',
    retryable: false,
  },
  SAGAFLOW_EVENTS_UNAVAILABLE: {
    message: 'The events topic cannot be written now (Kafka unreachable or refusing the write); retry later',
    retryable: true,
  },
  SAGAFLOW_SAGA_TOO_LARGE: {
    message: 'Applying an event would write a saga document or command over the record size limit (dead-lettered, not applied)',
    retryable: false,
  },
  SAGAFLOW_INTERNAL_ERROR: {
    message: 'An unexpected internal failure; the record is dead-lettered with the reason',
    retryable: false,
  },
  SAGAFLOW_STORE_CLOSED: {
    message: 'The state store is closed',
    retryable: false,
  },
  SAGAFLOW_STORE_FAILED: {
    message: 'The state store failed an operation',
    retryable: true,
  },
  SAGAFLOW_STORE_NO_SPACE: {
    message: 'The file system of the state directory is full; the partition stops and retries, reopening its store, until space returns',
    retryable: true,
  },
  SAGAFLOW_STORE_LOCKED: {
    message: 'The state store directory is held by another open store; retry once it is released',
    retryable: true,
  },
  SAGAFLOW_STORE_CORRUPT: {
    message: 'The state store holds an unreadable document; wipe it and restore from the changelog',
    retryable: false,
  },
  SAGAFLOW_PROJECTION_INDEX_CONFLICT: {
    message: 'The projection collection has a conflicting index; drop it or use another collection',
    retryable: false,
  },
  SAGAFLOW_PROJECTION_NOT_RUNNING: {
    message: 'The projection is not running',
    retryable: true,
  },
  SAGAFLOW_PROJECTION_STORE_UNAVAILABLE: {
    message: 'The projection database cannot be reached; the projection retries',
    retryable: true,
  },
  SAGAFLOW_PROJECTION_TARGET_FAILED: {
    message: 'The persistency target (CRUD or REST service) failed; the projection retries and never drops a saga',
    retryable: true,
  },
  SAGAFLOW_PROJECTION_TOPIC_MISSING: {
    message: 'The changelog topic to project does not exist yet; start the processor first',
    retryable: true,
  },
  SAGAFLOW_PROJECTION_WRITE_FAILED: {
    message: 'Writing to the projection failed; the batch is retried',
    retryable: true,
  },
  SAGAFLOW_BAD_QUERY: {
    message: 'A query parameter is invalid',
    retryable: false,
  },
  SAGAFLOW_CURSOR_INVALID: {
    message: 'The pagination cursor is invalid; start again without a cursor',
    retryable: false,
  },
  SAGAFLOW_PROJECTION_START_FAILED: {
    message: 'The projection could not start; the line says why',
    retryable: false,
  },
  SAGAFLOW_IMPORT_APPLICATION_RUNNING: {
    message: 'The application has members in its consumer group: stop every sagaflow instance of it, then run the import again',
    retryable: false,
  },
  SAGAFLOW_IMPORT_SOURCE_FAILED: {
    message: 'The Flow Manager store (persistencyManagement) could not be read; the line says what failed; nothing more was written',
    retryable: true,
  },
} as const satisfies Record<string, ErrorCatalogEntry>;

export type KnownErrorCode = keyof typeof ERROR_CATALOG;

export interface SagaflowErrorOptions {
  message?: string;
  retryable?: boolean;
  /** The configuration or document path the error is about, e.g. `machineDefinition.states[2].id`. */
  path?: string;
  details?: unknown;
  cause?: unknown;
}

export class SagaflowError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly path?: string;
  readonly details?: unknown;

  /**
   * A known code takes its message and retryable flag from the catalog unless overridden.
   * A code not in the catalog yet is accepted (default: not retryable); add it to
   * ERROR_CATALOG so that it is documented with the others.
   */
  constructor(code: KnownErrorCode | (string & {}), options: SagaflowErrorOptions = {}) {
    const entry: ErrorCatalogEntry | undefined = (ERROR_CATALOG as Record<string, ErrorCatalogEntry>)[code];
    super(options.message ?? entry?.message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SagaflowError';
    this.code = code;
    this.retryable = options.retryable ?? entry?.retryable ?? false;
    if (options.path !== undefined) this.path = options.path;
    if (options.details !== undefined) this.details = options.details;
  }
}

export function isSagaflowError(error: unknown, code?: string): error is SagaflowError {
  return error instanceof SagaflowError && (code === undefined || error.code === code);
}
