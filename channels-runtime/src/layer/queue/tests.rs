//! The queue's own tests: FIFO, capacity, expiry, waiting for room, and the byte budget.
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

fn budgeted(bytes: usize, over: OverBudget) -> (Queue, Arc<Budget>) {
    let q = Queue::new(1, Duration::from_secs(60));
    let budget = Arc::new(Budget::new(bytes, over));
    q.set_budget(budget.clone());
    (q, budget)
}

fn text_of(len: usize) -> LayerMessage {
    LayerMessage::text("x".repeat(len))
}

#[tokio::test]
async fn a_budget_replaces_the_capacity() {
    // Capacity 1, but 1,000 bytes of budget: several small messages fit.
    let (q, _) = budgeted(1000, OverBudget::Close);
    for _ in 0..5 {
        q.push(text_of(100)).unwrap();
    }
    assert_eq!(q.len(), 5);
    assert_eq!(q.held(), 5 * (100 + budget::PER_MESSAGE));
}

#[tokio::test]
async fn past_the_budget_the_close_policy_closes_and_frees() {
    let (q, budget) = budgeted(1000, OverBudget::Close);
    q.push(text_of(500)).unwrap();
    assert_eq!(q.push(text_of(500)), Err(LayerError::ChannelClosed));
    assert!(q.is_overflowed());
    assert!(q.is_closed());
    assert_eq!(q.len(), 0, "what it held is freed at once");
    assert_eq!(budget.closed.load(Ordering::Relaxed), 1);
    // Counted once, however many sends find it closed.
    assert_eq!(q.push(text_of(1)), Err(LayerError::ChannelClosed));
    assert_eq!(budget.closed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn past_the_budget_the_drop_policy_drops_that_message_only() {
    let (q, budget) = budgeted(1000, OverBudget::Drop);
    q.push(text_of(500)).unwrap();
    assert_eq!(q.push(text_of(500)), Err(LayerError::ChannelFull));
    assert!(!q.is_closed());
    assert_eq!(budget.dropped.load(Ordering::Relaxed), 1);
    assert_eq!(q.try_pop(), Some(text_of(500)));
    // Taken but not yet written: still counted, so still full.
    assert_eq!(q.push(text_of(500)), Err(LayerError::ChannelFull));
    q.release(500 + budget::PER_MESSAGE);
    q.push(text_of(500)).unwrap();
}

#[tokio::test]
async fn one_message_larger_than_the_budget_goes_into_an_empty_queue() {
    let (q, _) = budgeted(1000, OverBudget::Close);
    q.push(text_of(5000)).unwrap();
    assert_eq!(q.push(text_of(1)), Err(LayerError::ChannelClosed));
}

#[tokio::test]
async fn own_sends_wait_for_a_release_past_half_the_budget() {
    let q = Arc::new(budgeted(1000, OverBudget::Close).0);
    q.push(text_of(400)).unwrap();
    let pusher = {
        let q = q.clone();
        tokio::spawn(async move { q.push_wait(text_of(400)).await })
    };
    // A pop alone makes no room: the bytes are held until written.
    assert_eq!(q.pop().await, text_of(400));
    tokio::task::yield_now().await;
    assert!(!pusher.is_finished());
    q.release(400 + budget::PER_MESSAGE);
    pusher.await.unwrap().unwrap();
    assert_eq!(q.pop().await, text_of(400));
    assert!(!q.is_overflowed(), "waiting sends never apply the policy");
}

#[tokio::test]
async fn release_saturates_at_zero() {
    let (q, _) = budgeted(1000, OverBudget::Close);
    q.push(text_of(10)).unwrap();
    q.release(1_000_000);
    assert_eq!(q.held(), 0);
}

#[tokio::test(start_paused = true)]
async fn expired_messages_give_their_bytes_back() {
    let (q, _) = budgeted(10_000, OverBudget::Close);
    q.push(text_of(100)).unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(q.try_pop(), None);
    assert_eq!(q.held(), 0);
    assert_eq!(q.expired_count(), 1);
}

#[tokio::test]
async fn an_overflow_wakes_the_alarm() {
    let q = Arc::new(budgeted(1000, OverBudget::Close).0);
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { std::future::poll_fn(|cx| q.poll_overflow(cx)).await })
    };
    q.push(text_of(900)).unwrap();
    let _ = q.push(text_of(900));
    waiter.await.unwrap();
}

/// Every connection has a queue: the direct sink had to fit in the size it had without one (232 bytes
/// on 64-bit targets), and the wait lists, made only when someone waits, took 48 bytes off.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_queue_is_no_larger_than_its_budget_per_connection() {
    assert!(
        std::mem::size_of::<Queue>() <= 184,
        "Queue is {} bytes",
        std::mem::size_of::<Queue>()
    );
}

/// A sink that answers what it is told to and records what it was offered.
#[derive(Debug)]
struct Recording {
    answer: Mutex<Sent>,
    offered: Mutex<Vec<(LayerMessage, usize)>>,
    /// Calls of `try_send_queued` (one per flush that found something to write).
    flushes: AtomicU32,
}

impl Recording {
    fn new(answer: Sent) -> Arc<Self> {
        Arc::new(Recording {
            answer: Mutex::new(answer),
            offered: Mutex::new(Vec::new()),
            flushes: AtomicU32::new(0),
        })
    }

    fn answer(&self, answer: Sent) {
        *self.answer.lock().unwrap() = answer;
    }

    fn offered(&self) -> Vec<LayerMessage> {
        self.offered
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }
}

impl DirectSink for Recording {
    fn try_send(&self, message: &LayerMessage, cost: usize) -> Sent {
        self.offered.lock().unwrap().push((message.clone(), cost));
        *self.answer.lock().unwrap()
    }

    /// Takes the data messages at the front one by one, answering for each what it is told to (stopping
    /// at the first it doesn't take whole).
    fn try_send_queued(
        &self,
        queued: &std::collections::VecDeque<(tokio::time::Instant, LayerMessage)>,
        budgeted: bool,
    ) -> Flushed {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        let mut flushed = Flushed::default();
        for (_, message) in queued {
            if !matches!(message, LayerMessage::Text(_) | LayerMessage::Binary(_)) {
                break;
            }
            let cost = if budgeted { cost_of(message) } else { 0 };
            match self.try_send(message, cost) {
                Sent::Whole => flushed.whole += 1,
                Sent::Part => {
                    flushed.part = true;
                    break;
                }
                Sent::Nothing => break,
            }
        }
        flushed
    }
}

/// A waker that records that it was woken.
struct Woken(AtomicBool);

impl futures_util::task::ArcWake for Woken {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

/// A queue with `sink` registered, caught up (as after the connection's first flush).
fn with_sink(sink: &Arc<Recording>) -> Queue {
    let q = Queue::new(100, Duration::from_secs(60));
    let weak: Weak<dyn DirectSink> = Arc::downgrade(sink) as Weak<Recording>;
    q.set_sink(weak);
    q.socket_idle();
    q
}

#[tokio::test]
async fn a_caught_up_queue_hands_data_frames_to_its_sink() {
    let sink = Recording::new(Sent::Whole);
    let q = with_sink(&sink);
    q.push_wait(LayerMessage::text("a")).await.unwrap();
    q.push_wait(LayerMessage::Binary(bytes::Bytes::from_static(b"b")))
        .await
        .unwrap();
    assert_eq!(q.len(), 0, "written, not queued");
    assert_eq!(
        sink.offered(),
        [
            LayerMessage::text("a"),
            LayerMessage::Binary(bytes::Bytes::from_static(b"b"))
        ]
    );
    // Anything else is for the connection itself.
    q.push_wait(LayerMessage::Close(1000)).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(sink.offered().len(), 2);
}

#[tokio::test]
async fn nothing_is_written_directly_before_the_first_idle() {
    let sink = Recording::new(Sent::Whole);
    let q = Queue::new(100, Duration::from_secs(60));
    q.set_sink(Arc::downgrade(&sink) as Weak<Recording>);
    q.push_wait(LayerMessage::text("early")).await.unwrap();
    assert_eq!(q.len(), 1);
    assert!(sink.offered().is_empty());
}

#[tokio::test]
async fn a_refused_write_is_queued_and_the_next_push_queues_behind_it() {
    let sink = Recording::new(Sent::Nothing);
    let q = with_sink(&sink);
    q.push_wait(LayerMessage::text("1")).await.unwrap();
    assert_eq!(q.len(), 1);
    sink.answer(Sent::Whole);
    q.push_wait(LayerMessage::text("2")).await.unwrap();
    assert_eq!(q.len(), 2, "not written past the queued one");
    assert_eq!(sink.offered(), [LayerMessage::text("1")]);
}

/// The race the `writing` flag exists for, in the order that would break it: the connection takes a
/// message (its frame is not on the socket yet), then a push arrives with the deque empty.
#[tokio::test]
async fn a_message_in_hand_keeps_later_pushes_queued_until_the_connection_is_idle() {
    let sink = Recording::new(Sent::Nothing);
    let q = with_sink(&sink);
    q.push_wait(LayerMessage::text("1")).await.unwrap();
    sink.answer(Sent::Whole);
    assert_eq!(q.try_pop(), Some(LayerMessage::text("1")));
    // "1" is in hand: "2" must not overtake it.
    q.push_wait(LayerMessage::text("2")).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(sink.offered(), [LayerMessage::text("1")]);
    // Written by the connection: still "2" waits in the deque, so "3" queues too.
    q.socket_idle();
    q.push_wait(LayerMessage::text("3")).await.unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q.try_pop(), Some(LayerMessage::text("2")));
    assert_eq!(q.try_pop(), Some(LayerMessage::text("3")));
    q.socket_idle();
    q.push_wait(LayerMessage::text("4")).await.unwrap();
    assert_eq!(q.len(), 0);
    assert_eq!(
        sink.offered(),
        [LayerMessage::text("1"), LayerMessage::text("4")]
    );
}

#[tokio::test]
async fn a_claimed_socket_takes_no_direct_write() {
    let sink = Recording::new(Sent::Whole);
    let q = with_sink(&sink);
    q.claim_socket();
    q.push_wait(LayerMessage::text("x")).await.unwrap();
    assert_eq!(q.len(), 1);
    assert!(sink.offered().is_empty());
}

#[tokio::test]
async fn a_partial_write_counts_its_rest_claims_the_socket_and_wakes_the_reader() {
    let sink = Recording::new(Sent::Part);
    let (q, _) = budgeted(10_000, OverBudget::Close);
    q.set_sink(Arc::downgrade(&sink) as Weak<Recording>);
    q.socket_idle();
    // The connection waits on its inbox.
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = futures_util::task::waker(woken.clone());
    assert!(q.poll_pop(&mut Context::from_waker(&waker)).is_pending());
    q.push_wait(text_of(100)).await.unwrap();
    let cost = 100 + budget::PER_MESSAGE;
    assert_eq!(
        q.held(),
        cost,
        "the rest is held until the connection writes it"
    );
    assert_eq!(sink.offered.lock().unwrap()[0].1, cost);
    assert!(
        woken.0.load(Ordering::SeqCst),
        "the connection is woken to write the rest"
    );
    sink.answer(Sent::Whole);
    q.push_wait(text_of(1)).await.unwrap();
    assert_eq!(q.len(), 1, "queued behind the rest");
}

#[tokio::test]
async fn a_closed_queue_writes_nothing_directly() {
    let sink = Recording::new(Sent::Whole);
    let q = with_sink(&sink);
    q.close();
    assert_eq!(
        q.push_wait(LayerMessage::text("x")).await,
        Err(LayerError::ChannelClosed)
    );
    assert!(sink.offered().is_empty());
}

#[tokio::test]
async fn a_dropped_sink_leaves_the_queue_path() {
    let sink = Recording::new(Sent::Whole);
    let q = with_sink(&sink);
    drop(sink);
    q.push_wait(LayerMessage::text("x")).await.unwrap();
    assert_eq!(q.len(), 1);
}

#[tokio::test]
async fn group_and_layer_sends_stay_on_the_queue_even_when_caught_up() {
    let sink = Recording::new(Sent::Whole);
    let q = with_sink(&sink);
    q.push(LayerMessage::text("group")).unwrap();
    assert_eq!(q.len(), 1);
    assert!(sink.offered().is_empty());
}

/// A waker that records whether it was woken.
#[derive(Default)]
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The connection's way of reading (`try_pop`, then `poll_pop`) looks at an empty queue without its
/// lock; a push after that look still wakes the reader, and the message is there for its next poll.
#[test]
fn a_push_after_an_empty_look_wakes_the_polling_reader() {
    let q = Queue::new(10, Duration::from_secs(60));
    let flag = Arc::new(Flag::default());
    let waker = std::task::Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(q.try_pop(), None);
    assert!(q.poll_pop(&mut cx).is_pending());
    q.push(LayerMessage::text("a")).unwrap();
    assert!(flag.0.load(Ordering::SeqCst), "the push woke the reader");
    assert_eq!(q.poll_pop(&mut cx), Poll::Ready(LayerMessage::text("a")));
    // Empty again: the next look finds nothing.
    assert_eq!(q.try_pop(), None);
    assert!(q.poll_pop(&mut cx).is_pending());
}

/// A queue read by polling, as a connection's inbox is, never makes the wait lists (they are per
/// connection memory); the first async reader makes them, and is woken through them.
#[tokio::test]
async fn wait_lists_are_made_by_the_first_waiter_only() {
    let q = Arc::new(Queue::new(10, Duration::from_secs(60)));
    q.push(LayerMessage::text("a")).unwrap();
    let waker = std::task::Waker::from(Arc::new(Flag::default()));
    let mut cx = Context::from_waker(&waker);
    assert_eq!(q.poll_pop(&mut cx), Poll::Ready(LayerMessage::text("a")));
    assert!(q.poll_pop(&mut cx).is_pending());
    assert!(q.waiters.get().is_none(), "nobody waited");

    let reader = {
        let q = q.clone();
        tokio::spawn(async move { q.pop().await })
    };
    // The reader runs until it waits (this test's runtime has one thread).
    tokio::task::yield_now().await;
    assert!(q.waiters.get().is_some(), "the async reader made them");
    q.push(LayerMessage::text("b")).unwrap();
    assert_eq!(reader.await.unwrap(), LayerMessage::text("b"));
}

/// A caught-up queue behind a sink, shared as group members' queues are, with a reader (the connection)
/// waiting on it.
fn member(sink: &Arc<Recording>) -> (Arc<Queue>, Arc<Woken>) {
    let q = Arc::new(with_sink(sink));
    (q.clone(), waiting_reader(&q))
}

/// Registers a reader on `q` as the connection does, and returns what tells whether it was woken.
fn waiting_reader(q: &Queue) -> Arc<Woken> {
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = futures_util::task::waker(woken.clone());
    assert!(q.poll_pop(&mut Context::from_waker(&waker)).is_pending());
    woken
}

/// A group send's push to one member: the queue is handed to the thread's batch at once (one fan-out
/// of one member).
fn fanout(q: &Arc<Queue>, message: LayerMessage) {
    let mut gathered = Gathered::default();
    q.push_fanout(message, Instant::now(), &mut gathered)
        .unwrap();
}

/// Lets the flushing task spawned by the pushes run: on this single-threaded runtime a yield puts this
/// test's task behind the tasks already spawned.
async fn let_the_batch_flush() {
    tokio::task::yield_now().await;
}

#[tokio::test]
async fn a_fanout_push_is_flushed_after_the_senders_turn_without_waking_the_connection() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    fanout(&q, LayerMessage::text("a"));
    fanout(&q, LayerMessage::text("b"));
    assert_eq!(q.len(), 2, "queued until the sender's turn ends");
    assert!(sink.offered().is_empty());
    let_the_batch_flush().await;
    assert_eq!(
        sink.offered(),
        [LayerMessage::text("a"), LayerMessage::text("b")]
    );
    assert_eq!(
        sink.flushes.load(Ordering::SeqCst),
        1,
        "both in one flush: the queue joined the batch once"
    );
    assert_eq!(q.len(), 0);
    assert!(
        !woken.0.load(Ordering::SeqCst),
        "the connection had nothing to do"
    );
    assert!(!q.flush_pending.load(Ordering::SeqCst));
}

#[tokio::test]
async fn one_batch_flushes_every_member_and_a_later_push_makes_a_new_one() {
    let sinks: Vec<_> = (0..3).map(|_| Recording::new(Sent::Whole)).collect();
    let members: Vec<_> = sinks.iter().map(member).collect();
    for (q, _) in &members {
        fanout(q, LayerMessage::text("1"));
    }
    let_the_batch_flush().await;
    for (q, _) in &members {
        fanout(q, LayerMessage::text("2"));
    }
    let_the_batch_flush().await;
    for (sink, (q, woken)) in sinks.iter().zip(&members) {
        assert_eq!(
            sink.offered(),
            [LayerMessage::text("1"), LayerMessage::text("2")]
        );
        assert_eq!(q.len(), 0);
        assert!(!woken.0.load(Ordering::SeqCst));
    }
}

#[tokio::test]
async fn what_the_socket_refuses_stays_queued_and_wakes_the_connection() {
    let sink = Recording::new(Sent::Nothing);
    let (q, woken) = member(&sink);
    fanout(&q, LayerMessage::text("a"));
    let_the_batch_flush().await;
    assert_eq!(sink.offered(), [LayerMessage::text("a")], "offered once");
    assert_eq!(q.len(), 1, "kept for the connection");
    assert!(woken.0.load(Ordering::SeqCst), "the connection writes it");
    assert_eq!(q.try_pop(), Some(LayerMessage::text("a")));
}

#[tokio::test]
async fn a_partly_flushed_message_keeps_its_bytes_held_and_claims_the_socket() {
    let sink = Recording::new(Sent::Part);
    let (q, _) = budgeted(10_000, OverBudget::Close);
    q.set_sink(Arc::downgrade(&sink) as Weak<Recording>);
    q.socket_idle();
    let q = Arc::new(q);
    let woken = waiting_reader(&q);
    fanout(&q, text_of(100));
    fanout(&q, text_of(10));
    let held = q.held();
    assert_eq!(held, 110 + 2 * budget::PER_MESSAGE);
    let_the_batch_flush().await;
    assert_eq!(sink.offered().len(), 1, "stopped at the partial frame");
    assert_eq!(q.len(), 1, "the next one waits for the rest");
    assert_eq!(q.held(), held, "the rest and the queued one are still held");
    assert!(
        woken.0.load(Ordering::SeqCst),
        "the connection is woken to finish"
    );
    // The connection owns the socket until it has written the rest: a reply queues.
    sink.answer(Sent::Whole);
    q.push_wait(text_of(1)).await.unwrap();
    assert_eq!(q.len(), 2);
}

#[tokio::test]
async fn a_whole_flush_gives_the_budget_back() {
    let sink = Recording::new(Sent::Whole);
    let (q, _) = budgeted(10_000, OverBudget::Close);
    q.set_sink(Arc::downgrade(&sink) as Weak<Recording>);
    q.socket_idle();
    let q = Arc::new(q);
    fanout(&q, text_of(100));
    assert!(q.held() > 0);
    let_the_batch_flush().await;
    assert_eq!(q.held(), 0);
}

#[tokio::test]
async fn a_connection_holding_its_socket_is_woken_instead_of_flushed() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    q.claim_socket();
    fanout(&q, LayerMessage::text("a"));
    let_the_batch_flush().await;
    assert!(sink.offered().is_empty());
    assert!(woken.0.load(Ordering::SeqCst));
    assert_eq!(q.try_pop(), Some(LayerMessage::text("a")));
}

/// A reply pushed while a group message waits for its flush goes behind it, and both are written by
/// the flush, in order.
#[tokio::test]
async fn a_reply_never_overtakes_a_group_message_waiting_for_its_flush() {
    let sink = Recording::new(Sent::Whole);
    let (q, _) = member(&sink);
    fanout(&q, LayerMessage::text("group"));
    q.push_wait(LayerMessage::text("reply")).await.unwrap();
    assert!(
        sink.offered().is_empty(),
        "not written past the group message"
    );
    let_the_batch_flush().await;
    assert_eq!(
        sink.offered(),
        [LayerMessage::text("group"), LayerMessage::text("reply")]
    );
    assert_eq!(q.len(), 0);
}

#[tokio::test]
async fn control_messages_are_left_to_the_connection() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    fanout(&q, LayerMessage::Close(1000));
    assert!(woken.0.load(Ordering::SeqCst), "woken at once, as before");
    assert!(!q.flush_pending.load(Ordering::SeqCst));
    assert_eq!(q.try_pop(), Some(LayerMessage::Close(1000)));
}

#[tokio::test]
async fn expired_messages_are_not_flushed() {
    let sink = Recording::new(Sent::Whole);
    let q = Queue::new(100, Duration::ZERO);
    q.set_sink(Arc::downgrade(&sink) as Weak<Recording>);
    q.socket_idle();
    let q = Arc::new(q);
    fanout(&q, LayerMessage::text("stale"));
    let_the_batch_flush().await;
    assert!(sink.offered().is_empty());
    assert_eq!(q.expired_count(), 1);
    assert_eq!(q.len(), 0);
}

#[test]
fn outside_a_runtime_a_fanout_push_wakes_the_connection() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    fanout(&q, LayerMessage::text("a"));
    assert!(woken.0.load(Ordering::SeqCst));
    assert!(!q.flush_pending.load(Ordering::SeqCst));
    assert_eq!(q.try_pop(), Some(LayerMessage::text("a")));
}

/// A runtime dropped before its flushing task ran (shutting down) drops the batch: its connections are
/// woken, and the messages are still there for them.
#[test]
fn a_batch_dropped_before_it_ran_wakes_its_connections() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        fanout(&q, LayerMessage::text("a"));
    });
    assert!(
        !woken.0.load(Ordering::SeqCst),
        "the flush is still to come"
    );
    drop(runtime);
    assert!(woken.0.load(Ordering::SeqCst));
    assert!(!q.flush_pending.load(Ordering::SeqCst));
    assert!(sink.offered().is_empty());
    assert_eq!(q.try_pop(), Some(LayerMessage::text("a")));
}

/// A sender that keeps pushing without giving its worker back holds its batch back: past the backlog
/// limit the connection is woken too (on a multi-thread runtime another worker can write meanwhile).
#[tokio::test]
async fn a_backlog_waiting_for_its_flush_wakes_the_connection_too() {
    let sink = Recording::new(Sent::Whole);
    let (q, woken) = member(&sink);
    for i in 0..FLUSH_BACKLOG {
        fanout(&q, LayerMessage::text(i.to_string()));
    }
    assert!(!woken.0.load(Ordering::SeqCst), "within the limit");
    fanout(&q, LayerMessage::text("past"));
    assert!(woken.0.load(Ordering::SeqCst), "past it");
    // The connection did not run: the flush still writes everything, in order.
    let_the_batch_flush().await;
    assert_eq!(sink.offered().len(), FLUSH_BACKLOG + 1);
    assert_eq!(sink.offered().last(), Some(&LayerMessage::text("past")));
    assert_eq!(q.len(), 0);
}

/// A group send gathers its members and hands them over when it is done: nothing is flushed (or woken)
/// before, everything after.
#[tokio::test]
async fn a_fan_out_hands_its_members_over_when_it_is_done() {
    let sinks: Vec<_> = (0..3).map(|_| Recording::new(Sent::Whole)).collect();
    let members: Vec<_> = sinks.iter().map(member).collect();
    let mut gathered = Gathered::default();
    for (q, _) in &members {
        q.push_fanout(LayerMessage::text("m"), Instant::now(), &mut gathered)
            .unwrap();
    }
    let_the_batch_flush().await;
    assert!(
        sinks.iter().all(|sink| sink.offered().is_empty()),
        "not handed over yet"
    );
    drop(gathered);
    let_the_batch_flush().await;
    for (sink, (q, woken)) in sinks.iter().zip(&members) {
        assert_eq!(sink.offered(), [LayerMessage::text("m")]);
        assert_eq!(q.len(), 0);
        assert!(!woken.0.load(Ordering::SeqCst));
    }
}
