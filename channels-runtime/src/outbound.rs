//! The one way out: every send of a [`ReplyChannel`](crate::ReplyChannel), [`Group`](crate::Group) or
//! [`Channel`](crate::Channel) is a [`Destination`] (resolved to its layer once, by the sender) and a
//! message, and goes through [`send`] here, which holds it inside an atomic consumer (see
//! [`deferred`](crate::deferred)) or delivers it at once.
//!
//! The senders build a destination and call [`send`]; [`deferred`](crate::deferred) stores what it holds as
//! [`Outbound`] values and calls [`Outbound::deliver`] when the consumer returns. Nothing here calls back
//! into the senders.

use std::sync::Arc;

use crate::layer::queue::Queue;
use crate::layer::{ChannelLayer, LayerMessage};
use crate::{Error, Result, deferred};

/// A name that clones in O(1): a literal, or a shared string.
#[derive(Debug, Clone)]
pub(crate) enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }
}

/// Where a message goes, with the layer that carries it already chosen.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// A reply channel of a connection in this process: its queue, pushed to directly. A queue past half
    /// its byte budget makes the sender wait for room (the connection's own consumers are paced to its
    /// client).
    Local(Arc<Queue>),
    /// One channel on a layer: a custom channel, or a reply channel known by name.
    Channel(Name, Arc<dyn ChannelLayer>),
    /// Every member of a group on a layer.
    Group(Name, Arc<dyn ChannelLayer>),
}

/// A message and its destination: what an atomic consumer's held sends are.
#[derive(Debug)]
pub(crate) struct Outbound {
    destination: Destination,
    message: LayerMessage,
}

impl Outbound {
    /// Delivers the message now.
    pub(crate) async fn deliver(self) -> Result<()> {
        deliver(&self.destination, self.message).await
    }
}

/// Sends `message` to `destination`: held until the consumer returns when the current task runs an atomic
/// consumer, delivered now otherwise. `None` is the reply channel of a message that has none
/// ([`Error::NoReplyChannel`]).
///
/// One future for the whole send (a reply channel's send is this future, not one wrapped in another): a
/// consumer's future holds it, and every level of nesting is copied when the consumer's future is built.
///
/// # Cancel safety
/// Cancel-safe: the message is queued (or held) in the poll that returns `Ok`, or not at all.
pub(crate) async fn send(destination: Option<&Destination>, message: LayerMessage) -> Result<()> {
    let destination = destination.ok_or(Error::NoReplyChannel)?;
    let Some(message) = deferred::hold(destination, message) else {
        return Ok(());
    };
    match destination {
        // A connection's own reply channel (most sends): the push, inline.
        Destination::Local(queue) => queue.push_wait(message).await.map_err(Error::from),
        _ => deliver(destination, message).await,
    }
}

/// Makes an [`Outbound`] (for [`deferred`], which holds it).
pub(crate) fn outbound(destination: &Destination, message: LayerMessage) -> Outbound {
    Outbound {
        destination: destination.clone(),
        message,
    }
}

async fn deliver(destination: &Destination, message: LayerMessage) -> Result<()> {
    match destination {
        Destination::Local(queue) => queue.push_wait(message).await.map_err(Error::from),
        Destination::Channel(name, layer) => layer.send(name, message).await.map_err(Error::from),
        Destination::Group(name, layer) => {
            layer.group_send(name, message).await.map_err(Error::from)
        }
    }
}
