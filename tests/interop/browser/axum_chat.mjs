// The axum_chat example in a real browser: Debian's chromium, driven by playwright-core.
//
//   node axum_chat.mjs http://127.0.0.1:PORT/ [SCREENSHOT_PREFIX]
//
// axum's own route answers `/health` with `ok`; two chat pages (the chat example's page, served at `/`
// by the mounted routing table) see each other's messages: one sent with the button, one with Enter, as a
// person would. With a SCREENSHOT_PREFIX, each page's screenshot is written to PREFIX-<name>.png. Prints
// one line per check; exits 0 when every check held, 1 otherwise (with the reason on stderr). Bounded:
// each wait 10 s, the whole run 60 s. Run by tests/integration/browser_axum_chat.rs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, screenshots] = process.argv.slice(2);
if (!base) {
  console.error('usage: node axum_chat.mjs BASE_URL [SCREENSHOT_PREFIX]');
  process.exit(2);
}
const WAIT_MS = 10_000;
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

async function openChat(name) {
  const page = await context.newPage();
  page.on('console', (msg) => console.log(`[${name} console] ${msg.text()}`));
  await page.goto(base);
  // The page says "connected" once its WebSocket is open (and so the group "chat" joined).
  await page.waitForFunction(
    () => document.querySelector('#status').textContent === 'connected',
    null, { timeout: WAIT_MS });
  return page;
}

function lines(page) {
  return page.$$eval('#log div', (divs) => divs.map((d) => d.textContent));
}

async function waitForLine(page, line) {
  await page.waitForFunction(
    (l) => [...document.querySelectorAll('#log div')].some((d) => d.textContent === l),
    line, { timeout: WAIT_MS });
}

function expect(condition, what) {
  if (!condition) throw new Error(what);
  console.log(`ok: ${what}`);
}

let failed = false;
try {
  // axum's own handler, beside the mounted table.
  const health = await context.newPage();
  const response = await health.goto(new URL('/health', base).href);
  expect(response.status() === 200 && (await health.textContent('body')).trim() === 'ok',
    '/health answers 200 ok');
  await health.close();

  const alice = await openChat('alice');
  const bob = await openChat('bob');
  console.log('two pages connected');

  // Alice types and clicks Send.
  await alice.fill('#text', 'from alice');
  await alice.click('button');
  await waitForLine(bob, '[user] from alice');
  await waitForLine(alice, '[user] from alice');
  expect(await alice.inputValue('#text') === '', 'the input is cleared after sending');

  // Bob types and presses Enter.
  await bob.focus('#text');
  await bob.keyboard.type('from bob');
  await bob.keyboard.press('Enter');
  await waitForLine(alice, '[user] from bob');
  await waitForLine(bob, '[user] from bob');

  for (const [name, page] of [['alice', alice], ['bob', bob]]) {
    const log = await lines(page);
    const chat = log.filter((l) => l === '[user] from alice' || l === '[user] from bob');
    expect(JSON.stringify(chat) === JSON.stringify(['[user] from alice', '[user] from bob']),
      `${name} saw alice's message, then bob's, once each`);
  }

  if (screenshots) {
    for (const [name, page] of [['alice', alice], ['bob', bob]]) {
      await page.screenshot({ path: `${screenshots}-${name}.png` });
    }
    console.log(`screenshots: ${screenshots}-{alice,bob}.png`);
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
