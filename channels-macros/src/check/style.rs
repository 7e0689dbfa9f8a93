//! Whether a path pattern can match a path the way its table matches paths: Channels 1.x matches the
//! whole path (which starts with `/`), Channels 2+'s `URLRouter` the path without its leading `/`. A
//! pattern copied from one into the other compiles, but answers every request with 404; these checks
//! make it an error that shows the pattern to write.
//!
//! Each route is reduced to the regex, matched from the start, that the runtime's matching amounts to
//! (see `channels-runtime`'s `PathPattern`), and asked with [`Lang`] what it can match.

use channels_names::route::route_to_regex;
use syn::LitStr;

use super::lang::Lang;
use crate::ctxt::Ctxt;
use crate::parse::UrlKind;

/// A Channels 1.x path pattern, as matched: from the start of the whole path (`re.match`).
pub fn v1_regex(pattern: &str) -> String {
    format!(r"\A(?:{pattern})")
}

/// A Channels 2+ pattern, as matched against the path without its leading `/`: `re_path` searches (or
/// matches the whole path, for a consumer's pattern ending in `$`), `path` matches from the start (and
/// to the end for a consumer). `None` for a `path` route that doesn't translate (reported elsewhere).
pub fn v2_regex(kind: UrlKind, pattern: &str, endpoint: bool) -> Option<String> {
    match kind {
        UrlKind::RePath if endpoint && pattern.ends_with('$') => {
            Some(format!(r"\A(?:{pattern})\z"))
        }
        UrlKind::RePath => Some(format!(r"\A(?s:.)*?(?:{pattern})")),
        UrlKind::Path => route_to_regex(pattern).ok().map(|r| r.regex(endpoint)),
    }
}

/// A Channels 1.x path (or include prefix) must be able to match a path starting with `/`.
pub fn check_v1(lit: &LitStr, what: &str, cx: &mut Ctxt) {
    let pattern = lit.value();
    let Some(lang) = Lang::new(&v1_regex(&pattern)) else {
        return;
    };
    if lang.can_match_first(|b| b == b'/') {
        return;
    }
    let body = pattern.strip_prefix('^').unwrap_or(&pattern);
    let fixed = format!("^/{}", body.strip_prefix('/').unwrap_or(body));
    cx.spanned(
        lit,
        format!(
            "this {what} never matches: in a Channels 1.x table the path starts with `/`, and \
             `r\"{pattern}\"` is matched from the path's start\n\
             help: write `r\"{fixed}\"`; or, for a Channels 2+ pattern (matched without the leading \
             `/`), port the route as Channels 2+: `re_path(r\"{pattern}\", Consumer)` in a \
             `URLRouter` (README: \"Porting Channels 2+ routing\")"
        ),
    );
}

/// A Channels 2+ pattern must be able to match a path without a leading `/`.
pub fn check_v2(lit: &LitStr, kind: UrlKind, endpoint: bool, cx: &mut Ctxt) {
    let pattern = lit.value();
    let Some(lang) = v2_regex(kind, &pattern, endpoint).and_then(|r| Lang::new(&r)) else {
        return;
    };
    if lang.can_match_first(|b| b != b'/') {
        return;
    }
    let (fixed, quoted) = match kind {
        UrlKind::RePath => {
            let body = pattern.strip_prefix('^').unwrap_or(&pattern);
            let anchor = if pattern.starts_with('^') { "^" } else { "" };
            let fixed = format!("{anchor}{}", body.trim_start_matches('/'));
            (format!("r\"{fixed}\""), format!("r\"{pattern}\""))
        }
        UrlKind::Path => (
            format!("\"{}\"", pattern.trim_start_matches('/')),
            format!("\"{pattern}\""),
        ),
    };
    cx.spanned(
        lit,
        format!(
            "this pattern never matches: a `URLRouter` matches the path without its leading `/` \
             (Channels 2+), and {quoted} needs one\n\
             help: write {fixed}; a Channels 1.x pattern (matched against the whole path, `/` \
             included) goes in a Channels 1.x table: `route_class(Consumer, path = {quoted})`"
        ),
    );
}
