// Headless Chromium for the dashboard's screenshots and its browser test: the system's browser
// (Debian: apt-get install chromium → /usr/bin/chromium, or TESSERA_CHROMIUM), driven through
// playwright-core, which downloads nothing.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TesseraError } from '../util/errors.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The browser executable (the first given path that exists), or null. */
export function findChromium(explicit?: string): string | null {
  if (explicit) return existsSync(explicit) ? explicit : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export async function launchChromium(explicit?: string): Promise<Browser> {
  const exe = findChromium(explicit);
  if (!exe) {
    throw new TesseraError(`no Chromium found (${explicit ?? CANDIDATES.join(', ')})`, 'install it: apt-get install -y --no-install-recommends chromium (or set TESSERA_CHROMIUM to a Chromium/Chrome executable)');
  }
  // --no-sandbox: CI and this machine run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Opens the dashboard at url and waits until it has rendered a state with at least `points` validation-loss points. */
export async function openDashboard(browser: Browser, url: string, o: { points?: number; timeoutMs?: number; width?: number; height?: number } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: o.width ?? 1400, height: o.height ?? 1000 } });
  await page.goto(url);
  await page.waitForFunction((n) => Number(document.querySelector('#loss-chart')?.getAttribute('data-points') ?? 0) >= n && document.querySelector('#loss-chart canvas') !== null,
    o.points ?? 0, { timeout: o.timeoutMs ?? 30_000 });
  return page;
}

/** A full-page PNG of the dashboard at url. */
export async function screenshotDashboard(url: string, file: string, o: { chromium?: string; points?: number; explainUid?: number; timeoutMs?: number } = {}): Promise<void> {
  const browser = await launchChromium(o.chromium);
  try {
    const page = await openDashboard(browser, url, { points: o.points, timeoutMs: o.timeoutMs });
    if (o.explainUid !== undefined) {
      await page.click(`#miners tr[data-uid="${o.explainUid}"]`);
      await page.waitForFunction(() => /final/.test(document.querySelector('#explain-text')?.textContent ?? ''), undefined, { timeout: 15_000 });
    }
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await browser.close();
  }
}
