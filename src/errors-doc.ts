import { ERROR_CATALOG } from './errors.ts';
import { HTTP_ERRORS } from './http/errors.ts';

/** docs/errors.md: every error code, its meaning and whether a retry can help. */
export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CATALOG)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, e]) => `| \`${code}\` | ${e.message} | ${e.retryable ? 'yes' : 'no'} |`);
  const http = Object.entries(HTTP_ERRORS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.retryable ? 'yes' : 'no'} |`);
  return [
    '# Error codes',
    '',
    'Generated from `src/errors.ts` and `src/http/errors.ts` by `node scripts/error-docs.ts`.',
    'Codes are stable: callers branch on them, never on message text.',
    '',
    '| code | meaning | retry can help |',
    '| --- | --- | --- |',
    ...rows,
    '',
    '## HTTP API',
    '',
    'Error bodies are `{statusCode, code, error, message, retryable}`.',
    '',
    '| code | status | retry can help |',
    '| --- | --- | --- |',
    ...http,
    '',
  ].join('\n');
}
