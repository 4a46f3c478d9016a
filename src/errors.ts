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
  SAGAFLOW_HOOK_NOT_ALLOWED: {
    message: 'outputCommand.hook is not supported: sagaflow does not execute code from the configuration',
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
  SAGAFLOW_INPUT_INVALID: {
    message: 'An input line could not be understood',
    retryable: false,
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
