import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DefinitionIssue } from '../../../src/definition/issues.ts';
import { runStart } from '../../../src/runtime/run.ts';
import { ROOT, runCli } from './run-cli.ts';

// `sagaflow validate` must decide what `sagaflow start` decides before it reaches a broker.
// Start's verdict is taken from start itself (runStart, the code `sagaflow start` runs) with a
// state directory that cannot be created: start creates it right before it connects to Kafka,
// so a file start accepts stops there, with that one error, and nothing is ever contacted.

const corpus = join(ROOT, 'test/fixtures/bad-configs');
const examples = join(ROOT, 'examples');
const dir = mkdtempSync(join(tmpdir(), 'sagaflow-validate-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const blocker = join(dir, 'not-a-directory');
writeFileSync(blocker, '');
const stateDir = join(blocker, 'state');

const files = [
  ...readdirSync(corpus).filter((f) => f.endsWith('.json')).map((f) => join(corpus, f)),
  ...readdirSync(examples, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(examples, d.name, 'saga.json')),
].sort();

interface Verdicts {
  file: string;
  validate: { ok: boolean; errors: DefinitionIssue[] };
  start: { reachedBrokers: boolean; lines: string[] };
}

const cache = new Map<string, Promise<Verdicts>>();

/** Both verdicts on a file (computed once per file for the whole test file). */
function verdicts(file: string): Promise<Verdicts> {
  let found = cache.get(file);
  if (found === undefined) {
    found = (async () => {
      const run = await runCli(['validate', file, '--json']);
      const validate = JSON.parse(run.stdout[0] ?? '') as { ok: boolean; errors: DefinitionIssue[] };
      expect(run.code).toBe(validate.ok ? 0 : 1);
      const lines: string[] = [];
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', CONFIGURATIONS_FILE_PATH: file, SAGAFLOW_STATE_DIR: stateDir };
      const code = await runStart(env, ROOT, (line) => lines.push(line));
      expect(code).toBe(1);
      const reachedBrokers = lines.length === 1 && (lines[0] ?? '').startsWith('SAGAFLOW_CONFIG_INVALID: env.SAGAFLOW_STATE_DIR: ');
      return { file, validate, start: { reachedBrokers, lines } };
    })();
    cache.set(file, found);
  }
  return found;
}

/** The line start prints for an issue: `CODE: [file: ]path: message`. */
function startLine(issue: DefinitionIssue): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escape(issue.code ?? 'SAGAFLOW_DEFINITION_INVALID')}: (?:.*: )?${escape(`${issue.path}: ${issue.message}`)}$`);
}

describe('validate and start agree', () => {
  it('walks every file of the bad-config corpus and every example', () => {
    expect(files.length).toBeGreaterThan(30);
    expect(files.filter((f) => f.startsWith(examples))).toHaveLength(8);
  });

  it.each(files.map((f) => [f.slice(ROOT.length), f]))('%s', async (_name, file) => {
    const { validate, start } = await verdicts(file);
    // OK from validate exactly when start gets as far as the brokers.
    expect({ ok: validate.ok, reachedBrokers: start.reachedBrokers }).toEqual({ ok: start.reachedBrokers, reachedBrokers: start.reachedBrokers });
    if (validate.ok) return;
    // Every line start prints is an error validate lists, in the same order; validate may list
    // more (start stops at the first Kafka topology problem, validate lists them all).
    expect(start.lines.length).toBeGreaterThan(0);
    expect(start.lines.length).toBeLessThanOrEqual(validate.errors.length);
    start.lines.forEach((line, i) => expect(line).toMatch(startLine(validate.errors[i] as DefinitionIssue)));
  });

  it('covers both verdicts and the refusals start makes after loading (hooks, topology)', async () => {
    const results = await Promise.all(files.map((file) => verdicts(file)));
    const accepted = results.filter((r) => r.validate.ok).map((r) => r.file.slice(ROOT.length));
    expect(accepted).toEqual(['examples/car-dealer/saga.json', 'examples/invoice/saga.json', 'examples/marketplace-order/saga.json', 'examples/payment/saga.json', 'examples/used-car-dealer/saga.json', 'examples/user-provisioning/saga.json', 'test/fixtures/bad-configs/brokers-unreachable.json']);
    const codes = new Set(results.flatMap((r) => r.validate.errors.map((e) => e.code ?? 'SAGAFLOW_DEFINITION_INVALID')));
    expect([...codes].sort()).toEqual(['SAGAFLOW_CHANNEL_UNSUPPORTED', 'SAGAFLOW_CONFIG_INVALID', 'SAGAFLOW_DEFINITION_INVALID', 'SAGAFLOW_HOOK_INVALID', 'SAGAFLOW_SECRET_UNRESOLVED']);
  });
});
