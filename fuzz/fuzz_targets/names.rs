//! Channels' naming rules on arbitrary strings: `validate_group_name`, `validate_channel_name`,
//! `validate_routed_channel_name`, `classify`, `NameError::{explain, Display}`, the runtime's `Group::new`
//! and `Channel::new`, and Django `path()` routes (`route_to_regex`).
//!
//! Each check is against a model written here from Channels' rule (`^[a-zA-Z\d\-_.]+$`, shorter than 100,
//! one `!` not first in a channel name), so a rule that drifts is found, not only a panic.
//!
//! Run: `cargo +nightly fuzz run names -- -max_total_time=120` (from the repository root).
#![no_main]

use arbitrary::Arbitrary;
use channels_names::route::{Converter, RouteError, route_to_regex};
use channels_names::{
    EventKind, MAX_NAME_LENGTH, NameError, classify, events, validate_channel_name,
    validate_group_name, validate_routed_channel_name,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    name: &'a str,
    /// Another string to `explain` an error against (an error explained with the wrong name must not panic).
    other: &'a str,
    /// A position for an error made by hand (explain must cope with one inside a multi-byte character).
    position: usize,
    route: &'a str,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// Channels' group rule, written independently of `channels_names`.
fn model_group(name: &str) -> bool {
    !name.is_empty() && name.len() < MAX_NAME_LENGTH && name.bytes().all(is_name_byte)
}

/// Channels' channel rule: a group-like name, with at most one `!`, not first.
fn model_channel(name: &str) -> bool {
    let bangs = name.bytes().filter(|&b| b == b'!').count();
    !name.is_empty()
        && name.len() < MAX_NAME_LENGTH
        && bangs <= 1
        && !name.starts_with('!')
        && name.bytes().all(|b| b == b'!' || is_name_byte(b))
}

/// The checks every error must pass for the `name` it was found in.
fn check_error(error: NameError, name: &str) {
    let display = error.to_string();
    let explained = error.explain(name);
    assert!(!display.is_empty() && !explained.is_empty());
    let _ = error.const_message(true);
    let _ = error.const_message(false);
    match error {
        NameError::Empty => assert!(name.is_empty()),
        NameError::TooLong { len } => assert_eq!(len, name.len()),
        NameError::InvalidCharacter { position } => {
            // The byte offset of the first character outside the set: a character boundary, so
            // `explain` can name it.
            assert!(name.is_char_boundary(position) && position < name.len());
            assert!(!is_name_byte(name.as_bytes()[position]));
            assert!(
                explained.contains(&format!("at byte {position}")),
                "{explained}"
            );
        }
        NameError::MisplacedBang { position } | NameError::ProcessLocal { position } => {
            assert_eq!(name.as_bytes().get(position), Some(&b'!'));
        }
        _ => {}
    }
}

fn check_names(name: &str) {
    for (result, model) in [
        (validate_group_name(name), model_group(name)),
        (validate_channel_name(name), model_channel(name)),
        (validate_routed_channel_name(name), model_group(name)),
    ] {
        assert_eq!(result.is_ok(), model, "{name:?}: {result:?}");
        if let Err(error) = result {
            check_error(error, name);
        }
    }
    // The runtime's constructors follow the same rule, and their errors print.
    match channels_runtime::Group::new(name) {
        Ok(group) => assert_eq!(group.name(), name),
        Err(error) => assert!(!model_group(name) && !error.to_string().is_empty()),
    }
    match channels_runtime::Channel::new(name) {
        Ok(channel) => assert_eq!(channel.name(), name),
        Err(error) => assert!(!model_channel(name) && !error.to_string().is_empty()),
    }
    assert_eq!(
        channels_runtime::layer::check_channel_name(name).is_ok(),
        model_channel(name)
    );
}

fn check_classify(name: &str) {
    let expected = if events::ALL.contains(&name) {
        EventKind::Builtin
    } else if events::RESERVED_PREFIXES
        .iter()
        .any(|p| name.starts_with(p))
    {
        EventKind::Reserved
    } else {
        EventKind::Custom
    };
    assert_eq!(classify(name), expected, "{name:?}");
}

/// A sample value for each converter, which its regex must match.
fn sample(converter: Converter) -> &'static str {
    match converter {
        Converter::Int => "42",
        Converter::Str => "s",
        Converter::Slug => "a-b_c",
        Converter::Uuid => "12345678-1234-1234-1234-123456789abc",
        Converter::Path => "p/q",
    }
}

/// `route` with each `<converter:name>` replaced by a sample value; `None` for a route with brackets that
/// `route_to_regex` accepted some other way (which would itself be a finding, checked by the caller).
fn substitute(route: &str, captures: &[(&str, Converter)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = route;
    let mut captures = captures.iter();
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        out.push_str(&rest[..open]);
        out.push_str(sample(captures.next()?.1));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    captures.next().is_none().then_some(out)
}

fn check_route(route: &str) {
    match route_to_regex(route) {
        Ok(translated) => {
            for endpoint in [true, false] {
                let regex = regex::Regex::new(&translated.regex(endpoint)).unwrap_or_else(|e| {
                    panic!("route {route:?} translated to a regex that does not compile: {e}")
                });
                // The route's own text, with sample values for its parameters, is what it matches.
                let path = substitute(route, &translated.captures())
                    .unwrap_or_else(|| panic!("{route:?}: captures don't line up with the text"));
                assert!(
                    regex.is_match(&path),
                    "route {route:?} ({regex}) doesn't match {path:?}"
                );
                if translated.captures().is_empty() {
                    // A route without parameters is literal text: it matches nothing else as an endpoint.
                    let longer = format!("{route}x");
                    assert_eq!(
                        regex.is_match(&longer),
                        !endpoint,
                        "{route:?} vs {longer:?}"
                    );
                }
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            if let RouteError::UnmatchedBracket { position } = error {
                assert!(
                    matches!(route.as_bytes().get(position), Some(b'<' | b'>')),
                    "{route:?}: position {position}"
                );
            }
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    for name in [input.name, input.other] {
        check_names(name);
        check_classify(name);
    }
    // Errors explained against any string, at any position, never panic.
    for error in [
        NameError::InvalidCharacter {
            position: input.position,
        },
        NameError::MisplacedBang {
            position: input.position,
        },
        NameError::ProcessLocal {
            position: input.position,
        },
        NameError::TooLong {
            len: input.position,
        },
        NameError::Empty,
    ] {
        let _ = error.explain(input.name);
        let _ = error.explain(input.other);
        let _ = error.to_string();
    }
    if let Err(error) = validate_group_name(input.name) {
        let _ = error.explain(input.other);
    }
    check_route(input.route);
});
