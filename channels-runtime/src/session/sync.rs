//! Keeping a consumer run's [`Session`] in step with the channel layer: loaded before the consumer runs,
//! written back after it returns if it changed, deleted when the connection ends (see the
//! [module docs](super)).

use std::sync::Arc;

use crate::Message;
use crate::layer::ChannelLayer;
use crate::message::events;

use super::Session;

/// What one consumer run does with its session, decided before it starts ([`SessionSync::plan`]).
#[derive(Debug)]
pub(crate) enum Plan {
    /// Nothing: no session to keep (no reply channel, an HTTP request), or a connection's disconnect
    /// with a current copy (nothing to load, and the session is deleted right after).
    Nothing,
    /// Nothing to load (the connection's copy is current): write the session back after the run if it
    /// changed ([`write_back`]).
    SaveAfter(Session),
    /// Load before the run, and write back after it if it changed.
    LoadFirst(SessionSync),
}

/// A run that loads its session first: what it loads, and whether it writes back.
#[derive(Debug)]
pub(crate) struct SessionSync {
    key: Arc<str>,
    session: Session,
    /// Write back after the run if it changed (every run but `websocket.disconnect`: the session is
    /// deleted right after it).
    save: bool,
}

impl SessionSync {
    /// The plan for a run on `message` with `layer`. Also tells the session where it lives
    /// ([`Session::save`]).
    ///
    /// A connection's own copy is reloaded before each run unless it is current: at `websocket.connect`
    /// (the reply channel is new, so its session is empty), or when the layer says nobody else can have
    /// written it ([`ChannelLayer::session_may_have_changed`]). A worker's copy is always loaded.
    pub(crate) fn plan(message: &Message, layer: &Arc<dyn ChannelLayer>) -> Plan {
        let Some(key) = message.content.reply_channel_name() else {
            return Plan::Nothing;
        };
        let channel = message.channel();
        if channel.starts_with("http.") {
            return Plan::Nothing;
        }
        let session = message.channel_session();
        let connection = session.prepare(key, layer);
        let save = !(connection && channel == events::WEBSOCKET_DISCONNECT);
        let load = !connection
            || (channel != events::WEBSOCKET_CONNECT && layer.session_may_have_changed(key));
        match (load, save) {
            (true, _) => Plan::LoadFirst(SessionSync {
                key: key.clone(),
                session: session.clone(),
                save,
            }),
            (false, true) => Plan::SaveAfter(session.clone()),
            (false, false) => Plan::Nothing,
        }
    }

    /// Loads the session from `layer` into the run's copy. A layer that fails leaves the copy as it
    /// was (logged): the consumer still runs.
    pub(crate) async fn load(&self, layer: &Arc<dyn ChannelLayer>) {
        match layer.session_load(&self.key).await {
            Ok(loaded) => self.session.replace_unless_changed(loaded),
            Err(error) => tracing::warn!(
                channel = &*self.key,
                error = &error as &dyn std::error::Error,
                "could not load the channel session; the consumer sees the last copy"
            ),
        }
    }

    /// Writes the copy back to `layer` if the run changed it. A layer that fails keeps the change in
    /// the copy (logged), to be written by the next run that saves.
    pub(crate) async fn save(&self, layer: &Arc<dyn ChannelLayer>) {
        if !self.save {
            return;
        }
        if let Some(changes) = self.session.changes() {
            store(&self.session, &self.key, layer, changes).await;
        }
    }
}

/// Writes `session` back where it lives (set by [`SessionSync::plan`]) if it changed: what
/// [`Plan::SaveAfter`] does after the run.
pub(crate) async fn write_back(session: &Session) {
    if let Some(((key, layer), changes)) = session.home_and_changes() {
        store(session, &key, &layer, changes).await;
    }
}

async fn store(
    session: &Session,
    key: &str,
    layer: &Arc<dyn ChannelLayer>,
    changes: serde_json::Map<String, serde_json::Value>,
) {
    match layer.session_save(key, &changes).await {
        Ok(()) => session.saved(&changes),
        Err(error) => tracing::warn!(
            channel = key,
            error = &error as &dyn std::error::Error,
            "could not save the channel session; it is kept in this process and saved after the next \
             consumer"
        ),
    }
}

/// Deletes the channel session of the connection whose reply channel is `channel`: it has ended, after
/// its disconnect consumer.
pub(crate) async fn forget(layer: &Arc<dyn ChannelLayer>, channel: &str, session: &Session) {
    if !session.is_connection() {
        return;
    }
    if let Err(error) = layer.session_delete(channel).await {
        tracing::warn!(
            channel,
            error = &error as &dyn std::error::Error,
            "could not delete the channel session of a closed connection; it expires"
        );
    }
}
