//! What the cargo-fuzz targets (`fuzz/`, issue 10 item 8) found, one test per finding, each the crash
//! input (minimised) written out by hand, through the same public API the target drove. Each fails
//! without its fix. `fuzz/README.md` says how to run the targets.

use std::sync::Arc;

use channels::layer::Inbox;
use channels::prelude::*;
use channels::routing::PathPattern;
use serde_json::Value;

/// A reply channel on a fresh in-memory layer, and the inbox that reads it.
async fn reply_channel() -> (ReplyChannel, Inbox) {
    let layer = Arc::new(InMemoryLayer::new());
    let inbox = layer.new_channel("specific.").await.expect("inbox");
    (ReplyChannel::new(inbox.name(), layer), inbox)
}

async fn sent(message: Value) -> Vec<LayerMessage> {
    let (reply, inbox) = reply_channel().await;
    reply
        .send(message.clone())
        .await
        .unwrap_or_else(|e| panic!("{message} refused: {e}"));
    std::iter::from_fn(|| inbox.try_recv()).collect()
}

/// fuzz target `reply_dict`, crash-db2346b2: `{"bytes": [], "text": null}` was refused with "`text` and
/// `bytes` can't be sent in one message". ASGI's `websocket.send` lets both keys be present when one is
/// null, and a null `text` alone was already accepted; a null `bytes` was refused outright.
#[tokio::test]
async fn a_null_text_or_bytes_is_absent() {
    assert_eq!(
        sent(json!({"bytes": [], "text": null})).await,
        [LayerMessage::Binary(Vec::new().into())]
    );
    assert_eq!(
        sent(json!({"bytes": null, "text": "hi"})).await,
        [LayerMessage::text("hi")]
    );
    assert_eq!(
        sent(json!({"bytes": null, "close": true})).await,
        [LayerMessage::Close(1000)]
    );
    // Both non-null still conflict, and nothing is sent.
    let (reply, inbox) = reply_channel().await;
    assert!(matches!(
        reply.send(json!({"bytes": [1], "text": "a"})).await,
        Err(Error::InvalidMessage(_))
    ));
    assert_eq!(inbox.try_recv(), None);
}

fn own() -> Consumer {
    Consumer::from_async("own", |_m: Message| async {})
}

/// fuzz target `router`, crash-d2763386 (`"77777)|(77?..."`, minimised here to `/a)|(?:/b`): a path
/// pattern that is not a regex on its own was taken once the router wrapped it in its anchors
/// (`\A(?:/a)|(?:/b)`), and then matched `/b` anywhere in the path. It is now refused, as
/// `channel_routing!` refuses it while compiling.
#[test]
fn a_pattern_that_is_no_regex_on_its_own_is_refused() {
    let table = Routing::new().route(Route::to("websocket.receive", Some("/a)|(?:/b"), own()));
    assert_eq!(table.errors().len(), 1, "{:?}", table.errors());
    assert!(table.resolve("websocket.receive", "/zz/b").is_none());

    let table = Routing::url_router()
        .route(Route::to("websocket.receive", None, own()).at(PathPattern::re_path("a)|(b")));
    assert_eq!(table.errors().len(), 1, "{:?}", table.errors());
    // The error quotes the pattern as written, not the router's wrapping of it.
    let message = table.errors()[0].to_string();
    assert!(!message.contains(r"\A(?:"), "{message}");
}

/// The other half of the same property: a pattern that is a regex on its own is taken, even in
/// verbose mode ending in a comment, which swallowed the wrapping's closing `)`.
#[test]
fn a_verbose_pattern_ending_in_a_comment_is_taken() {
    let table = Routing::new().route(Route::to(
        "websocket.receive",
        Some("(?x) /chat/ # the chat page"),
        own(),
    ));
    assert!(table.errors().is_empty(), "{:?}", table.errors());
    assert!(table.resolve("websocket.receive", "/chat/").is_some());
    assert!(table.resolve("websocket.receive", "/x/chat/").is_none());
}
