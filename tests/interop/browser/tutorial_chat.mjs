// The tutorial_chat example in a real browser: Debian's chromium, driven by playwright-core (lib.mjs).
//
//   node tutorial_chat.mjs http://127.0.0.1:PORT/ [SCREENSHOT_PREFIX]
//
// Two pages in room "lobby" see each other's messages (one sent with the button, one with Enter, as a
// person would); a page in room "kitchen" sees none of theirs, and they see none of its. With a
// SCREENSHOT_PREFIX, each page's screenshot is written to PREFIX-<name>.png. Prints one line per step;
// exits 0 when every check held, 1 otherwise (with the reason on stderr). Bounded: each wait 10 s, the
// whole run 60 s. Run by tests/integration/browser_tutorial_chat.rs.
import { WAIT_MS, expect, openConnected, runInBrowser } from './lib.mjs';

function log(page) {
  return page.$eval('#chat-log', (el) => el.value);
}

async function waitForLine(page, line) {
  await page.waitForFunction(
    (l) => document.querySelector('#chat-log').value.split('\n').includes(l),
    line, { timeout: WAIT_MS });
}

await runInBrowser('tutorial_chat.mjs', async ({ context, base }) => {
  // The page says "connected" once its WebSocket is open (and so the room's group joined).
  const openRoom = (room) =>
    openConnected(context, room, new URL(`/chat/${room}/`, base).href, '#chat-status');
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

  return [['alice', alice], ['bob', bob], ['carol', carol]];
});
