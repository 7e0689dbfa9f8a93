//! Path regexes, with `regex-syntax` (the parser the runtime's `regex` uses): syntax, look-around and
//! back-references, unnamed groups, capture names, captures under a repetition.

use regex_syntax::ast::{self, Ast};
use syn::{Ident, LitStr};

use crate::ctxt::Ctxt;

/// The pattern with carets under `span`, like regex-syntax's own errors.
fn diagram(pattern: &str, span: &ast::Span) -> String {
    let line = pattern.lines().next().unwrap_or_default();
    let start = pattern[..span.start.offset.min(pattern.len())]
        .chars()
        .count();
    let width = pattern[span.start.offset.min(pattern.len())..span.end.offset.min(pattern.len())]
        .chars()
        .count()
        .max(1);
    format!("    {line}\n    {}{}", " ".repeat(start), "^".repeat(width))
}

const BACKREFERENCE: &str =
    "back-references are not supported: Rust's `regex` matches in linear time and has none";
const BACKREFERENCE_HELP: &str =
    "\nhelp: capture each part with its own name and compare them in the consumer";

/// The caret diagram of a regex-syntax error (its `Display` without the first and last lines).
fn regex_diagram(display: &str) -> String {
    display
        .lines()
        .skip_while(|l| l.starts_with("regex parse error"))
        .take_while(|l| !l.starts_with("error:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks a path regex; its named captures, in order.
pub fn check_path(lit: &LitStr, cx: &mut Ctxt) -> Option<Vec<String>> {
    check_regex(lit, "path", cx)
}

/// Checks the regex of a path or field pattern (`what`); its named captures, in order.
pub fn check_regex(lit: &LitStr, what: &str, cx: &mut Ctxt) -> Option<Vec<String>> {
    let pattern = lit.value();
    if let Some(at) = pattern.find("(?P=") {
        let end = pattern[at..]
            .find(')')
            .map_or(pattern.len(), |e| at + e + 1);
        let span = ast::Span::new(
            ast::Position::new(at, 1, at + 1),
            ast::Position::new(end, 1, end + 1),
        );
        cx.spanned(
            lit,
            format!(
                "{BACKREFERENCE}\n{}{BACKREFERENCE_HELP}",
                diagram(&pattern, &span)
            ),
        );
        return None;
    }
    let ast = match ast::parse::ParserBuilder::new().build().parse(&pattern) {
        Ok(ast) => ast,
        Err(e) => {
            let (headline, help) = match e.kind() {
                ast::ErrorKind::UnsupportedLookAround => (
                    "look-around is not supported: Rust's `regex` matches in linear time and has no \
                     `(?=...)`, `(?!...)`, `(?<=...)` or `(?<!...)`"
                        .to_owned(),
                    "\nhelp: match the text itself instead (a pattern only has to match the start \
                     of the path), or check the rest in the consumer",
                ),
                ast::ErrorKind::UnsupportedBackreference => (
                    BACKREFERENCE.to_owned(),
                    BACKREFERENCE_HELP,
                ),
                ast::ErrorKind::GroupNameDuplicate { .. } => (
                    format!("invalid {what} regex: duplicate capture group name"),
                    "\nhelp: give each capture its own name: each becomes one parameter of the consumer",
                ),
                kind => (format!("invalid {what} regex: {kind}"), ""),
            };
            cx.spanned(
                lit,
                format!("{headline}\n{}{help}", regex_diagram(&e.to_string())),
            );
            return None;
        }
    };
    if let Err(e) = regex_syntax::hir::translate::TranslatorBuilder::new()
        .build()
        .translate(&pattern, &ast)
    {
        cx.spanned(
            lit,
            format!(
                "invalid {what} regex: {}\n{}",
                e.kind(),
                regex_diagram(&e.to_string())
            ),
        );
        return None;
    }
    let mut names = Vec::new();
    let before = cx.len();
    walk(&ast, None, &pattern, lit, &mut names, cx);
    (cx.len() == before).then_some(names)
}

fn walk(
    ast: &Ast,
    repeated: Option<&ast::Repetition>,
    pattern: &str,
    lit: &LitStr,
    names: &mut Vec<String>,
    cx: &mut Ctxt,
) {
    match ast {
        Ast::Repetition(rep) => walk(&rep.ast, repeated.or(Some(rep)), pattern, lit, names, cx),
        Ast::Group(group) => {
            match &group.kind {
                ast::GroupKind::CaptureIndex(_) => {
                    let open = ast::Span::new(group.span.start, group.ast.span().start);
                    cx.spanned(
                        lit,
                        format!(
                            "unnamed capture group: only named groups are allowed in a path \
                             (captures are passed to the consumer by name)\n{}\n\
                             help: name it, `(?P<name>...)`, and give the consumer a parameter \
                             `name`; or make it non-capturing, `(?:...)`",
                            diagram(pattern, &open)
                        ),
                    );
                }
                ast::GroupKind::CaptureName { name, .. } => {
                    let n = &name.name;
                    match syn::parse_str::<Ident>(n) {
                        Ok(_) => {}
                        Err(_) => {
                            let why = if syn::parse_str::<Ident>(&format!("r#{n}")).is_ok() {
                                format!("`{n}` is a Rust keyword")
                            } else {
                                format!("`{n}` is not a Rust identifier")
                            };
                            let suggestion: String = n
                                .chars()
                                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                                .collect();
                            let suggestion = if suggestion == *n {
                                format!("{n}_")
                            } else {
                                suggestion
                            };
                            cx.spanned(
                                lit,
                                format!(
                                    "capture name {why}, so no consumer parameter can take it\n{}\n\
                                     help: use letters, digits and `_`, like `(?P<{suggestion}>...)`",
                                    diagram(pattern, &name.span)
                                ),
                            );
                        }
                    }
                    if let Some(rep) = repeated {
                        cx.spanned(
                            lit,
                            format!(
                                "capture `{n}` is inside a repetition, so it would hold only the \
                                 last repeat, or nothing\n{}\n\
                                 help: capture the whole repetition instead: `(?P<{n}>(?:...){})`",
                                diagram(pattern, &rep.span),
                                &pattern[rep.op.span.start.offset..rep.op.span.end.offset]
                            ),
                        );
                    }
                    names.push(n.clone());
                }
                ast::GroupKind::NonCapturing(_) => {}
            }
            walk(&group.ast, repeated, pattern, lit, names, cx);
        }
        Ast::Alternation(alt) => {
            for a in &alt.asts {
                walk(a, repeated, pattern, lit, names, cx);
            }
        }
        Ast::Concat(concat) => {
            for a in &concat.asts {
                walk(a, repeated, pattern, lit, names, cx);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    #[test]
    fn path_captures_in_order() {
        let mut cx = Ctxt::default();
        let names = check_path(&lit(r"^/(?P<a>\w+)/(?:x|y)/(?<b>\d+)/$"), &mut cx);
        assert_eq!(names.unwrap(), ["a", "b"]);
        assert_eq!(cx.len(), 0);
        for bad in [
            r"^/(\w+)/$",
            r"(?P<a>x)*",
            r"[",
            r"(?=x)",
            r"(\w)\1",
            r"(?P<a.b>x)",
        ] {
            let mut cx = Ctxt::default();
            assert!(check_path(&lit(bad), &mut cx).is_none(), "{bad}");
            assert!(cx.len() > 0, "{bad}");
        }
    }
}
