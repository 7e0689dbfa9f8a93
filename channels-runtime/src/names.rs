//! Channel and group name validation, with Channels' exact rules.
//!
//! Channels (and its ASGI layer spec) accept a *group* name made of ASCII letters, digits, hyphens,
//! underscores and periods, shorter than [`MAX_NAME_LENGTH`] characters. A *channel* name follows the same
//! rule and may end in `!` plus a process-local suffix (`specific.abc!xyz`), which is how reply channels are
//! named. The checks are `const fn`, so [`group!`](crate::group) validates a literal while compiling.

/// Names must be shorter than this, as in Channels (`MAX_NAME_LENGTH = 100`).
pub const MAX_NAME_LENGTH: usize = 100;

/// Why a channel or group name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty; use ASCII letters, digits, `-`, `_` or `.`")]
    Empty,
    /// The name has [`MAX_NAME_LENGTH`] characters or more.
    #[error("name is {len} characters long; names must be shorter than 100 characters")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name holds a character outside Channels' set.
    #[error(
        "name has a character that is not allowed at byte {position}; use only ASCII letters, digits, `-`, `_` or `.`"
    )]
    InvalidCharacter {
        /// Byte offset of the first offending character.
        position: usize,
    },
    /// A `!` in a group name, or a second `!` in a channel name.
    #[error(
        "`!` at byte {position} is only allowed once, in a channel (not group) name, before its process-local part"
    )]
    MisplacedBang {
        /// Byte offset of the offending `!`.
        position: usize,
    },
}

const fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// Checks a group name: `^[a-zA-Z\d\-_.]+$`, shorter than 100 characters.
///
/// ```
/// use channels_runtime::names::{validate_group_name, NameError};
/// assert!(validate_group_name("chat").is_ok());
/// assert_eq!(validate_group_name("my room"), Err(NameError::InvalidCharacter { position: 2 }));
/// ```
pub const fn validate_group_name(name: &str) -> Result<(), NameError> {
    validate(name, false)
}

/// Checks a channel name: like a group name, optionally followed by `!` and a process-local part.
///
/// ```
/// use channels_runtime::names::validate_channel_name;
/// assert!(validate_channel_name("thumbnails.generate").is_ok());
/// assert!(validate_channel_name("specific.a1b2!c3d4").is_ok());
/// assert!(validate_channel_name("bad name").is_err());
/// ```
pub const fn validate_channel_name(name: &str) -> Result<(), NameError> {
    validate(name, true)
}

const fn validate(name: &str, allow_bang: bool) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    if bytes.len() >= MAX_NAME_LENGTH {
        return Err(NameError::TooLong { len: bytes.len() });
    }
    let mut seen_bang = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'!' {
            if !allow_bang || seen_bang || i == 0 {
                return Err(NameError::MisplacedBang { position: i });
            }
            seen_bang = true;
        } else if !is_name_byte(b) {
            return Err(NameError::InvalidCharacter { position: i });
        }
        i += 1;
    }
    Ok(())
}

/// Like [`validate_group_name`], for use in constants: fails compilation with the reason.
///
/// This is what [`group!`](crate::group) calls inside a `const` block.
pub const fn expect_group_name(name: &'static str) -> &'static str {
    match validate_group_name(name) {
        Ok(()) => name,
        Err(NameError::Empty) => panic!("invalid group name: it is empty"),
        Err(NameError::TooLong { .. }) => {
            panic!("invalid group name: it must be shorter than 100 characters")
        }
        Err(NameError::InvalidCharacter { .. }) => panic!(
            "invalid group name: use only ASCII letters, digits, `-`, `_` or `.` (no spaces, no other symbols, no non-ASCII)"
        ),
        Err(NameError::MisplacedBang { .. }) => {
            panic!("invalid group name: `!` is only allowed in reply channel names")
        }
    }
}

/// Like [`validate_channel_name`], for use in constants: fails compilation with the reason.
pub const fn expect_channel_name(name: &'static str) -> &'static str {
    match validate_channel_name(name) {
        Ok(()) => name,
        Err(NameError::Empty) => panic!("invalid channel name: it is empty"),
        Err(NameError::TooLong { .. }) => {
            panic!("invalid channel name: it must be shorter than 100 characters")
        }
        Err(NameError::InvalidCharacter { .. }) => panic!(
            "invalid channel name: use only ASCII letters, digits, `-`, `_` or `.` (no spaces, no other symbols, no non-ASCII)"
        ),
        Err(NameError::MisplacedBang { .. }) => {
            panic!("invalid channel name: `!` may appear once, not first")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
