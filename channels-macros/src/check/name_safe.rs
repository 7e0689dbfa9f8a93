//! Which captures of a pattern can only hold group-name characters (ASCII letters, digits, `-`, `_`,
//! `.`), decided on the pattern's HIR (`regex-syntax`, the runtime's parser, with its flags: `(?i)[a-z]`
//! admits the Kelvin sign, `\w` admits `é`).
//!
//! A consumer that puts a capture in a `group!("room.{room}")` name in its body skips the run-time check
//! of that name's characters; a route whose pattern lets the capture hold anything else is refused here.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Whether `c` may appear in a group name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// For each named capture of `pattern` that can hold a character a group name can't have: its name and
/// such a character, described ("a space", "`/`", "`é`"). Empty when the pattern doesn't parse
/// (reported elsewhere).
pub fn not_name_captures(pattern: &str) -> Vec<(String, String)> {
    let Ok(hir) = regex_syntax::parse(pattern) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    captures(&hir, &mut out);
    out
}

fn captures(hir: &Hir, out: &mut Vec<(String, String)>) {
    match hir.kind() {
        HirKind::Capture(capture) => {
            if let Some(name) = &capture.name
                && let Some(c) = first_non_name(&capture.sub)
            {
                out.push((name.to_string(), describe(c)));
            }
            captures(&capture.sub, out);
        }
        HirKind::Repetition(rep) => captures(&rep.sub, out),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                captures(sub, out);
            }
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

/// A character `hir` can match that is no name character, if any: the one a reader recognises first
/// (a space, then ASCII punctuation, then a letter like `é`, then anything).
fn first_non_name(hir: &Hir) -> Option<char> {
    let mut ranges = Vec::new();
    leaves(hir, &mut ranges);
    let admits = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    let preferred = std::iter::once(' ')
        .chain((b'!'..=b'~').map(char::from))
        .chain("éüñßøçœ".chars())
        .find(|&c| !is_name_char(c) && admits(c));
    preferred
        .or_else(|| {
            ranges
                .iter()
                .find_map(|&(lo, hi)| (lo..=hi).find(|&c| !is_name_char(c) && !c.is_control()))
        })
        .or_else(|| {
            ranges
                .iter()
                .find_map(|&(lo, hi)| (lo..=hi).find(|&c| !is_name_char(c)))
        })
}

/// The characters each leaf of `hir` (a literal or a class) can match, as ranges.
fn leaves(hir: &Hir, out: &mut Vec<(char, char)>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => {
            out.extend(String::from_utf8_lossy(&literal.0).chars().map(|c| (c, c)));
        }
        HirKind::Class(Class::Unicode(class)) => {
            out.extend(class.ranges().iter().map(|r| (r.start(), r.end())));
        }
        HirKind::Class(Class::Bytes(class)) => {
            out.extend(
                class
                    .ranges()
                    .iter()
                    .map(|r| (char::from(r.start()), char::from(r.end()))),
            );
        }
        HirKind::Capture(capture) => leaves(&capture.sub, out),
        HirKind::Repetition(rep) => leaves(&rep.sub, out),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                leaves(sub, out);
            }
        }
    }
}

/// A character as an error message names it.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("`{}`", c.escape_default()),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsafe_names(pattern: &str) -> Vec<(String, String)> {
        not_name_captures(pattern)
    }

    #[test]
    fn name_character_patterns_are_safe() {
        assert!(unsafe_names(r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$").is_empty());
        assert!(unsafe_names(r"^/n/(?P<id>[0-9]+)/$").is_empty());
        assert!(unsafe_names(r"(?P<slug>[-a-zA-Z0-9_]+)").is_empty());
        assert!(unsafe_names(r"(?P<room>(?-u:\w)+)").is_empty());
        assert!(unsafe_names(r"(?P<room>lobby|kitchen\.2)").is_empty());
    }

    #[test]
    fn patterns_admitting_more_are_reported_with_a_character() {
        assert_eq!(
            unsafe_names(r"^/chat/(?P<room>[^/]+)/$"),
            [("room".to_owned(), "a space".to_owned())]
        );
        assert_eq!(
            unsafe_names(r"(?P<room_name>\w+)"),
            [("room_name".to_owned(), "`é`".to_owned())]
        );
        assert_eq!(
            unsafe_names(r"(?P<path>[a-z/]+)"),
            [("path".to_owned(), "`/`".to_owned())]
        );
        assert_eq!(
            unsafe_names(r"(?P<x>a b)"),
            [("x".to_owned(), "a space".to_owned())]
        );
        // Unicode `\d` takes other scripts' digits.
        assert_eq!(unsafe_names(r"(?P<id>\d+)").len(), 1);
        // `(?i)` widens `[a-z]` to the Kelvin sign.
        assert_eq!(unsafe_names(r"(?i)(?P<x>[a-z]+)").len(), 1);
    }
}
