//! [`Budget`]: the byte bound of a connection's reply channel, and what counts against it.
//!
//! A reply channel made by a server is bounded by bytes instead of by the layer's `capacity`: every byte
//! held for the client counts, from the push until the connection has written the frame to the socket
//! (the queue, then the frames handed to the socket writer). One budget is shared by all connections of a
//! server (its limits and counters); each queue keeps its own count of held bytes.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::layer::LayerMessage;

/// What a queue slot and a frame header cost on top of a message's payload, in bytes: one
/// `(Instant, LayerMessage)` slot (40 bytes on 64-bit targets), a frame in the socket writer and its
/// header (up to 10 bytes), rounded up.
pub(crate) const PER_MESSAGE: usize = 64;

/// What a typed event (`LayerMessage::Json`) counts: events are dispatched to a consumer, not written to
/// the socket, and their payload is shared by every member, so they count a fixed size rather than a walk
/// over the map per member.
pub(crate) const PER_EVENT: usize = 256;

/// What happens to a message that would take a client past its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverBudget {
    /// The channel closes (its connection closes the socket with 1013); the message is refused with
    /// `ChannelClosed`.
    Close,
    /// The message is dropped for this channel only (refused with `ChannelFull`); the channel stays.
    Drop,
}

/// The byte budget of a server's reply channels, and its counters.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes a channel may hold for its client.
    pub(crate) bytes: usize,
    pub(crate) over: OverBudget,
    /// Channels closed for going past the budget.
    pub(crate) closed: AtomicU64,
    /// Connections closed because a write waited longer than the write timeout.
    pub(crate) timed_out: AtomicU64,
    /// Messages dropped for a member past its budget ([`OverBudget::Drop`]).
    pub(crate) dropped: AtomicU64,
}

impl Budget {
    pub(crate) fn new(bytes: usize, over: OverBudget) -> Self {
        Budget {
            bytes,
            over,
            closed: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether `cost` more bytes fit when `held` are held, within `limit`. A channel that holds nothing
    /// takes any one message, so a message larger than the budget still reaches a client that keeps up.
    pub(crate) fn fits(held: usize, cost: usize, limit: usize) -> bool {
        held == 0 || held.saturating_add(cost) <= limit
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The bytes `message` holds for its client while it waits: its payload plus [`PER_MESSAGE`] (typed
/// events: [`PER_EVENT`]). O(1): payload lengths only, no walk over a JSON map.
pub(crate) fn cost_of(message: &LayerMessage) -> usize {
    PER_MESSAGE
        + match message {
            LayerMessage::Text(text) => text.len(),
            LayerMessage::Binary(bytes) => bytes.len(),
            LayerMessage::Http(response) => response.body.len(),
            LayerMessage::Json(_) => PER_EVENT,
            LayerMessage::Accept | LayerMessage::Reject | LayerMessage::Close(_) => 0,
        }
}
