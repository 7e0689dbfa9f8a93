// The tutorial_chat example in a real browser: Debian's chromium, driven by playwright-core.
//
//   node tutorial_chat.mjs http://127.0.0.1:PORT/ [SCREENSHOT_PREFIX]
//
// Two pages in room "lobby" see each other's messages (one sent with the button, one with Enter, as a
// person would); a page in room "kitchen" sees none of theirs, and they see none of its. With a
// SCREENSHOT_PREFIX, each page's screenshot is written to PREFIX-<name>.png. Prints one line per step;
// exits 0 when every check held, 1 otherwise (with the reason on stderr). Bounded: each wait 10 s, the
// whole run 60 s. Run by tests/integration/browser_tutorial_chat.rs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, screenshots] = process.argv.slice(2);
if (!base) {
  console.error('usage: node tutorial_chat.mjs BASE_URL [SCREENSHOT_PREFIX]');
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

async function openRoom(room) {
  const page = await context.newPage();
  page.on('console', (msg) => console.log(`[${room} console] ${msg.text()}`));
  await page.goto(new URL(`/chat/${room}/`, base).href);
  // The page says "connected" once its WebSocket is open (and so the room's group joined).
  await page.waitForFunction(
    () => document.querySelector('#chat-status').textContent === 'connected',
    null, { timeout: WAIT_MS });
  return page;
}

function log(page) {
  return page.$eval('#chat-log', (el) => el.value);
}

async function waitForLine(page, line) {
  await page.waitForFunction(
    (l) => document.querySelector('#chat-log').value.split('\n').includes(l),
    line, { timeout: WAIT_MS });
}

function expect(condition, what) {
  if (!condition) throw new Error(what);
  console.log(`ok: ${what}`);
}

let failed = false;
try {
  const alice = await openRoom('lobby');
  const bob = await openRoom('lobby');
  const carol = await openRoom('kitchen');
  console.log('three pages connected');

  // Alice types and clicks Send, as the tutorial's page is used.
  await alice.fill('#chat-message-input', 'hello from alice');
  await alice.click('#chat-message-submit');
  await waitForLine(bob, 'hello from alice');
  await waitForLine(alice, 'hello from alice');
  expect(await alice.inputValue('#chat-message-input') === '', 'the input is cleared after sending');
  console.log('ok: both lobby pages show alice\'s message');

  // Bob types and presses Enter.
  await bob.focus('#chat-message-input');
  await bob.keyboard.type('hi alice, bob here');
  await bob.keyboard.press('Enter');
  await waitForLine(alice, 'hi alice, bob here');
  await waitForLine(bob, 'hi alice, bob here');
  console.log('ok: both lobby pages show bob\'s message');

  // Carol, in another room: she sees her own message and nothing else...
  await carol.fill('#chat-message-input', 'kitchen only');
  await carol.click('#chat-message-submit');
  await waitForLine(carol, 'kitchen only');
  // ...and once a later lobby message has reached the lobby, hers has not.
  await alice.fill('#chat-message-input', 'after the kitchen');
  await alice.click('#chat-message-submit');
  await waitForLine(alice, 'after the kitchen');
  await waitForLine(bob, 'after the kitchen');

  const expected = 'hello from alice\nhi alice, bob here\nafter the kitchen\n';
  expect(await log(alice) === expected, `alice's log is exactly the lobby's three messages`);
  expect(await log(bob) === expected, `bob's log is exactly the lobby's three messages`);
  expect(await log(carol) === 'kitchen only\n', `carol's log is exactly her own message`);

  if (screenshots) {
    for (const [name, page] of [['alice', alice], ['bob', bob], ['carol', carol]]) {
      await page.screenshot({ path: `${screenshots}-${name}.png` });
    }
    console.log(`screenshots: ${screenshots}-{alice,bob,carol}.png`);
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
