//! Keeping a consumer run's [`Session`] in step with the channel layer: loaded before the consumer runs,
//! written back after it returns if it changed, deleted when the connection ends (see the
//! [module docs](super)).

use std::sync::Arc;

use crate::Message;
use crate::layer::ChannelLayer;
use crate::message::events;

use super::Session;

/// What one consumer run does with its session.
#[derive(Debug)]
pub(crate) struct SessionSync {
    key: Arc<str>,
    session: Session,
    /// Reload before the run (every run but a connection's `websocket.connect`, whose reply channel is
    /// new, so its session is empty).
    load: bool,
    /// Write back after the run if it changed (every run but `websocket.disconnect`: the session is
    /// deleted right after it).
    save: bool,
}

impl SessionSync {
    /// The plan for a run on `message`: `None` when it has no session to keep (no reply channel, or an
    /// HTTP request, whose session would end with the request).
    pub(crate) fn plan(message: &Message) -> Option<SessionSync> {
        let key = message.content.reply_channel_name()?.clone();
        let channel = message.channel();
        if channel.starts_with("http.") {
            return None;
        }
        let session = message.channel_session().clone();
        let connection = session.is_connection();
        Some(SessionSync {
            key,
            load: !(connection && channel == events::WEBSOCKET_CONNECT),
            save: !(connection && channel == events::WEBSOCKET_DISCONNECT),
            session,
        })
    }

    /// Loads the session from `layer` into the run's copy. A layer that fails leaves the copy as it
    /// was (logged): the consumer still runs.
    pub(crate) async fn load(&self, layer: &Arc<dyn ChannelLayer>) {
        self.session.set_home(&self.key, layer);
        if !self.load {
            return;
        }
        // A connection's copy is current unless someone else may have written the session.
        if self.session.is_connection() && !layer.session_may_have_changed(&self.key) {
            return;
        }
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
        let Some(changes) = self.session.changes() else {
            return;
        };
        match layer.session_save(&self.key, &changes).await {
            Ok(()) => self.session.saved(&changes),
            Err(error) => tracing::warn!(
                channel = &*self.key,
                error = &error as &dyn std::error::Error,
                "could not save the channel session; it is kept in this process and saved after the \
                 next consumer"
            ),
        }
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
