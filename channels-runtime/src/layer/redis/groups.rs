//! The memberships this process made, kept so that it can re-declare them when Redis comes back empty,
//! and the plan of a group send: one message per process key, grouped by host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::keys::{channel_key, consistent_hash, non_local_name};
use crate::layer::local::lock;

/// A group's members, each with its join time (seconds since the epoch, the score in Redis).
pub(super) type Members = Vec<(Arc<str>, f64)>;

/// Group -> channel -> join time.
#[derive(Debug, Default)]
pub(super) struct Memberships {
    groups: Mutex<HashMap<String, HashMap<Arc<str>, f64>>>,
}

impl Memberships {
    pub(super) fn add(&self, group: &str, channel: &str, joined: f64) {
        lock(&self.groups)
            .entry(group.to_owned())
            .or_default()
            .insert(Arc::from(channel), joined);
    }

    pub(super) fn discard(&self, group: &str, channel: &str) {
        let mut groups = lock(&self.groups);
        if let Some(members) = groups.get_mut(group) {
            members.remove(channel);
            if members.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Members of `group` for which `count` is true.
    pub(super) fn count(&self, group: &str, count: impl Fn(&str) -> bool) -> usize {
        lock(&self.groups)
            .get(group)
            .map_or(0, |members| members.keys().filter(|c| count(c)).count())
    }

    /// The memberships of groups that live on `host`, dropping those older than `cutoff`.
    pub(super) fn on_host(&self, host: usize, hosts: usize, cutoff: f64) -> Vec<(String, Members)> {
        let mut groups = lock(&self.groups);
        groups.retain(|_, members| {
            members.retain(|_, joined| *joined > cutoff);
            !members.is_empty()
        });
        groups
            .iter()
            .filter(|(group, _)| consistent_hash(group, hosts) == host)
            .map(|(group, members)| {
                let members = members.iter().map(|(c, j)| (c.clone(), *j)).collect();
                (group.clone(), members)
            })
            .collect()
    }
}

/// The keys one group message goes to on one host: each process key (or normal channel) once, with the
/// channels it stands for.
#[derive(Debug, Default)]
pub(super) struct HostPlan {
    /// Redis keys, in first-seen (join) order.
    pub(super) keys: Vec<String>,
    /// For each key, the member channels behind it (its `__asgi_channel__` list).
    pub(super) channels: Vec<Vec<Arc<str>>>,
}

/// How a group message reaches every member: Redis keys by host for other processes and normal
/// channels, and this process's own members, delivered in memory.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) hosts: HashMap<usize, HostPlan>,
    pub(super) local: Vec<Arc<str>>,
}

impl Plan {
    /// Groups `members` by key as channels_redis's `_map_channel_keys_to_connection` does; members
    /// whose non-local name is `ours` are kept apart for local delivery.
    pub(super) fn new<'a>(
        prefix: &str,
        hosts: usize,
        ours: &str,
        members: impl IntoIterator<Item = &'a str>,
    ) -> Plan {
        let mut plan = Plan::default();
        let mut index: HashMap<String, (usize, usize)> = HashMap::new();
        for member in members {
            let member: Arc<str> = Arc::from(member);
            let non_local = non_local_name(&member);
            if non_local.ends_with(ours) && member.contains('!') {
                plan.local.push(member);
                continue;
            }
            let key = channel_key(prefix, &member);
            if let Some(&(host, at)) = index.get(&key) {
                if let Some(host) = plan.hosts.get_mut(&host) {
                    host.channels[at].push(member);
                }
                continue;
            }
            let host = consistent_hash(non_local, hosts);
            let entry = plan.hosts.entry(host).or_default();
            index.insert(key.clone(), (host, entry.keys.len()));
            entry.keys.push(key);
            entry.channels.push(vec![member]);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_process_and_ours_apart() {
        let members = [
            "specific.aaa!1",
            "specific.bbb!1",
            "specific.aaa!2",
            "jobs",
            "specific.me!1",
        ];
        let plan = Plan::new("asgi", 1, "me!", members);
        assert_eq!(plan.local, vec![Arc::<str>::from("specific.me!1")]);
        let host = &plan.hosts[&0];
        assert_eq!(
            host.keys,
            ["asgispecific.aaa!", "asgispecific.bbb!", "asgijobs"]
        );
        assert_eq!(
            host.channels,
            vec![
                vec![
                    Arc::<str>::from("specific.aaa!1"),
                    Arc::from("specific.aaa!2")
                ],
                vec![Arc::from("specific.bbb!1")],
                vec![Arc::from("jobs")],
            ]
        );
    }

    #[test]
    fn keys_follow_the_consistent_hash_of_the_non_local_name() {
        // Python: _consistent_hash("specific.abc!", 3) == 2
        let plan = Plan::new("asgi", 3, "me!", ["specific.abc!xyz"]);
        assert_eq!(plan.hosts[&2].keys, ["asgispecific.abc!"]);
    }

    #[test]
    fn memberships_by_host_forget_the_expired() {
        let m = Memberships::default();
        m.add("chat", "specific.me!1", 100.0);
        m.add("chat", "specific.me!2", 10.0);
        m.discard("chat", "specific.me!1");
        m.add("chat", "specific.me!3", 200.0);
        let on = m.on_host(0, 1, 50.0);
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].1, vec![(Arc::<str>::from("specific.me!3"), 200.0)]);
        assert_eq!(m.count("chat", |_| true), 1);
    }
}
