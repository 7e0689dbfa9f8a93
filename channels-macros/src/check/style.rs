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
    let (fixed, quoted, or) = match kind {
        UrlKind::RePath => {
            let body = pattern.strip_prefix('^').unwrap_or(&pattern);
            let anchor = if pattern.starts_with('^') { "^" } else { "" };
            let fixed = format!("{anchor}{}", body.trim_start_matches('/'));
            let quoted = format!("r\"{pattern}\"");
            let or = format!(
                "; a Channels 1.x pattern (matched against the whole path, `/` included) goes in a \
                 Channels 1.x table: `route_class(Consumer, path = {quoted})`"
            );
            (format!("r\"{fixed}\""), quoted, or)
        }
        UrlKind::Path => (
            format!("\"{}\"", pattern.trim_start_matches('/')),
            format!("\"{pattern}\""),
            String::new(),
        ),
    };
    cx.spanned(
        lit,
        format!(
            "this pattern never matches: a `URLRouter` matches the path without its leading `/` \
             (Channels 2+), and {quoted} needs one\nhelp: write {fixed}{or}"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn errors(check: impl FnOnce(&LitStr, &mut Ctxt), pattern: &str) -> Option<String> {
        let mut cx = Ctxt::default();
        check(&LitStr::new(pattern, Span::call_site()), &mut cx);
        cx.finish().map(|e| e.to_string())
    }

    #[test]
    fn channels1_patterns_must_allow_the_leading_slash() {
        let v1 = |lit: &LitStr, cx: &mut Ctxt| check_v1(lit, "path pattern", cx);
        assert_eq!(errors(v1, r"^/chat/(?P<room>\w+)/$"), None);
        assert_eq!(errors(v1, r"/chat/"), None);
        let error = errors(v1, r"^ws/(?P<slug>[-\w_]+)/").unwrap();
        assert!(
            error.contains(r#"write `r"^/ws/(?P<slug>[-\w_]+)/"`"#),
            "{error}"
        );
    }

    #[test]
    fn channels2_patterns_must_allow_a_path_without_it() {
        let re_path = |lit: &LitStr, cx: &mut Ctxt| check_v2(lit, UrlKind::RePath, true, cx);
        let path = |lit: &LitStr, cx: &mut Ctxt| check_v2(lit, UrlKind::Path, true, cx);
        assert_eq!(errors(re_path, r"ws/chat/(?P<room_name>\w+)/$"), None);
        // Searched: a `/` inside the path is fine.
        assert_eq!(errors(re_path, r"/chat/"), None);
        assert!(
            errors(re_path, r"^/ws/")
                .unwrap()
                .contains(r#"write r"^ws/""#)
        );
        assert_eq!(errors(path, "ws/notification/"), None);
        assert_eq!(errors(path, ""), None);
        assert!(errors(path, "/ws/").unwrap().contains(r#"write "ws/""#));
    }

    #[test]
    fn each_syntax_is_reduced_to_a_prefix_regex() {
        assert_eq!(
            v2_regex(UrlKind::RePath, "a/$", true).unwrap(),
            r"\A(?:a/$)\z"
        );
        assert_eq!(
            v2_regex(UrlKind::RePath, "a/$", false).unwrap(),
            r"\A(?s:.)*?(?:a/$)"
        );
        assert_eq!(v2_regex(UrlKind::Path, "a/", true).unwrap(), r"^a/\z");
        assert_eq!(v1_regex("^/a"), r"\A(?:^/a)");
    }
}
