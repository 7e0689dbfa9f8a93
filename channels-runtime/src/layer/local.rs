//! Process-local state shared by every layer: the inboxes of this process's channels, and which of them
//! belong to which group. Both layers fan a group message out to local members through [`LocalGroups`]:
//! one queue push per member, the message shared, a full member skipped and counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::queue::Queue;
use super::{InboxRegistry, LayerError, LayerMessage};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections here are single map operations; a poisoned lock holds consistent data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queues by channel name.
#[derive(Debug, Default)]
pub(crate) struct LocalChannels {
    queues: Mutex<HashMap<Arc<str>, Arc<Queue>>>,
}

impl LocalChannels {
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Queue>> {
        lock(&self.queues).get(name).cloned()
    }

    /// The queue of `name`, created by `make` if absent.
    pub(crate) fn get_or_insert(&self, name: &str, make: impl FnOnce() -> Queue) -> Arc<Queue> {
        let mut queues = lock(&self.queues);
        if let Some(queue) = queues.get(name) {
            return queue.clone();
        }
        let queue = Arc::new(make());
        queues.insert(Arc::from(name), queue.clone());
        queue
    }

    pub(crate) fn insert(&self, name: Arc<str>, queue: Arc<Queue>) {
        lock(&self.queues).insert(name, queue);
    }
}

impl InboxRegistry for LocalChannels {
    fn release(&self, name: &str) {
        lock(&self.queues).remove(name);
    }
}

#[derive(Debug)]
struct Member {
    since: Instant,
    /// Held strongly (no `Weak::upgrade` per delivery); a closed queue is empty and is forgotten at the
    /// group's next send or discard.
    queue: Arc<Queue>,
}

/// Group memberships of local queues.
#[derive(Debug, Default)]
pub(crate) struct LocalGroups {
    groups: Mutex<HashMap<String, HashMap<Arc<str>, Member>>>,
    dropped: AtomicU64,
}

impl LocalGroups {
    /// Adds (or renews) a member. Returns whether the group had no local member before.
    pub(crate) fn add(&self, group: &str, channel: &str, queue: &Arc<Queue>) -> bool {
        let mut groups = lock(&self.groups);
        let members = groups.entry(group.to_owned()).or_default();
        let was_empty = members.is_empty();
        members.insert(
            Arc::from(channel),
            Member {
                since: Instant::now(),
                queue: queue.clone(),
            },
        );
        was_empty
    }

    /// Removes a member. Returns whether the group has no local member left.
    pub(crate) fn discard(&self, group: &str, channel: &str) -> bool {
        let mut groups = lock(&self.groups);
        let Some(members) = groups.get_mut(group) else {
            return true;
        };
        members.remove(channel);
        if members.is_empty() {
            groups.remove(group);
            return true;
        }
        false
    }

    /// Pushes `message` to every live local member of `group`; members that expired or whose connection
    /// has gone are forgotten. A member whose queue is full misses this message (counted, logged).
    pub(crate) fn send(&self, group: &str, message: &LayerMessage, expiry: Duration) {
        let now = Instant::now();
        super::clock::observe(now);
        let mut groups = lock(&self.groups);
        let Some(members) = groups.get_mut(group) else {
            return;
        };
        members.retain(|name, member| {
            if now.duration_since(member.since) >= expiry {
                return false;
            }
            if member.queue.is_closed() {
                return false;
            }
            match member.queue.push_at(message.clone(), now) {
                Ok(()) => true,
                Err(LayerError::ChannelFull) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(group, channel = %name, "group message dropped: member's channel is full");
                    true
                }
                Err(_) => false,
            }
        });
        if members.is_empty() {
            groups.remove(group);
        }
    }

    /// Live local members of `group`.
    pub(crate) fn len(&self, group: &str, expiry: Duration) -> usize {
        let now = Instant::now();
        lock(&self.groups).get(group).map_or(0, |members| {
            members
                .values()
                .filter(|m| now.duration_since(m.since) < expiry && !m.queue.is_closed())
                .count()
        })
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Makes the inbox for a new local channel registered in `channels`.
pub(crate) fn new_inbox(
    channels: &Arc<LocalChannels>,
    name: Arc<str>,
    queue: Arc<Queue>,
) -> super::Inbox {
    channels.insert(name.clone(), queue.clone());
    let registry: Weak<dyn InboxRegistry> = Arc::downgrade(channels) as Weak<dyn InboxRegistry>;
    super::Inbox::new(name, queue, Some(registry))
}
