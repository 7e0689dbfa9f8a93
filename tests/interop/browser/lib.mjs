// What the browser scripts share: arguments, Debian's chromium launched headless through playwright-core,
// the time bounds, a page that waits for its WebSocket, one printed line per check, screenshots, and the
// exit code. Imported by axum_chat.mjs and tutorial_chat.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** How long any one wait in a page may take. */
export const WAIT_MS = 10_000;

/** Throws (failing the run) unless `condition`; prints `ok: <what>` when it holds. */
export function expect(condition, what) {
  if (!condition) throw new Error(what);
  console.log(`ok: ${what}`);
}

/**
 * Opens `url` in a new page of `context` named `name` (its console is echoed with that name) and waits
 * until the element `statusSelector` says "connected": the page's WebSocket is open.
 */
export async function openConnected(context, name, url, statusSelector) {
  const page = await context.newPage();
  page.on('console', (msg) => console.log(`[${name} console] ${msg.text()}`));
  await page.goto(url);
  await page.waitForFunction(
    (sel) => document.querySelector(sel).textContent === 'connected',
    statusSelector, { timeout: WAIT_MS });
  return page;
}

/**
 * The whole run of `script` (its name, for the usage line): reads `BASE_URL [SCREENSHOT_PREFIX]` from
 * the command line, launches chromium, and calls `body({ context, base })`, which returns the
 * `[name, page]` pairs to screenshot (to PREFIX-<name>.png, when a prefix was given). Exits 0 when the
 * body finished, 1 when it threw (with the reason on stderr) or the whole run passed 60 s; 2 on bad usage.
 */
export async function runInBrowser(script, body) {
  const [base, screenshots] = process.argv.slice(2);
  if (!base) {
    console.error(`usage: node ${script} BASE_URL [SCREENSHOT_PREFIX]`);
    process.exit(2);
  }
  const wholeRun = setTimeout(() => {
    console.error('browser test: gave up after 60 s');
    process.exit(1);
  }, 60_000);

  const userDataDir = mkdtempSync(join(tmpdir(), 'channels-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 900, height: 500 },
  });

  let failed = false;
  try {
    const pages = await body({ context, base });
    if (screenshots) {
      for (const [name, page] of pages) {
        await page.screenshot({ path: `${screenshots}-${name}.png` });
      }
      console.log(`screenshots: ${screenshots}-{${pages.map(([name]) => name).join(',')}}.png`);
    }
  } catch (error) {
    failed = true;
    console.error(`browser test failed: ${error.message}`);
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    clearTimeout(wholeRun);
  }
  process.exit(failed ? 1 : 0);
}
