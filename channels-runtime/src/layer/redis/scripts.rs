//! The Lua scripts: channels_redis's operations, each made atomic, repeatable and bounded by a deadline.
//!
//! Every writing script first compares Redis's `TIME` with the deadline it is given (on Redis's clock)
//! and does nothing past it (returns `LATE`), so work that reaches Redis after its sender gave up is
//! never done. A repeat of a send finds its member (unique by its random prefix) already queued and
//! does not queue it twice. Scores and key layouts are channels_redis's: messages scored by send time
//! in seconds, expired ones (`score <= int(now) - expiry`) removed before the capacity check, keys
//! expiring `expiry` seconds after the last write; group members scored by join time.

use std::sync::LazyLock;

use redis::Script;

/// What a writing script returns when it reached Redis after its deadline.
pub(super) const LATE: i64 = -1;

const DEADLINE: &str = r"
local t = redis.call('TIME')
if tonumber(t[1]) * 1000000 + tonumber(t[2]) > tonumber(ARGV[1]) then return -1 end
";

/// Queues one message. KEYS[1] the channel's key. ARGV: deadline, member, score, capacity, expiry
/// (seconds), cutoff (`int(now) - expiry`). Returns 1 queued (or already queued by an earlier try),
/// 0 full, `LATE`.
pub(super) static SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DEADLINE}
local key = KEYS[1]
if redis.call('ZSCORE', key, ARGV[2]) then return 1 end
redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[6])
if redis.call('ZCARD', key) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', key, ARGV[3], ARGV[2])
redis.call('EXPIRE', key, ARGV[5])
return 1
"
    ))
});

/// Queues a group message on every key of one host. KEYS: n channel keys. ARGV: deadline, score,
/// expiry, cutoff, then n members, then n capacities. Returns how many keys were full, or `LATE`.
pub(super) static GROUP_SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DEADLINE}
local n = #KEYS
local over = 0
for i = 1, n do
  local key = KEYS[i]
  local member = ARGV[4 + i]
  if not redis.call('ZSCORE', key, member) then
    redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[4])
    if redis.call('ZCARD', key) < tonumber(ARGV[4 + n + i]) then
      redis.call('ZADD', key, ARGV[2], member)
      redis.call('EXPIRE', key, ARGV[3])
    else
      over = over + 1
    end
  end
end
return over
"
    ))
});

/// Reads a group: removes members older than the group expiry, then returns the others, oldest join
/// first, as one msgpack list of strings (`cmsgpack.pack`). KEYS[1] the group. ARGV: cutoff (join time
/// at or below which a member has expired). One string instead of a RESP array of names: the client
/// parses a 1,000-member reply as one buffer instead of 1,000 values, and a group send compares it
/// whole with the last one it read (see `fanout`).
pub(super) static GROUP_MEMBERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return cmsgpack.pack(redis.call('ZRANGE', KEYS[1], 0, -1))
",
    )
});

/// Adds a member. KEYS[1] the group. ARGV: deadline, channel, score, group expiry. Returns 1 or `LATE`.
pub(super) static GROUP_ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DEADLINE}
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"
    ))
});

/// Removes a member. KEYS[1] the group. ARGV: deadline, channel. Returns 1 or `LATE`.
pub(super) static GROUP_DISCARD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DEADLINE}
redis.call('ZREM', KEYS[1], ARGV[2])
return 1
"
    ))
});

/// Takes back a message this process recorded in flight (popped for a receive that was cancelled).
/// KEYS[1] the channel key, KEYS[2] its `$inflight` key. ARGV: member, score, expiry (seconds), and
/// `put_back` (1: return it to the channel, at its old place; 0: it is about to be delivered here).
/// Returns 1 when it is this process's to deliver or was put back, 0 when a channels_redis reader had
/// already put it back on the channel (it will be delivered from there). When it is in neither place
/// (a channels_redis reader's clean-up removed the oldest in-flight entry, which was ours), it is taken
/// as ours: a possible duplicate rather than a loss.
pub(super) static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return 1
",
    )
});
