//! [`Group`] and [`Channel`]: named destinations on the channel layer.

use std::sync::Arc;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::layer::{ChannelLayer, LayerMessage};
use crate::names::{NameError, validate_channel_name, validate_group_name};
use crate::outbound::{self, Destination, Name};
use crate::{Error, ReplyChannel, Result, asgi, context};

/// A group of channels that receive the same messages (Channels' `Group`).
///
/// Name a group with [`group!`](crate::group) when the name is a literal (checked while compiling), or with
/// [`Group::new`] when it is built at runtime (checked then). A group with no bound layer uses the current
/// one (see [`current_layer`](crate::current_layer)): inside a consumer, its server's. Code outside any
/// consumer (a background task) binds one with [`Group::with_layer`] (`.with_layer(server.layer())`), or
/// relies on a process default the application chose
/// ([`Server::set_as_default_layer`](crate::Server::set_as_default_layer)).
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
    target: Target,
}

/// What a [`Group`] and a [`Channel`] have in common: a checked name, and maybe a bound layer.
#[derive(Debug, Clone)]
struct Target {
    name: Name,
    layer: Option<Arc<dyn ChannelLayer>>,
    /// Why the name is refused, for a group built from a `group!` template whose filled-in name broke
    /// the rule: every operation then fails with [`Error::InvalidName`].
    refused: Option<NameError>,
}

/// Whether a [`Target`] is sent to as a group (every member) or as one channel.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Group,
    Channel,
}

impl Target {
    fn new(name: String, validate: fn(&str) -> Result<(), NameError>) -> Result<Target> {
        validate(&name).map_err(|reason| Error::InvalidName {
            name: name.clone(),
            reason,
        })?;
        Ok(Target {
            name: Name::Shared(Arc::from(name)),
            layer: None,
            refused: None,
        })
    }

    /// `Ok`, or the error every operation on a refused name returns.
    fn usable(&self) -> Result<()> {
        match self.refused {
            None => Ok(()),
            Some(reason) => Err(Error::InvalidName {
                name: self.name.to_string(),
                reason,
            }),
        }
    }

    /// Sends `message` to this target as a group or as a channel. The layer is resolved here, once: a send
    /// held until an atomic consumer returns goes to the layer that was current when it was made. Cheap: the
    /// name and the layer are shared, not copied.
    async fn send(&self, kind: Kind, message: LayerMessage) -> Result<()> {
        self.usable()?;
        let layer = self.layer()?;
        let destination = match kind {
            Kind::Group => Destination::Group(self.name.clone(), layer),
            Kind::Channel => Destination::Channel(self.name.clone(), layer),
        };
        outbound::send(Some(&destination), message).await
    }

    /// The bound layer, or the current one.
    fn layer(&self) -> Result<Arc<dyn ChannelLayer>> {
        match &self.layer {
            Some(layer) => Ok(layer.clone()),
            None => context::current_layer(),
        }
    }
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
        Ok(Group {
            target: Target::new(name.into(), validate_group_name)?,
        })
    }

    /// A group whose name was checked at compile time. Use [`group!`](crate::group), which calls this.
    #[doc(hidden)]
    pub const fn from_checked(name: &'static str) -> Group {
        Group {
            target: Target {
                name: Name::Static(name),
                layer: None,
                refused: None,
            },
        }
    }

    /// A group named by a `group!("room.{room}")` template, filled in at run time. `refused` says why
    /// the filled-in name breaks Channels' rule, if it does: the group then fails every operation with
    /// [`Error::InvalidName`], as [`Group::new`] would have failed. Use `group!`, which calls this.
    #[doc(hidden)]
    pub fn from_template(name: String, refused: Option<NameError>) -> Group {
        Group {
            target: Target {
                name: Name::Shared(Arc::from(name)),
                layer: None,
                refused,
            },
        }
    }

    /// Binds this group to `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.target.layer = Some(layer);
        self
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// The layer for a membership change of `channel`: the group's own, else the channel's, else the current.
    fn layer_for<'c>(&self, channel: &'c ReplyChannel) -> Result<(Arc<dyn ChannelLayer>, &'c str)> {
        self.target.usable()?;
        let name = channel.name().ok_or(Error::NoReplyChannel)?;
        let layer = match (&self.target.layer, channel.layer()) {
            (Some(layer), _) | (None, Some(layer)) => layer.clone(),
            (None, None) => context::current_layer()?,
        };
        Ok((layer, name))
    }

    /// Adds a reply channel to the group (`Group("chat").add(message.reply_channel)`).
    pub async fn add(&self, channel: &ReplyChannel) -> Result<()> {
        let (layer, name) = self.layer_for(channel)?;
        Ok(layer.group_add(self.name(), name).await?)
    }

    /// Removes a reply channel from the group; removing a non-member is fine.
    pub async fn discard(&self, channel: &ReplyChannel) -> Result<()> {
        let (layer, name) = self.layer_for(channel)?;
        Ok(layer.group_discard(self.name(), name).await?)
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
    /// Never waits for slow members. A member connection past its
    /// [`outbound_budget`](crate::ServerConfig::outbound_budget) is closed with 1013 or, with
    /// [`SlowClientPolicy::Drop`](crate::server::SlowClientPolicy::Drop), misses this message; a member
    /// channel that is full misses it (see [`ChannelLayer::group_send`]). Inside an atomic consumer the
    /// send is held until it returns.
    pub async fn send_message(&self, message: LayerMessage) -> Result<()> {
        self.target.send(Kind::Group, message).await
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
/// This is the runtime crate's own form, for code that uses `channels-runtime` without the macros. The
/// `channels` facade exports the procedural `group!` of `channels-macros` instead, which reports a bad
/// name at the literal with the reason; both accept exactly the same names. Here a name that breaks
/// Channels' rule fails to compile through a `const` evaluation error that carries the reason:
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
    target: Target,
}

impl Channel {
    /// A channel by name, checked against Channels' rule.
    pub fn new(name: impl Into<String>) -> Result<Channel> {
        Ok(Channel {
            target: Target::new(name.into(), validate_channel_name)?,
        })
    }

    /// Binds this channel to `layer`.
    pub fn with_layer(mut self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.target.layer = Some(layer);
        self
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.target.name
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
        self.target.send(Kind::Channel, message).await
    }

    /// [`send`](Self::send) for sync code.
    pub fn send_blocking(&self, message: Value) -> Result<()> {
        context::block_on(self.send(message))?
    }
}
