import { readFileSync } from 'node:fs';

/** The name Mia-Platform status routes report (lc39 takes it from package.json too). */
export const SERVICE_NAME = 'sagaflow';

let version: string | undefined;

/** The package's version, read once from package.json (two levels up from src/http and dist/http alike). */
export function serviceVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
