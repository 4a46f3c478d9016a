import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SagaflowError } from '../errors.ts';
import type { DefinitionIssue } from './issues.ts';
import { parseSagaConfig } from './parse.ts';
import type { SagaConfig } from './types.ts';

export interface LoadOptions {
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? ` (${String(error.code)})` : '';
    throw new SagaflowError('SAGAFLOW_DEFINITION_NOT_FOUND', { message: `cannot read saga definition "${path}"${code}`, path, cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(path, [{ path: '(root)', message: describeJsonError(error, text) }]);
  }
  const base = dirname(resolve(path));
  const result = parseSagaConfig(raw, {
    env,
    readFile: (p) => readFileSync(resolve(base, p), 'utf8'),
    resolveSecrets: options.resolveSecrets ?? true,
  });
  for (const warning of result.warnings) options.onWarning?.(warning);
  if (result.config === undefined) throw invalid(path, result.errors);
  return result.config;
}

function invalid(file: string, errors: DefinitionIssue[]): SagaflowError {
  const lines = errors.map((e) => `  - ${e.path}: ${e.message}`);
  return new SagaflowError('SAGAFLOW_DEFINITION_INVALID', {
    message: `saga definition "${file}" is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    path: file,
    details: errors,
  });
}

/**
 * JSON.parse messages may quote the text around the error, which can hold a secret: keep
 * only the position, as line and column.
 */
export function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  const position = /position (\d+)/.exec(message)?.[1];
  if (position === undefined) return 'is not valid JSON';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `is not valid JSON: syntax error at line ${line}, column ${column}`;
}
