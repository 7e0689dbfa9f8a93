//! The layer conformance suite (`channels::layer::conformance`) run against every layer: `InMemoryLayer`,
//! and `TestLayer`, a layer written here, outside the runtime crate, from its public building blocks only.
//! That a layer from another crate passes the same suite is what shows the layer boundary is open.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use channels::layer::conformance::{self, Options};
use channels::layer::{
    ChannelLayer, InMemoryLayer, Inbox, LayerConfig, LayerError, LayerMessage, LocalRegistry,
    check_channel_name, check_group_name,
};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Fails the test with every rule broken, one per line.
fn assert_conforms(outcome: Result<(), Vec<conformance::Violation>>) {
    if let Err(violations) = outcome {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!(
            "the layer breaks {} rule(s):\n{}",
            lines.len(),
            lines.join("\n")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_in_memory_layer_conforms() {
    let factory = |config: LayerConfig| async move {
        Ok::<_, LayerError>(InMemoryLayer::with_config(config))
    };
    assert_conforms(conformance::run_all(&factory, &Options::default()).await);
}

#[tokio::test(start_paused = true)]
async fn a_layer_written_outside_the_crate_conforms() {
    let factory = |config: LayerConfig| async move { Ok::<_, LayerError>(TestLayer::new(config)) };
    assert_conforms(conformance::run_all(&factory, &Options::default()).await);
}

#[tokio::test(start_paused = true)]
async fn the_suite_catches_a_broken_layer() {
    // A layer that forgets capacity and expiry: the suite must say so, by rule.
    let factory = |config: LayerConfig| async move {
        let unlimited = config
            .capacity(usize::MAX)
            .expiry(Duration::from_secs(1 << 30));
        Ok::<_, LayerError>(TestLayer::new(unlimited))
    };
    let violations = conformance::run_all(&factory, &Options::default())
        .await
        .expect_err("a layer without limits breaks rules");
    let rules: Vec<&str> = violations.iter().map(|v| v.rule).collect();
    assert!(rules.contains(&"capacity"), "{violations:?}");
    assert!(rules.contains(&"message expiry"), "{violations:?}");
}

/// A channel layer for one process, as another crate would write one: its normal channels are its own
/// `VecDeque`s behind a mutex; process-local channels (reply channels), group membership and local fan-out
/// come from the runtime's public `LocalRegistry`.
#[derive(Debug)]
struct TestLayer {
    local: LocalRegistry,
    config: LayerConfig,
    /// Normal channels: messages with the time they were sent.
    channels: Mutex<HashMap<String, VecDeque<(Instant, LayerMessage)>>>,
    /// Wakes receivers when a normal channel gets a message.
    arrived: Notify,
    /// Groups' normal-channel members, with when they joined (the registry keeps the process-local ones).
    members: Mutex<HashMap<String, HashMap<String, Instant>>>,
}

impl TestLayer {
    fn new(config: LayerConfig) -> Self {
        TestLayer {
            local: LocalRegistry::new("testlayer", config.clone()),
            config,
            channels: Mutex::default(),
            arrived: Notify::new(),
            members: Mutex::default(),
        }
    }

    fn is_local(channel: &str) -> bool {
        channel.contains('!')
    }

    fn push(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        let now = Instant::now();
        let mut channels = self.channels.lock().unwrap();
        let queue = channels.entry(channel.to_owned()).or_default();
        while queue
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= self.config.expiry)
        {
            queue.pop_front();
        }
        if queue.len() >= self.config.capacity {
            return Err(LayerError::ChannelFull);
        }
        queue.push_back((now, message));
        drop(channels);
        self.arrived.notify_waiters();
        Ok(())
    }

    fn try_pop(&self, channel: &str) -> Option<LayerMessage> {
        let now = Instant::now();
        let mut channels = self.channels.lock().unwrap();
        let queue = channels.get_mut(channel)?;
        while let Some((at, message)) = queue.pop_front() {
            if now.duration_since(at) < self.config.expiry {
                return Some(message);
            }
        }
        None
    }
}

#[channels::layer::async_trait]
impl ChannelLayer for TestLayer {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        if Self::is_local(channel) {
            return self.local.send(channel, message);
        }
        self.push(channel, message)
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_channel_name(channel)?;
        if Self::is_local(channel) {
            return self.local.receive(channel).await;
        }
        loop {
            // Registered before the last look, so a send in between wakes us: nothing is missed, and a
            // message is taken only in the poll that returns it (cancel-safe).
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(message) = self.try_pop(channel) {
                return Ok(message);
            }
            arrived.await;
        }
    }

    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        self.local.new_channel(prefix)
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        if Self::is_local(channel) {
            self.local.group_add(group, channel);
        } else {
            let mut members = self.members.lock().unwrap();
            let joined = members.entry(group.to_owned()).or_default();
            joined.insert(channel.to_owned(), Instant::now());
        }
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        if Self::is_local(channel) {
            self.local.group_discard(group, channel);
        } else if let Some(joined) = self.members.lock().unwrap().get_mut(group) {
            joined.remove(channel);
        }
        Ok(())
    }

    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_group_name(group)?;
        self.local.group_send(group, &message);
        let now = Instant::now();
        let normal: Vec<String> = match self.members.lock().unwrap().get_mut(group) {
            Some(joined) => {
                joined.retain(|_, since| now.duration_since(*since) < self.config.group_expiry);
                joined.keys().cloned().collect()
            }
            None => Vec::new(),
        };
        for channel in normal {
            // A full member misses this one, as the spec says; the others still get it.
            let _ = self.push(&channel, message.clone());
        }
        Ok(())
    }

    fn config(&self) -> &LayerConfig {
        &self.config
    }

    fn dropped(&self) -> u64 {
        self.local.dropped()
    }
}
