//! Channel and group name validation, with Channels' exact rules.
//!
//! Channels (and its ASGI layer spec) accept a *group* name made of ASCII letters, digits, hyphens,
//! underscores and periods, shorter than [`MAX_NAME_LENGTH`] characters. A *channel* name follows the same
//! rule and may end in `!` plus a process-local suffix (`specific.abc!xyz`), which is how reply channels are
//! named. The checks are `const fn`, so [`group!`](crate::group) validates a literal while compiling.
//!
//! The rules live in the `channels-names` crate, which `channels-macros` uses too: a name the macros
//! accept while compiling is a name the runtime accepts, with the same words when it is refused.

pub use channels_names::{
    ALLOWED_CHARACTERS, EventKind, MAX_NAME_LENGTH, NameError, classify, events,
    expect_channel_name, expect_group_name, is_builtin_event, is_custom_channel,
    validate_channel_name, validate_group_name, validate_routed_channel_name,
};
