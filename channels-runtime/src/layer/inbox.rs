//! [`Inbox`]: the reading end of a process-local channel.

use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use super::LayerMessage;
use super::queue::Queue;

/// Something that forgets a process-local channel when its [`Inbox`] goes away.
pub(super) trait Release: Send + Sync + std::fmt::Debug {
    fn release(&self, name: &str);
}

/// The reading end of a process-local channel (a reply channel), made by [`ChannelLayer::new_channel`].
///
/// A layer makes it with [`LocalRegistry::new_channel`], which also delivers what is sent to it. Dropping
/// the inbox closes the channel: later sends to it fail with [`LayerError::ChannelClosed`], and it leaves
/// its groups.
///
/// ```
/// use channels_runtime::layer::{ChannelLayer, InMemoryLayer, LayerMessage};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = InMemoryLayer::new();
/// let inbox = layer.new_channel("specific.").await?;
/// layer.send(inbox.name(), LayerMessage::text("hi")).await?;
/// assert_eq!(inbox.recv().await, LayerMessage::text("hi"));
/// assert_eq!(inbox.try_recv(), None);
/// # Ok(()) }
/// ```
///
/// [`ChannelLayer::new_channel`]: super::ChannelLayer::new_channel
/// [`LocalRegistry::new_channel`]: super::LocalRegistry::new_channel
/// [`LayerError::ChannelClosed`]: super::LayerError::ChannelClosed
#[derive(Debug)]
pub struct Inbox {
    name: Arc<str>,
    queue: Arc<Queue>,
    registry: Weak<dyn Release>,
}

impl Inbox {
    pub(super) fn new(name: Arc<str>, queue: Arc<Queue>, registry: Weak<dyn Release>) -> Self {
        Inbox {
            name,
            queue,
            registry,
        }
    }

    /// The channel's full name (`specific.abc!def`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared (no copy): what a reply channel that writes here keeps.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The queue, for a reply channel that pushes to it directly (skipping the layer, with backpressure).
    pub(crate) fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// Waits for the next message.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping the future loses no message.
    pub async fn recv(&self) -> LayerMessage {
        self.queue.pop().await
    }

    /// Takes the next message if one is waiting.
    pub fn try_recv(&self) -> Option<LayerMessage> {
        self.queue.try_pop()
    }

    /// Polls for the next message, for the single reader that polls by hand (the connection task); it
    /// stays registered for a wake-up until [`disarm`](Self::disarm).
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<LayerMessage> {
        self.queue.poll_pop(cx)
    }

    /// Stops pushes from waking the reader until its next `poll_recv` (see `Queue::disarm`).
    pub(crate) fn disarm(&self) {
        self.queue.disarm();
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(registry) = self.registry.upgrade() {
            registry.release(&self.name);
        }
    }
}
