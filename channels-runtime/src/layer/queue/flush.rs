//! Fan-out flushing: a group message is written to its members' sockets in one pass, after the sender's
//! turn, instead of waking every member's connection.
//!
//! A group send to 1,000 members used to wake 1,000 connection tasks, each of which then took its
//! message from its queue and wrote it. The scheduler runs them in its own order (tokio's multi-thread
//! scheduler keeps 256 in a worker's queue and moves the rest to a shared one), so the last members of a
//! fan-out waited behind the others' wake-ups and polls: a long tail of latency, and a task poll per
//! delivery. uWebSockets does it the other way: `publish` writes into each subscriber's buffer, and the
//! buffers go out at the end of that turn of the event loop.
//!
//! So a push to a member whose queue can write to its socket directly (its reply channel has a
//! [`DirectSink`](super::DirectSink)) queues the message and adds the queue to the thread's open
//! [`Batch`] instead of waking the connection. The first such push makes the batch and spawns the task
//! that flushes it; on a worker thread that task runs right after the sender's task yields (tokio's
//! LIFO slot), so every group send the sender made in its turn is in the batch, and each member gets all
//! of them in one `send`. Flushing a queue ([`Queue::flush`](super::Queue::flush)) writes what it holds
//! under its lock, in order, only when the connection is not writing itself; whatever it can't write
//! (the socket is full, the connection holds the socket, a control message) is left queued and the
//! connection is woken for it, as before. Nothing is skipped: a queue in a batch that is dropped before
//! it ran (the runtime shuts down) wakes its connection.
//!
//! Outside a tokio runtime (a push from a plain thread) there is no task to flush with: the push wakes the
//! connection itself.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};

use super::Queue;

/// The queues with messages to flush, gathered on one thread during one task's turn.
///
/// `None` once the flushing task has taken them: later pushes make a new batch.
#[derive(Default)]
struct Batch {
    queues: Mutex<Option<Vec<Arc<Queue>>>>,
}

thread_local! {
    /// The batch this thread adds to, while its flushing task has not taken it. Weak: only the task owns
    /// the batch, so a task dropped unrun drops it, and [`Pending`] wakes its connections.
    static OPEN: RefCell<Weak<Batch>> = const { RefCell::new(Weak::new()) };
}

impl Batch {
    /// Adds `queues` if the batch is still open; says whether it did (`queues` is then empty).
    fn add(&self, queues: &mut Vec<Arc<Queue>>) -> bool {
        match lock(&self.queues).as_mut() {
            Some(batch) => {
                batch.append(queues);
                true
            }
            None => false,
        }
    }

    fn take(&self) -> Vec<Arc<Queue>> {
        lock(&self.queues).take().unwrap_or_default()
    }
}

/// A batch that never ran (its task was dropped unpolled) still wakes its connections.
impl Drop for Batch {
    fn drop(&mut self) {
        drop(Pending {
            queues: self.take().into_iter(),
        });
    }
}

/// Queues taken from a batch and not flushed yet. Dropped early (the runtime drops the flushing task at
/// shutdown), it wakes the rest's connections, which then write as they did before batching existed.
struct Pending {
    queues: std::vec::IntoIter<Arc<Queue>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        for queue in self.queues.by_ref() {
            queue.unbatched();
        }
    }
}

/// The queues one fan-out (a group send) has to flush, handed to the thread's batch together when it is
/// dropped: per member, a push on a local vector; per fan-out, one lock of the batch (or one spawn).
///
/// [`Queue::push_fanout`](super::Queue::push_fanout) adds a queue only when it was not in a batch
/// already. Dropping this is what schedules the flush, so a fan-out cannot forget to.
#[derive(Default)]
pub(crate) struct Gathered {
    queues: Vec<Arc<Queue>>,
}

impl Gathered {
    pub(super) fn add(&mut self, queue: Arc<Queue>) {
        self.queues.push(queue);
    }
}

impl Drop for Gathered {
    fn drop(&mut self) {
        if self.queues.is_empty() {
            return;
        }
        if !defer(&mut self.queues) {
            // Outside a tokio runtime: no task to flush with, so the connections write as before.
            for queue in self.queues.drain(..) {
                queue.unbatched();
            }
        }
    }
}

/// Moves `queues` into this thread's batch, making the batch (and spawning its flushing task) if there
/// is none open. Says `false`, leaving `queues` as they are, outside a tokio runtime.
fn defer(queues: &mut Vec<Arc<Queue>>) -> bool {
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        if let Some(batch) = open.upgrade()
            && batch.add(queues)
        {
            return true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let batch = Arc::new(Batch {
            queues: Mutex::new(Some(std::mem::take(queues))),
        });
        *open = Arc::downgrade(&batch);
        // Not joined: the task ends on its own, and a dropped one wakes what it held (see `Pending`).
        drop(runtime.spawn(flush(batch)));
        true
    })
}

/// The flushing task: takes the batch (later pushes make a new one) and flushes each queue in turn,
/// giving the scheduler back its turn when tokio's cooperative budget says so (a fan-out to 100,000
/// members doesn't hold a worker for the whole pass).
async fn flush(batch: Arc<Batch>) {
    let mut pending = Pending {
        queues: batch.take().into_iter(),
    };
    drop(batch);
    for queue in pending.queues.by_ref() {
        queue.flush();
        tokio::task::consume_budget().await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is one push or one take: a panic can't leave the vector half changed.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
