//! The `tutorial_chat` example in a real browser: Debian's chromium driven by playwright-core
//! (`tests/interop/browser/tutorial_chat.mjs`, run with `node`) against the example's routing on a free
//! port. Two pages in one room see each other's messages; a page in another room sees nothing.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/interop/browser/node_modules` (`tests/interop/setup.sh`,
//! run by `.ci/run`, installs them); without them the test fails and says so, unless
//! `CHANNELS_SKIP_BROWSER=1`. Screenshots of the three pages are left in the temp dir
//! (`channels-browser-tutorial-chat-{alice,bob,carol}.png`) for a person to look at.

use crate::common;
use crate::interop_support::{browser_dir_or_skip, run_browser_script};
use crate::tutorial_chat;

#[tokio::test]
async fn two_pages_in_a_room_chat_and_a_third_room_sees_nothing() {
    let Some(browser_dir) = browser_dir_or_skip() else {
        return;
    };
    let (server, layer) = common::start(tutorial_chat::channel_routing()).await;
    let base = format!("http://{}/", server.local_addr());
    let screenshots = std::env::temp_dir().join("channels-browser-tutorial-chat");
    // The script's own checks held (it exits 1 otherwise); these lines say which ran.
    run_browser_script(
        &browser_dir,
        "tutorial_chat.mjs",
        &base,
        &screenshots,
        &[
            "ok: alice's log is exactly the lobby's three messages",
            "ok: bob's log is exactly the lobby's three messages",
            "ok: carol's log is exactly her own message",
        ],
    )
    .await;
    // The browser closed its pages' sockets: they left their rooms.
    tokio::time::timeout(common::GUARD, server.wait_for_connections(0))
        .await
        .expect("the browser's sockets close");
    assert_eq!(layer.group_len("chat_lobby"), 0);
    assert_eq!(layer.group_len("chat_kitchen"), 0);
    eprintln!(
        "screenshots: {}-{{alice,bob,carol}}.png",
        screenshots.display()
    );
}
