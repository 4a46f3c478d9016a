/** Stable codes of the local stack's failures; callers branch on these, never on message text. */
export type StackErrorCode =
  | 'SAGAFLOW_STACK_BAD_CONFIG'
  | 'SAGAFLOW_STACK_PORT_IN_USE'
  | 'SAGAFLOW_STACK_JAVA_MISSING'
  | 'SAGAFLOW_STACK_MAVEN_MISSING'
  | 'SAGAFLOW_STACK_CARGO_MISSING'
  | 'SAGAFLOW_STACK_INSTALL_FAILED'
  | 'SAGAFLOW_STACK_START_FAILED'
  | 'SAGAFLOW_STACK_STOP_FAILED'
  | 'SAGAFLOW_STACK_USAGE';

/** A failure of the local stack: what went wrong, what the user can do, and whether a retry can help. */
export class StackError extends Error {
  readonly code: StackErrorCode;
  readonly hint: string;
  readonly retryable: boolean;

  constructor(code: StackErrorCode, message: string, hint: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'StackError';
    this.code = code;
    this.hint = hint;
    this.retryable = options.retryable ?? false;
  }
}
