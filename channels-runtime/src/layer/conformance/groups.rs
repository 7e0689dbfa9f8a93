//! The checks of groups: fan-out, discard, members that are normal channels, full members, expiry.

use futures_util::FutureExt;

use super::{LayerFactory, Options, Violation, arrives, expect, make, must, next_is_marker, text};
use crate::layer::{ChannelLayer, LayerConfig};

/// A group message reaches every member once; a discarded member gets no more; discarding a non-member and
/// sending to an empty group are fine.
pub async fn groups(factory: &impl LayerFactory, options: &Options) -> Result<(), Violation> {
    const RULE: &str = "groups";
    const GROUP: &str = "conformance.group";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    must(
        RULE,
        "group_send to an empty group",
        layer.group_send(GROUP, text(0)).await,
    )?;
    let a = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    let b = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    let members = [(&a, "conformance.marker.a"), (&b, "conformance.marker.b")];
    for (inbox, marker) in members {
        must(
            RULE,
            "group_add",
            layer.group_add(GROUP, inbox.name()).await,
        )?;
        must(
            RULE,
            "group_add",
            layer.group_add(marker, inbox.name()).await,
        )?;
    }
    // Adding twice is a renewal, not a second membership.
    must(
        RULE,
        "group_add again",
        layer.group_add(GROUP, a.name()).await,
    )?;
    must(RULE, "group_send", layer.group_send(GROUP, text(1)).await)?;
    for (inbox, marker) in members {
        let got = arrives(RULE, "member receive", options, inbox.recv().map(Ok)).await?;
        expect(RULE, "member receive", &got, &text(1))?;
        next_is_marker(
            RULE,
            "a member got a group message twice",
            options,
            &layer,
            inbox,
            marker,
        )
        .await?;
    }
    must(
        RULE,
        "group_discard",
        layer.group_discard(GROUP, b.name()).await,
    )?;
    must(
        RULE,
        "group_discard of a non-member",
        layer.group_discard(GROUP, b.name()).await,
    )?;
    must(RULE, "group_send", layer.group_send(GROUP, text(2)).await)?;
    let got = arrives(RULE, "member receive", options, a.recv().map(Ok)).await?;
    expect(RULE, "member receive", &got, &text(2))?;
    next_is_marker(
        RULE,
        "a discarded member still got group messages",
        options,
        &layer,
        &b,
        "conformance.marker.b",
    )
    .await
}

/// A normal (not process-local) channel can be a group member, and reads group messages with `receive`.
pub async fn group_with_normal_channel(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "normal channel in a group";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    must(
        RULE,
        "group_add",
        layer
            .group_add("conformance.workers", "conformance.jobs")
            .await,
    )?;
    must(
        RULE,
        "group_send",
        layer.group_send("conformance.workers", text(1)).await,
    )?;
    let got = arrives(RULE, "receive", options, layer.receive("conformance.jobs")).await?;
    expect(RULE, "receive", &got, &text(1))
}

/// A member whose channel is full misses the group message; the send succeeds and the others get it.
pub async fn full_member_is_skipped(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "full member skipped";
    const GROUP: &str = "conformance.slow";
    let layer = make(factory, RULE, LayerConfig::default().capacity(1)).await?;
    let slow = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    let fast = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    must(RULE, "group_add", layer.group_add(GROUP, slow.name()).await)?;
    must(RULE, "group_add", layer.group_add(GROUP, fast.name()).await)?;
    must(RULE, "group_send", layer.group_send(GROUP, text(1)).await)?;
    let got = arrives(RULE, "receive", options, fast.recv().map(Ok)).await?;
    expect(RULE, "receive", &got, &text(1))?;
    // `slow` still holds message 1: message 2 finds it full.
    must(
        RULE,
        "group_send with a full member",
        layer.group_send(GROUP, text(2)).await,
    )?;
    let got = arrives(RULE, "receive", options, fast.recv().map(Ok)).await?;
    expect(RULE, "the other member's receive", &got, &text(2))?;
    let got = arrives(RULE, "receive", options, slow.recv().map(Ok)).await?;
    expect(RULE, "the full member's first message", &got, &text(1))?;
    // Message 3 proves message 2 was skipped, not delayed: it is the next to arrive.
    must(RULE, "group_send", layer.group_send(GROUP, text(3)).await)?;
    let got = arrives(RULE, "receive", options, slow.recv().map(Ok)).await?;
    expect(
        RULE,
        "a full member's missed message came later",
        &got,
        &text(3),
    )
}

/// A membership lasts `group_expiry` unless renewed by another `group_add`.
pub async fn group_expiry(factory: &impl LayerFactory, options: &Options) -> Result<(), Violation> {
    const RULE: &str = "group expiry";
    const MARKER: &str = "conformance.marker";
    let Some(expiry) = options.expiry else {
        return Ok(());
    };
    let layer = make(factory, RULE, LayerConfig::default().group_expiry(expiry)).await?;
    let lapsed = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    let renewed = must(RULE, "new_channel", layer.new_channel("specific.").await)?;
    for inbox in [&lapsed, &renewed] {
        must(
            RULE,
            "group_add",
            layer.group_add("conformance.g", inbox.name()).await,
        )?;
    }
    tokio::time::sleep(expiry * 3 / 5).await;
    must(
        RULE,
        "group_add (renewal)",
        layer.group_add("conformance.g", renewed.name()).await,
    )?;
    tokio::time::sleep(expiry * 3 / 5).await;
    // The marker group is joined now, so that it has not expired itself.
    must(
        RULE,
        "group_add",
        layer.group_add(MARKER, lapsed.name()).await,
    )?;
    must(
        RULE,
        "group_send",
        layer.group_send("conformance.g", text(1)).await,
    )?;
    let got = arrives(
        RULE,
        "renewed member receive",
        options,
        renewed.recv().map(Ok),
    )
    .await?;
    expect(RULE, "a renewed membership", &got, &text(1))?;
    next_is_marker(
        RULE,
        "an expired member still got group messages",
        options,
        &layer,
        &lapsed,
        MARKER,
    )
    .await
}
