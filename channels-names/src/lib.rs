//! Channels' rules for names, in one place.
//!
//! Both halves of `channels` obey these rules: `channels-macros` checks the names in a routing table,
//! `#[consumer(groups = [...])]` and `group!("...")` while compiling, and `channels-runtime` checks names
//! built at run time (`Group::new(format!(..))`). They share this crate, as Rocket's codegen shares
//! `rocket_http` with Rocket, so the rule and the words that explain a broken rule are written once.
//!
//! - **Names** ([`validate_group_name`], [`validate_channel_name`]): Channels' `^[a-zA-Z\d\-_.]+$`, shorter
//!   than [`MAX_NAME_LENGTH`]; a channel name may carry one `!` before a process-local part
//!   (`specific.abc!def`, a reply channel). A channel a routing table names
//!   ([`validate_routed_channel_name`]) can't have one: process-local channels are made at run time.
//! - **Events** ([`events`], [`classify`]): the four names Channels' protocol servers deliver, the
//!   prefixes reserved for them, and everything else, which is a custom channel; [`events::Rule`] says
//!   it in words.
//!
//! ```
//! use channels_names::{classify, validate_group_name, EventKind, NameError};
//!
//! assert!(validate_group_name("room.lobby").is_ok());
//! assert_eq!(validate_group_name("my room"), Err(NameError::InvalidCharacter { position: 2 }));
//! assert_eq!(classify("websocket.receive"), EventKind::Builtin);
//! assert_eq!(classify("http.foo"), EventKind::Reserved);
//! assert_eq!(classify("thumbnails.generate"), EventKind::Custom);
//! ```
#![deny(missing_docs)]
#![no_std]

extern crate alloc;

pub mod route;

use alloc::format;
use alloc::string::String;
use core::fmt;

/// Names must be shorter than this, as in Channels (`MAX_NAME_LENGTH = 100`).
pub const MAX_NAME_LENGTH: usize = 100;

/// The characters a name may use, as Channels says it.
pub const ALLOWED_CHARACTERS: &str = "ASCII letters, digits, `-`, `_` or `.`";

/// Why a channel or group name was refused.
///
/// `Display` says what is wrong and what to use instead; [`NameError::explain`] says the same naming the
/// offending character, for messages that can show the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name has [`MAX_NAME_LENGTH`] bytes or more.
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name holds a character outside Channels' set.
    InvalidCharacter {
        /// Byte offset of the first offending character.
        position: usize,
    },
    /// A `!` in a group name, a `!` first, or a second `!` in a channel name.
    MisplacedBang {
        /// Byte offset of the offending `!`.
        position: usize,
    },
    /// A `!` in a channel name that a routing table names (see [`validate_routed_channel_name`]).
    ProcessLocal {
        /// Byte offset of the `!`.
        position: usize,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => write!(f, "the name is empty; use {ALLOWED_CHARACTERS}"),
            NameError::TooLong { len } => write!(
                f,
                "the name is {len} characters long; names must be shorter than {MAX_NAME_LENGTH}"
            ),
            NameError::InvalidCharacter { position } => write!(
                f,
                "the name has a character that is not allowed at byte {position}; use only {ALLOWED_CHARACTERS}"
            ),
            NameError::MisplacedBang { position } => write!(
                f,
                "`!` at byte {position} is only allowed once, in a channel (not group) name, before its \
                 process-local part"
            ),
            NameError::ProcessLocal { position } => write!(
                f,
                "`!` at byte {position} makes it a process-local channel (like a reply channel), which is \
                 made at run time and read only by the process that made it, so no route can serve it"
            ),
        }
    }
}

impl core::error::Error for NameError {}

impl NameError {
    /// The reason, naming the offending character of `name` (the name this error was found in):
    /// "the name has a space at byte 2; use only ASCII letters, ...".
    ///
    /// ```
    /// use channels_names::validate_group_name;
    /// let err = validate_group_name("my room").unwrap_err();
    /// assert!(err.explain("my room").starts_with("the name has a space at byte 2"));
    /// ```
    pub fn explain(&self, name: &str) -> String {
        match *self {
            NameError::InvalidCharacter { position } => {
                let Some(c) = name.get(position..).and_then(|rest| rest.chars().next()) else {
                    return format!("{self}");
                };
                let what = match c {
                    ' ' => String::from("a space"),
                    c if c.is_ascii_control() || c.is_whitespace() => format!("{:?}", c),
                    c => format!("`{c}`"),
                };
                let ascii = if c.is_ascii() {
                    ""
                } else {
                    ", which is not ASCII"
                };
                format!(
                    "the name has {what} at byte {position}{ascii}; use only {ALLOWED_CHARACTERS}"
                )
            }
            _ => format!("{self}"),
        }
    }

    /// The one-line reason for a `const` panic (see [`expect_group_name`]): a `const` evaluation error
    /// can't format, so these are fixed strings.
    pub const fn const_message(&self, group: bool) -> &'static str {
        match (self, group) {
            (NameError::Empty, true) => "invalid group name: it is empty",
            (NameError::Empty, false) => "invalid channel name: it is empty",
            (NameError::TooLong { .. }, true) => {
                "invalid group name: it must be shorter than 100 characters"
            }
            (NameError::TooLong { .. }, false) => {
                "invalid channel name: it must be shorter than 100 characters"
            }
            (NameError::InvalidCharacter { .. }, true) => {
                "invalid group name: use only ASCII letters, digits, `-`, `_` or `.` (no spaces, no other symbols, no non-ASCII)"
            }
            (NameError::InvalidCharacter { .. }, false) => {
                "invalid channel name: use only ASCII letters, digits, `-`, `_` or `.` (no spaces, no other symbols, no non-ASCII)"
            }
            (NameError::MisplacedBang { .. }, true) => {
                "invalid group name: `!` is only allowed in reply channel names"
            }
            (NameError::MisplacedBang { .. }, false) => {
                "invalid channel name: `!` may appear once, not first"
            }
            (NameError::ProcessLocal { .. }, _) => {
                "invalid channel name: a routed channel can't be process-local (no `!`)"
            }
        }
    }
}

const fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// Checks a group name: `^[a-zA-Z\d\-_.]+$`, shorter than 100 characters.
///
/// ```
/// use channels_names::{validate_group_name, NameError};
/// assert!(validate_group_name("chat").is_ok());
/// assert_eq!(validate_group_name("my room"), Err(NameError::InvalidCharacter { position: 2 }));
/// ```
pub const fn validate_group_name(name: &str) -> Result<(), NameError> {
    validate(name, Bang::Group)
}

/// Checks a channel name: like a group name, optionally followed by `!` and a process-local part.
///
/// ```
/// use channels_names::validate_channel_name;
/// assert!(validate_channel_name("thumbnails.generate").is_ok());
/// assert!(validate_channel_name("specific.a1b2!c3d4").is_ok());
/// assert!(validate_channel_name("bad name").is_err());
/// ```
pub const fn validate_channel_name(name: &str) -> Result<(), NameError> {
    validate(name, Bang::Channel)
}

/// Checks a channel name that a routing table routes to a consumer (a custom channel, read by workers):
/// a channel name without a process-local part.
///
/// A name with `!` is a process-local channel (Channels' `specific.abc!def`): `new_channel` makes it at
/// run time and only the process that made it reads it (channels_redis refuses to `receive` any other),
/// so a route to a fixed `!` name could never run. `channel_routing!` refuses such a name while
/// compiling; a table built at run time should refuse it too.
///
/// ```
/// use channels_names::{validate_routed_channel_name, NameError};
/// assert!(validate_routed_channel_name("thumbnails.generate").is_ok());
/// assert_eq!(
///     validate_routed_channel_name("specific.abc!def"),
///     Err(NameError::ProcessLocal { position: 12 })
/// );
/// ```
pub const fn validate_routed_channel_name(name: &str) -> Result<(), NameError> {
    validate(name, Bang::Routed)
}

/// What a `!` means in the name being checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bang {
    /// Never allowed (a group).
    Group,
    /// Allowed once, not first (a channel, maybe process-local).
    Channel,
    /// Never allowed, because the name is routed (a process-local channel can't be).
    Routed,
}

const fn validate(name: &str, bang: Bang) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    let mut seen_bang = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'!' {
            if matches!(bang, Bang::Routed) {
                return Err(NameError::ProcessLocal { position: i });
            }
            if matches!(bang, Bang::Group) || seen_bang || i == 0 {
                return Err(NameError::MisplacedBang { position: i });
            }
            seen_bang = true;
        } else if !is_name_byte(b) {
            return Err(NameError::InvalidCharacter { position: i });
        }
        i += 1;
    }
    if bytes.len() >= MAX_NAME_LENGTH {
        return Err(NameError::TooLong { len: bytes.len() });
    }
    Ok(())
}

/// Like [`validate_group_name`], for use in constants: fails compilation with the reason.
///
/// This is what the runtime's `group!` calls inside a `const` block.
pub const fn expect_group_name(name: &'static str) -> &'static str {
    match validate_group_name(name) {
        Ok(()) => name,
        Err(error) => panic!("{}", error.const_message(true)),
    }
}

/// Like [`validate_channel_name`], for use in constants: fails compilation with the reason.
pub const fn expect_channel_name(name: &'static str) -> &'static str {
    match validate_channel_name(name) {
        Ok(()) => name,
        Err(error) => panic!("{}", error.const_message(false)),
    }
}

/// Event names that Channels' protocol servers deliver for WebSocket and HTTP.
pub mod events {
    /// A client opened a WebSocket; accept or reject it.
    pub const WEBSOCKET_CONNECT: &str = "websocket.connect";
    /// A WebSocket frame (text or bytes) arrived.
    pub const WEBSOCKET_RECEIVE: &str = "websocket.receive";
    /// The WebSocket closed (the `code` key says how).
    pub const WEBSOCKET_DISCONNECT: &str = "websocket.disconnect";
    /// A plain HTTP request arrived.
    pub const HTTP_REQUEST: &str = "http.request";
    /// Every event name Channels defines.
    pub const ALL: [&str; 4] = [
        WEBSOCKET_CONNECT,
        WEBSOCKET_RECEIVE,
        WEBSOCKET_DISCONNECT,
        HTTP_REQUEST,
    ];
    /// The prefix of every WebSocket event: a class-based consumer's route takes every event under it.
    pub const WEBSOCKET_PREFIX: &str = "websocket.";
    /// The prefix of HTTP events.
    pub const HTTP_PREFIX: &str = "http.";
    /// Prefixes that belong to the protocol: a name starting with one of these is either in [`ALL`] or a
    /// mistake, never a custom channel.
    pub const RESERVED_PREFIXES: [&str; 2] = [WEBSOCKET_PREFIX, HTTP_PREFIX];

    /// The rule that tells Channels' events from custom channels, in words, for an error about a name
    /// under a reserved prefix that is no event ([`EventKind::Reserved`](crate::EventKind::Reserved)).
    ///
    /// `channel_routing!` prints it under "unknown event" while compiling; a table built at run time
    /// can print it in its own error, so both say the same.
    ///
    /// ```
    /// use channels_names::events::Rule;
    /// assert_eq!(
    ///     Rule.to_string(),
    ///     "names starting with `websocket.` or `http.` are Channels' own events: \"websocket.connect\", \
    ///      \"websocket.receive\", \"websocket.disconnect\" and \"http.request\"; any other name is a \
    ///      custom channel"
    /// );
    /// ```
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Rule;

    impl core::fmt::Display for Rule {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("names starting with ")?;
            list(f, &RESERVED_PREFIXES, "`")?;
            f.write_str(" are Channels' own events: ")?;
            list(f, &ALL, "\"")?;
            f.write_str("; any other name is a custom channel")
        }
    }

    /// `a`, `b` and `c` (with `or` for two items), each between `quote`s.
    fn list(f: &mut core::fmt::Formatter<'_>, items: &[&str], quote: &str) -> core::fmt::Result {
        let last = items.len().saturating_sub(1);
        for (i, item) in items.iter().enumerate() {
            let sep = match (i, items.len()) {
                (0, _) => "",
                (_, 2) => " or ",
                (i, _) if i == last => " and ",
                _ => ", ",
            };
            write!(f, "{sep}{quote}{item}{quote}")?;
        }
        Ok(())
    }
}

/// What a name in a routing table's event position is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// One of [`events::ALL`], delivered by the server.
    Builtin,
    /// Starts with a protocol prefix (`websocket.`, `http.`) but is not a built-in event (`"http.foo"`,
    /// `"websocket.recieve"`): no server sends it, and it is not a custom channel either. The macros
    /// refuse it; the runtime routes nothing to it.
    Reserved,
    /// Any other name: a custom channel, read by workers.
    Custom,
}

/// Classifies `name` (see [`EventKind`]). The macros and the router both decide with this, so they agree
/// on what a custom channel is.
pub const fn classify(name: &str) -> EventKind {
    let mut i = 0;
    while i < events::ALL.len() {
        if str_eq(name, events::ALL[i]) {
            return EventKind::Builtin;
        }
        i += 1;
    }
    let mut i = 0;
    while i < events::RESERVED_PREFIXES.len() {
        if starts_with(name, events::RESERVED_PREFIXES[i]) {
            return EventKind::Reserved;
        }
        i += 1;
    }
    EventKind::Custom
}

/// Whether `name` is one of Channels' built-in events.
pub const fn is_builtin_event(name: &str) -> bool {
    matches!(classify(name), EventKind::Builtin)
}

/// Whether `name` is a custom channel (neither built-in nor under a reserved prefix).
pub const fn is_custom_channel(name: &str) -> bool {
    matches!(classify(name), EventKind::Custom)
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    starts_with_bytes(a, b)
}

const fn starts_with(s: &str, prefix: &str) -> bool {
    starts_with_bytes(s.as_bytes(), prefix.as_bytes())
}

const fn starts_with_bytes(s: &[u8], prefix: &[u8]) -> bool {
    if s.len() < prefix.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if s[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn group_rules_follow_channels() {
        assert_eq!(validate_group_name("chat"), Ok(()));
        assert_eq!(validate_group_name("room.lobby-1_a"), Ok(()));
        assert_eq!(validate_group_name(""), Err(NameError::Empty));
        assert_eq!(
            validate_group_name("a b"),
            Err(NameError::InvalidCharacter { position: 1 })
        );
        assert_eq!(
            validate_group_name("é"),
            Err(NameError::InvalidCharacter { position: 0 })
        );
        assert_eq!(
            validate_group_name("a!b"),
            Err(NameError::MisplacedBang { position: 1 })
        );
        assert_eq!(validate_group_name(&"x".repeat(99)), Ok(()));
        assert_eq!(
            validate_group_name(&"x".repeat(100)),
            Err(NameError::TooLong { len: 100 })
        );
    }

    #[test]
    fn a_bad_character_is_reported_before_the_length() {
        let name = "a b".repeat(50);
        assert_eq!(
            validate_group_name(&name),
            Err(NameError::InvalidCharacter { position: 1 })
        );
    }

    #[test]
    fn channel_names_may_have_one_bang() {
        assert_eq!(validate_channel_name("specific.abc!def"), Ok(()));
        assert_eq!(validate_channel_name("specific.abc!"), Ok(()));
        assert_eq!(
            validate_channel_name("a!b!c"),
            Err(NameError::MisplacedBang { position: 3 })
        );
        assert_eq!(
            validate_channel_name("!abc"),
            Err(NameError::MisplacedBang { position: 0 })
        );
    }

    #[test]
    fn routed_channels_are_not_process_local() {
        assert_eq!(validate_routed_channel_name("thumbnails.generate"), Ok(()));
        assert_eq!(
            validate_routed_channel_name("specific.abc!def"),
            Err(NameError::ProcessLocal { position: 12 })
        );
        assert_eq!(
            validate_routed_channel_name("a b!"),
            Err(NameError::InvalidCharacter { position: 1 })
        );
        assert!(
            NameError::ProcessLocal { position: 3 }
                .to_string()
                .starts_with("`!` at byte 3 makes it a process-local channel")
        );
    }

    #[test]
    fn the_event_rule_lists_the_prefixes_and_events() {
        let rule = events::Rule.to_string();
        for prefix in events::RESERVED_PREFIXES {
            assert!(rule.contains(&format!("`{prefix}`")), "{rule}");
        }
        for event in events::ALL {
            assert!(rule.contains(&format!("\"{event}\"")), "{rule}");
        }
        assert!(rule.contains("\"websocket.disconnect\" and \"http.request\""));
    }

    #[test]
    fn explain_names_the_character() {
        let err = validate_group_name("café").unwrap_err();
        assert_eq!(
            err.explain("café"),
            "the name has `é` at byte 3, which is not ASCII; use only ASCII letters, digits, `-`, `_` or `.`"
        );
        let err = validate_group_name("a/b").unwrap_err();
        assert!(
            err.explain("a/b")
                .starts_with("the name has `/` at byte 1;")
        );
        assert_eq!(NameError::Empty.explain(""), NameError::Empty.to_string());
    }

    #[test]
    fn events_are_classified_once() {
        for event in events::ALL {
            assert_eq!(classify(event), EventKind::Builtin);
        }
        assert_eq!(classify("http.foo"), EventKind::Reserved);
        assert_eq!(classify("websocket.recieve"), EventKind::Reserved);
        assert_eq!(classify("websocket"), EventKind::Custom);
        assert_eq!(classify("chat.message"), EventKind::Custom);
        assert!(is_custom_channel("thumbnails"));
        assert!(!is_custom_channel("http.request"));
        assert!(is_builtin_event("http.request"));
    }
}
