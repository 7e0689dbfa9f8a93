// The axum_chat example in a real browser: Debian's chromium, driven by playwright-core (lib.mjs).
//
//   node axum_chat.mjs http://127.0.0.1:PORT/ [SCREENSHOT_PREFIX]
//
// axum's own route answers `/health` with `ok`; two chat pages (the chat example's page, served at `/`
// by the mounted routing table) see each other's messages: one sent with the button, one with Enter, as a
// person would. With a SCREENSHOT_PREFIX, each page's screenshot is written to PREFIX-<name>.png. Prints
// one line per check; exits 0 when every check held, 1 otherwise (with the reason on stderr). Bounded:
// each wait 10 s, the whole run 60 s. Run by tests/integration/browser_axum_chat.rs.
import { WAIT_MS, expect, openConnected, runInBrowser } from './lib.mjs';

function lines(page) {
  return page.$$eval('#log div', (divs) => divs.map((d) => d.textContent));
}

async function waitForLine(page, line) {
  await page.waitForFunction(
    (l) => [...document.querySelectorAll('#log div')].some((d) => d.textContent === l),
    line, { timeout: WAIT_MS });
}

await runInBrowser('axum_chat.mjs', async ({ context, base }) => {
  // axum's own handler, beside the mounted table.
  const health = await context.newPage();
  const response = await health.goto(new URL('/health', base).href);
  expect(response.status() === 200 && (await health.textContent('body')).trim() === 'ok',
    '/health answers 200 ok');
  await health.close();

  // The page says "connected" once its WebSocket is open (and so the group "chat" joined).
  const alice = await openConnected(context, 'alice', base, '#status');
  const bob = await openConnected(context, 'bob', base, '#status');
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

  const pages = [['alice', alice], ['bob', bob]];
  for (const [name, page] of pages) {
    const log = await lines(page);
    const chat = log.filter((l) => l === '[user] from alice' || l === '[user] from bob');
    expect(JSON.stringify(chat) === JSON.stringify(['[user] from alice', '[user] from bob']),
      `${name} saw alice's message, then bob's, once each`);
  }
  return pages;
});
