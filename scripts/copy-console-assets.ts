// The web console's static files beside the compiled console module: `npm run build` writes
// dist/http/console/*.js with tsc, which copies no assets, and the module serves the folder
// next to it (src/http/console/assets in a checkout, dist/http/console/assets in a package).
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function copyConsoleAssets(outDir: string): void {
  cpSync(join(root, 'src/http/console/assets'), join(resolve(outDir), 'http/console/assets'), { recursive: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  copyConsoleAssets(process.argv[2] ?? join(root, 'dist'));
}
