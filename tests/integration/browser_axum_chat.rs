//! "axum_chat works in a browser": Debian's chromium driven by playwright-core
//! (`tests/interop/browser/axum_chat.mjs`, run with `node`) against the `axum_chat` example's app on a
//! free port. axum's `/health` answers in the browser, and two chat pages see each other's messages.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/interop/browser/node_modules` (`tests/interop/setup.sh`,
//! run by `.ci/run`, installs them); without them the test fails and says so, unless
//! `CHANNELS_SKIP_BROWSER=1`. Screenshots of the two pages are left in the temp dir
//! (`channels-browser-axum-chat-{alice,bob}.png`) for a person to look at.

use std::net::SocketAddr;
use std::process::Command;

use clap::Parser;

use crate::axum_chat;
use crate::common;
use crate::interop_support::{ChildGuard, PROCESS_GUARD, interop_dir, ready_or_skip};

#[tokio::test]
async fn axum_chat_works_in_a_browser() {
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

    // The example's app, as its `main` builds and serves it.
    let args = axum_chat::common::Args::parse_from(["axum_chat"]);
    let channels = axum_chat::chat_service(&args)
        .await
        .expect("the chat's routing is valid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let service =
        axum_chat::app(channels.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });

    let base = format!("http://{addr}/");
    let screenshots = std::env::temp_dir().join("channels-browser-axum-chat");
    let node = ChildGuard::spawn(
        "node-axum-chat",
        Command::new("node")
            .arg(browser_dir.join("axum_chat.mjs"))
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
        "ok: /health answers 200 ok",
        "ok: alice saw alice's message, then bob's, once each",
        "ok: bob saw alice's message, then bob's, once each",
    ] {
        assert!(output.contains(check), "missing {check:?} in:\n{output}");
    }
    // The browser closed its pages' sockets, and their disconnect consumers have run.
    tokio::time::timeout(common::GUARD, channels.wait_for_connections(0))
        .await
        .expect("the browser's sockets close");
    eprintln!("screenshots: {}-{{alice,bob}}.png", screenshots.display());
}
