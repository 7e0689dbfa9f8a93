//! The checks of channels: send and receive, capacity, expiry, process-local channels, names, delivery.

use std::collections::BTreeSet;

use futures_util::FutureExt;
use serde_json::json;

use super::{LayerFactory, Options, Violation, arrives, expect, make, must, text, violation};
use crate::HttpResponse;
use crate::layer::{ChannelLayer, LayerConfig, LayerError, LayerMessage, check_channel_name};

/// Messages sent to a channel are received in the order they were sent.
pub async fn send_receive_fifo(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "send/receive FIFO";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    for n in 0..10 {
        must(RULE, "send", layer.send("conformance.fifo", text(n)).await)?;
    }
    for n in 0..10 {
        let got = arrives(RULE, "receive", options, layer.receive("conformance.fifo")).await?;
        expect(RULE, "receive", &got, &text(n))?;
    }
    Ok(())
}

/// Every kind of message crosses the layer unchanged.
pub async fn message_kinds(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "message kinds";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    let mut kinds = vec![
        LayerMessage::text("héllo"),
        LayerMessage::Binary(bytes::Bytes::from_static(&[0, 1, 2, 255])),
        LayerMessage::Accept,
        LayerMessage::Reject,
        LayerMessage::Close(4001),
        LayerMessage::Http(std::sync::Arc::new(
            HttpResponse::text("ok").header("x-test", "1"),
        )),
    ];
    kinds.extend(LayerMessage::json(
        json!({"type": "chat.message", "text": "hi", "n": 1, "nested": {"list": [1, 2]}}),
    ));
    for kind in &kinds {
        must(
            RULE,
            "send",
            layer.send("conformance.kinds", kind.clone()).await,
        )?;
        let got = arrives(RULE, "receive", options, layer.receive("conformance.kinds")).await?;
        expect(RULE, "round trip", &got, kind)?;
    }
    Ok(())
}

/// A channel holding `capacity` messages refuses the next with `ChannelFull`, and has room again once one
/// is received.
pub async fn capacity(factory: &impl LayerFactory, options: &Options) -> Result<(), Violation> {
    const RULE: &str = "capacity";
    let layer = make(factory, RULE, LayerConfig::default().capacity(3)).await?;
    for n in 0..3 {
        must(
            RULE,
            "send below capacity",
            layer.send("conformance.cap", text(n)).await,
        )?;
    }
    match layer.send("conformance.cap", text(3)).await {
        Err(LayerError::ChannelFull) => {}
        other => {
            return Err(violation(
                RULE,
                format!("a send to a full channel gave {other:?}, expected Err(ChannelFull)"),
            ));
        }
    }
    let got = arrives(RULE, "receive", options, layer.receive("conformance.cap")).await?;
    expect(RULE, "receive", &got, &text(0))?;
    must(
        RULE,
        "send after a receive made room",
        layer.send("conformance.cap", text(4)).await,
    )
}

/// A message not received within `expiry` is never delivered; one sent later is.
pub async fn expiry(factory: &impl LayerFactory, options: &Options) -> Result<(), Violation> {
    const RULE: &str = "message expiry";
    let Some(expiry) = options.expiry else {
        return Ok(());
    };
    let layer = make(factory, RULE, LayerConfig::default().expiry(expiry)).await?;
    must(
        RULE,
        "send",
        layer
            .send("conformance.expiry", LayerMessage::text("old"))
            .await,
    )?;
    tokio::time::sleep(expiry + expiry / 2).await;
    must(
        RULE,
        "send",
        layer
            .send("conformance.expiry", LayerMessage::text("new"))
            .await,
    )?;
    let got = arrives(
        RULE,
        "receive",
        options,
        layer.receive("conformance.expiry"),
    )
    .await?;
    expect(
        RULE,
        "the expired message was delivered",
        &got,
        &LayerMessage::text("new"),
    )
}

/// `new_channel(prefix)` names a process-local channel `prefix…!…`, valid and unique, that its inbox reads.
pub async fn new_channel_names(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "new_channel";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    let mut names = BTreeSet::new();
    for prefix in ["specific.", "http.response."] {
        for _ in 0..3 {
            let inbox = must(RULE, "new_channel", layer.new_channel(prefix).await)?;
            let name = inbox.name().to_owned();
            let Some(rest) = name.strip_prefix(prefix) else {
                return Err(violation(
                    RULE,
                    format!("{name:?} does not start with {prefix:?}"),
                ));
            };
            if !rest.contains('!') {
                return Err(violation(
                    RULE,
                    format!("{name:?} has no `!` after the prefix"),
                ));
            }
            if let Err(error) = check_channel_name(&name) {
                return Err(violation(
                    RULE,
                    format!("{name:?} is not a valid name: {error}"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(violation(RULE, format!("{name:?} was given twice")));
            }
            must(
                RULE,
                "send to the new channel",
                layer.send(&name, LayerMessage::text("hi")).await,
            )?;
            let got = arrives(RULE, "inbox receive", options, inbox.recv().map(Ok)).await?;
            expect(RULE, "inbox receive", &got, &LayerMessage::text("hi"))?;
        }
    }
    Ok(())
}

/// Once its inbox is dropped, a process-local channel refuses sends with `ChannelClosed`, and group sends
/// to a group it was in still succeed.
pub async fn closed_channel(
    factory: &impl LayerFactory,
    _options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "closed channel";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    let inbox = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    let name = inbox.name().to_owned();
    must(
        RULE,
        "group_add",
        layer.group_add("conformance.closed", &name).await,
    )?;
    drop(inbox);
    match layer.send(&name, LayerMessage::text("late")).await {
        Err(LayerError::ChannelClosed) => {}
        other => {
            return Err(violation(
                RULE,
                format!("a send to a dropped inbox gave {other:?}, expected Err(ChannelClosed)"),
            ));
        }
    }
    must(
        RULE,
        "group_send to a group whose member has gone",
        layer
            .group_send("conformance.closed", LayerMessage::text("late"))
            .await,
    )
}

/// Every operation refuses a name that breaks Channels' rule with `InvalidName`.
pub async fn invalid_names(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "invalid names";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    let long = "x".repeat(120);
    // A layer that waited here instead of refusing would hang the suite: bounded.
    let receive = match tokio::time::timeout(options.timeout, layer.receive("bad name")).await {
        Ok(outcome) => outcome.map(drop),
        Err(_) => {
            return Err(violation(
                RULE,
                "receive(\"bad name\") waited instead of refusing the name",
            ));
        }
    };
    let outcomes: [(&str, Result<(), LayerError>); 8] = [
        ("send(\"bad name\")", layer.send("bad name", text(0)).await),
        ("send(<120 characters>)", layer.send(&long, text(0)).await),
        ("receive(\"bad name\")", receive),
        (
            "new_channel(\"bad prefix\")",
            layer.new_channel("bad prefix").await.map(drop),
        ),
        (
            "group_add(\"bad group\", ..)",
            layer.group_add("bad group", "ok").await,
        ),
        (
            "group_add(.., \"bad channel\")",
            layer.group_add("ok", "bad channel").await,
        ),
        (
            "group_discard(\"a!b\", ..)",
            layer.group_discard("a!b", "ok").await,
        ),
        (
            "group_send(\"bad group\")",
            layer.group_send("bad group", text(0)).await,
        ),
    ];
    for (what, outcome) in outcomes {
        if !matches!(outcome, Err(LayerError::InvalidName { .. })) {
            return Err(violation(
                RULE,
                format!("{what} gave {outcome:?}, expected Err(InvalidName)"),
            ));
        }
    }
    Ok(())
}

/// With two receivers on one channel, each message goes to exactly one of them.
pub async fn at_most_once(factory: &impl LayerFactory, options: &Options) -> Result<(), Violation> {
    const RULE: &str = "at-most-once";
    const N: usize = 20;
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    for n in 0..N {
        must(RULE, "send", layer.send("conformance.once", text(n)).await)?;
    }
    let mut seen = Vec::with_capacity(N);
    for _ in 0..N / 2 {
        let (a, b) = tokio::join!(
            arrives(RULE, "receive", options, layer.receive("conformance.once")),
            arrives(RULE, "receive", options, layer.receive("conformance.once")),
        );
        seen.push(a?);
        seen.push(b?);
    }
    let want: Vec<LayerMessage> = (0..N).map(text).collect();
    let mut got = seen.clone();
    got.sort_by_key(|m| format!("{m:?}"));
    let mut sorted_want = want.clone();
    sorted_want.sort_by_key(|m| format!("{m:?}"));
    if got != sorted_want {
        return Err(violation(
            RULE,
            format!("two receivers got {seen:?}; expected each of {want:?} once"),
        ));
    }
    Ok(())
}

/// Dropping a `receive` that is waiting loses nothing: a message sent afterwards reaches the next
/// `receive`.
pub async fn receive_is_cancel_safe(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "receive cancel safety";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    for round in 0..3 {
        // Polled once (nothing to receive yet), then dropped.
        if let Some(early) = layer.receive("conformance.cancel").now_or_never() {
            return Err(violation(
                RULE,
                format!("receive on an empty channel gave {early:?}"),
            ));
        }
        must(
            RULE,
            "send",
            layer.send("conformance.cancel", text(round)).await,
        )?;
        let got = arrives(
            RULE,
            "receive",
            options,
            layer.receive("conformance.cancel"),
        )
        .await?;
        expect(
            RULE,
            "the message after a cancelled receive",
            &got,
            &text(round),
        )?;
    }
    Ok(())
}
