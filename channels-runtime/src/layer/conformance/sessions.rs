//! The checks of channel sessions: kept by reply channel, replaced, deleted, expiring.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{LayerFactory, Options, Violation, make, must, violation};
use crate::layer::{ChannelLayer, LayerConfig};

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// A reply channel name of `layer` no other check (or earlier run) has used: its own new channel's name,
/// with a random tail.
async fn fresh_channel<L: ChannelLayer>(
    rule: &'static str,
    layer: &L,
) -> Result<String, Violation> {
    let inbox = must(rule, "new_channel", layer.new_channel("specific.").await)?;
    Ok(format!("{}s{:x}", inbox.name(), rand::random::<u64>()))
}

async fn load<L: ChannelLayer>(
    rule: &'static str,
    layer: &L,
    channel: &str,
) -> Result<Option<Map<String, Value>>, Violation> {
    must(rule, "session_load", layer.session_load(channel).await)
}

fn expect_session(
    rule: &'static str,
    what: &str,
    got: Option<Map<String, Value>>,
    want: Option<Map<String, Value>>,
) -> Result<(), Violation> {
    super::expect(rule, what, &got, &want)
}

/// A channel session is kept under its channel's name: none at first, what was saved after, replaced by
/// the next save, separate from another channel's, gone after a delete or an empty save; bad names are
/// refused.
pub async fn sessions(factory: &impl LayerFactory, _options: &Options) -> Result<(), Violation> {
    const RULE: &str = "sessions";
    let layer = make(factory, RULE, LayerConfig::default()).await?;
    let a = fresh_channel(RULE, &layer).await?;
    let b = fresh_channel(RULE, &layer).await?;
    expect_session(
        RULE,
        "a new channel's session",
        load(RULE, &layer, &a).await?,
        None,
    )?;
    let first = data(json!({"room": "lobby", "n": 1, "nested": {"list": [1, "two", null]}}));
    must(RULE, "session_save", layer.session_save(&a, &first).await)?;
    expect_session(
        RULE,
        "load after save",
        load(RULE, &layer, &a).await?,
        Some(first),
    )?;
    expect_session(
        RULE,
        "another channel's session",
        load(RULE, &layer, &b).await?,
        None,
    )?;
    let second = data(json!({"room": "hall"}));
    must(
        RULE,
        "session_save (replace)",
        layer.session_save(&a, &second).await,
    )?;
    expect_session(
        RULE,
        "load after a second save",
        load(RULE, &layer, &a).await?,
        Some(second.clone()),
    )?;
    must(RULE, "session_save", layer.session_save(&b, &second).await)?;
    must(RULE, "session_delete", layer.session_delete(&a).await)?;
    expect_session(
        RULE,
        "load after delete",
        load(RULE, &layer, &a).await?,
        None,
    )?;
    must(
        RULE,
        "session_delete of none",
        layer.session_delete(&a).await,
    )?;
    must(
        RULE,
        "session_save (empty)",
        layer.session_save(&b, &Map::new()).await,
    )?;
    expect_session(
        RULE,
        "load after an empty save",
        load(RULE, &layer, &b).await?,
        None,
    )?;
    if layer.session_load("bad name").await.is_ok() {
        return Err(violation(
            RULE,
            "session_load accepted an invalid channel name",
        ));
    }
    if layer.session_save("bad name", &second).await.is_ok() {
        return Err(violation(
            RULE,
            "session_save accepted an invalid channel name",
        ));
    }
    Ok(())
}

/// A channel session is gone `session_expiry` after its last save, and a save renews it.
pub async fn session_expiry(
    factory: &impl LayerFactory,
    options: &Options,
) -> Result<(), Violation> {
    const RULE: &str = "session expiry";
    let Some(expiry) = options.expiry else {
        return Ok(());
    };
    let layer = make(factory, RULE, LayerConfig::default().session_expiry(expiry)).await?;
    let lapsed = fresh_channel(RULE, &layer).await?;
    let renewed = fresh_channel(RULE, &layer).await?;
    let value = data(json!({"k": "v"}));
    for channel in [&lapsed, &renewed] {
        must(
            RULE,
            "session_save",
            layer.session_save(channel, &value).await,
        )?;
    }
    tokio::time::sleep(expiry * 3 / 5).await;
    must(
        RULE,
        "session_save (renewal)",
        layer.session_save(&renewed, &value).await,
    )?;
    tokio::time::sleep(expiry * 3 / 5 + Duration::from_millis(50)).await;
    expect_session(
        RULE,
        "a lapsed session",
        load(RULE, &layer, &lapsed).await?,
        None,
    )?;
    expect_session(
        RULE,
        "a renewed session",
        load(RULE, &layer, &renewed).await?,
        Some(value),
    )?;
    must(RULE, "session_delete", layer.session_delete(&renewed).await)?;
    Ok(())
}
