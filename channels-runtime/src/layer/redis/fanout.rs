//! The local half of a group send: delivering to this process's members as the in-memory layer does.
//!
//! Every `group_send` reads the group's members from Redis (another process may have changed them),
//! as one msgpack list ([`scripts::GROUP_MEMBERS`](super::scripts::GROUP_MEMBERS)). Decoding it and
//! looking up each of this process's members by name would cost more than the delivery itself, so
//! [`Fanout`] keeps, per group, the list it last read, the [`Plan`] made from it, and this process's
//! members of it in the [`LocalRegistry`]'s group of the same name. When the list read is the same bytes
//! as last time, the plan is reused and the local members get the message through
//! the registry's group send (`group_send_waking`: one lock, one push per member, the message shared,
//! each member's connection woken rather than flushed, since a group send here waits for its round trip
//! and a flush after each would write one message per member per `send`). When it differs,
//! the registry's group is brought in line with it first (members added and removed), so the registry
//! never delivers to a set Redis did not just return.
//!
//! The registry forgets a member `group_expiry` after adding it, whereas Redis keeps a member renewed
//! by another `group_add` (whose name list need not change): every member is re-added to the registry
//! at least every half `group_expiry`, so the registry never forgets a member Redis still has.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::codec::CodecError;
use super::groups::Plan;
use crate::layer::local::lock;
use crate::layer::{LayerMessage, LocalRegistry};

/// Per group: what its last read from Redis returned, and what the registry holds of it.
#[derive(Debug, Default)]
pub(super) struct Fanout {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, Cached>,
    lists: Lists,
}

/// How many lists of names [`Fanout::deliver_named`] keeps a registry group for.
const MAX_LISTS: usize = 64;

/// The `__asgi_channel__` lists of group messages from other processes that came more than once, each
/// with a registry group of exactly its channels (named `\0list<n>`: no group name has a NUL).
#[derive(Debug, Default)]
struct Lists {
    by_key: HashMap<u64, Listed>,
    /// Keys of lists seen once: a list gets its registry group the second time it comes.
    seen: HashSet<u64>,
    next: u64,
}

#[derive(Debug)]
struct Listed {
    names: Vec<Arc<str>>,
    group: String,
    /// How many of `names` the registry's group held when last (re)added.
    in_registry: usize,
    renewed: Instant,
    last_used: u64,
}

/// A cheap key for a list of channel names (its length, first and last names): lists that share it are
/// compared in full.
fn list_key<S: AsRef<str>>(names: &[S]) -> Option<u64> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let (first, last) = (names.first()?, names.last()?);
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    Some(hasher.hash_one((names.len(), first.as_ref(), last.as_ref())))
}

#[derive(Debug)]
struct Cached {
    /// The msgpack list of member names, as Redis last returned it.
    members: Vec<u8>,
    /// The plan made from `members`.
    plan: Arc<Plan>,
    /// How many of `plan.local` the registry's group holds (the others had closed when added).
    in_registry: usize,
    /// When every member of `plan.local` was last added to the registry.
    renewed: Instant,
    /// The registry's group may differ from `plan.local` (a member closed or was discarded here):
    /// the next send re-adds every member.
    stale: bool,
}

/// Reads the msgpack list of strings that [`scripts::GROUP_MEMBERS`](super::scripts::GROUP_MEMBERS)
/// returns, borrowing each name from `packed`.
pub(super) fn unpack_names(packed: &[u8]) -> Result<Vec<&str>, CodecError> {
    let msgpack = |error: rmp::decode::ValueReadError| CodecError::Msgpack(error.to_string());
    // cmsgpack packs an empty Lua table as an empty list; accept an empty map as well.
    if packed == [0x80] {
        return Ok(Vec::new());
    }
    let mut rest = packed;
    let len = rmp::decode::read_array_len(&mut rest).map_err(msgpack)?;
    let mut names = Vec::with_capacity((len as usize).min(rest.len()));
    for _ in 0..len {
        let n = rmp::decode::read_str_len(&mut rest).map_err(msgpack)? as usize;
        let (name, tail) = rest
            .split_at_checked(n)
            .ok_or(CodecError::Shape("a member name is cut short"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| CodecError::Shape("a member name is not UTF-8"))?;
        names.push(name);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(CodecError::Shape("bytes after the list of members"));
    }
    Ok(names)
}

impl Fanout {
    /// The plan for `members` (a read of `group`): the cached one when the last read was the same,
    /// else `make` of its names.
    pub(super) fn plan(
        &self,
        group: &str,
        members: &[u8],
        make: impl FnOnce(Vec<&str>) -> Plan,
    ) -> Result<Arc<Plan>, CodecError> {
        if let Some(cached) = lock(&self.state).groups.get(group)
            && cached.members == members
        {
            return Ok(cached.plan.clone());
        }
        Ok(Arc::new(make(unpack_names(members)?)))
    }

    /// Pushes `message` to this process's members in `planned` (made from `members`, a read of
    /// `group`) through the registry's group, first making that group the members of the plan.
    /// Returns the members whose inbox had closed (to remove from the group in Redis).
    ///
    /// `renew_every` (half the group expiry): how long a member may stay in the registry unrenewed.
    pub(super) fn deliver(
        &self,
        local: &LocalRegistry,
        group: &str,
        members: Vec<u8>,
        plan: Arc<Plan>,
        message: &LayerMessage,
        renew_every: Duration,
    ) -> Vec<Arc<str>> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let previous = match state.groups.get_mut(group) {
            Some(cached)
                if !cached.stale
                    && cached.members == members
                    && now.duration_since(cached.renewed) < renew_every =>
            {
                if cached.in_registry > 0 {
                    local.group_send_waking(group, message);
                }
                // A member whose inbox closed has just been forgotten by the registry: the next
                // send re-adds every member, finds it closed and removes it from Redis.
                if local.group_len(group) < cached.in_registry {
                    cached.stale = true;
                }
                return Vec::new();
            }
            Some(cached) => {
                let renew = cached.stale || now.duration_since(cached.renewed) >= renew_every;
                Some((cached.plan.clone(), renew, cached.renewed))
            }
            None => None,
        };
        let fresh: HashSet<&str> = plan.local.iter().map(|name| &**name).collect();
        let mut kept: HashSet<&str> = HashSet::new();
        let renewed = match &previous {
            Some((old, renew, renewed)) => {
                for name in &old.local {
                    if !fresh.contains(&**name) {
                        local.group_discard(group, name);
                    } else if !renew {
                        kept.insert(name);
                    }
                }
                if *renew { now } else { *renewed }
            }
            None => now,
        };
        let mut closed = Vec::new();
        for name in &plan.local {
            if !kept.contains(&**name) && !local.group_add(group, name) {
                closed.push(name.clone());
            }
        }
        let in_registry = plan.local.len() - closed.len();
        if in_registry > 0 {
            local.group_send_waking(group, message);
        }
        if plan.local.is_empty() && plan.hosts.is_empty() {
            state.groups.remove(group);
        } else {
            state.groups.insert(
                group.to_owned(),
                Cached {
                    members,
                    plan,
                    in_registry,
                    renewed,
                    stale: false,
                },
            );
        }
        closed
    }

    /// `channel`, one of this process's, has left `group` in Redis: it leaves the registry's group now
    /// (rather than at the next send) and the next send re-checks every member.
    pub(super) fn discarded(&self, local: &LocalRegistry, group: &str, channel: &str) {
        let mut state = lock(&self.state);
        local.group_discard(group, channel);
        if let Some(cached) = state.groups.get_mut(group) {
            cached.stale = true;
        }
    }

    /// Delivers `messages`, read from this process's key, to the channels `names` through a registry
    /// group of exactly those channels, when that list came before and `ours` held for each name then
    /// (only this process's channels are in the registry). Returns how
    /// many of `names` had closed (and so did not get them), or `None`, having delivered nothing,
    /// when the list is new (the caller looks each name up; the second time, the list gets a group).
    pub(super) fn deliver_named(
        &self,
        local: &LocalRegistry,
        names: &[String],
        messages: &[LayerMessage],
        renew_every: Duration,
        ours: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let key = list_key(names)?;
        let now = Instant::now();
        let mut state = lock(&self.state);
        let lists = &mut state.lists;
        lists.next += 1;
        let tick = lists.next;
        if let Some(listed) = lists.by_key.get_mut(&key)
            && listed.names.len() == names.len()
            && listed.names.iter().zip(names).all(|(a, b)| **a == **b)
        {
            // Re-add every channel when the registry may forget one soon, or has forgotten a closed one.
            if now.duration_since(listed.renewed) >= renew_every
                || local.group_len(&listed.group) < listed.in_registry
            {
                listed.in_registry = listed
                    .names
                    .iter()
                    .filter(|name| local.group_add(&listed.group, name))
                    .count();
                listed.renewed = now;
            }
            listed.last_used = tick;
            if listed.in_registry > 0 {
                for message in messages {
                    local.group_send_waking(&listed.group, message);
                }
            }
            return Some(listed.names.len() - listed.in_registry);
        }
        if lists.seen.insert(key) || !names.iter().all(|name| ours(name)) {
            if lists.seen.len() > 4 * MAX_LISTS {
                lists.seen.clear();
            }
            return None;
        }
        // Second sighting: make the list's group (replacing another list with the same key, or the
        // least recently used one), then deliver through it.
        let evicted = match lists.by_key.remove(&key) {
            Some(old) => Some(old),
            None if lists.by_key.len() >= MAX_LISTS => lists
                .by_key
                .iter()
                .min_by_key(|(_, listed)| listed.last_used)
                .map(|(key, _)| *key)
                .and_then(|oldest| lists.by_key.remove(&oldest)),
            None => None,
        };
        if let Some(old) = evicted {
            for name in &old.names {
                local.group_discard(&old.group, name);
            }
        }
        let group = format!("\0list{tick}");
        let names: Vec<Arc<str>> = names.iter().map(|name| Arc::from(name.as_str())).collect();
        let in_registry = names
            .iter()
            .filter(|name| local.group_add(&group, name))
            .count();
        if in_registry > 0 {
            for message in messages {
                local.group_send_waking(&group, message);
            }
        }
        let closed = names.len() - in_registry;
        lists.by_key.insert(
            key,
            Listed {
                names,
                group,
                in_registry,
                renewed: now,
                last_used: tick,
            },
        );
        Some(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::LayerConfig;

    fn pack(names: &[&str]) -> Vec<u8> {
        let mut buf = Vec::new();
        rmp::encode::write_array_len(&mut buf, names.len() as u32).unwrap();
        for name in names {
            rmp::encode::write_str(&mut buf, name).unwrap();
        }
        buf
    }

    fn plan(names: Vec<&str>) -> Plan {
        Plan::new("asgi", 1, "me!", names)
    }

    const DAY: Duration = Duration::from_secs(43_200);

    #[test]
    fn unpacks_what_cmsgpack_packs() {
        // Lua: cmsgpack.pack({"specific.a!1", string.rep("x", 40)}) and cmsgpack.pack({})
        let mut packed = vec![0x92, 0xac];
        packed.extend_from_slice(b"specific.a!1");
        packed.extend_from_slice(&[0xd9, 40]);
        packed.extend_from_slice(&[b'x'; 40]);
        let long = "x".repeat(40);
        assert_eq!(
            unpack_names(&packed).unwrap(),
            ["specific.a!1", long.as_str()]
        );
        assert_eq!(unpack_names(&[0x90]).unwrap(), Vec::<&str>::new());
        assert_eq!(unpack_names(&[0x80]).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn refuses_what_is_not_a_list_of_names() {
        assert!(unpack_names(b"").is_err());
        assert!(unpack_names(&[0x91, 0x01]).is_err()); // a number
        assert!(unpack_names(&[0x91, 0xa3, b'a']).is_err()); // cut short
        assert!(unpack_names(&[0x91, 0xa1, 0xff]).is_err()); // not UTF-8
        assert!(unpack_names(&[0x90, 0x90]).is_err()); // trailing bytes
    }

    /// Delivers `text` to `group` as read in `read`, and says which channels got it.
    fn send(
        fanout: &Fanout,
        local: &LocalRegistry,
        read: &[&str],
        text: &str,
        inboxes: &[&crate::layer::Inbox],
    ) -> Vec<bool> {
        let members = pack(read);
        let planned = fanout.plan("g", &members, plan).unwrap();
        let closed = fanout.deliver(
            local,
            "g",
            members,
            planned,
            &LayerMessage::text(text.to_owned()),
            DAY,
        );
        assert!(closed.is_empty());
        inboxes
            .iter()
            .map(|inbox| inbox.try_recv() == Some(LayerMessage::text(text.to_owned())))
            .collect()
    }

    #[tokio::test]
    async fn delivers_to_exactly_the_members_read() {
        let local = LocalRegistry::new("me", LayerConfig::default());
        let fanout = Fanout::default();
        let a = local.new_channel("specific.").unwrap();
        let b = local.new_channel("specific.").unwrap();
        let (na, nb) = (a.name().to_owned(), b.name().to_owned());
        let all = [&a, &b];
        assert_eq!(send(&fanout, &local, &[&na], "1", &all), [true, false]);
        // The same read again: the cached plan and the registry's group.
        assert_eq!(send(&fanout, &local, &[&na], "2", &all), [true, false]);
        assert_eq!(send(&fanout, &local, &[&na, &nb], "3", &all), [true, true]);
        // Another process's member and a normal channel go to the plan's hosts, not the registry.
        assert_eq!(
            send(
                &fanout,
                &local,
                &[&nb, "specific.other!1", "jobs"],
                "4",
                &all
            ),
            [false, true]
        );
        assert_eq!(send(&fanout, &local, &[], "5", &all), [false, false]);
        assert!(lock(&fanout.state).groups.is_empty());
        assert_eq!(send(&fanout, &local, &[&na], "6", &all), [true, false]);
    }

    #[tokio::test]
    async fn a_discard_here_takes_effect_before_the_next_read() {
        let local = LocalRegistry::new("me", LayerConfig::default());
        let fanout = Fanout::default();
        let a = local.new_channel("specific.").unwrap();
        let na = a.name().to_owned();
        assert_eq!(send(&fanout, &local, &[&na], "1", &[&a]), [true]);
        fanout.discarded(&local, "g", &na);
        assert_eq!(local.group_len("g"), 0);
        // Redis still listing it (a discard by this process races the read): it is re-added.
        assert_eq!(send(&fanout, &local, &[&na], "2", &[&a]), [true]);
    }

    #[tokio::test]
    async fn closed_members_are_reported_once_found() {
        let local = LocalRegistry::new("me", LayerConfig::default());
        let fanout = Fanout::default();
        let a = local.new_channel("specific.").unwrap();
        let b = local.new_channel("specific.").unwrap();
        let (na, nb) = (a.name().to_owned(), b.name().to_owned());
        assert_eq!(
            send(&fanout, &local, &[&na, &nb], "1", &[&a, &b]),
            [true, true]
        );
        drop(b);
        // The registry forgets it while delivering; the group is then re-checked.
        assert_eq!(send(&fanout, &local, &[&na, &nb], "2", &[&a]), [true]);
        let members = pack(&[&na, &nb]);
        let planned = fanout.plan("g", &members, plan).unwrap();
        let closed = fanout.deliver(&local, "g", members, planned, &LayerMessage::text("3"), DAY);
        assert_eq!(closed, vec![Arc::<str>::from(nb.as_str())]);
        assert_eq!(a.try_recv(), Some(LayerMessage::text("3")));
    }

    #[tokio::test]
    async fn a_list_of_names_that_comes_again_goes_through_a_group_of_its_own() {
        let local = LocalRegistry::new("me", LayerConfig::default());
        let fanout = Fanout::default();
        let a = local.new_channel("specific.").unwrap();
        let b = local.new_channel("specific.").unwrap();
        let c = local.new_channel("specific.").unwrap();
        let (na, nb) = (a.name().to_owned(), b.name().to_owned());
        let all = [&a, &b, &c];
        let named = |names: &[&String], text: &str| {
            let names: Vec<String> = names.iter().map(|n| (*n).clone()).collect();
            fanout.deliver_named(
                &local,
                &names,
                &[LayerMessage::text(text.to_owned())],
                DAY,
                |_| true,
            )
        };
        let got = |text: &str| -> Vec<bool> {
            all.iter()
                .map(|inbox| inbox.try_recv() == Some(LayerMessage::text(text.to_owned())))
                .collect()
        };
        // First time: the caller delivers it.
        assert_eq!(named(&[&na, &nb], "1"), None);
        assert_eq!(got("1"), [false, false, false]);
        assert_eq!(named(&[&na, &nb], "2"), Some(0));
        assert_eq!(got("2"), [true, true, false]);
        assert_eq!(named(&[&na, &nb], "3"), Some(0));
        assert_eq!(got("3"), [true, true, false]);
        // Another order is another list.
        assert_eq!(named(&[&nb, &na], "4"), None);
        assert_eq!(got("4"), [false, false, false]);
        // A closed channel is found and reported.
        drop(b);
        assert_eq!(named(&[&na, &nb], "5"), Some(1));
        assert_eq!(a.try_recv(), Some(LayerMessage::text("5")));
        assert_eq!(c.try_recv(), None);
    }

    #[tokio::test]
    async fn lists_are_bounded() {
        let local = LocalRegistry::new("me", LayerConfig::default());
        let fanout = Fanout::default();
        let inboxes: Vec<_> = (0..=MAX_LISTS)
            .map(|_| local.new_channel("specific.").unwrap())
            .collect();
        let first = inboxes[0].name().to_owned();
        for inbox in &inboxes {
            let names = vec![first.clone(), inbox.name().to_owned()];
            for _ in 0..2 {
                fanout.deliver_named(&local, &names, &[LayerMessage::text("x")], DAY, |_| true);
            }
        }
        let state = lock(&fanout.state);
        assert_eq!(state.lists.by_key.len(), MAX_LISTS);
        // The evicted list's group was emptied in the registry.
        assert_eq!(local.group_len("\0list2"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn members_are_renewed_before_the_registry_forgets_them() {
        let expiry = Duration::from_secs(10);
        let local = LocalRegistry::new("me", LayerConfig::default().group_expiry(expiry));
        let fanout = Fanout::default();
        let a = local.new_channel("specific.").unwrap();
        let na = a.name().to_owned();
        let members = pack(&[&na]);
        for i in 0..5 {
            let planned = fanout.plan("g", &members, plan).unwrap();
            let text = i.to_string();
            fanout.deliver(
                &local,
                "g",
                members.clone(),
                planned,
                &LayerMessage::text(text.clone()),
                expiry / 2,
            );
            assert_eq!(a.try_recv(), Some(LayerMessage::text(text)), "send {i}");
            tokio::time::advance(Duration::from_secs(4)).await;
        }
    }
}
