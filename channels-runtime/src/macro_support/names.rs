//! `group!("room.{room}")`: a group name from a template checked while compiling, filled in at run
//! time.
//!
//! The literal parts were checked by the macro. What a placeholder's value may hold is its type's
//! answer ([`GroupNamePart`]): an integer only ever writes name characters; a string may write
//! anything, so a name with one is checked when the group is built, unless the placeholder is a path
//! capture whose every route's pattern admits only name characters (`channel_routing!` checked that
//! while compiling, and refuses a route whose pattern admits others). Then only the length is left to
//! check, and not even that when every part's length is bounded.

use std::borrow::Cow;
use std::sync::Arc;

use channels_names::{MAX_NAME_LENGTH, NameError, validate_group_name};

use crate::Group;

/// A value a `group!` template's `{placeholder}` can take: text (checked when the group is built) or an
/// integer (always name characters).
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't fill a `group!` template's placeholder",
    label = "a placeholder takes text or an integer",
    note = "use a `String`, a `&str` or an integer; format anything else first: `let id = x.to_string();`"
)]
pub trait GroupNamePart {
    /// Whether every value writes only name characters (ASCII letters, digits, `-`, `_`, `.`).
    const NAME_CHARACTERS: bool;
    /// The most bytes a value writes, if bounded.
    const MAX_LEN: Option<usize>;
    /// Writes the value.
    fn write_part(&self, out: &mut String);
}

macro_rules! integer_parts {
    ($($t:ty => $max:literal)*) => {$(
        impl GroupNamePart for $t {
            const NAME_CHARACTERS: bool = true;
            // Digits, and a `-` for the signed ones.
            const MAX_LEN: Option<usize> = Some($max);
            fn write_part(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

integer_parts! {
    u8 => 3 u16 => 5 u32 => 10 u64 => 20 u128 => 39 usize => 20
    i8 => 4 i16 => 6 i32 => 11 i64 => 20 i128 => 40 isize => 20
}

impl GroupNamePart for str {
    const NAME_CHARACTERS: bool = false;
    const MAX_LEN: Option<usize> = None;
    fn write_part(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl GroupNamePart for String {
    const NAME_CHARACTERS: bool = false;
    const MAX_LEN: Option<usize> = None;
    fn write_part(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl GroupNamePart for Cow<'_, str> {
    const NAME_CHARACTERS: bool = false;
    const MAX_LEN: Option<usize> = None;
    fn write_part(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl GroupNamePart for Arc<str> {
    const NAME_CHARACTERS: bool = false;
    const MAX_LEN: Option<usize> = None;
    fn write_part(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl<T: GroupNamePart + ?Sized> GroupNamePart for &T {
    const NAME_CHARACTERS: bool = T::NAME_CHARACTERS;
    const MAX_LEN: Option<usize> = T::MAX_LEN;
    fn write_part(&self, out: &mut String) {
        (**self).write_part(out);
    }
}

/// One placeholder's value, as `group!` hands it over.
pub struct Part<'a> {
    value: &'a dyn WritePart,
    name_characters: bool,
    max_len: Option<usize>,
}

/// [`GroupNamePart::write_part`], callable through `dyn`.
trait WritePart {
    fn write_to(&self, out: &mut String);
}

impl<T: GroupNamePart + ?Sized> WritePart for T {
    fn write_to(&self, out: &mut String) {
        self.write_part(out);
    }
}

/// A placeholder's value. `capture` says it is a path capture whose every route's pattern admits only
/// name characters (checked by `channel_routing!`), so its characters need no check.
pub fn name_part<T: GroupNamePart>(value: &T, capture: bool) -> Part<'_> {
    Part {
        value,
        name_characters: T::NAME_CHARACTERS || capture,
        max_len: T::MAX_LEN,
    }
}

/// The group `literals[0] + parts[0] + literals[1] + ...` names, checked as little as its parts allow.
pub fn group_from_template(literals: &[&'static str], parts: &[Part<'_>]) -> Group {
    let mut name = String::with_capacity(literals.iter().map(|l| l.len()).sum::<usize>() + 16);
    for (i, literal) in literals.iter().enumerate() {
        name.push_str(literal);
        if let Some(part) = parts.get(i) {
            part.value.write_to(&mut name);
        }
    }
    let refused = refusal(&name, literals, parts);
    Group::from_template(name, refused)
}

/// Why `name` breaks the rule, checking only what its parts don't rule out.
fn refusal(name: &str, literals: &[&str], parts: &[Part<'_>]) -> Option<NameError> {
    if !parts.iter().all(|p| p.name_characters) {
        return validate_group_name(name).err();
    }
    let bounded: Option<usize> = parts
        .iter()
        .try_fold(literals.iter().map(|l| l.len()).sum(), |len, p| {
            p.max_len.map(|m| len + m)
        });
    match bounded {
        Some(len) if len < MAX_NAME_LENGTH && !name.is_empty() => None,
        _ if name.is_empty() => Some(NameError::Empty),
        _ if name.len() >= MAX_NAME_LENGTH => Some(NameError::TooLong { len: name.len() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_need_no_check_and_text_is_checked() {
        assert_eq!(
            group_from_template(&["room.", ""], &[name_part(&42u32, false)]).name(),
            "room.42"
        );
        let bad = group_from_template(&["room.", ""], &[name_part(&"a b", false)]);
        assert_eq!(bad.name(), "room.a b");
        assert!(matches!(
            refusal(bad.name(), &["room.", ""], &[name_part(&"a b", false)]),
            Some(NameError::InvalidCharacter { position: 6 })
        ));
        assert_eq!(
            refusal("room.lobby", &["room.", ""], &[name_part(&"lobby", false)]),
            None
        );
    }

    #[test]
    fn a_capture_proven_by_its_routes_is_only_measured() {
        // Its characters are not checked again (`channel_routing!` proved them)...
        assert_eq!(
            refusal("room.lobby", &["room.", ""], &[name_part(&"lobby", true)]),
            None
        );
        // ...but a name that grows too long is still refused.
        let long = "x".repeat(120);
        let name = format!("room.{long}");
        assert!(matches!(
            refusal(&name, &["room.", ""], &[name_part(&long.as_str(), true)]),
            Some(NameError::TooLong { .. })
        ));
    }
}
