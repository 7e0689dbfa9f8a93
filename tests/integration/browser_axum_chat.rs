//! "axum_chat works in a browser": Debian's chromium driven by playwright-core
//! (`tests/interop/browser/axum_chat.mjs`, run with `node`) against the `axum_chat` example's app on a
//! free port. axum's `/health` answers in the browser, and two chat pages see each other's messages.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/interop/browser/node_modules` (`tests/interop/setup.sh`,
//! run by `.ci/run`, installs them); without them the test fails and says so, unless
//! `CHANNELS_SKIP_BROWSER=1`. Screenshots of the two pages are left in the temp dir
//! (`channels-browser-axum-chat-{alice,bob}.png`) for a person to look at.

use crate::common;
use crate::example_axum_chat;
use crate::interop_support::{browser_dir_or_skip, run_browser_script};

#[tokio::test]
async fn axum_chat_works_in_a_browser() {
    let Some(browser_dir) = browser_dir_or_skip() else {
        return;
    };
    // The example's app, as its `main` builds and serves it.
    let (addr, channels) = example_axum_chat::start().await;

    let base = format!("http://{addr}/");
    let screenshots = std::env::temp_dir().join("channels-browser-axum-chat");
    // The script's own checks held (it exits 1 otherwise); these lines say which ran.
    run_browser_script(
        &browser_dir,
        "axum_chat.mjs",
        &base,
        &screenshots,
        &[
            "ok: /health answers 200 ok",
            "ok: alice saw alice's message, then bob's, once each",
            "ok: bob saw alice's message, then bob's, once each",
        ],
    )
    .await;
    // The browser closed its pages' sockets, and their disconnect consumers have run.
    tokio::time::timeout(common::GUARD, channels.wait_for_connections(0))
        .await
        .expect("the browser's sockets close");
    eprintln!("screenshots: {}-{{alice,bob}}.png", screenshots.display());
}
