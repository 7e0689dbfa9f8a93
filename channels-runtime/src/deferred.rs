//! Deferred sends: Channels 1.x's default, here an opt-in per consumer ([`Consumer::buffered`],
//! [`Consumer::atomic`]).
//!
//! Inside such a consumer, every send through a reply channel, group or channel is held, then sent in
//! order when the consumer returns. A `buffered` consumer's sends leave whatever it returned: what Channels
//! 1.x did for every consumer unless `immediately=True` was passed (its buffer was flushed in a `finally`,
//! also after an exception), and why the seed's author saw nothing until the consumer returned. An `atomic`
//! consumer's are discarded (and logged) when it fails: all or nothing, which 1.x never did. Here sends
//! leave at once by default.
//!
//! Held sends are plain data ([`Outbound`]: a destination, with its layer resolved when the send was made,
//! and a message); [`outbound`](crate::outbound) decides whether to hold, this module only keeps them.
//!
//! [`Consumer::atomic`]: crate::routing::Consumer::atomic
//! [`Consumer::buffered`]: crate::routing::Consumer::buffered

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Result;
use crate::layer::LayerMessage;
use crate::outbound::{self, Destination, Outbound};

tokio::task_local! {
    static HELD: RefCell<Vec<Outbound>>;
}

/// How many [`run_holding`] runs are alive in the process. While there are none (no atomic or buffered
/// consumer is running: the common case), a send needs no look at the task-local [`HELD`].
static HOLDING: AtomicUsize = AtomicUsize::new(0);

/// Counts one live [`run_holding`] run, until it ends or is dropped.
struct Holding;

impl Holding {
    fn new() -> Self {
        HOLDING.fetch_add(1, Ordering::Relaxed);
        Holding
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HOLDING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Holds a send of `message` to `destination` when the current task runs an atomic consumer, and hands
/// the message back otherwise, so the caller sends it at once.
pub(crate) fn hold(destination: &Destination, message: LayerMessage) -> Option<LayerMessage> {
    // A task inside `run_holding` counted itself before its first poll of the consumer (and on this
    // task, so this load sees it): zero means no task holds.
    if HOLDING.load(Ordering::Relaxed) == 0 {
        return Some(message);
    }
    let mut message = Some(message);
    let held = HELD.try_with(|held| {
        if let Some(message) = message.take() {
            held.borrow_mut()
                .push(outbound::outbound(destination, message));
        }
    });
    match held {
        Ok(()) => None,
        Err(_) => message,
    }
}

/// Runs `future` with sends held; returns its output and the held sends, in order.
pub(crate) async fn run_holding<F: Future>(future: F) -> (F::Output, Vec<Outbound>) {
    let _holding = Holding::new();
    HELD.scope(RefCell::new(Vec::new()), async move {
        let output = future.await;
        let held = HELD.with(|held| std::mem::take(&mut *held.borrow_mut()));
        (output, held)
    })
    .await
}

/// Sends what was held, in order; stops at the first failure.
pub(crate) async fn flush(held: Vec<Outbound>) -> Result<()> {
    for send in held {
        send.deliver().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::layer::{ChannelLayer, InMemoryLayer};
    use crate::{Channel, Group, ReplyChannel, context};

    #[tokio::test]
    async fn held_sends_leave_in_order_when_flushed() {
        let layer = Arc::new(InMemoryLayer::new());
        let shared: Arc<dyn ChannelLayer> = layer.clone();
        let inbox = layer.new_channel("specific.").await.unwrap();
        layer.group_add("g", inbox.name()).await.unwrap();
        let reply = ReplyChannel::for_inbox(&inbox, shared.clone());
        let group = Group::new("g").unwrap().with_layer(shared.clone());
        let channel = Channel::new("jobs").unwrap().with_layer(shared.clone());
        let (outcome, held) = run_holding(async {
            reply.send_text("1").await?;
            group.send_text("2").await?;
            channel.send_message(LayerMessage::text("3")).await
        })
        .await;
        outcome.unwrap();
        assert_eq!(held.len(), 3);
        assert_eq!(inbox.try_recv(), None, "nothing leaves while held");
        flush(held).await.unwrap();
        assert_eq!(inbox.try_recv(), Some(LayerMessage::text("1")));
        assert_eq!(inbox.try_recv(), Some(LayerMessage::text("2")));
        assert_eq!(
            layer.receive("jobs").await.unwrap(),
            LayerMessage::text("3")
        );
    }

    #[tokio::test]
    async fn a_held_group_send_keeps_the_layer_current_when_it_was_made() {
        let (made, later) = (InMemoryLayer::new(), InMemoryLayer::new());
        let on_made = made.new_channel("specific.").await.unwrap();
        let on_later = later.new_channel("specific.").await.unwrap();
        made.group_add("g", on_made.name()).await.unwrap();
        later.group_add("g", on_later.name()).await.unwrap();
        let send = async { Group::new("g").unwrap().send_text("held").await };
        let (outcome, held) = run_holding(context::scope(Arc::new(made), send)).await;
        outcome.unwrap();
        // Flushed where another layer is current: it still goes to the first.
        context::scope(Arc::new(later), flush(held)).await.unwrap();
        assert_eq!(on_made.try_recv(), Some(LayerMessage::text("held")));
        assert_eq!(on_later.try_recv(), None);
    }

    #[tokio::test]
    async fn outside_an_atomic_consumer_nothing_is_held() {
        let layer = InMemoryLayer::new();
        let inbox = layer.new_channel("specific.").await.unwrap();
        let reply = ReplyChannel::for_inbox(&inbox, Arc::new(layer.clone()));
        reply.send_text("now").await.unwrap();
        assert_eq!(inbox.try_recv(), Some(LayerMessage::text("now")));
    }
}
