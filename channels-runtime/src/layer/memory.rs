//! [`InMemoryLayer`]: the embedded channel layer for a single process.

use serde_json::{Map, Value};

use super::{
    ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage, LocalRegistry, check_channel_name,
    check_group_name,
};

/// The embedded channel layer: every channel and group lives in this process's memory.
///
/// It keeps Channels' semantics exactly (capacity, expiry, group expiry, at-most-once) and is the default
/// layer of [`Server`](crate::Server). A group send costs one lock and one queue push per member, and the
/// message itself is shared, not copied. Cloning the layer is cheap and shares its state. It is a
/// [`LocalRegistry`] behind name checks: the module docs of [`local`](super::local) show the same in a
/// layer of your own.
///
/// ```
/// use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = InMemoryLayer::new();
/// let inbox = layer.new_channel("specific.").await?;
/// layer.group_add("chat", inbox.name()).await?;
/// layer.group_send("chat", LayerMessage::text("hello")).await?;
/// assert_eq!(inbox.recv().await, LayerMessage::text("hello"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryLayer {
    local: LocalRegistry,
}

impl Default for InMemoryLayer {
    fn default() -> Self {
        InMemoryLayer::new()
    }
}

impl InMemoryLayer {
    /// A layer with Channels' default limits (capacity 100, expiry 60 s, group expiry 86 400 s).
    pub fn new() -> Self {
        InMemoryLayer::with_config(LayerConfig::default())
    }

    /// A layer with the given limits.
    ///
    /// ```
    /// use channels_runtime::layer::{InMemoryLayer, LayerConfig};
    /// let layer = InMemoryLayer::with_config(LayerConfig::default().capacity(1000));
    /// ```
    pub fn with_config(config: LayerConfig) -> Self {
        InMemoryLayer {
            // Channels' in-memory layer names its channels `<prefix>inmemory!<n>` too.
            local: LocalRegistry::new("inmemory", config),
        }
    }

    /// The number of live members of `group` (test and diagnostics helper).
    ///
    /// ```
    /// use channels_runtime::layer::InMemoryLayer;
    /// assert_eq!(InMemoryLayer::new().group_len("chat"), 0);
    /// ```
    pub fn group_len(&self, group: &str) -> usize {
        self.local.group_len(group)
    }

    /// How many messages expired unread on `channel` (diagnostics).
    pub fn expired(&self, channel: &str) -> u64 {
        self.local.expired(channel)
    }
}

#[async_trait::async_trait]
impl ChannelLayer for InMemoryLayer {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.local.send(channel, message)
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_channel_name(channel)?;
        self.local.receive(channel).await
    }

    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        self.local.new_channel(prefix)
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        // Adding a closed connection is a no-op, as it would be in Channels (it would never read).
        self.local.group_add(group, channel);
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        self.local.group_discard(group, channel);
        Ok(())
    }

    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_group_name(group)?;
        self.local.group_send(group, &message);
        Ok(())
    }

    fn config(&self) -> &LayerConfig {
        self.local.config()
    }

    fn dropped(&self) -> u64 {
        self.local.dropped()
    }

    async fn session_load(&self, channel: &str) -> Result<Option<Map<String, Value>>, LayerError> {
        check_channel_name(channel)?;
        Ok(self.local.session_load(channel))
    }

    async fn session_save(
        &self,
        channel: &str,
        session: &Map<String, Value>,
    ) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.local.session_save(channel, session);
        Ok(())
    }

    fn session_may_have_changed(&self, channel: &str) -> bool {
        self.local.session_may_have_changed(channel)
    }

    async fn session_delete(&self, channel: &str) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.local.session_delete(channel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn channel_full_is_reported() {
        let layer = InMemoryLayer::with_config(LayerConfig::default().capacity(2));
        layer.send("work", LayerMessage::text("1")).await.unwrap();
        layer.send("work", LayerMessage::text("2")).await.unwrap();
        assert_eq!(
            layer.send("work", LayerMessage::text("3")).await,
            Err(LayerError::ChannelFull)
        );
    }

    #[tokio::test]
    async fn invalid_names_are_refused() {
        let layer = InMemoryLayer::new();
        assert!(matches!(
            layer.send("bad name", LayerMessage::text("x")).await,
            Err(LayerError::InvalidName { .. })
        ));
        assert!(matches!(
            layer.group_add("bad group", "x").await,
            Err(LayerError::InvalidName { .. })
        ));
    }

    #[tokio::test]
    async fn closed_inbox_leaves_groups_and_refuses_sends() {
        let layer = InMemoryLayer::new();
        let inbox = layer.new_channel("specific.").await.unwrap();
        let name = inbox.name().to_owned();
        layer.group_add("g", &name).await.unwrap();
        assert_eq!(layer.group_len("g"), 1);
        drop(inbox);
        assert_eq!(layer.group_len("g"), 0);
        assert_eq!(
            layer.send(&name, LayerMessage::text("x")).await,
            Err(LayerError::ChannelClosed)
        );
        layer
            .group_send("g", LayerMessage::text("x"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn full_member_misses_group_message_others_get_it() {
        let layer = InMemoryLayer::with_config(LayerConfig::default().capacity(1));
        let slow = layer.new_channel("specific.").await.unwrap();
        let fast = layer.new_channel("specific.").await.unwrap();
        layer.group_add("g", slow.name()).await.unwrap();
        layer.group_add("g", fast.name()).await.unwrap();
        layer
            .group_send("g", LayerMessage::text("1"))
            .await
            .unwrap();
        assert_eq!(fast.recv().await, LayerMessage::text("1"));
        layer
            .group_send("g", LayerMessage::text("2"))
            .await
            .unwrap();
        assert_eq!(fast.recv().await, LayerMessage::text("2"));
        assert_eq!(slow.recv().await, LayerMessage::text("1"));
        assert_eq!(slow.try_recv(), None);
        assert_eq!(layer.dropped(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn group_membership_expires() {
        let layer = InMemoryLayer::with_config(
            LayerConfig::default().group_expiry(Duration::from_secs(10)),
        );
        let inbox = layer.new_channel("specific.").await.unwrap();
        layer.group_add("g", inbox.name()).await.unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        layer
            .group_send("g", LayerMessage::text("late"))
            .await
            .unwrap();
        assert_eq!(inbox.try_recv(), None);
        assert_eq!(layer.group_len("g"), 0);
    }

    #[tokio::test]
    async fn each_message_goes_to_one_receiver() {
        let layer = InMemoryLayer::new();
        for i in 0..10 {
            layer
                .send("jobs", LayerMessage::text(i.to_string()))
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(layer.receive("jobs"), layer.receive("jobs"));
        assert_ne!(a.unwrap(), b.unwrap());
    }
}
