//! [`Group`] and [`Channel`]: named destinations on the channel layer.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::layer::{ChannelLayer, LayerMessage};
use crate::names::{validate_channel_name, validate_group_name};
use crate::{Error, ReplyChannel, Result, asgi, context, deferred};

/// A group of channels that receive the same messages (Channels' `Group`).
///
/// Name a group with [`group!`](crate::group) when the name is a literal (checked while compiling), or with
/// [`Group::new`] when it is built at runtime (checked then). A group with no bound layer uses the current
/// one (see [`current_layer`](crate::current_layer)); [`Group::with_layer`] binds one explicitly, which code
/// outside any consumer may prefer.
///
/// ```no_run
/// use channels_runtime::{group, Message, Result};
/// async fn ws_add(message: Message) -> Result<()> {
///     message.reply_channel.accept().await?;
///     group!("chat").add(&message.reply_channel).await
/// }
/// async fn ws_message(message: Message) -> Result<()> {
///     let text = format!("[user] {}", message.text().unwrap_or_default());
///     group!("chat").send_text(text).await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Group {
    name: Cow<'static, str>,
    layer: Option<Arc<dyn ChannelLayer>>,
}

impl Group {
    /// A group named at runtime; the name must follow Channels' rule (ASCII letters, digits, `-`, `_`,
    /// `.`, shorter than 100 characters).
    ///
    /// ```
    /// use channels_runtime::Group;
    /// let room = "lobby";
    /// assert!(Group::new(format!("room.{room}")).is_ok());
    /// assert!(Group::new("room with spaces").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Group> {
        let name = name.into();
        validate_group_name(&name).map_err(|reason| Error::InvalidName {
            name: name.clone(),
            reason,
        })?;
        Ok(Group {
            name: Cow::Owned(name),
            layer: None,
        })
    }

    /// A group whose name was checked at compile time. Use [`group!`](crate::group), which calls this.
    #[doc(hidden)]
    pub const fn from_checked(name: &'static str) -> Group {
        Group {
            name: Cow::Borrowed(name),
            layer: None,
        }
    }

    /// Binds this group to `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.layer = Some(layer);
        self
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn layer_or_current(&self) -> Result<Arc<dyn ChannelLayer>> {
        match &self.layer {
            Some(layer) => Ok(layer.clone()),
            None => context::current_layer(),
        }
    }

    /// Adds a reply channel to the group (`Group("chat").add(message.reply_channel)`).
    pub async fn add(&self, channel: &ReplyChannel) -> Result<()> {
        let name = channel.name().ok_or(Error::NoReplyChannel)?;
        let layer = match (&self.layer, channel.layer()) {
            (Some(layer), _) | (None, Some(layer)) => layer.clone(),
            (None, None) => context::current_layer()?,
        };
        Ok(layer.group_add(&self.name, name).await?)
    }

    /// Removes a reply channel from the group; removing a non-member is fine.
    pub async fn discard(&self, channel: &ReplyChannel) -> Result<()> {
        let name = channel.name().ok_or(Error::NoReplyChannel)?;
        let layer = match (&self.layer, channel.layer()) {
            (Some(layer), _) | (None, Some(layer)) => layer.clone(),
            (None, None) => context::current_layer()?,
        };
        Ok(layer.group_discard(&self.name, name).await?)
    }

    /// Sends a message given as Channels' dict (`{"text": ...}`, or an event with a `type` key) to every
    /// member. The message is encoded once and shared by all members.
    pub async fn send(&self, message: Value) -> Result<()> {
        self.send_message(asgi::group_message(message)?).await
    }

    /// Sends a text frame to every member.
    pub async fn send_text(&self, text: impl Into<Utf8Bytes>) -> Result<()> {
        self.send_message(LayerMessage::Text(text.into())).await
    }

    /// Sends `value` as JSON text to every member.
    pub async fn send_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.send_text(serde_json::to_string(value)?).await
    }

    /// Sends a layer message to every member.
    ///
    /// Never waits for slow members: one whose channel is full misses this message (see
    /// [`ChannelLayer::group_send`]). Inside an atomic consumer the send is held until it returns.
    pub async fn send_message(&self, message: LayerMessage) -> Result<()> {
        if deferred::holding() {
            let this = self.clone();
            deferred::hold(move || Box::pin(async move { this.send_now(message).await }));
            return Ok(());
        }
        self.send_now(message).await
    }

    async fn send_now(&self, message: LayerMessage) -> Result<()> {
        Ok(self
            .layer_or_current()?
            .group_send(&self.name, message)
            .await?)
    }

    /// [`add`](Self::add) for sync consumers.
    pub fn add_blocking(&self, channel: &ReplyChannel) -> Result<()> {
        context::block_on(self.add(channel))?
    }

    /// [`discard`](Self::discard) for sync consumers.
    pub fn discard_blocking(&self, channel: &ReplyChannel) -> Result<()> {
        context::block_on(self.discard(channel))?
    }

    /// [`send`](Self::send) for sync consumers.
    pub fn send_blocking(&self, message: Value) -> Result<()> {
        context::block_on(self.send(message))?
    }
}

/// Names a group with a literal checked at compile time: `group!("chat")` is a [`Group`].
///
/// A name that breaks Channels' rule fails to compile with the reason:
///
/// ```compile_fail
/// let g = channels_runtime::group!("my room");
/// ```
#[macro_export]
macro_rules! group {
    ($name:literal) => {
        $crate::Group::from_checked(const { $crate::names::expect_group_name($name) })
    };
}

/// A named channel (Channels' `Channel`), for custom channels read by worker consumers.
///
/// ```no_run
/// use channels_runtime::{Channel, Result};
/// use serde_json::json;
/// async fn upload_done(path: &str) -> Result<()> {
///     Channel::new("thumbnails.generate")?.send(json!({"path": path})).await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Channel {
    name: Cow<'static, str>,
    layer: Option<Arc<dyn ChannelLayer>>,
}

impl Channel {
    /// A channel by name, checked against Channels' rule.
    pub fn new(name: impl Into<String>) -> Result<Channel> {
        let name = name.into();
        validate_channel_name(&name).map_err(|reason| Error::InvalidName {
            name: name.clone(),
            reason,
        })?;
        Ok(Channel {
            name: Cow::Owned(name),
            layer: None,
        })
    }

    /// Binds this channel to `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.layer = Some(layer);
        self
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a JSON object to the channel. Fails with [`Error::ChannelFull`] when it holds `capacity`
    /// messages already.
    pub async fn send(&self, message: Value) -> Result<()> {
        let message = LayerMessage::json(message)
            .ok_or_else(|| Error::InvalidMessage("a channel message is a JSON object".into()))?;
        self.send_message(message).await
    }

    /// Sends a layer message. Inside an atomic consumer the send is held until it returns.
    pub async fn send_message(&self, message: LayerMessage) -> Result<()> {
        if deferred::holding() {
            let this = self.clone();
            deferred::hold(move || Box::pin(async move { this.send_now(message).await }));
            return Ok(());
        }
        self.send_now(message).await
    }

    async fn send_now(&self, message: LayerMessage) -> Result<()> {
        let layer = match &self.layer {
            Some(layer) => layer.clone(),
            None => context::current_layer()?,
        };
        Ok(layer.send(&self.name, message).await?)
    }

    /// [`send`](Self::send) for sync code.
    pub fn send_blocking(&self, message: Value) -> Result<()> {
        context::block_on(self.send(message))?
    }
}
