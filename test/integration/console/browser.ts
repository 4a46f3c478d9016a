import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../../scripts/browser.ts';
import { registerCleanup } from '../../support/cleanup.ts';

/**
 * Headless Chromium from Debian (installed by scripts/browser.ts when missing) with a fresh
 * profile, closed and removed after the test file.
 */
export async function launchBrowser(): Promise<BrowserContext> {
  const executablePath = await ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), 'sagaflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: { width: 1440, height: 1000 },
  });
  registerCleanup(async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** What went wrong in a page: console errors, uncaught exceptions, failed or refused requests. */
export interface PageProblems {
  errors: string[];
}

/** A new page that records its problems; `allowStatus` lists answers a test provokes on purpose. */
export async function watchedPage(context: BrowserContext, allowStatus: (url: string, status: number) => boolean = () => false): Promise<{ page: Page; problems: PageProblems }> {
  const page = await context.newPage();
  const problems: PageProblems = { errors: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // A live feed cut by navigating away is not a failure of the page.
    if (req.url().endsWith('/console/api/live')) return;
    problems.errors.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && !allowStatus(res.url(), res.status())) problems.errors.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  return { page, problems };
}
