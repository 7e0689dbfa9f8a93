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
