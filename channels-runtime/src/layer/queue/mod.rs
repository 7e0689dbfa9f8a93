//! A bounded FIFO with message expiry: the storage behind every channel of the in-memory layer and behind
//! every process-local reply channel.
//!
//! A queue is bounded by a number of messages (the layer's `capacity`), unless a server gives it a byte
//! [`Budget`] (its connections' reply channels): then it counts the bytes held for its client, from the
//! push until the connection has written them ([`Queue::release`]), and a push that would go past the
//! budget closes the channel or is dropped, as the budget says.
//!
//! A connection's reply channel may also have a [`DirectSink`]: its socket, written to by the push itself
//! when the client is caught up (see [`Queue::set_sink`]), so that a consumer's reply costs one `send` and
//! no further turn of the connection's loop. A group message to such a queue is written by a flushing
//! pass after the sender's turn instead of by the connection's task ([`Queue::push_fanout`], the `flush`
//! module): one pass writes a fan-out to every member.

mod budget;
mod flush;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;
use tokio::time::Instant;

pub(crate) use self::budget::{Budget, OverBudget, cost_of};
pub(crate) use self::flush::Gathered;
use super::{LayerError, LayerMessage};

/// One channel's queue.
///
/// `push` never waits: a full queue is [`LayerError::ChannelFull`], as in Channels. `pop` skips messages
/// older than the expiry (they are counted, never delivered). No lock is held across an await.
#[derive(Debug)]
pub(crate) struct Queue {
    items: Mutex<VecDeque<(Instant, LayerMessage)>>,
    /// What async readers and senders waiting for room wait on, made by the first of them: most queues
    /// never have one (a connection's inbox is polled, and its consumers rarely wait for room), and every
    /// connection has a queue.
    waiters: OnceLock<Box<Waiters>>,
    /// The single poll-based reader of a process-local channel (its connection), if any.
    reader: AtomicWaker,
    /// Woken only when the queue goes past its byte budget: the connection may be waiting on a write.
    alarm: AtomicWaker,
    /// How many `pop` calls are waiting on `notify`.
    async_waiters: AtomicU32,
    /// How many senders wait for room ([`Queue::push_wait`]); [`Waiters::space`] is only signalled while
    /// someone waits.
    space_waiters: AtomicU32,
    /// At most this many messages (without a budget). 32 bits, and the expiry in nanoseconds, so that the
    /// direct sink fits in the size a queue had without it (every connection has one).
    capacity: u32,
    /// Messages older than this (in nanoseconds; saturating at about 584 years) are not delivered.
    expiry_nanos: u64,
    closed: AtomicBool,
    /// Messages that expired unread (diagnostics), saturating at `u32::MAX`: 32 bits keep the queue in
    /// its size per connection.
    expired: AtomicU32,
    /// The byte bound that replaces `capacity`, set once by the server for a connection's reply channel.
    budget: OnceLock<Arc<Budget>>,
    /// With a budget: bytes held for the client (queued, or taken by the connection and not yet written).
    held: AtomicUsize,
    /// With a budget: the queue went past it and was closed ([`OverBudget::Close`]).
    overflowed: AtomicBool,
    /// The connection's socket, for direct writes ([`Queue::set_sink`]). Weak: the connection owns the
    /// socket, and a queue that outlives it (a consumer keeps its reply channel) must not keep it open.
    sink: OnceLock<Weak<dyn DirectSink>>,
    /// With a sink: the socket belongs to the connection, so pushes queue instead of writing to it. Set
    /// when the connection takes a message (it is "in hand" until its frame is on the socket), when it
    /// writes anything itself, and by a direct write that left part of its frame; cleared by the
    /// connection once everything it had is on the socket. Changed only under the `items` lock.
    writing: AtomicBool,
    /// Whether the deque holds anything: written under the `items` lock after every change, read without
    /// it by [`try_pop`](Self::try_pop), so that looking at an empty queue (the connection does it at
    /// every wake-up, several times per message it serves) takes no lock. `SeqCst`, as the count of
    /// async waiters: a `pop` that counted itself and then found this `false` is seen by the push that
    /// sets it (see [`enqueue`](Self::enqueue)).
    queued: AtomicBool,
    /// The queue is in a flushing batch that has not flushed it yet ([`Queue::push_fanout`]): a push
    /// finding it set neither adds it again nor wakes the connection.
    flush_pending: AtomicBool,
}

/// The wait lists of a [`Queue`], made when first needed (see [`Queue::waiters`]).
///
/// Whoever waits makes them before it counts itself (`async_waiters`, `space_waiters`); whoever
/// signals looks at the count first, so a signaller that sees a waiter sees its lists.
#[derive(Debug, Default)]
struct Waiters {
    /// Async readers ([`Queue::pop`]).
    notify: Notify,
    /// Senders waiting for room ([`Queue::push_wait`]).
    space: Notify,
}

/// A socket a push can write a data frame to at once: a connection's, registered on its reply channel's
/// queue with [`Queue::set_sink`].
///
/// # Order
///
/// Messages reach the client in the order they were pushed, whichever thread pushes and whatever the
/// connection is doing. The queue writes directly only under its lock, and only when the deque is empty
/// and `writing` is false:
///
/// * every earlier message that went through the deque has been taken by the connection (the deque is
///   empty); taking one set `writing`, which the connection clears only once everything it took is on
///   the socket, so all of them are;
/// * every earlier direct write is on the socket whole, or it left a rest, which set `writing`;
/// * the connection writes to the socket only after setting `writing` (under the same lock, see
///   [`Queue::claim_socket`]), so it cannot be writing now, and it can't start before this write ends;
/// * a later push finds this message written (whole), or `writing` set (a rest), and then queues: the
///   connection writes the rest before anything else (the wire puts it first), then what it takes.
pub(crate) trait DirectSink: Send + Sync {
    /// Writes `message`'s frame (a text or binary message sent by the connection's own consumers) if the
    /// socket takes it without waiting.
    /// Called under the queue's lock, only when nothing precedes the message. On [`Sent::Part`] the sink
    /// keeps the rest, counting `cost` against the budget, for the connection to write first.
    fn try_send(&self, message: &LayerMessage, cost: usize) -> Sent;

    /// Writes the data frames at the front of `queued` that the socket takes without waiting, several per
    /// system call, and says how many went. Called under the queue's lock by [`Queue::flush`], only when
    /// nothing precedes them (the same conditions as [`try_send`](Self::try_send)). Stops at the first
    /// message that is not a data frame, or that is too large to copy (the connection writes those from
    /// the shared payload). A frame the socket takes in part is kept as the rest, counting its cost
    /// (`budgeted`: [`cost_of`] it) for the connection to release once written.
    fn try_send_queued(
        &self,
        queued: &VecDeque<(Instant, LayerMessage)>,
        budgeted: bool,
    ) -> Flushed;
}

/// What [`DirectSink::try_send_queued`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Messages from the front of the queue that are whole on the socket.
    pub(crate) whole: usize,
    /// The next message is on the socket in part: the sink keeps its rest.
    pub(crate) part: bool,
}

/// What a [`DirectSink`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The whole frame is on the socket.
    Whole,
    /// Part of it is; the sink keeps the rest for the connection.
    Part,
    /// Nothing was written (the socket is full, failed, or the sink is off): queue the message.
    Nothing,
}

/// Messages a queue may gather while it waits for its flush before its connection is woken as well (see
/// [`Queue::push_fanout`]). Above what a member gets in one turn of a busy sender in the benchmarks (32
/// messages in flight), far below a byte budget's worth of small messages.
const FLUSH_BACKLOG: usize = 64;

/// Where [`Queue::enqueue`] put a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pushed {
    /// On the socket (a direct write): nobody needs waking.
    Written,
    /// In the deque, which now holds `backlog` messages: its reader must be woken, or the queue flushed.
    Queued { backlog: usize },
}

/// Who pushes, which decides what a push past the budget does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    /// A group member's message or a layer send: past the budget, the budget's policy applies.
    Send,
    /// The connection's own consumer ([`Queue::push_wait`]): it waits for room instead, and only while the
    /// queue holds more than half the budget, so that group messages always find the other half.
    Wait,
}

impl Queue {
    pub(crate) fn new(capacity: usize, expiry: Duration) -> Self {
        Queue {
            items: Mutex::new(VecDeque::new()),
            waiters: OnceLock::new(),
            reader: AtomicWaker::new(),
            alarm: AtomicWaker::new(),
            async_waiters: AtomicU32::new(0),
            space_waiters: AtomicU32::new(0),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            expiry_nanos: u64::try_from(expiry.as_nanos()).unwrap_or(u64::MAX),
            closed: AtomicBool::new(false),
            expired: AtomicU32::new(0),
            budget: OnceLock::new(),
            held: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
            sink: OnceLock::new(),
            writing: AtomicBool::new(false),
            queued: AtomicBool::new(false),
            flush_pending: AtomicBool::new(false),
        }
    }

    /// The wait lists, made now if this is the first waiter.
    fn waiters(&self) -> &Waiters {
        self.waiters.get_or_init(Box::default)
    }

    /// Wakes the senders waiting for room, if any.
    fn wake_space_waiters(&self) {
        if let Some(waiters) = self.waiters.get() {
            waiters.space.notify_waiters();
        }
    }

    fn expiry(&self) -> Duration {
        Duration::from_nanos(self.expiry_nanos)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, LayerMessage)>> {
        // A panic while holding this lock cannot leave the deque inconsistent (every critical section is a
        // single push or pop), so a poisoned lock is still safe to use.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bounds this queue by `budget` (bytes) instead of by its capacity. Set once, before the channel's
    /// name is known to anyone (a later call does nothing).
    pub(crate) fn set_budget(&self, budget: Arc<Budget>) {
        let _ = self.budget.set(budget);
    }

    /// Appends a message, or says why it can't.
    pub(crate) fn push(&self, message: LayerMessage) -> Result<(), LayerError> {
        let now = Instant::now();
        super::clock::observe(now);
        self.push_at(message, now)
    }

    /// [`push`](Self::push) with the current time given, for callers pushing to many queues at once.
    pub(crate) fn push_at(&self, message: LayerMessage, now: Instant) -> Result<(), LayerError> {
        self.push_or_return(message, Some(now), Push::Send)
            .map_err(|(error, _)| error)
    }

    /// Like [`push_at`](Self::push_at), handing the message back when it could not be queued. Without
    /// `now`, the clock is read (and the coarse clock told) only if the message is queued: a direct write
    /// needs no time.
    fn push_or_return(
        &self,
        message: LayerMessage,
        now: Option<Instant>,
        push: Push,
    ) -> Result<(), (LayerError, LayerMessage)> {
        if let Pushed::Queued { .. } = self.enqueue(message, now, push)? {
            self.reader.wake();
        }
        Ok(())
    }

    /// Appends a group member's message, like [`push_at`](Self::push_at), but when the connection could
    /// take it straight to its socket (it has a direct sink) its task is not woken: the queue goes into
    /// `gathered`, which hands it to the thread's flushing batch once the fan-out is done, and the batch
    /// writes it after the sender's turn (see the `flush` module). Outside a tokio runtime the connection
    /// is woken when `gathered` is dropped.
    pub(crate) fn push_fanout(
        self: &Arc<Self>,
        message: LayerMessage,
        now: Instant,
        gathered: &mut Gathered,
    ) -> Result<(), LayerError> {
        let data = matches!(message, LayerMessage::Text(_) | LayerMessage::Binary(_));
        let backlog = match self
            .enqueue(message, Some(now), Push::Send)
            .map_err(|(error, _)| error)?
        {
            Pushed::Written => return Ok(()),
            Pushed::Queued { backlog } => backlog,
        };
        if !data || self.sink.get().is_none() {
            self.reader.wake();
            return Ok(());
        }
        // `SeqCst`, as the flush's clearing of the flag: a push that finds it set was queued before the
        // flush cleared it, so before the flush looked at the queue (see `flush`).
        if self.flush_pending.swap(true, Ordering::SeqCst) {
            // Already in a batch. A sender that keeps its worker busy (a loop of sends that never
            // yields) holds the batch back; past `FLUSH_BACKLOG` messages the connection is woken too,
            // so that another worker can write them meanwhile, as it would without batching.
            if backlog > FLUSH_BACKLOG {
                self.reader.wake();
            }
            return Ok(());
        }
        gathered.add(self.clone());
        Ok(())
    }

    /// Writes what the queue holds to its connection's socket, from a flushing batch (see the `flush`
    /// module): under the lock, in order, and only when the connection is not writing (the conditions of
    /// a direct write, [`DirectSink`]). What can't be written that way (the socket is full or failed, the
    /// connection holds the socket, a control message, a large payload) stays queued, and the connection
    /// is woken for it.
    pub(crate) fn flush(&self) {
        // Cleared before the look under the lock: a push queued after that look finds it clear and makes
        // the queue part of another batch.
        self.flush_pending.store(false, Ordering::SeqCst);
        let Some(sink) = self.sink.get().and_then(Weak::upgrade) else {
            self.reader.wake();
            return;
        };
        let budgeted = self.budget.get().is_some();
        let (freed, popped, wake) = {
            let mut items = self.lock();
            let Some(&(front_at, _)) = items.front() else {
                return;
            };
            if self.writing.load(Ordering::Relaxed) || self.is_closed() {
                drop(items);
                self.reader.wake();
                return;
            }
            let mut freed = if super::clock::surely_fresh(front_at, self.expiry()) {
                0
            } else {
                self.drop_expired(&mut items, Instant::now())
            };
            let flushed = sink.try_send_queued(&items, budgeted);
            let whole = flushed.whole.min(items.len());
            for (_, message) in items.drain(..whole) {
                if budgeted {
                    freed += cost_of(&message);
                }
            }
            if flushed.part {
                // Its bytes stay held: the rest carries them, and the connection releases them once it
                // has written it. Release: the connection that sees `writing` sees the rest.
                items.pop_front();
                self.writing.store(true, Ordering::Release);
            }
            self.queued.store(!items.is_empty(), Ordering::SeqCst);
            let popped = flushed.whole > 0 || flushed.part;
            (freed, popped, flushed.part || !items.is_empty())
        };
        drop(sink);
        if freed > 0 {
            self.release(freed);
        }
        // Without a budget a pop makes room; with one, the release did it.
        if popped && !budgeted && self.space_waiters.load(Ordering::Acquire) > 0 {
            self.wake_space_waiters();
        }
        if wake {
            self.reader.wake();
        }
    }

    /// Left out of a batch that was dropped before it flushed this queue (the runtime is shutting down),
    /// or gathered outside a runtime: the connection is woken to write what the queue holds itself.
    fn unbatched(&self) {
        self.flush_pending.store(false, Ordering::SeqCst);
        self.reader.wake();
    }

    /// Appends a message, or writes it straight to the socket (only the connection's own consumers' data
    /// frames, when it is caught up); says which. Wakes nobody: the caller wakes the connection for a
    /// queued message, or has it flushed.
    fn enqueue(
        &self,
        message: LayerMessage,
        now: Option<Instant>,
        push: Push,
    ) -> Result<Pushed, (LayerError, LayerMessage)> {
        if self.is_closed() {
            return Err((LayerError::ChannelClosed, message));
        }
        let budget = self.budget.get();
        // Only the connection's own consumers' sends go directly (a reply is written by the consumer's
        // run, without another turn of the connection's loop). Group and layer sends are queued: written
        // one push at a time, a broadcast of 1,000 messages/s to 1,000 members cost one TCP segment per
        // delivery, over ten times the server CPU of writing several waiting messages at once. Group
        // messages are then written by a flushing pass after the sender's turn (`push_fanout`).
        if push == Push::Wait
            && let Some(sink) = self.sink.get()
            && matches!(message, LayerMessage::Text(_) | LayerMessage::Binary(_))
            && self.try_direct(sink, &message, budget.is_some())
        {
            return Ok(Pushed::Written);
        }
        let now = now.unwrap_or_else(|| {
            let now = Instant::now();
            super::clock::observe(now);
            now
        });
        let cost = match budget {
            Some(budget) => {
                let cost = cost_of(&message);
                if let Err(error) = self.reserve(budget, cost, push) {
                    return Err((error, message));
                }
                cost
            }
            None => 0,
        };
        let (async_waiter, backlog) = {
            let mut items = self.lock();
            if budget.is_none() && items.len() >= self.capacity as usize {
                self.drop_expired(&mut items, now);
                if items.len() >= self.capacity as usize {
                    return Err((LayerError::ChannelFull, message));
                }
            }
            if self.is_closed() {
                // Closed since the first look (the inbox went, or the budget closed it): queue nothing.
                drop(items);
                self.release(cost);
                return Err((LayerError::ChannelClosed, message));
            }
            if items.capacity() == 0 {
                // Most reply channels hold one message at a time: start small, grow when needed.
                items.reserve_exact(1);
            }
            items.push_back((now, message));
            self.queued.store(true, Ordering::SeqCst);
            // Read after `queued` is set, both `SeqCst`: a `pop` that counted itself before its last look
            // (at `queued`, or under this same lock) is seen here, so it can't miss this message.
            (self.async_waiters.load(Ordering::SeqCst) > 0, items.len())
        };
        // Only async readers (`pop`) wait on `notify`; the connection polls and uses `reader`.
        if async_waiter && let Some(waiters) = self.waiters.get() {
            waiters.notify.notify_one();
        }
        Ok(Pushed::Queued { backlog })
    }

    /// Writes `message` to the connection's socket now if nothing precedes it (see [`DirectSink`] for why
    /// that keeps the order); says whether it did (whole, or partly with the rest left to the connection).
    /// Nothing written is queued by the caller as usual.
    fn try_direct(
        &self,
        sink: &Weak<dyn DirectSink>,
        message: &LayerMessage,
        budgeted: bool,
    ) -> bool {
        let items = self.lock();
        if !items.is_empty() || self.writing.load(Ordering::Relaxed) || self.is_closed() {
            return false;
        }
        // Gone once the connection has dropped its socket.
        let Some(sink) = sink.upgrade() else {
            return false;
        };
        let cost = if budgeted { cost_of(message) } else { 0 };
        match sink.try_send(message, cost) {
            Sent::Whole => {
                drop(items);
                true
            }
            Sent::Part => {
                // The rest is held for the client until the connection writes it, past the budget if it
                // must: the frame has started.
                if cost > 0 {
                    self.held.fetch_add(cost, Ordering::AcqRel);
                    crate::metrics::queued(cost);
                }
                // Release: the connection that sees `writing` (Acquire) sees the rest the sink stored.
                self.writing.store(true, Ordering::Release);
                drop(items);
                drop(sink);
                self.reader.wake();
                true
            }
            Sent::Nothing => false,
        }
    }

    /// Registers the connection's socket for direct writes. Set once (a later call does nothing); until
    /// the connection first has nothing left to write ([`socket_idle`](Self::socket_idle)), pushes queue,
    /// so that what the connection took before (its early messages) goes first.
    pub(crate) fn set_sink(&self, sink: Weak<dyn DirectSink>) {
        let _items = self.lock();
        self.writing.store(true, Ordering::Release);
        let _ = self.sink.set(sink);
    }

    /// The connection is about to write to its socket: from now on pushes queue, and a direct write in
    /// progress has ended. Cheap when the socket is already the connection's (one load).
    pub(crate) fn claim_socket(&self) {
        if self.writing.load(Ordering::Acquire) {
            return;
        }
        let _items = self.lock();
        self.writing.store(true, Ordering::Release);
    }

    /// The connection has written everything it took and holds nothing for the socket: pushes may write
    /// directly again while the deque is empty.
    pub(crate) fn socket_idle(&self) {
        if !self.writing.load(Ordering::Acquire) {
            return;
        }
        let _items = self.lock();
        self.writing.store(false, Ordering::Release);
    }

    /// Counts `cost` bytes against the budget, or applies what the budget says for a push past it. One
    /// compare-and-swap in the common case; no lock.
    fn reserve(&self, budget: &Budget, cost: usize, push: Push) -> Result<(), LayerError> {
        let limit = match push {
            Push::Send => budget.bytes,
            Push::Wait => budget.bytes / 2,
        };
        let reserved = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Budget::fits(held, cost, limit).then(|| held.saturating_add(cost))
            });
        if reserved.is_ok() {
            crate::metrics::queued(cost);
            return Ok(());
        }
        match (push, budget.over) {
            (Push::Wait, _) => Err(LayerError::ChannelFull),
            (Push::Send, OverBudget::Close) => {
                self.overflow(budget);
                Err(LayerError::ChannelClosed)
            }
            (Push::Send, OverBudget::Drop) => {
                Budget::count(&budget.dropped);
                crate::metrics::slow_client_dropped();
                tracing::debug!(
                    held = self.held.load(Ordering::Relaxed),
                    budget = budget.bytes,
                    "message dropped for a slow client: its outbound budget is full"
                );
                Err(LayerError::ChannelFull)
            }
        }
    }

    /// The queue went past its budget under [`OverBudget::Close`]: closed at once (what it held is freed
    /// now), counted once, and its connection woken to close the socket.
    fn overflow(&self, budget: &Budget) {
        if self.overflowed.swap(true, Ordering::AcqRel) {
            return;
        }
        Budget::count(&budget.closed);
        self.close();
        self.reader.wake();
        self.alarm.wake();
    }

    /// Gives back `bytes` of the budget: the connection has written them (or dropped them). Saturates at
    /// zero. Wakes senders waiting for room.
    pub(crate) fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
        crate::metrics::unqueued(before.map_or(0, |held| held.min(bytes)));
        if self.space_waiters.load(Ordering::Acquire) > 0 {
            self.wake_space_waiters();
        }
    }

    /// The byte budget, if the server gave this queue one.
    pub(crate) fn budget(&self) -> Option<&Budget> {
        self.budget.get().map(|budget| &**budget)
    }

    /// Bytes held for the client (with a budget; 0 without).
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Whether the queue went past its budget and was closed for it.
    pub(crate) fn is_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Ready once the queue has gone past its budget; otherwise registers `cx` to be woken when it does
    /// (and only then: pushes don't wake it).
    pub(crate) fn poll_overflow(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_overflowed() {
            return Poll::Ready(());
        }
        self.alarm.register(cx.waker());
        if self.is_overflowed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Drops the expired messages at the front; returns the bytes they held against the budget (0 without
    /// one).
    fn drop_expired(&self, items: &mut VecDeque<(Instant, LayerMessage)>, now: Instant) -> usize {
        let budgeted = self.budget.get().is_some();
        let expiry = self.expiry();
        let mut freed = 0;
        while let Some((at, message)) = items.front() {
            if now.duration_since(*at) < expiry {
                break;
            }
            if budgeted {
                freed += cost_of(message);
            }
            items.pop_front();
            let _ = self
                .expired
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
        }
        freed
    }

    /// Appends a message, waiting for room while the queue is full (backpressure for the connection's own
    /// consumers). With a budget, "full" means holding more than half of it. Fails only when the queue is
    /// closed.
    ///
    /// # Cancel safety
    /// Cancel-safe: the message is queued in the same poll that returns `Ok`, or not at all.
    pub(crate) async fn push_wait(&self, message: LayerMessage) -> Result<(), LayerError> {
        match self.try_push_wait(message) {
            Err((LayerError::ChannelFull, message)) => self.push_wait_for_room(message).await,
            other => other.map_err(|(error, _)| error),
        }
    }

    /// [`push_wait`](Self::push_wait)'s first attempt, without a future: pushed when there is room now
    /// (the common case: one push, no clone, no waiter registration); the message back with
    /// [`LayerError::ChannelFull`] when the caller has to wait (then
    /// [`push_wait_for_room`](Self::push_wait_for_room)). A sender that needs no future for the common
    /// case keeps the waiting one (and its `Notified`) out of its own future's size.
    pub(crate) fn try_push_wait(
        &self,
        message: LayerMessage,
    ) -> Result<(), (LayerError, LayerMessage)> {
        self.push_or_return(message, None, Push::Wait)
    }

    /// The rest of [`push_wait`](Self::push_wait) after [`try_push_wait`](Self::try_push_wait) found the
    /// queue full: waits for room, then pushes.
    ///
    /// # Cancel safety
    /// As [`push_wait`](Self::push_wait).
    pub(crate) async fn push_wait_for_room(
        &self,
        mut message: LayerMessage,
    ) -> Result<(), LayerError> {
        loop {
            let room = self.waiters().space.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            // `SeqCst`, as `closed`: `close` sees this waiter, or this waiter's next look sees `closed`.
            self.space_waiters.fetch_add(1, Ordering::SeqCst);
            // Look again after announcing ourselves, so a pop (or release) in between is not missed.
            let retry = self.push_or_return(message, None, Push::Wait);
            if let Err((LayerError::ChannelFull, back)) = retry {
                message = back;
                room.await;
                self.space_waiters.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            self.space_waiters.fetch_sub(1, Ordering::AcqRel);
            return retry.map_err(|(error, _)| error);
        }
    }

    /// Takes the oldest unexpired message, if any, without waiting. With a budget, its bytes stay counted
    /// until the taker [`release`](Self::release)s them (once written to the socket).
    pub(crate) fn try_pop(&self) -> Option<LayerMessage> {
        // Nothing queued: no lock. A push that this misses is seen by the reader's next look, after it
        // registered for a wake-up (`poll_pop`, `pop`).
        if !self.queued.load(Ordering::SeqCst) {
            return None;
        }
        let (popped, freed) = {
            let mut items = self.lock();
            let front_at = items.front()?.0;
            let freed = if super::clock::surely_fresh(front_at, self.expiry()) {
                0
            } else {
                self.drop_expired(&mut items, Instant::now())
            };
            let popped = items.pop_front().map(|(_, message)| message);
            self.queued.store(!items.is_empty(), Ordering::SeqCst);
            // A message taken is in hand until its frame is on the socket: pushes queue behind it.
            if popped.is_some() && self.sink.get().is_some() {
                self.writing.store(true, Ordering::Release);
            }
            (popped, freed)
        };
        if freed > 0 {
            self.release(freed);
        }
        // Without a budget a pop makes room; with one, only a release does.
        if popped.is_some()
            && self.space_waiters.load(Ordering::Acquire) > 0
            && self.budget.get().is_none()
        {
            self.wake_space_waiters();
        }
        popped
    }

    /// Waits for the next unexpired message.
    ///
    /// # Cancel safety
    /// Cancel-safe: a message is taken only in the same poll that returns it, so dropping the future loses
    /// nothing.
    pub(crate) async fn pop(&self) -> LayerMessage {
        loop {
            if let Some(message) = self.try_pop() {
                return message;
            }
            // Announce the wait before the last look, so a push in between notifies us (see `push_at`).
            let notified = self.waiters().notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let _waiting = Waiting::new(&self.async_waiters);
            if let Some(message) = self.try_pop() {
                return message;
            }
            notified.await;
        }
    }

    /// Polls for the next unexpired message: the poll-based form of [`Queue::pop`], for a single reader
    /// that keeps its registration between polls (the connection task).
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<LayerMessage> {
        if let Some(message) = self.try_pop() {
            return Poll::Ready(message);
        }
        self.reader.register(cx.waker());
        match self.try_pop() {
            Some(message) => Poll::Ready(message),
            None => Poll::Pending,
        }
    }

    /// Forgets the poll-based reader's registration until its next [`poll_pop`](Self::poll_pop): pushes
    /// made meanwhile don't wake it (the reader checks the queue before it sleeps anyway).
    pub(crate) fn disarm(&self) {
        drop(self.reader.take());
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut items = self.lock();
        items.clear();
        self.queued.store(false, Ordering::SeqCst);
        drop(items);
        // `SeqCst` with the waiter's count and its look at `closed`: a sender counted before this load is
        // woken (its wait was enabled before it counted itself); one counted after sees `closed`.
        if self.space_waiters.load(Ordering::SeqCst) > 0 {
            self.wake_space_waiters();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// How many messages expired before anyone read them.
    pub(crate) fn expired_count(&self) -> u64 {
        u64::from(self.expired.load(Ordering::Relaxed))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// What a budgeted queue still holds when it is dropped leaves the process-wide count of held bytes.
impl Drop for Queue {
    fn drop(&mut self) {
        crate::metrics::unqueued(*self.held.get_mut());
    }
}

/// Counts one waiting `pop` for as long as it lives (also when the `pop` future is dropped).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
