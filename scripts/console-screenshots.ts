// Screenshots of the console for the README (docs/console-*.png), taken from `npm run demo -- --keep`
// with the same headless Chromium as the browser tests:
//   node scripts/console-screenshots.ts
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from './browser.ts';

const root = new URL('../', import.meta.url).pathname;
const port = Number(process.env.HTTP_PORT ?? 3077);
const url = `http://127.0.0.1:${port}`;
const token = randomBytes(16).toString('hex');
/** How long the demo runs before the first picture, so counts and rates have something to show. */
const warmupMs = Number(process.env.SAGAFLOW_SCREENSHOT_WARMUP_MS ?? 75_000);

const demo = spawn(process.execPath, [join(root, 'scripts/demo.ts'), '--keep'], {
  env: { ...process.env, HTTP_PORT: String(port), SAGAFLOW_ADMIN_TOKEN: token },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
let exited = false;
demo.once('exit', () => {
  exited = true;
});
demo.stdout.on('data', (chunk: Buffer) => {
  output += chunk.toString();
  process.stdout.write(chunk);
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error('the demo ended; see its output above');
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

async function shot(page: Page, name: string, path: string, ready: string): Promise<void> {
  await page.goto(`${url}${path}`);
  await page.waitForSelector(ready, { timeout: 30_000 });
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await page.screenshot({ path: join(root, 'docs', `console-${name}.png`), fullPage: true });
  console.log(`[screenshots] docs/console-${name}.png`);
}

const profile = mkdtempSync(join(tmpdir(), 'sagaflow-screenshots-'));
try {
  await until('the demo to print the console address', async () => (output.includes('/console/') ? true : undefined), 300_000);
  console.log(`[screenshots] letting the demo run ${Math.round(warmupMs / 1000)} s`);
  await new Promise((r) => setTimeout(r, warmupMs));
  // A saga an operator cancelled, for the detail page.
  const running = await api<{ items: { sagaId: string }[] }>('/sagas?currentState=reservationCreated&limit=1');
  const cancelled = running.items[0]?.sagaId;
  if (cancelled) await api(`/saga/${cancelled}/cancel?wait=true`, { method: 'POST', body: JSON.stringify({ by: 'alice@example.com', reason: 'the customer called to cancel' }) });
  const confirmed = await until('a confirmed reservation', async () => (await api<{ items: { sagaId: string }[] }>('/sagas?currentState=reservationConfirmed&limit=1')).items[0]?.sagaId, 60_000);

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: await ensureChromium(),
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  await page.goto(`${url}/console/`);
  // As an operator would after pasting the token: kept in the tab's sessionStorage.
  await page.evaluate(`sessionStorage.setItem('sagaflow.adminToken', ${JSON.stringify(token)})`);
  await shot(page, 'overview', '/console/', '#machine svg [data-count-for]');
  await shot(page, 'sagas', '/console/sagas?isFinal=false&sort=updatedAt', '#saga-table tbody tr');
  await shot(page, 'saga', `/console/sagas/${encodeURIComponent(confirmed)}`, '#saga-graph .edge.taken');
  if (cancelled) await shot(page, 'saga-cancelled', `/console/sagas/${encodeURIComponent(cancelled)}`, '#saga-graph .edge.adhoc');
  await shot(page, 'dead-letters', '/console/dead-letters', '#dead-letter-table tbody tr');
  await context.close();
} finally {
  if (!exited) {
    demo.kill('SIGINT');
    await new Promise((r) => demo.once('exit', r));
  }
  rmSync(profile, { recursive: true, force: true });
}
