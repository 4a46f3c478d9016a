// Screenshots of the console for the README (docs/console-*.png), with the same headless
// Chromium as the browser tests:
//   node scripts/console-screenshots.ts                 every one
//   node scripts/console-screenshots.ts saga-timers     only those named
// overview, sagas, saga, saga-cancelled and dead-letters are taken from `npm run demo -- --keep`;
// saga-timers from `sagaflow start` with examples/payment/saga.json on the running stack (nobody
// answers its payments service, so the charge is sent again and the timeout and deadline wait).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import type { SagaDocument } from '../src/saga/types.ts';
import { CHROMIUM_ARGS, ensureChromium } from './browser.ts';

const root = new URL('../', import.meta.url).pathname;
const port = Number(process.env.HTTP_PORT ?? 3077);
const token = randomBytes(16).toString('hex');
/** How long the demo runs before the first picture, so counts and rates have something to show. */
const warmupMs = Number(process.env.SAGAFLOW_SCREENSHOT_WARMUP_MS ?? 75_000);

const DEMO_SHOTS = ['overview', 'sagas', 'saga', 'saga-cancelled', 'dead-letters'];
const SHOTS = [...DEMO_SHOTS, 'saga-timers'];
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !SHOTS.includes(name));
if (unknown.length > 0) {
  console.error(`usage: node scripts/console-screenshots.ts [${SHOTS.join(' | ')} ...]   (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}
const wanted = (name: string) => asked.length === 0 || asked.includes(name);

/** A child process whose stdout is kept (and shown), stopped with SIGINT at the end. */
class Child {
  output = '';
  exited = false;
  private readonly proc: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc.once('exit', () => {
      this.exited = true;
    });
    this.proc.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
      process.stdout.write(chunk);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGINT');
    await new Promise((r) => this.proc.once('exit', r));
  }
}

async function until<T>(what: string, child: Child, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited) throw new Error(`${what}: the process ended; see its output above`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

/** A page of the console at `url` with the operator's token, as after pasting it (kept in the tab's sessionStorage). */
async function operatorPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/console/`);
  await page.evaluate(`sessionStorage.setItem('sagaflow.adminToken', ${JSON.stringify(token)})`);
  return page;
}

async function shot(page: Page, name: string, url: string, ready: string): Promise<void> {
  if (!wanted(name)) return;
  await page.goto(url);
  await page.waitForSelector(ready, { timeout: 30_000 });
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await page.screenshot({ path: join(root, 'docs', `console-${name}.png`), fullPage: true });
  console.log(`[screenshots] docs/console-${name}.png`);
}

async function demoShots(context: BrowserContext): Promise<void> {
  const url = `http://127.0.0.1:${port}`;
  const demo = new Child([join(root, 'scripts/demo.ts'), '--keep'], { HTTP_PORT: String(port), SAGAFLOW_ADMIN_TOKEN: token });
  try {
    await until('the demo to print the console address', demo, async () => (demo.output.includes('/console/') ? true : undefined), 300_000);
    console.log(`[screenshots] letting the demo run ${Math.round(warmupMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, warmupMs));
    // A saga an operator cancelled, for the detail page.
    const running = await api<{ items: { sagaId: string }[] }>(url, '/sagas?currentState=reservationCreated&limit=1');
    const cancelled = running.items[0]?.sagaId;
    if (cancelled) await api(url, `/saga/${cancelled}/cancel?wait=true`, { method: 'POST', body: JSON.stringify({ by: 'alice@example.com', reason: 'the customer called to cancel' }) });
    const confirmed = await until('a confirmed reservation', demo, async () => (await api<{ items: { sagaId: string }[] }>(url, '/sagas?currentState=reservationConfirmed&limit=1')).items[0]?.sagaId, 60_000);
    const page = await operatorPage(context, url);
    await shot(page, 'overview', `${url}/console/`, '#machine svg [data-count-for]');
    await shot(page, 'sagas', `${url}/console/sagas?isFinal=false&sort=updatedAt`, '#saga-table tbody tr');
    await shot(page, 'saga', `${url}/console/sagas/${encodeURIComponent(confirmed)}`, '#saga-graph .edge.taken');
    if (cancelled) await shot(page, 'saga-cancelled', `${url}/console/sagas/${encodeURIComponent(cancelled)}`, '#saga-graph .edge.adhoc');
    await shot(page, 'dead-letters', `${url}/console/dead-letters`, '#dead-letter-table tbody tr');
  } finally {
    await demo.stop();
  }
}

/** A payment whose charge was sent twice (the first retry fired) and waits on the next retry, its timeout and the deadline. */
async function timersShot(context: BrowserContext): Promise<void> {
  const url = `http://127.0.0.1:${port + 1}`;
  const run = `screenshots-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-screenshots-payment-'));
  const saga = JSON.parse(readFileSync(join(root, 'examples/payment/saga.json'), 'utf8')) as { communicationProtocols: { configurations: Record<string, unknown> }[] };
  const channel = saga.communicationProtocols[0];
  if (!channel) throw new Error('examples/payment/saga.json has no channel');
  channel.configurations = {
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    inputTopics: [`${run}-events`],
    outputTopics: [`${run}-commands`],
    consumerGroup: `${run}-sagaflow`,
  };
  writeFileSync(join(dir, 'saga.json'), JSON.stringify(saga));
  const sagaflow = new Child([join(root, 'bin/sagaflow.js'), 'start'], {
    CONFIGURATIONS_FILE_PATH: join(dir, 'saga.json'),
    HTTP_PORT: String(port + 1),
    SAGAFLOW_STATE_DIR: join(dir, 'state'),
    SAGA_ID_PREFIX: 'payment',
    SAGAFLOW_DEFAULT_PARTITIONS: '1',
    SAGAFLOW_REPLICATION_FACTOR: '1',
    SAGAFLOW_ADMIN_TOKEN: token,
    LOG_LEVEL: 'warn',
  });
  try {
    await until('sagaflow with examples/payment to be ready', sagaflow, async () => ((await fetch(`${url}/-/ready`)).status === 200 ? true : undefined), 120_000);
    const { sagaId } = await api<{ sagaId: string }>(url, '/saga', { method: 'POST', body: JSON.stringify({ associatedEntityId: 'order-1042', metadata: { amount: 40, currency: 'EUR' } }) });
    // The first retry of chargeCard is due 10 s after the creation.
    await until('the first retry of chargeCard', sagaflow, async () => ((await api<SagaDocument>(url, `/saga/${sagaId}`)).commands.length >= 2 ? true : undefined), 60_000);
    const page = await operatorPage(context, url);
    await shot(page, 'saga-timers', `${url}/console/sagas/${encodeURIComponent(sagaId)}`, '#timeline tr[data-kind="timer"]');
  } finally {
    await sagaflow.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const profile = mkdtempSync(join(tmpdir(), 'sagaflow-screenshots-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: await ensureChromium(),
  headless: true,
  args: [...CHROMIUM_ARGS],
  viewport: { width: 1440, height: 900 },
  deviceScaleFactor: 1,
});
try {
  if (DEMO_SHOTS.some(wanted)) await demoShots(context);
  if (wanted('saga-timers')) await timersShot(context);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
