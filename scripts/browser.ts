// Headless Chromium for the console's browser tests and screenshots, from Debian's package:
//   node scripts/browser.ts            installs it when missing (apt-get, as root) and prints its path
// The tests call ensureChromium() from their setup, so a fresh CI machine needs nothing by hand.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Where Debian's `chromium` package puts the browser. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a browser that touches nothing outside the page under test: no sandbox (the tests
 * may run as root, where Chromium refuses its sandbox), no GPU, no QUIC, no first-run, update
 * or sync traffic. The caller adds a fresh `--user-data-dir`.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export class BrowserUnavailableError extends Error {
  readonly code = 'SAGAFLOW_BROWSER_UNAVAILABLE';
  constructor(message: string) {
    super(`SAGAFLOW_BROWSER_UNAVAILABLE: ${message}`);
    this.name = 'BrowserUnavailableError';
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], line: (text: string) => void): Promise<void> {
  line(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    // apt prints its own progress; pass it through so a long first install never looks like a hang.
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    child.once('error', (err) => reject(new BrowserUnavailableError(`${command} could not run: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new BrowserUnavailableError(`\`${command} ${args.join(' ')}\` ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

/**
 * The path of a headless Chromium: `SAGAFLOW_CHROMIUM_PATH` when set, else Debian's, installed
 * with `apt-get update && apt-get install -y chromium` when missing (which needs root).
 * @throws BrowserUnavailableError saying what to do when it cannot be found or installed.
 */
export async function ensureChromium(opts: { line?: (text: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const line = opts.line ?? ((text: string) => console.log(`[browser] ${text}`));
  const env = opts.env ?? process.env;
  const given = env.SAGAFLOW_CHROMIUM_PATH;
  if (given) {
    if (executable(given)) return given;
    throw new BrowserUnavailableError(`SAGAFLOW_CHROMIUM_PATH=${given} is not an executable file; point it at a Chromium binary or unset it`);
  }
  if (executable(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new BrowserUnavailableError(
      `${DEBIAN_CHROMIUM} is missing and installing it needs root: run \`sudo apt-get update && sudo apt-get install -y chromium\`, or set SAGAFLOW_CHROMIUM_PATH`,
    );
  }
  if (!executable('/usr/bin/apt-get')) {
    throw new BrowserUnavailableError(`${DEBIAN_CHROMIUM} is missing and this machine has no apt-get; install Chromium and set SAGAFLOW_CHROMIUM_PATH`);
  }
  line(`${DEBIAN_CHROMIUM} is missing: installing Debian's chromium package (a few minutes on first use)`);
  const started = Date.now();
  await run('apt-get', ['update'], line);
  await run('apt-get', ['install', '-y', 'chromium'], line);
  if (!executable(DEBIAN_CHROMIUM)) throw new BrowserUnavailableError(`apt-get installed chromium but ${DEBIAN_CHROMIUM} is still missing`);
  line(`chromium installed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return DEBIAN_CHROMIUM;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(await ensureChromium());
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
