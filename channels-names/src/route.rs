//! Django's `path()` routes (`"ws/<int:id>/"`), turned into the regex Django matches them with.
//!
//! `channel_routing!` translates a `path("...")` while compiling (to check it, and to decide what it can
//! match), and the runtime's `PathPattern::path` translates a route built at run time: both call
//! [`route_to_regex`], so a route means the same in both.
//!
//! As Django's `_route_to_regex`: the route's text is matched literally, each `<converter:name>` (or
//! `<name>`, which is `<str:name>`) becomes a named group with the converter's regex, and the whole is
//! anchored at the start (and at the end for an endpoint, a route to a consumer rather than to a nested
//! `URLRouter`).
//!
//! ```
//! use channels_names::route::{route_to_regex, Converter};
//!
//! let route = route_to_regex("ws/<int:id>/<slug>/").unwrap();
//! assert_eq!(route.regex(true), r"^ws/(?P<id>[0-9]+)/(?P<slug>[^/]+)/\z");
//! assert_eq!(route.regex(false), r"^ws/(?P<id>[0-9]+)/(?P<slug>[^/]+)/");
//! assert_eq!(route.captures(), [("id", Converter::Int), ("slug", Converter::Str)]);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Django's built-in path converters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// `<int:x>`: digits, which Django hands over as an `int`.
    Int,
    /// `<str:x>` (or `<x>`): a non-empty segment without `/`.
    Str,
    /// `<slug:x>`: ASCII letters, digits, `-` and `_`.
    Slug,
    /// `<uuid:x>`: a lowercase UUID with dashes.
    Uuid,
    /// `<path:x>`: anything non-empty, `/` included.
    Path,
}

impl Converter {
    /// Every converter, in Django's order.
    pub const ALL: [Converter; 5] = [
        Converter::Str,
        Converter::Int,
        Converter::Slug,
        Converter::Uuid,
        Converter::Path,
    ];

    /// The converter named `name` in a route (`"int"`).
    pub fn from_name(name: &str) -> Option<Converter> {
        Converter::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Its name in a route.
    pub const fn name(self) -> &'static str {
        match self {
            Converter::Int => "int",
            Converter::Str => "str",
            Converter::Slug => "slug",
            Converter::Uuid => "uuid",
            Converter::Path => "path",
        }
    }

    /// The regex Django matches it with (`django/urls/converters.py`).
    pub const fn regex(self) -> &'static str {
        match self {
            Converter::Int => "[0-9]+",
            Converter::Str => "[^/]+",
            Converter::Slug => "[-a-zA-Z0-9_]+",
            Converter::Uuid => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            Converter::Path => ".+",
        }
    }
}

/// Why a `path()` route was refused; `Display` says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// `<int: id>`: whitespace inside angle brackets (Django raises `ImproperlyConfigured`).
    Whitespace {
        /// The bracketed text.
        component: String,
    },
    /// `<int:1d>`: the parameter name is not an identifier.
    BadParameter {
        /// The name as written.
        name: String,
    },
    /// `<integer:id>`: no such converter.
    UnknownConverter {
        /// The converter as written.
        converter: String,
    },
    /// `"ws/<id/"`: a `<` without its `>` (or the reverse), which Django would match literally.
    UnmatchedBracket {
        /// Byte offset of the bracket in the route.
        position: usize,
    },
    /// The same parameter twice.
    DuplicateParameter {
        /// The name.
        name: String,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Whitespace { component } => write!(
                f,
                "`{component}` has whitespace inside its angle brackets; write `<converter:name>` \
                 without spaces"
            ),
            RouteError::BadParameter { name } => write!(
                f,
                "parameter name `{name}` is not an identifier; use ASCII letters, digits and `_`, \
                 not starting with a digit"
            ),
            RouteError::UnknownConverter { converter } => {
                write!(f, "unknown converter `{converter}`; Django's are ")?;
                for (i, c) in Converter::ALL.iter().enumerate() {
                    let sep = match i {
                        0 => "",
                        i if i == Converter::ALL.len() - 1 => " and ",
                        _ => ", ",
                    };
                    write!(f, "{sep}`{}`", c.name())?;
                }
                Ok(())
            }
            RouteError::UnmatchedBracket { position } => write!(
                f,
                "unmatched angle bracket at byte {position}; a parameter reads `<converter:name>`"
            ),
            RouteError::DuplicateParameter { name } => write!(
                f,
                "parameter `{name}` appears twice; give each parameter its own name"
            ),
        }
    }
}

/// A translated route: its regex and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The regex without its end anchor.
    regex: String,
    captures: Vec<(String, Converter)>,
}

impl Route {
    /// The regex: anchored at the start, and at the end (`\z`) when `endpoint`.
    pub fn regex(&self, endpoint: bool) -> String {
        let mut regex = self.regex.clone();
        if endpoint {
            regex.push_str(r"\z");
        }
        regex
    }

    /// The parameters, in order, with their converters.
    pub fn captures(&self) -> Vec<(&str, Converter)> {
        self.captures
            .iter()
            .map(|(n, c)| (n.as_str(), *c))
            .collect()
    }
}

/// Translates a `path()` route as Django's `_route_to_regex` does.
pub fn route_to_regex(route: &str) -> Result<Route, RouteError> {
    let mut regex = String::from("^");
    let mut captures: Vec<(String, Converter)> = Vec::new();
    let mut rest = route;
    let mut offset = 0;
    loop {
        let Some(open) = rest.find('<') else {
            if let Some(close) = rest.find('>') {
                return Err(RouteError::UnmatchedBracket {
                    position: offset + close,
                });
            }
            escape_into(&mut regex, rest);
            break;
        };
        let Some(len) = rest[open + 1..].find('>') else {
            return Err(RouteError::UnmatchedBracket {
                position: offset + open,
            });
        };
        if let Some(close) = rest[..open].find('>') {
            return Err(RouteError::UnmatchedBracket {
                position: offset + close,
            });
        }
        let inner = &rest[open + 1..open + 1 + len];
        if inner.contains('<') {
            return Err(RouteError::UnmatchedBracket {
                position: offset + open,
            });
        }
        if inner.chars().any(char::is_whitespace) {
            return Err(RouteError::Whitespace {
                component: alloc::format!("<{inner}>"),
            });
        }
        let (converter, name) = match inner.split_once(':') {
            Some((converter, name)) => (converter, name),
            None => ("str", inner),
        };
        if !is_identifier(name) {
            return Err(RouteError::BadParameter { name: name.into() });
        }
        let Some(converter) = Converter::from_name(converter) else {
            return Err(RouteError::UnknownConverter {
                converter: converter.into(),
            });
        };
        if captures.iter().any(|(n, _)| n == name) {
            return Err(RouteError::DuplicateParameter { name: name.into() });
        }
        escape_into(&mut regex, &rest[..open]);
        regex.push_str("(?P<");
        regex.push_str(name);
        regex.push('>');
        regex.push_str(converter.regex());
        regex.push(')');
        captures.push((name.into(), converter));
        let consumed = open + 1 + len + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    Ok(Route { regex, captures })
}

/// ASCII letters, digits and `_`, not starting with a digit (a capture name the runtime's regex accepts
/// and a Rust parameter can take).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Appends `text` with every regex metacharacter escaped (Python's `re.escape`).
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn routes_translate_as_django_does() {
        let r = route_to_regex("ws/notification/").unwrap();
        assert_eq!(r.regex(true), r"^ws/notification/\z");
        assert!(r.captures().is_empty());
        let r = route_to_regex("a.b/<uuid:u>/<path:rest>").unwrap();
        assert_eq!(
            r.regex(false),
            r"^a\.b/(?P<u>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/(?P<rest>.+)"
        );
        assert_eq!(
            r.captures(),
            [("u", Converter::Uuid), ("rest", Converter::Path)]
        );
    }

    #[test]
    fn bad_routes_are_refused() {
        assert_eq!(
            route_to_regex("<integer:id>/"),
            Err(RouteError::UnknownConverter {
                converter: "integer".into()
            })
        );
        assert!(matches!(
            route_to_regex("<int: id>"),
            Err(RouteError::Whitespace { .. })
        ));
        assert!(matches!(
            route_to_regex("<int:1d>"),
            Err(RouteError::BadParameter { .. })
        ));
        assert_eq!(
            route_to_regex("ws/<id/"),
            Err(RouteError::UnmatchedBracket { position: 3 })
        );
        assert_eq!(
            route_to_regex("ws/id>/"),
            Err(RouteError::UnmatchedBracket { position: 5 })
        );
        assert!(matches!(
            route_to_regex("<a>/<a>"),
            Err(RouteError::DuplicateParameter { .. })
        ));
        let unknown = route_to_regex("<x:y>").unwrap_err().to_string();
        assert!(
            unknown.contains("`str`, `int`, `slug`, `uuid` and `path`"),
            "{unknown}"
        );
    }
}
