import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SagaflowError } from '../errors.ts';
import type { DefinitionIssue } from './issues.ts';
import { parseSagaConfig } from './parse.ts';
import type { ParseResult } from './parse.ts';
import type { SagaConfig } from './types.ts';

export interface LoadOptions {
  /** Default true; false leaves `<secret ...>` placeholders (offline tools). */
  resolveSecrets?: boolean;
  /** Receives each warning (unknown property, unreachable state, ...); they do not stop loading. */
  onWarning?: (issue: DefinitionIssue) => void;
}

/**
 * Reads and validates a saga.json file. Relative `{"type": "file"}` paths are resolved
 * against the directory of the saga.json.
 * @throws SagaflowError SAGAFLOW_DEFINITION_NOT_FOUND when the file cannot be read,
 *   SAGAFLOW_DEFINITION_INVALID (every issue in `details`, listed in the message) otherwise.
 */
export function loadSagaConfigFile(path: string, env: Record<string, string | undefined>, options: LoadOptions = {}): SagaConfig {
  const result = readSagaConfigFile(path, env, options);
  for (const warning of result.warnings) options.onWarning?.(warning);
  if (result.config === undefined) {
    const lines = result.errors.map((e) => `  - ${e.path}: ${e.message}`);
    const count = result.errors.length;
    throw new SagaflowError('SAGAFLOW_DEFINITION_INVALID', {
      message: `saga definition "${path}" is invalid (${count} error${count === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      path,
      details: result.errors,
    });
  }
  return result.config;
}

/**
 * Like loadSagaConfigFile, but returns the issues instead of throwing them (for `validate`).
 * A file that is not JSON is one error at `(root)`.
 * @throws SagaflowError SAGAFLOW_DEFINITION_NOT_FOUND when the file cannot be read.
 */
export function readSagaConfigFile(
  path: string,
  env: Record<string, string | undefined>,
  options: Pick<LoadOptions, 'resolveSecrets'> = {},
): ParseResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SagaflowError('SAGAFLOW_DEFINITION_NOT_FOUND', { message: `cannot read saga definition "${path}"${errnoSuffix(error)}`, path, cause: error });
  }
  // Editors on Windows save UTF-8 with a byte order mark, which JSON.parse refuses with no
  // position; RFC 8259 lets a parser ignore it, and Node's require() of JSON does.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { errors: [{ path: '(root)', message: describeJsonError(error, text) }], warnings: [] };
  }
  const base = dirname(resolve(path));
  return parseSagaConfig(raw, {
    env,
    readFile: (p) => readFileSync(resolve(base, p), 'utf8'),
    resolveSecrets: options.resolveSecrets ?? true,
  });
}

function errnoSuffix(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? ` (${String(error.code)})` : '';
}

/**
 * JSON.parse messages may quote the text around the error, which can hold a secret: keep
 * only the position, as line and column.
 */
export function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  const position = /position (\d+)/.exec(message)?.[1];
  if (position === undefined) return message === '' || message.includes('"') ? 'is not valid JSON' : `is not valid JSON: ${message}`;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  // V8's reason ("Expected ',' or '}' after property value") quotes no content; other forms do.
  const reason = message.split(' in JSON at position')[0] ?? '';
  const safeReason = reason.includes('"') || reason === message ? 'syntax error' : reason;
  return `is not valid JSON: ${safeReason} at line ${line}, column ${column}`;
}
