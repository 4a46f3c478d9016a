import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../../src/', import.meta.url).pathname;

function sources(folder: string): { file: string; text: string }[] {
  const dir = join(SRC, folder);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: `${folder}/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
}

function imports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push(match[1] ?? match[2] ?? '');
  }
  return found;
}

const IO_PACKAGES = /^(kafkajs|rocksdb|rocksdb-native|fastify|@fastify\/|mongodb|@kafkajs\/|pino)/;

describe('layering', () => {
  it('keeps the saga core free of I/O: no node: modules, no service clients, no other layers', () => {
    const files = sources('saga');
    expect(files.length).toBeGreaterThan(0);
    for (const { file, text } of files) {
      for (const specifier of imports(text)) {
        const allowed = specifier.startsWith('./') || specifier === '../definition/compile.ts' || specifier === '../definition/types.ts';
        expect(allowed, `${file} imports ${specifier}`).toBe(true);
      }
    }
  });

  it('keeps clocks, randomness and process state out of the saga core', () => {
    for (const { file, text } of sources('saga')) {
      for (const forbidden of ['Date.now', 'new Date', 'Math.random', 'process.', 'performance.', 'crypto', 'setTimeout']) {
        expect(text.includes(forbidden), `${file} uses ${forbidden}`).toBe(false);
      }
    }
  });

  it('keeps the definition layer free of service clients and of the process environment', () => {
    for (const { file, text } of sources('definition')) {
      for (const specifier of imports(text)) {
        expect(IO_PACKAGES.test(specifier), `${file} imports ${specifier}`).toBe(false);
        expect(specifier.startsWith('../') && !specifier.startsWith('../errors.ts'), `${file} imports ${specifier}`).toBe(false);
      }
      expect(text.includes('process.env'), `${file} reads process.env`).toBe(false);
    }
  });
});
