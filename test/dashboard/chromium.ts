// Headless Debian chromium driven by playwright-core, as every dashboard browser test uses it:
// closed-network flags, console errors captured, and every request off the node's origin refused
// (the page must bundle everything it uses).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface SameOriginPage {
  browser: Browser;
  page: Page;
  consoleErrors: string[];
  offOrigin: string[];
}

export async function openSameOriginPage(origin: string, timeoutMs = 10_000): Promise<SameOriginPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
  const consoleErrors: string[] = [];
  const offOrigin: string[] = [];
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(timeoutMs);
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (!url.startsWith(origin + '/')) {
      offOrigin.push(url);
      return route.abort();
    }
    return route.continue();
  });
  return { browser, page, consoleErrors, offOrigin };
}
