//! Channel sessions on Redis: the JSON object under `<prefix>:session:<reply channel>`, with a TTL of the
//! layer's `session_expiry` set at every save (`SET .. PX`), on the host of the channel's name.
//!
//! [`SharedNames`]: which of this process's reply channels have had their name leave the process in a
//! message. Only a process that knows a channel's name can write its session (a worker gets a session
//! from the `reply_channel` of a message it receives), so the session of a channel whose name never left
//! can only have been written here, and the server keeps its copy instead of a `GET` per consumer run.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::layer::LayerMessage;
use crate::layer::local::lock;

use super::keys::session_key;
use super::state::Core;
use crate::layer::LayerError;

/// This process's reply channels whose names went out in a message sent through the layer.
#[derive(Debug, Default)]
pub(super) struct SharedNames {
    names: Mutex<HashSet<String>>,
}

impl SharedNames {
    /// Notes every top-level string of a JSON message that names one of this process's channels (a
    /// `reply_channel`, or the name under another key).
    pub(super) fn note(&self, core: &Core, message: &LayerMessage) {
        let LayerMessage::Json(payload) = message else {
            return;
        };
        for value in payload.values() {
            if let Some(name) = value.as_str()
                && core.is_ours(name)
            {
                let mut names = lock(&self.names);
                if !names.contains(name) {
                    names.insert(name.to_owned());
                }
            }
        }
    }

    /// Whether `channel`'s session may have been written by another process (or another consumer than
    /// the connection's) since this process last saw it.
    pub(super) fn may_have_changed(&self, core: &Core, channel: &str) -> bool {
        !core.is_ours(channel) || lock(&self.names).contains(channel)
    }

    /// Forgets `channel` (its connection has ended).
    pub(super) fn forget(&self, channel: &str) {
        lock(&self.names).remove(channel);
    }
}

impl Core {
    /// The session of `channel`, or `None` (none, or Redis expired it).
    pub(super) async fn session_load(
        &self,
        channel: &str,
    ) -> Result<Option<Map<String, Value>>, LayerError> {
        let key = session_key(&self.prefix, channel);
        let stored: Option<Vec<u8>> = self.shards[self.host_of(channel)]
            .run("load a channel session", self.deadline(), |mut con, _| {
                let key = key.clone();
                async move { redis::cmd("GET").arg(&key).query_async(&mut con).await }
            })
            .await
            .map_err(|e| self.failed(e))?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        serde_json::from_slice(&stored)
            .map(Some)
            .map_err(|e| LayerError::unavailable("read a channel session (not a JSON object)", e))
    }

    /// Stores the session of `channel` for `session_expiry`; an empty one is deleted.
    pub(super) async fn session_save(
        &self,
        channel: &str,
        session: &Map<String, Value>,
    ) -> Result<(), LayerError> {
        if session.is_empty() {
            return self.session_delete(channel).await;
        }
        let key = session_key(&self.prefix, channel);
        let body = serde_json::to_vec(session)
            .map_err(|e| LayerError::unavailable("encode a channel session", e))?;
        let ttl_ms = u64::try_from(self.limits.session_expiry.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.shards[self.host_of(channel)]
            .run("save a channel session", self.deadline(), |mut con, _| {
                let (key, body) = (key.clone(), body.clone());
                async move {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(body)
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async::<()>(&mut con)
                        .await
                }
            })
            .await
            .map_err(|e| self.failed(e))
    }

    /// Deletes the session of `channel`.
    pub(super) async fn session_delete(&self, channel: &str) -> Result<(), LayerError> {
        let key = session_key(&self.prefix, channel);
        self.shards[self.host_of(channel)]
            .run("delete a channel session", self.deadline(), |mut con, _| {
                let key = key.clone();
                async move {
                    redis::cmd("DEL")
                        .arg(&key)
                        .query_async::<()>(&mut con)
                        .await
                }
            })
            .await
            .map_err(|e| self.failed(e))
    }
}
