import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, SagaflowError, isSagaflowError } from '../../src/errors.ts';

describe('error catalog', () => {
  const codes = Object.keys(ERROR_CATALOG);

  it('has unique codes that all start with SAGAFLOW_', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^SAGAFLOW_[A-Z0-9_]+$/);
  });

  it('gives every code a non-empty message and a boolean retryable flag', () => {
    for (const entry of Object.values(ERROR_CATALOG)) {
      expect(entry.message.length).toBeGreaterThan(0);
      expect(typeof entry.retryable).toBe('boolean');
    }
  });
});

describe('SagaflowError', () => {
  it('takes message and retryable from the catalog', () => {
    const error = new SagaflowError('SAGAFLOW_DEFINITION_INVALID');
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('SAGAFLOW_DEFINITION_INVALID');
    expect(error.message).toBe(ERROR_CATALOG.SAGAFLOW_DEFINITION_INVALID.message);
    expect(error.retryable).toBe(false);
    expect(error.name).toBe('SagaflowError');
  });

  it('accepts overrides for message, retryable, path, details and cause', () => {
    const cause = new Error('root');
    const error = new SagaflowError('SAGAFLOW_SECRET_UNRESOLVED', {
      message: 'custom',
      retryable: true,
      path: 'a.b',
      details: { x: 1 },
      cause,
    });
    expect(error.message).toBe('custom');
    expect(error.retryable).toBe(true);
    expect(error.path).toBe('a.b');
    expect(error.details).toEqual({ x: 1 });
    expect(error.cause).toBe(cause);
  });

  it('is recognised by isSagaflowError, optionally by code', () => {
    const error = new SagaflowError('SAGAFLOW_CONFIG_INVALID');
    expect(isSagaflowError(error)).toBe(true);
    expect(isSagaflowError(error, 'SAGAFLOW_CONFIG_INVALID')).toBe(true);
    expect(isSagaflowError(error, 'SAGAFLOW_DEFINITION_INVALID')).toBe(false);
    expect(isSagaflowError(new Error('x'))).toBe(false);
  });
});

describe('every raised code is catalogued', () => {
  it('finds each SAGAFLOW_ code literal of src/ in ERROR_CATALOG or the HTTP catalog', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { HTTP_ERRORS } = await import('../../src/http/errors.ts');
    const root = new URL('../../src/', import.meta.url).pathname;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk(root);
    const { SAGAFLOW_ENV_VARS } = await import('../../src/runtime/env.ts');
    const known = new Set([...Object.keys(ERROR_CATALOG), ...Object.keys(HTTP_ERRORS), ...SAGAFLOW_ENV_VARS]);
    const missing = new Set<string>();
    for (const file of files) {
      // Quoted literals only; environment variable names (SAGAFLOW_STATE_DIR, ...) are not codes.
      for (const m of readFileSync(file, 'utf8').matchAll(/'(SAGAFLOW_[A-Z0-9_]+)'/g)) {
        const code = m[1] as string;
        if (!known.has(code)) missing.add(`${code} (${file.slice(root.length)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

describe('docs/errors.md', () => {
  it('lists every code as generated from the catalogs (run node scripts/error-docs.ts)', async () => {
    const { readFileSync } = await import('node:fs');
    const { renderErrorDocs } = await import('../../src/errors-doc.ts');
    expect(readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')).toBe(renderErrorDocs());
  });
});
