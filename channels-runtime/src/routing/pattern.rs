//! Path patterns: how a route's pattern is written and matches ([`PathPattern`]), one compiled pattern
//! ([`Pattern`]), and a table's patterns matched all at once ([`PatternIndex`]).

use std::sync::Arc;

use channels_names::route::route_to_regex;
use regex::{Regex, RegexSet, SetMatches};

use super::captures::PathParams;
use super::error::RoutingError;

/// A path pattern, with the matching rules of the syntax it is written in.
///
/// Channels changed how paths are matched between 1.x and 2+, and a pattern copied from either only
/// means what it meant there with its own rules:
///
/// | constructor | Channels | matched against | how |
/// |---|---|---|---|
/// | [`regex`](Self::regex) | 1.x `route(.., path=r"^/chat/")` | the whole path, `/` included | from the start (`re.match`) |
/// | [`re_path`](Self::re_path) | 2+ `re_path(r"ws/chat/$", ..)` | the path without its leading `/` (in a [`Routing::url_router`](super::Routing::url_router)) | anywhere (`re.search`); to the end when routing to a consumer and ending in `$` (`re.fullmatch`) |
/// | [`path`](Self::path) | 2+ `path("ws/<int:id>/", ..)` | as `re_path` | Django's converters (`int`, `str`, `slug`, `uuid`, `path`), from the start, to the end when routing to a consumer |
///
/// A pattern that doesn't compile is kept and reported by [`Routing::errors`](super::Routing::errors)
/// (and by the server when it starts); `channel_routing!` refuses it while compiling.
///
/// ```
/// use channels_runtime::routing::{Consumer, PathPattern, Route, Routing};
/// use channels_runtime::Message;
///
/// let chat = Consumer::from_async("chat", |_m: Message| async {});
/// // Channels 4: re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi())
/// let routing = Routing::url_router().route(
///     Route::to("websocket.receive", None, chat).at(PathPattern::re_path(r"ws/chat/(?P<room_name>\w+)/$")),
/// );
/// assert!(routing.resolve("websocket.receive", "/ws/chat/lobby/").is_some());
/// assert!(routing.resolve("websocket.receive", "/ws/chat/lobby/extra").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct PathPattern {
    syntax: Syntax,
    source: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Channels1,
    RePath,
    Path,
}

impl PathPattern {
    /// A Channels 1.x pattern: a regex matched from the start of the whole path (Python's `re.match`),
    /// with or without a leading `^`. What `Route::new(.., Some(path), ..)` and
    /// [`Routing::include`](super::Routing::include) use.
    pub fn regex(pattern: &str) -> Self {
        PathPattern {
            syntax: Syntax::Channels1,
            source: Arc::from(pattern),
        }
    }

    /// Django's `re_path` (Channels 2+): matched anywhere in the path (`re.search`), or against the whole
    /// of it when it routes to a consumer and ends with `$` (`re.fullmatch`). Meant for a
    /// [`Routing::url_router`](super::Routing::url_router), which strips the path's leading `/`.
    pub fn re_path(pattern: &str) -> Self {
        PathPattern {
            syntax: Syntax::RePath,
            source: Arc::from(pattern),
        }
    }

    /// Django's `path` (Channels 2+): `"ws/<int:id>/"`, matched from the start, and to the end when it
    /// routes to a consumer; each `<converter:name>` is a named capture with the converter's regex
    /// (`int`: digits, `str`: no `/`, `slug`, `uuid`, `path`: anything).
    pub fn path(route: &str) -> Self {
        PathPattern {
            syntax: Syntax::Path,
            source: Arc::from(route),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Compiles it for a route to a consumer (`endpoint`) or for a prefix (an include, a nested router).
    pub(super) fn compile(&self, endpoint: bool) -> Result<Pattern, RoutingError> {
        let source = &*self.source;
        let wrap = |body: &str| match self.syntax {
            Syntax::RePath if endpoint && source.ends_with('$') => format!(r"\A(?:{body})\z"),
            Syntax::RePath => format!("(?:{body})"),
            _ => format!(r"\A(?:{body})"),
        };
        if self.syntax == Syntax::Path {
            let regex = route_to_regex(source)
                .map_err(|reason| RoutingError::Route {
                    route: source.to_owned(),
                    reason,
                })?
                .regex(endpoint);
            return Pattern::compiled(self.source.clone(), &regex);
        }
        // A regex on its own first (found by fuzzing): once wrapped, `/a)|(?:/b` compiles, and its `/b`
        // matches anywhere.
        Pattern::compiled(self.source.clone(), source)?;
        match Pattern::compiled(self.source.clone(), &wrap(source)) {
            // In verbose mode (`(?x)`), a comment that ends the pattern swallows the wrapping's `)`; a
            // newline ends the comment (and, in verbose mode, matches nothing).
            Err(_) if source.contains('#') => {
                Pattern::compiled(self.source.clone(), &wrap(&format!("{source}\n")))
            }
            compiled => compiled,
        }
    }
}

/// A compiled path pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    source: Arc<str>,
    regex: Regex,
    names: Vec<Option<Arc<str>>>,
    /// The pattern as plain text, when it is nothing more (`^/chat/$`, `ws/lobby/`): matched without the
    /// regex, and left out of its table's `RegexSet`. Every WebSocket handshake resolves three events.
    literal: Option<Literal>,
}

/// A pattern that is a literal string, with the anchors around it.
#[derive(Debug, Clone)]
struct Literal {
    text: Box<str>,
    /// Anchored at the start of the text (`\A`, `^`).
    start: bool,
    /// Anchored at its end (`\z`, `$`: without the multi-line flag, which a literal can't set, `$` is
    /// the end of the text).
    end: bool,
}

impl Literal {
    /// The literal that `regex` (as compiled: wrapped as `compile` wraps it) is, if it is one: optional
    /// anchors and a non-capturing group around text without any character regex treats specially.
    /// Anything else (escapes, classes, flags, groups, alternatives) is left to the regex.
    fn of(regex: &str) -> Option<Literal> {
        let (mut start, mut end) = (false, false);
        let mut body = regex;
        if let Some(rest) = body.strip_prefix(r"\A") {
            (start, body) = (true, rest);
        }
        if let Some(rest) = body.strip_suffix(r"\z") {
            (end, body) = (true, rest);
        }
        if let Some(inner) = body.strip_prefix("(?:").and_then(|b| b.strip_suffix(')')) {
            body = inner;
        }
        if let Some(rest) = body.strip_prefix('^') {
            (start, body) = (true, rest);
        }
        if let Some(rest) = body.strip_suffix('$') {
            (end, body) = (true, rest);
        }
        let special = |c: char| r"\.+*?()|[]{}^$#".contains(c) || c.is_whitespace();
        (!body.contains(special)).then(|| Literal {
            text: body.into(),
            start,
            end,
        })
    }

    /// Where the regex's leftmost match in `text` would end.
    fn end_of_match(&self, text: &str) -> Option<usize> {
        let literal = &*self.text;
        match (self.start, self.end) {
            (true, true) => (text == literal).then_some(text.len()),
            (true, false) => text.starts_with(literal).then_some(literal.len()),
            (false, true) => text.ends_with(literal).then_some(text.len()),
            (false, false) => text.find(literal).map(|at| at + literal.len()),
        }
    }
}

impl Pattern {
    /// Compiles a Channels 1.x `source`, anchored at the start whether or not it begins with `^`.
    pub(super) fn new(source: &str) -> Result<Self, RoutingError> {
        PathPattern::regex(source).compile(true)
    }

    fn compiled(source: Arc<str>, regex: &str) -> Result<Self, RoutingError> {
        let regex = Regex::new(regex).map_err(|e| RoutingError::Regex {
            pattern: source.to_string(),
            message: e.to_string(),
        })?;
        let names = regex.capture_names().map(|n| n.map(Arc::from)).collect();
        Ok(Pattern {
            source,
            names,
            literal: Literal::of(regex.as_str()),
            regex,
        })
    }

    /// The pattern as written in the route.
    pub(super) fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// Matches `text`: the end of the match, with captures added to `params`.
    pub(super) fn matches(&self, text: &str, params: &mut PathParams) -> Option<usize> {
        if let Some(literal) = &self.literal {
            return literal.end_of_match(text);
        }
        let captures = self.regex.captures(text)?;
        for (i, name) in self.names.iter().enumerate() {
            if let (Some(name), Some(m)) = (name, captures.get(i)) {
                params.set(name.clone(), m.as_str());
            }
        }
        Some(captures.get(0).map_or(0, |m| m.end()))
    }
}

/// The patterns of a table's entries in one `RegexSet`: one pass over the path tells which entries can
/// match, so only those run their own regex (for the captures).
#[derive(Debug, Clone)]
pub(super) struct PatternIndex {
    set: RegexSet,
    /// For each entry, its position in `set` (entries without a valid pattern have none).
    slots: Vec<Option<usize>>,
}

impl PatternIndex {
    /// Indexes one pattern per entry (`None` for an entry without a usable pattern); `None` when the
    /// patterns are too large for one set (regex's size limit), and each is then tried in turn, or when
    /// no entry has a pattern.
    pub(super) fn build<'a>(
        patterns: impl Iterator<Item = Option<&'a Result<Pattern, RoutingError>>>,
    ) -> Option<PatternIndex> {
        let mut sources = Vec::new();
        let slots = patterns
            .map(|pattern| match pattern {
                // A literal is matched on its own, at no more cost than a set's lookup.
                Some(Ok(pattern)) if pattern.literal.is_none() => {
                    sources.push(pattern.regex.as_str().to_owned());
                    Some(sources.len() - 1)
                }
                _ => None,
            })
            .collect();
        // No patterns (routes without a path, the usual WebSocket table of a small app): nothing for a
        // set to rule out, and matching an empty one still costs each lookup.
        if sources.is_empty() {
            return None;
        }
        let set = RegexSet::new(&sources).ok()?;
        Some(PatternIndex { set, slots })
    }

    /// Which patterns match `path`.
    pub(super) fn matches(&self, path: &str) -> SetMatches {
        self.set.matches(path)
    }

    /// Whether entry `entry` can match, given the set's `matched` result (entries without a pattern can).
    pub(super) fn may_match(&self, matched: &SetMatches, entry: usize) -> bool {
        match self.slots.get(entry).copied().flatten() {
            Some(slot) => matched.matched(slot),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(pattern: PathPattern, endpoint: bool, path: &str) -> Option<usize> {
        let compiled = pattern.compile(endpoint).expect("compiles");
        compiled.matches(path, &mut PathParams::default())
    }

    #[test]
    fn re_path_searches_and_fullmatches_endpoints_ending_in_dollar() {
        let chat = || PathPattern::re_path(r"ws/chat/(?P<room_name>\w+)/$");
        assert_eq!(end(chat(), true, "ws/chat/lobby/"), Some(14));
        assert_eq!(end(chat(), true, "x/ws/chat/lobby/"), None);
        assert_eq!(end(chat(), false, "x/ws/chat/lobby/"), Some(16));
        let slug = || PathPattern::re_path(r"^ws/(?P<slug>[-\w_]+)/");
        assert_eq!(end(slug(), true, "ws/my-team/chat/"), Some(11));
        assert_eq!(end(slug(), true, "x/ws/my-team/"), None);
        // No `^`, no `$`: anywhere.
        assert_eq!(
            end(PathPattern::re_path("chat/"), true, "ws/chat/x"),
            Some(8)
        );
    }

    #[test]
    fn literal_patterns_match_as_their_regex_does() {
        let patterns = [
            PathPattern::regex("^/chat/$"),
            PathPattern::regex("/chat/"),
            PathPattern::regex("^/chat/"),
            PathPattern::regex(""),
            PathPattern::regex("^$"),
            PathPattern::re_path("ws/chat/$"),
            PathPattern::re_path("^ws/chat/"),
            PathPattern::re_path("chat/"),
            PathPattern::re_path("chat/$"),
            PathPattern::re_path("^ws/chat/$"),
            PathPattern::path("ws/chat/"),
            PathPattern::path("ws/<int:id>/"),
            PathPattern::regex(r"^/chat\.json$"),
            PathPattern::regex("^/(a|b)/$"),
            PathPattern::regex("^/ch.t/$"),
            PathPattern::re_path("(?i)chat/"),
        ];
        let paths = [
            "",
            "/",
            "/chat/",
            "/chat/x",
            "x/chat/",
            "/chat",
            "ws/chat/",
            "ws/chat/x",
            "x/ws/chat/",
            "chat/",
            "chat/chat/",
            "/CHAT/",
            "/chat.json",
            "/a/",
            "/chxt/",
            "ws/7/",
        ];
        let mut literals = 0;
        for pattern in patterns {
            for endpoint in [true, false] {
                let compiled = pattern.compile(endpoint).expect("compiles");
                literals += usize::from(compiled.literal.is_some());
                for path in paths {
                    let by_regex = compiled.regex.find(path).map(|m| m.end());
                    let mut params = PathParams::default();
                    assert_eq!(
                        compiled.matches(path, &mut params),
                        by_regex,
                        "{:?} (endpoint: {endpoint}) on {path:?}",
                        compiled.regex.as_str()
                    );
                }
            }
        }
        // Both compilations of the first eleven patterns are literals; none of the others is.
        assert_eq!(literals, 2 * 11);
    }

    #[test]
    fn path_routes_use_converters() {
        let id = PathPattern::path("ws/<int:id>/");
        let mut params = PathParams::default();
        let compiled = id.compile(true).unwrap();
        assert_eq!(compiled.matches("ws/42/", &mut params), Some(6));
        assert_eq!(params.get("id"), Some("42"));
        assert_eq!(compiled.matches("ws/42/x", &mut params), None);
        assert_eq!(compiled.matches("ws/abc/", &mut params), None);
        assert_eq!(end(PathPattern::path("ws/"), false, "ws/rest"), Some(3));
        assert!(matches!(
            PathPattern::path("ws/<nope:id>/").compile(true),
            Err(RoutingError::Route { .. })
        ));
    }
}
