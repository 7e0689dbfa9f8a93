//! A bounded FIFO with message expiry: the storage behind every channel of the in-memory layer and behind
//! every process-local reply channel.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{LayerError, LayerMessage};

/// One channel's queue.
///
/// `push` never waits: a full queue is [`LayerError::ChannelFull`], as in Channels. `pop` skips messages
/// older than the expiry (they are counted, never delivered). No lock is held across an await.
#[derive(Debug)]
pub(crate) struct Queue {
    items: Mutex<VecDeque<(Instant, LayerMessage)>>,
    notify: Notify,
    /// The single poll-based reader of a process-local channel (its connection), if any.
    reader: AtomicWaker,
    /// How many `pop` calls are waiting on `notify`.
    async_waiters: AtomicUsize,
    /// Wakes senders waiting for room ([`Queue::push_wait`]); only signalled while someone waits.
    space: Notify,
    space_waiters: AtomicUsize,
    capacity: usize,
    expiry: Duration,
    closed: AtomicBool,
    expired: AtomicU64,
}

impl Queue {
    pub(crate) fn new(capacity: usize, expiry: Duration) -> Self {
        Queue {
            items: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            reader: AtomicWaker::new(),
            async_waiters: AtomicUsize::new(0),
            space: Notify::new(),
            space_waiters: AtomicUsize::new(0),
            capacity,
            expiry,
            closed: AtomicBool::new(false),
            expired: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, LayerMessage)>> {
        // A panic while holding this lock cannot leave the deque inconsistent (every critical section is a
        // single push or pop), so a poisoned lock is still safe to use.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a message, or says why it can't.
    pub(crate) fn push(&self, message: LayerMessage) -> Result<(), LayerError> {
        let now = Instant::now();
        super::clock::observe(now);
        self.push_at(message, now)
    }

    /// [`push`](Self::push) with the current time given, for callers pushing to many queues at once.
    pub(crate) fn push_at(&self, message: LayerMessage, now: Instant) -> Result<(), LayerError> {
        self.push_or_return(message, now)
            .map_err(|(error, _)| error)
    }

    /// Like [`push_at`](Self::push_at), handing the message back when it could not be queued.
    fn push_or_return(
        &self,
        message: LayerMessage,
        now: Instant,
    ) -> Result<(), (LayerError, LayerMessage)> {
        if self.is_closed() {
            return Err((LayerError::ChannelClosed, message));
        }
        let async_waiter = {
            let mut items = self.lock();
            if items.len() >= self.capacity {
                self.drop_expired(&mut items, now);
                if items.len() >= self.capacity {
                    return Err((LayerError::ChannelFull, message));
                }
            }
            if items.capacity() == 0 {
                // Most reply channels hold one message at a time: start small, grow when needed.
                items.reserve_exact(1);
            }
            items.push_back((now, message));
            // Read under the lock: a `pop` that counted itself before its last look (under this same
            // lock) is seen here, so it can't miss this message.
            self.async_waiters.load(Ordering::Relaxed) > 0
        };
        // Only async readers (`pop`) wait on `notify`; the connection polls and uses `reader`.
        if async_waiter {
            self.notify.notify_one();
        }
        self.reader.wake();
        Ok(())
    }

    fn drop_expired(&self, items: &mut VecDeque<(Instant, LayerMessage)>, now: Instant) {
        while let Some((at, _)) = items.front() {
            if now.duration_since(*at) < self.expiry {
                break;
            }
            items.pop_front();
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends a message, waiting for room while the queue is full (backpressure for the connection's own
    /// consumers). Fails only when the queue is closed.
    ///
    /// # Cancel safety
    /// Cancel-safe: the message is queued in the same poll that returns `Ok`, or not at all.
    pub(crate) async fn push_wait(&self, message: LayerMessage) -> Result<(), LayerError> {
        // Room now (the common case): one push, no clone, no waiter registration.
        let now = Instant::now();
        super::clock::observe(now);
        let mut message = match self.push_or_return(message, now) {
            Err((LayerError::ChannelFull, message)) => message,
            other => return other.map_err(|(error, _)| error),
        };
        loop {
            let room = self.space.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            self.space_waiters.fetch_add(1, Ordering::AcqRel);
            // Look again after announcing ourselves, so a pop in between is not missed.
            let retry = self.push_or_return(message, Instant::now());
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

    /// Takes the oldest unexpired message, if any, without waiting.
    pub(crate) fn try_pop(&self) -> Option<LayerMessage> {
        let popped = {
            let mut items = self.lock();
            let front_at = items.front()?.0;
            if !super::clock::surely_fresh(front_at, self.expiry) {
                self.drop_expired(&mut items, Instant::now());
            }
            items.pop_front().map(|(_, message)| message)
        };
        if popped.is_some() && self.space_waiters.load(Ordering::Acquire) > 0 {
            self.space.notify_waiters();
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
            let notified = self.notify.notified();
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
    pub(crate) fn poll_pop(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<LayerMessage> {
        if let Some(message) = self.try_pop() {
            return std::task::Poll::Ready(message);
        }
        self.reader.register(cx.waker());
        match self.try_pop() {
            Some(message) => std::task::Poll::Ready(message),
            None => std::task::Poll::Pending,
        }
    }

    /// Forgets the poll-based reader's registration until its next [`poll_pop`](Self::poll_pop): pushes
    /// made meanwhile don't wake it (the reader checks the queue before it sleeps anyway).
    pub(crate) fn disarm(&self) {
        drop(self.reader.take());
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
        self.space.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// How many messages expired before anyone read them.
    pub(crate) fn expired_count(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Counts one waiting `pop` for as long as it lives (also when the `pop` future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_and_capacity() {
        let q = Queue::new(2, Duration::from_secs(60));
        q.push(LayerMessage::text("a")).unwrap();
        q.push(LayerMessage::text("b")).unwrap();
        assert_eq!(
            q.push(LayerMessage::text("c")),
            Err(LayerError::ChannelFull)
        );
        assert_eq!(q.pop().await, LayerMessage::text("a"));
        assert_eq!(q.pop().await, LayerMessage::text("b"));
        assert_eq!(q.try_pop(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_messages_are_not_delivered() {
        let q = Queue::new(10, Duration::from_secs(60));
        q.push(LayerMessage::text("old")).unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        q.push(LayerMessage::text("new")).unwrap();
        assert_eq!(q.pop().await, LayerMessage::text("new"));
        assert_eq!(q.expired_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_messages_free_capacity() {
        let q = Queue::new(1, Duration::from_secs(60));
        q.push(LayerMessage::text("old")).unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        q.push(LayerMessage::text("new")).unwrap();
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn push_wait_waits_for_room_then_queues() {
        let q = std::sync::Arc::new(Queue::new(1, Duration::from_secs(60)));
        q.push(LayerMessage::text("a")).unwrap();
        let pusher = {
            let q = q.clone();
            tokio::spawn(async move { q.push_wait(LayerMessage::text("b")).await })
        };
        assert_eq!(q.pop().await, LayerMessage::text("a"));
        pusher.await.unwrap().unwrap();
        assert_eq!(q.pop().await, LayerMessage::text("b"));
    }

    #[tokio::test]
    async fn push_wait_fails_when_closed() {
        let q = std::sync::Arc::new(Queue::new(1, Duration::from_secs(60)));
        q.push(LayerMessage::text("a")).unwrap();
        let pusher = {
            let q = q.clone();
            tokio::spawn(async move { q.push_wait(LayerMessage::text("b")).await })
        };
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(pusher.await.unwrap(), Err(LayerError::ChannelClosed));
    }

    #[tokio::test]
    async fn closed_queue_refuses() {
        let q = Queue::new(1, Duration::from_secs(60));
        q.close();
        assert_eq!(
            q.push(LayerMessage::text("x")),
            Err(LayerError::ChannelClosed)
        );
    }
}
