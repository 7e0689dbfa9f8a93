//! The one way out: every send of a [`ReplyChannel`](crate::ReplyChannel), [`Group`](crate::Group) or
//! [`Channel`](crate::Channel) is a [`Destination`] (resolved to its layer once, by the sender) and a
//! message, and goes through [`send`] here, which holds it inside an atomic consumer (see
//! [`deferred`](crate::deferred)) or delivers it at once.
//!
//! The senders build a destination and call [`send`]; [`deferred`](crate::deferred) stores what it holds as
//! [`Outbound`] values and calls [`Outbound::deliver`] when the consumer returns. Nothing here calls back
//! into the senders.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::layer::queue::Queue;
use crate::layer::{ChannelLayer, LayerError, LayerMessage};
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

impl From<&'static str> for Name {
    fn from(name: &'static str) -> Self {
        Name::Static(name)
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Name::Shared(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Name::Shared(name.into())
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
/// Nothing happens until the returned future is polled (as with an `async fn`).
///
/// # Cancel safety
/// Cancel-safe: the message is queued (or held) in the poll that returns `Ok`, or not at all.
pub(crate) fn send(destination: Option<&Destination>, message: LayerMessage) -> Send<'_> {
    Send {
        state: SendState::Start(destination, message),
    }
}

/// The future of [`send`].
///
/// Small on purpose: a consumer's future holds it across the `.await`, and the consumer's future is
/// moved (copied) several times per message. The common case, a push to the connection's own queue
/// with room in it, is done in the first poll without any inner future; a send that has to wait (a full
/// queue) boxes its wait, and one through a layer keeps the layer's future (boxed already), so the
/// waiting machinery (a `Notified`, the layer's future) is not part of every consumer's future.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub(crate) struct Send<'a> {
    state: SendState<'a>,
}

enum SendState<'a> {
    /// Not polled yet.
    Start(Option<&'a Destination>, LayerMessage),
    /// Waiting for room, or for the layer (whose future is boxed already).
    Waiting(futures_util::future::BoxFuture<'a, Result<(), LayerError>>),
    /// Finished (or taken apart while polled).
    Done,
}

impl std::fmt::Debug for Send<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.state {
            SendState::Start(..) => "Send::Start",
            SendState::Waiting(_) => "Send::Waiting",
            SendState::Done => "Send::Done",
        })
    }
}

impl Future for Send<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let SendState::Waiting(future) = &mut self.state {
            let Poll::Ready(outcome) = future.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            self.state = SendState::Done;
            return Poll::Ready(outcome.map_err(Error::from));
        }
        let SendState::Start(destination, message) =
            std::mem::replace(&mut self.state, SendState::Done)
        else {
            // Polled again after it returned `Ready` (a bug of the caller, where an `async fn`'s future
            // would panic): an error, and nothing sent twice.
            return Poll::Ready(Err(Error::InvalidMessage(
                "a send was polled again after it completed".to_owned(),
            )));
        };
        let Some(destination) = destination else {
            return Poll::Ready(Err(Error::NoReplyChannel));
        };
        let Some(message) = deferred::hold(destination, message) else {
            return Poll::Ready(Ok(()));
        };
        let waiting = match destination {
            // A connection's own reply channel (most sends): the push, inline.
            Destination::Local(queue) => match queue.try_push_wait(message) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err((LayerError::ChannelFull, message)) => {
                    Box::pin(queue.push_wait_for_room(message))
                }
                Err((error, _)) => return Poll::Ready(Err(Error::from(error))),
            },
            Destination::Channel(name, layer) => layer.send(name, message),
            Destination::Group(name, layer) => layer.group_send(name, message),
        };
        self.state = SendState::Waiting(waiting);
        self.poll(cx)
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
