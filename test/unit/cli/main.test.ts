import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.ts';

describe('sagaflow (main)', () => {
  it('--help lists the commands and exits 0', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout[0]).toBe('Usage: sagaflow <command> [options]');
    for (const name of ['validate', 'simulate', 'diagram']) expect(run.stdout.some((l) => l.startsWith(`  ${name}`))).toBe(true);
  });

  it('with no arguments prints the overview and exits 2', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(2);
    expect(run.stdout[0]).toBe('Usage: sagaflow <command> [options]');
  });

  it('prints per-command help with --help, -h or help <command>', async () => {
    for (const argv of [['validate', '--help'], ['validate', '-h'], ['help', 'validate']]) {
      const run = await runCli(argv);
      expect(run.code).toBe(0);
      expect(run.stdout[0]).toBe('Usage: sagaflow validate <saga.json> [--skip-secrets] [--json]');
    }
    expect((await runCli(['simulate', '--help'])).stdout[0]).toContain('Usage: sagaflow simulate');
    expect((await runCli(['diagram', '--help'])).stdout[0]).toBe('Usage: sagaflow diagram <saga.json>');
  });

  it('refuses an unknown command in one line, exit 2', async () => {
    const run = await runCli(['frobnicate']);
    expect(run).toEqual({ code: 2, stdout: [], stderr: ['sagaflow: unknown command "frobnicate"; run `sagaflow --help` for the list'] });
  });

  it('reports usage errors in one line, exit 2', async () => {
    expect(await runCli(['validate'])).toEqual({
      code: 2,
      stdout: [],
      stderr: ['sagaflow validate: missing the saga.json path; run `sagaflow validate --help`'],
    });
    expect(await runCli(['simulate', 'examples/order/saga.json', '--nope'])).toEqual({
      code: 2,
      stdout: [],
      stderr: ["sagaflow simulate: Unknown option '--nope'; run `sagaflow simulate --help`"],
    });
    expect((await runCli(['simulate', 'examples/order/saga.json', '--seed', 'x'])).stderr).toEqual([
      'sagaflow simulate: --seed must be an integer, got "x"; run `sagaflow simulate --help`',
    ]);
    expect((await runCli(['diagram', 'a.json', 'b.json'])).stderr).toEqual([
      'sagaflow diagram: unexpected argument "b.json"; run `sagaflow diagram --help`',
    ]);
  });

  it('reports failures in one line without a stack trace, exit 1', async () => {
    const run = await runCli(['diagram', 'missing/saga.json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(/^sagaflow diagram: cannot read saga definition ".*missing\/saga.json" \(ENOENT\)$/);
  });
});
