import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run-cli.ts';

// The machine's own Node is 20 (the project's scripts run the Node 24 that `npm ci` installs).
const SYSTEM_NODE = '/usr/bin/node';
const BIN = join(ROOT, 'bin/sagaflow.js');

function run(node: string, args: string[]) {
  const result = spawnSync(node, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bin/sagaflow.js and the Node version', () => {
  it('tells a user on Node 20 which Node it needs, in one line, exit code 1, no stack trace', () => {
    expect(existsSync(SYSTEM_NODE), `${SYSTEM_NODE} is the system Node this test runs the command with`).toBe(true);
    const version = spawnSync(SYSTEM_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(version).toMatch(/^v20\./);
    for (const args of [['validate', 'examples/invoice/saga.json'], ['--help'], []]) {
      const result = run(SYSTEM_NODE, args);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `sagaflow: Node ${version.slice(1)} is too old; sagaflow needs Node >= 22.18 (24 LTS recommended). Install a newer Node, or run \`npx sagaflow\` in a checkout, which uses the Node 24 that \`npm ci\` installs.\n`,
      );
      expect(result.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|^\s+at /m);
    }
  });

  it('runs the command on a Node that is new enough', () => {
    const result = run(process.execPath, ['validate', 'examples/invoice/saga.json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('OK examples/invoice/saga.json');
  });
});
