//! [`RedisLayer`] itself: the operations of the layer spec over channels_redis's keys.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::codec::{Codec, Target};
use super::config::Capacities;
use super::fanout::Fanout;
use super::groups::{Memberships, Plan};
use super::keys::{channel_key, group_key, non_local_name};
use super::receive::{Slot, process_loop, pull};
use super::sessions::SharedNames;
use super::shard::{Connector, Shard};
use super::state::{Core, restorer};
use super::stats::{Counters, RedisStats};
use super::{RedisConfig, scripts};
use crate::layer::local::lock;
use crate::layer::{
    ChannelLayer, Inbox, LayerConfig, LayerError, LayerMessage, LocalRegistry, check_channel_name,
    check_group_name,
};

#[doc = include_str!("GUIDE.md")]
///
/// # Sharing
///
/// Cloning is cheap and shares the connections and state; dropping the last clone stops its tasks.
#[derive(Debug, Clone)]
pub struct RedisLayer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: Arc<Core>,
    tasks: Mutex<Vec<AbortHandle>>,
    /// Keys of this process served by a receive loop, and normal channels with pullers.
    readers: Mutex<Readers>,
    /// This process's reply channels whose names went out in a message (see `sessions`).
    shared_names: SharedNames,
}

#[derive(Debug, Default)]
struct Readers {
    process_keys: Vec<String>,
    pullers: HashMap<String, Arc<Slot>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl RedisLayer {
    /// Connects to the one Redis at `url` (`redis://host:port/db`) with channels_redis's defaults and
    /// the given limits: the layer of a Django deployment whose `CHANNEL_LAYERS` is the default
    /// `RedisChannelLayer` config on that Redis.
    ///
    /// Fails with [`LayerError::Unavailable`] if Redis can't be reached within the send timeout (5 s);
    /// once connected, outages are waited out and reconnected in the background.
    pub async fn connect(url: &str, limits: LayerConfig) -> Result<RedisLayer, LayerError> {
        RedisLayer::open(RedisConfig::new(url).limits(limits)).await
    }

    /// Opens a layer with every channels_redis option ([`RedisConfig`]): several hosts, prefix,
    /// per-channel capacities, Sentinel.
    pub async fn open(config: RedisConfig) -> Result<RedisLayer, LayerError> {
        let invalid = |what: &'static str| {
            move |error: Box<dyn std::error::Error + Send + Sync>| {
                LayerError::unavailable(what, error)
            }
        };
        if config.hosts.is_empty() {
            return Err(invalid("configure the Redis layer")(
                "no hosts given".into(),
            ));
        }
        let capacities = Capacities::new(config.limits.capacity, &config.channel_capacity)
            .map_err(|e| invalid("compile channel_capacity patterns")(e.into()))?;
        let client_prefix = format!("{:032x}", rand::random::<u128>());
        let counters = Arc::new(Counters::default());
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut shards = Vec::with_capacity(config.hosts.len());
        let mut supervisors = Vec::with_capacity(config.hosts.len());
        for (host, address) in config.hosts.iter().enumerate() {
            let connector =
                Connector::new(address).map_err(|e| invalid("open a Redis host")(e.into()))?;
            let (shard, supervisor) =
                Shard::new(host, connector, counters.clone(), events_tx.clone());
            shards.push(shard);
            supervisors.push(supervisor);
        }
        let codec = Codec::new(config.random_prefix_length).with_keys(
            &config.symmetric_encryption_keys.0,
            // Whole seconds, rounded up, as Redis keeps the expiry.
            config.limits.expiry.as_secs() + u64::from(config.limits.expiry.subsec_nanos() > 0),
        );
        let core = Arc::new(Core {
            local: LocalRegistry::counting_drops_as(
                client_prefix.clone(),
                config.limits.clone(),
                crate::metrics::Layer::Redis,
            ),
            prefix: config.prefix,
            client_prefix,
            limits: config.limits,
            capacities,
            send_timeout: config.send_timeout,
            codec,
            shards,
            counters,
            memberships: Memberships::default(),
            fanout: Fanout::default(),
            last_score: AtomicI64::new(0),
            next_host: AtomicUsize::new(0),
        });
        let mut tasks: Vec<AbortHandle> = supervisors
            .into_iter()
            .map(|supervisor| tokio::spawn(supervisor).abort_handle())
            .collect();
        tasks.push(tokio::spawn(restorer(core.clone(), events)).abort_handle());
        let layer = RedisLayer {
            inner: Arc::new(Inner {
                core,
                tasks: Mutex::new(tasks),
                readers: Mutex::default(),
                shared_names: SharedNames::default(),
            }),
        };
        let deadline = Instant::now() + config.send_timeout;
        for shard in &layer.inner.core.shards {
            if !shard.ready(deadline).await {
                return Err(LayerError::unavailable(
                    "connect to Redis",
                    format!("no connection within {:?}", config.send_timeout),
                ));
            }
        }
        Ok(layer)
    }

    /// This process's id in its reply channels' names (`specific.<id>!<n>`): channels_redis's
    /// `client_prefix`, 32 random hex digits.
    pub fn process_id(&self) -> &str {
        &self.inner.core.client_prefix
    }

    /// Members of `group` that are this process's channels, as this process declared them
    /// (diagnostics).
    pub fn local_group_len(&self, group: &str) -> usize {
        let core = &self.inner.core;
        core.memberships
            .count(group, |channel| core.is_ours(channel))
    }

    /// What the layer counted since it was made: failed operations, reconnections, restarts, drops.
    pub fn stats(&self) -> RedisStats {
        let core = &self.inner.core;
        RedisStats {
            dropped: core.dropped(),
            ..core.counters.snapshot()
        }
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task).abort_handle();
        lock(&self.inner.tasks).push(handle);
    }

    /// Starts the receive loops of the key `<prefix><channel prefix><client>!`, once per key.
    fn serve_process_key(&self, non_local: &str) {
        let core = &self.inner.core;
        let key = channel_key(&core.prefix, non_local);
        {
            let mut readers = lock(&self.inner.readers);
            if readers.process_keys.contains(&key) {
                return;
            }
            readers.process_keys.push(key.clone());
        }
        // Every host: channels_redis sends to a reply channel on the host of its *full* name, but
        // reads on the host of its non-local name; reading all hosts receives both.
        for host in 0..core.shards.len() {
            self.spawn(process_loop(core.clone(), host, key.clone()));
        }
    }

    /// The slot the pullers of normal channel `channel` fill, starting them on first use.
    fn puller(&self, channel: &str) -> Arc<Slot> {
        let core = &self.inner.core;
        let slot = {
            let mut readers = lock(&self.inner.readers);
            if let Some(slot) = readers.pullers.get(channel) {
                return slot.clone();
            }
            let slot = Arc::new(Slot::default());
            readers.pullers.insert(channel.to_owned(), slot.clone());
            slot
        };
        // channels_redis's senders pick hosts in turn for normal channels: read them all.
        for host in 0..core.shards.len() {
            self.spawn(pull(core.clone(), host, channel.to_owned(), slot.clone()));
        }
        slot
    }
}

#[async_trait::async_trait]
impl ChannelLayer for RedisLayer {
    async fn send(&self, channel: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        let core = &self.inner.core;
        if core.is_ours(channel) {
            return core.local.send(channel, message);
        }
        self.inner.shared_names.note(core, &message);
        let non_local = non_local_name(channel);
        let body = Codec::body(&message);
        let target = if channel.contains('!') {
            Target::One(channel)
        } else {
            Target::Key
        };
        let member = core.codec.frame(&body, target);
        let key = channel_key(&core.prefix, channel);
        let host = if channel.contains('!') {
            core.host_of(non_local)
        } else {
            // In turn, as channels_redis: its readers wait on one host per `receive`, in turn too.
            core.next_host.fetch_add(1, Ordering::Relaxed) % core.shards.len()
        };
        core.send_to_key(host, &key, &member, core.capacities.of(channel))
            .await
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_channel_name(channel)?;
        if channel.contains('!') {
            // Process-local channels are this process's, read from their inbox.
            return self.inner.core.local.receive(channel).await;
        }
        Ok(self.puller(channel).take().await)
    }

    async fn new_channel(&self, prefix: &str) -> Result<Inbox, LayerError> {
        let inbox = self.inner.core.local.new_channel(prefix)?;
        self.serve_process_key(non_local_name(inbox.name()));
        Ok(inbox)
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        let core = &self.inner.core;
        let joined = core.next_score();
        let key = group_key(&core.prefix, group);
        let expiry = core.group_expiry_secs();
        core.run_script(core.host_of(group), "add to a group", |deadline| {
            let mut invocation = scripts::GROUP_ADD.prepare_invoke();
            invocation
                .key(&key)
                .arg(deadline)
                .arg(channel)
                .arg(joined)
                .arg(expiry);
            invocation
        })
        .await?;
        core.memberships.add(group, channel, joined);
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_group_name(group)?;
        check_channel_name(channel)?;
        let core = &self.inner.core;
        let key = group_key(&core.prefix, group);
        core.run_script(core.host_of(group), "discard from a group", |deadline| {
            let mut invocation = scripts::GROUP_DISCARD.prepare_invoke();
            invocation.key(&key).arg(deadline).arg(channel);
            invocation
        })
        .await?;
        core.memberships.discard(group, channel);
        if core.is_ours(channel) {
            core.fanout.discarded(&core.local, group, channel);
        }
        Ok(())
    }

    async fn group_send(&self, group: &str, message: LayerMessage) -> Result<(), LayerError> {
        check_group_name(group)?;
        let core = &self.inner.core;
        self.inner.shared_names.note(core, &message);
        let members = core.members(group).await?;
        let ours = format!("{}!", core.client_prefix);
        let plan = core
            .fanout
            .plan(group, &members, |names| {
                Plan::new(&core.prefix, core.shards.len(), &ours, names)
            })
            .map_err(|error| core.failed(LayerError::unavailable("read a group", error)))?;
        let body = (!plan.hosts.is_empty()).then(|| Codec::body(&message));
        let score = core.next_score();
        let expiry = core.expiry_secs();
        for (host, keys) in &plan.hosts {
            let Some(body) = &body else { break };
            let members: Vec<Vec<u8>> = keys
                .channels
                .iter()
                .map(|channels| core.codec.frame(body, Target::Many(channels)))
                .collect();
            let capacities: Vec<usize> = keys
                .channels
                .iter()
                .map(|channels| core.capacities.of(&channels[0]))
                .collect();
            let over = core
                .run_script(*host, "send to a group", |deadline| {
                    let mut invocation = scripts::GROUP_SEND.prepare_invoke();
                    invocation
                        .arg(deadline)
                        .arg(score)
                        .arg(expiry)
                        .arg(Core::cutoff(core.limits.expiry));
                    for key in &keys.keys {
                        invocation.key(key);
                    }
                    for member in &members {
                        invocation.arg(member);
                    }
                    for capacity in &capacities {
                        invocation.arg(*capacity);
                    }
                    invocation
                })
                .await?;
            if over > 0 {
                core.counters.dropped(over.unsigned_abs());
                tracing::info!(
                    group,
                    over,
                    "group message dropped for channels over capacity"
                );
            }
        }
        let closed = core.fanout.deliver(
            &core.local,
            group,
            members,
            plan,
            &message,
            core.limits.group_expiry / 2,
        );
        if !closed.is_empty() {
            core.forget_closed(group, &closed).await;
        }
        Ok(())
    }

    fn config(&self) -> &LayerConfig {
        &self.inner.core.limits
    }

    fn dropped(&self) -> u64 {
        self.inner.core.dropped()
    }

    async fn session_load(
        &self,
        channel: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, LayerError> {
        check_channel_name(channel)?;
        self.inner.core.session_load(channel).await
    }

    async fn session_save(
        &self,
        channel: &str,
        session: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.inner.core.session_save(channel, session).await
    }

    fn session_may_have_changed(&self, channel: &str) -> bool {
        let core = &self.inner.core;
        self.inner.shared_names.may_have_changed(core, channel)
    }

    async fn session_delete(&self, channel: &str) -> Result<(), LayerError> {
        check_channel_name(channel)?;
        self.inner.shared_names.forget(channel);
        self.inner.core.session_delete(channel).await
    }
}
