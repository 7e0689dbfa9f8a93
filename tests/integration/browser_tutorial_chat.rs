//! The `tutorial_chat` example in a real browser: Debian's chromium driven by playwright-core
//! (`tests/interop/browser/tutorial_chat.mjs`, run with `node`) against the example's routing on a free
//! port. Two pages in one room see each other's messages; a page in another room sees nothing.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/interop/browser/node_modules` (`tests/interop/setup.sh`,
//! run by `.ci/run`, installs them); without them the test fails and says so, unless
//! `CHANNELS_SKIP_BROWSER=1`. Screenshots of the three pages are left in the temp dir
//! (`channels-browser-tutorial-chat-{alice,bob,carol}.png`) for a person to look at.

use std::process::Command;

use crate::common;
use crate::interop_support::{ChildGuard, PROCESS_GUARD, interop_dir, ready_or_skip};
use crate::tutorial_chat;

#[tokio::test]
async fn two_pages_in_a_room_chat_and_a_third_room_sees_nothing() {
    let browser_dir = interop_dir("browser");
    let needed = [
        "/usr/bin/chromium".into(),
        browser_dir.join("node_modules/playwright-core/package.json"),
    ];
    if !ready_or_skip("CHANNELS_SKIP_BROWSER", &needed) {
        return;
    }
    let node_works = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        node_works,
        "`node` is not on PATH: install Node.js (and run `bash tests/interop/setup.sh`), or set \
         CHANNELS_SKIP_BROWSER=1 to skip this test"
    );

    let (server, layer) = common::start(tutorial_chat::channel_routing()).await;
    let base = format!("http://{}/", server.local_addr());
    let screenshots = std::env::temp_dir().join("channels-browser-tutorial-chat");
    let node = ChildGuard::spawn(
        "node-tutorial-chat",
        Command::new("node")
            .arg(browser_dir.join("tutorial_chat.mjs"))
            .arg(&base)
            .arg(&screenshots)
            .current_dir(&browser_dir),
    );
    let (status, output) = node.wait(PROCESS_GUARD).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the browser run failed ({status:?}):\n{output}"
    );
    // The script's own checks held (it exits 1 otherwise); these lines say which ran.
    for check in [
        "ok: alice's log is exactly the lobby's three messages",
        "ok: bob's log is exactly the lobby's three messages",
        "ok: carol's log is exactly her own message",
    ] {
        assert!(output.contains(check), "missing {check:?} in:\n{output}");
    }
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
