import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { SagaflowError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into one-line usage errors. */
export function parseCommandArgs<O extends Options>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs explains at length how to pass a positional that starts with '-'; the first
    // sentence is what the user needs.
    const reason = (error instanceof Error ? error.message : String(error)).split('. ')[0] ?? '';
    throw usageError(command, reason);
  }
}

export function usageError(command: string, reason: string): SagaflowError {
  return new SagaflowError('SAGAFLOW_CLI_USAGE', { message: `${reason}; run \`sagaflow ${command} --help\`` });
}
