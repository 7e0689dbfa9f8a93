//! [`InMemoryLayer`]: the embedded channel layer for a single process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::local::{LocalChannels, LocalGroups, new_inbox};
use super::queue::Queue;
use super::{
    ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage, check_channel, check_group,
};

/// The embedded channel layer: every channel and group lives in this process's memory.
///
/// It keeps Channels' semantics exactly (capacity, expiry, group expiry, at-most-once) and is the default
/// layer of [`Server`](crate::Server). A group send costs one lock and one queue push per member, and the
/// message itself is shared, not copied. Cloning the layer is cheap and shares its state.
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: LayerConfig,
    channels: Arc<LocalChannels>,
    groups: LocalGroups,
    next_local: AtomicU64,
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
    /// let layer = InMemoryLayer::with_config(LayerConfig { capacity: 1000, ..LayerConfig::default() });
    /// ```
    pub fn with_config(config: LayerConfig) -> Self {
        InMemoryLayer {
            inner: Arc::new(Inner {
                config,
                channels: Arc::default(),
                groups: LocalGroups::default(),
                next_local: AtomicU64::new(1),
            }),
        }
    }

    fn new_queue(&self) -> Queue {
        Queue::new(self.inner.config.capacity, self.inner.config.expiry)
    }

    /// The queue of `channel`; a normal channel is created on first use, a process-local one must exist.
    fn queue(&self, channel: &str) -> Result<Arc<Queue>, LayerError> {
        if channel.contains('!') {
            return self
                .inner
                .channels
                .get(channel)
                .ok_or(LayerError::ChannelClosed);
        }
        Ok(self
            .inner
            .channels
            .get_or_insert(channel, || self.new_queue()))
    }

    /// The number of live members of `group` (test and diagnostics helper).
    ///
    /// ```
    /// use channels_runtime::layer::InMemoryLayer;
    /// assert_eq!(InMemoryLayer::new().group_len("chat"), 0);
    /// ```
    pub fn group_len(&self, group: &str) -> usize {
        self.inner.groups.len(group, self.inner.config.group_expiry)
    }

    /// How many messages expired unread on `channel` (diagnostics).
    pub fn expired(&self, channel: &str) -> u64 {
        self.inner
            .channels
            .get(channel)
            .map_or(0, |q| q.expired_count())
    }
}

#[async_trait::async_trait]
impl ChannelLayer for InMemoryLayer {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_channel(channel)?;
        self.queue(channel)?.push(message)
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_channel(channel)?;
        let queue = self.queue(channel)?;
        Ok(queue.pop().await)
    }

    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        check_group(prefix)?;
        let n = self.inner.next_local.fetch_add(1, Ordering::Relaxed);
        let name: Arc<str> = Arc::from(format!("{prefix}inmemory!{n:x}"));
        check_channel(&name)?;
        Ok(new_inbox(
            &self.inner.channels,
            name,
            Arc::new(self.new_queue()),
        ))
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group(group)?;
        check_channel(channel)?;
        match self.queue(channel) {
            Ok(queue) => {
                self.inner.groups.add(group, channel, &queue);
                Ok(())
            }
            // Adding a closed connection is a no-op, as it would be in Channels (it would never read).
            Err(LayerError::ChannelClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group(group)?;
        check_channel(channel)?;
        self.inner.groups.discard(group, channel);
        Ok(())
    }

    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_group(group)?;
        self.inner
            .groups
            .send(group, &message, self.inner.config.group_expiry);
        Ok(())
    }

    fn config(&self) -> &LayerConfig {
        &self.inner.config
    }

    fn dropped(&self) -> u64 {
        self.inner.groups.dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn channel_full_is_reported() {
        let layer = InMemoryLayer::with_config(LayerConfig {
            capacity: 2,
            ..LayerConfig::default()
        });
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
        let layer = InMemoryLayer::with_config(LayerConfig {
            capacity: 1,
            ..LayerConfig::default()
        });
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
        let layer = InMemoryLayer::with_config(LayerConfig {
            group_expiry: Duration::from_secs(10),
            ..LayerConfig::default()
        });
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
