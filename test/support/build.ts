import { join } from 'node:path';
import { expect } from 'vitest';
import { copyConsoleAssets } from '../../scripts/copy-console-assets.ts';
import { runNode } from './process.ts';

const root = new URL('../../', import.meta.url).pathname;

/** What `npm run build` writes, into `outDir` instead of dist/: tsc's output and the console's assets. */
export async function buildDist(outDir: string): Promise<void> {
  const build = await runNode([join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { cwd: root, timeoutMs: 300_000 }).done;
  expect(build.code, build.stdout + build.stderr).toBe(0);
  copyConsoleAssets(outDir);
}
