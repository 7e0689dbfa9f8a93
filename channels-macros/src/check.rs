//! Phase 2: checks, and the validated model that code generation reads.
//!
//! - path regexes, with `regex-syntax` (the parser the runtime's `regex` uses): syntax, look-around and
//!   back-references, unnamed groups, capture names, captures under a repetition;
//! - event and channel names (Channels' rule, and typos of the built-in events);
//! - table reachability (a route that an earlier one always shadows);
//! - consumer signatures and declared group names.
//!
//! Captures against parameters are checked by the generated code (see `expand.rs`): only the compiler
//! sees both the table and the consumers.

use proc_macro2::Span;
use regex_syntax::ast::{self, Ast};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, LitStr, Pat, Type};

use crate::parse::{ConsumerArgs, Ctxt, Entry, EntryKind, Table};

/// Channels' built-in events; any other name is a custom channel.
pub const BUILTIN_EVENTS: [&str; 4] = [
    "websocket.connect",
    "websocket.receive",
    "websocket.disconnect",
    "http.request",
];

/// Channels' `MAX_NAME_LENGTH`: names must be shorter.
const MAX_NAME_LENGTH: usize = 100;

// ---------------------------------------------------------------------------------------------------
// The table

/// A table whose entries all passed their checks.
pub struct CheckedTable<'a> {
    pub table: &'a Table,
    /// Per entry: its named captures, in order.
    pub captures: Vec<Vec<String>>,
}

pub fn table<'a>(table: &'a Table, cx: &mut Ctxt) -> CheckedTable<'a> {
    if table.entries.is_empty() && cx.len() == 0 {
        cx.error(
            Span::call_site(),
            "empty routing table: add a route, like `\"websocket.receive\" => ws_message`",
        );
    }
    let mut captures = Vec::with_capacity(table.entries.len());
    for entry in &table.entries {
        match &entry.kind {
            EntryKind::Route { event, .. } => {
                check_event(event, cx);
                if let Some(path) = &entry.path
                    && is_custom(&event.value())
                {
                    cx.spanned(
                        path,
                        format!(
                            "a custom channel's messages have no path, so `path = ...` would never match \
                             \"{}\"\nhelp: remove `path = ...`; only `websocket.*` and `http.request` \
                             events come with a path",
                            event.value()
                        ),
                    );
                }
            }
            EntryKind::Class { .. } | EntryKind::Include { .. } => {}
        }
        captures.push(match &entry.path {
            Some(path) => check_path(path, cx).unwrap_or_default(),
            None => Vec::new(),
        });
    }
    check_reachability(table, &captures, cx);
    CheckedTable { table, captures }
}

fn is_custom(event: &str) -> bool {
    !event.starts_with("websocket.") && !event.starts_with("http.")
}

fn check_event(lit: &LitStr, cx: &mut Ctxt) {
    let name = lit.value();
    if BUILTIN_EVENTS.contains(&name.as_str()) {
        return;
    }
    let nearest = BUILTIN_EVENTS
        .iter()
        .map(|b| (levenshtein(b, &name), *b))
        .min();
    if !is_custom(&name) {
        let hint = match nearest {
            Some((d, b)) if d <= 4 => format!("did you mean \"{b}\"?"),
            _ => String::new(),
        };
        cx.spanned(
            lit,
            format!(
                "unknown event \"{name}\": {hint}\nhelp: the events are {}; any other name that \
                 doesn't start with `websocket.` or `http.` is a custom channel",
                BUILTIN_EVENTS.map(|e| format!("\"{e}\"")).join(", ")
            )
            .replace(": \n", "\n"),
        );
        return;
    }
    if let Some((d, b)) = nearest
        && d <= 2
    {
        cx.spanned(
            lit,
            format!(
                "unknown event \"{name}\": did you mean \"{b}\"?\nhelp: a custom channel this close \
                 to a built-in event's name is refused as a likely typo; choose another name"
            ),
        );
        return;
    }
    if let Err(reason) = check_name(&name) {
        cx.spanned(
            lit,
            format!(
                "invalid channel name \"{}\": {reason}\nhelp: Channels' names use only ASCII \
                 letters, digits, `-`, `_` and `.`, and are shorter than 100 characters",
                shorten(&name)
            ),
        );
    }
}

/// Channels' rule for channel and group names; the reason when broken.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        let what = match c {
            ' ' => "a space".to_owned(),
            c => format!("`{c}`"),
        };
        let ascii = if c.is_ascii() {
            ""
        } else {
            ", which is not ASCII"
        };
        return Err(format!("it has {what} at byte {i}{ascii}"));
    }
    let len = name.len();
    if len >= MAX_NAME_LENGTH {
        return Err(format!(
            "it is {len} characters long; names must be shorter than {MAX_NAME_LENGTH}"
        ));
    }
    Ok(())
}

fn shorten(name: &str) -> String {
    if name.chars().count() > 40 {
        format!("{}...", name.chars().take(37).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// Edit distance, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------------
// Path regexes

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
                    "invalid path regex: duplicate capture group name".to_owned(),
                    "\nhelp: give each capture its own name: each becomes one parameter of the consumer",
                ),
                kind => (format!("invalid path regex: {kind}"), ""),
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
                "invalid path regex: {}\n{}",
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

// ---------------------------------------------------------------------------------------------------
// Reachability

/// Which events an entry takes, for shadowing.
#[derive(PartialEq)]
enum Takes<'a> {
    One(String, &'a LitStr),
    AllWebSocket,
}

impl Takes<'_> {
    fn covers(&self, other: &Takes) -> bool {
        match (self, other) {
            (Takes::AllWebSocket, Takes::AllWebSocket) => true,
            (Takes::AllWebSocket, Takes::One(e, _)) => e.starts_with("websocket."),
            (Takes::One(a, _), Takes::One(b, _)) => a == b,
            (Takes::One(..), Takes::AllWebSocket) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Takes::One(e, _) => format!("\"{e}\""),
            Takes::AllWebSocket => "every `websocket.*` event".into(),
        }
    }
}

fn takes(entry: &Entry) -> Option<Takes<'_>> {
    match &entry.kind {
        EntryKind::Route { event, .. } => Some(Takes::One(event.value(), event)),
        EntryKind::Class { .. } => Some(Takes::AllWebSocket),
        EntryKind::Include { .. } => None,
    }
}

/// How the entry reads, to quote it in errors.
pub fn entry_text(entry: &Entry) -> String {
    let path = entry
        .path
        .as_ref()
        .map(|p| format!(", path = r\"{}\"", p.value()))
        .unwrap_or_default();
    match &entry.kind {
        EntryKind::Route { event, consumer } => {
            format!("\"{}\"{path} => {}", event.value(), path_text(consumer))
        }
        EntryKind::Class { ty } => format!("route_class({}{path})", path_text(ty)),
        EntryKind::Include { target } => format!("include({}{path})", path_text(target)),
    }
}

pub fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

fn check_reachability(table: &Table, captures: &[Vec<String>], cx: &mut Ctxt) {
    for (i, later) in table.entries.iter().enumerate() {
        let Some(later_takes) = takes(later) else {
            continue;
        };
        for (j, earlier) in table.entries[..i].iter().enumerate() {
            let Some(earlier_takes) = takes(earlier) else {
                continue;
            };
            if !earlier_takes.covers(&later_takes) {
                continue;
            }
            // A route whose captures may fail to parse lets later routes run; only an earlier route
            // without captures surely wins.
            let shadow = match (&earlier.path, &later.path) {
                (None, _) => Some("on every path"),
                (Some(a), Some(b)) if a.value() == b.value() && captures[j].is_empty() => {
                    Some("on the same path")
                }
                _ => None,
            };
            let Some(how) = shadow else { continue };
            let fix = if earlier.path.is_none() {
                "move this route above it: the first matching route wins, as in Channels"
            } else {
                "remove one of them, or give them different paths"
            };
            cx.push(syn::Error::new_spanned(
                later.spanned(),
                format!(
                    "this route can never run: `{}` above takes {} {how} first\nhelp: {fix}",
                    entry_text(earlier),
                    if matches!(earlier_takes, Takes::AllWebSocket) {
                        earlier_takes.describe()
                    } else {
                        later_takes.describe()
                    },
                ),
            ));
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Group names

/// A declared group: a literal name, possibly with `{capture}` placeholders.
pub struct GroupTemplate {
    pub lit: LitStr,
    pub placeholders: Vec<String>,
}

/// Checks a group name literal; with `templates`, `{capture}` placeholders are allowed.
pub fn group_name(lit: &LitStr, templates: bool) -> Result<GroupTemplate, syn::Error> {
    let value = lit.value();
    let mut placeholders = Vec::new();
    let mut fixed = String::new();
    let mut rest = value.as_str();
    let bad = |msg: String| syn::Error::new_spanned(lit, msg);
    while let Some(open) = rest.find(['{', '}']) {
        fixed.push_str(&rest[..open]);
        if rest[open..].starts_with('}') {
            return Err(bad(format!(
                "unmatched `}}` in group name \"{value}\"\nhelp: placeholders read `{{capture}}`; \
                 group names can't contain braces otherwise"
            )));
        }
        if !templates {
            return Err(bad(format!(
                "invalid group name \"{value}\": `{{` is not allowed in a group name\nhelp: for \
                 a name built at runtime use `Group::new(format!(...))?`; placeholders like \
                 `{{room}}` work in `#[consumer(groups = [...])]`"
            )));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(bad(format!(
                "unclosed `{{` in group template \"{value}\"\nhelp: close the placeholder, like \
                 \"room.{{room}}\", where `room` is a capture of the route's path"
            )));
        };
        let name = &after[..close];
        if syn::parse_str::<Ident>(name).is_err() {
            return Err(bad(format!(
                "`{{{name}}}` in group template \"{value}\" is not a capture name\nhelp: write \
                 `{{capture}}` with the name of a capture of the route's path, like \"room.{{room}}\""
            )));
        }
        placeholders.push(name.to_owned());
        fixed.push('x');
        rest = &after[close + 1..];
    }
    fixed.push_str(rest);
    if let Err(reason) = check_name(&fixed) {
        let reason = if placeholders.is_empty() {
            reason
        } else {
            // Byte positions refer to the template with placeholders replaced; say it plainly.
            reason
                .split(" at byte")
                .next()
                .unwrap_or(&reason)
                .to_owned()
        };
        let fixed_len = fixed.len() - placeholders.len();
        let reason = if !placeholders.is_empty() && fixed.len() >= MAX_NAME_LENGTH {
            format!(
                "without its placeholders it is {fixed_len} characters long already; names must be \
                 shorter than {MAX_NAME_LENGTH}"
            )
        } else {
            reason
        };
        return Err(bad(format!(
            "invalid group name \"{}\": {reason}\nhelp: Channels' group names use only \
             ASCII letters, digits, `-`, `_` and `.`, and are shorter than 100 characters",
            shorten(&value)
        )));
    }
    Ok(GroupTemplate {
        lit: lit.clone(),
        placeholders,
    })
}

// ---------------------------------------------------------------------------------------------------
// Consumers

/// A parameter taken from the path, or an extractor.
pub struct Param {
    pub ident: Ident,
    pub ty: Type,
    pub kind: ParamKind,
}

#[derive(PartialEq, Eq)]
pub enum ParamKind {
    Capture,
    Session,
}

/// How a consumer takes the message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MessageArg {
    ByValue,
    ByRef,
}

/// A checked `#[consumer] fn`.
pub struct FnModel {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub is_async: bool,
    pub message: MessageArg,
    /// The message parameter's type, where a type mismatch is reported.
    pub message_span: Span,
    pub params: Vec<Param>,
    pub ret_span: Span,
    pub groups: Vec<GroupTemplate>,
    /// Sends are held until the consumer returns `Ok`.
    pub atomic: bool,
}

fn last_segment(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// `Message` or `&Message` (by name: the type system checks the rest).
fn message_arg(ty: &Type) -> Option<MessageArg> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => {
            (last_segment(&r.elem)? == "Message").then_some(MessageArg::ByRef)
        }
        _ => (last_segment(ty)? == "Message").then_some(MessageArg::ByValue),
    }
}

fn is_session(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|i| i == "Session")
}

pub fn groups(args: &ConsumerArgs, cx: &mut Ctxt) -> Vec<GroupTemplate> {
    let mut out: Vec<GroupTemplate> = Vec::new();
    for lit in &args.groups {
        match group_name(lit, true) {
            Ok(g) => {
                if out.iter().any(|o| o.lit.value() == g.lit.value()) {
                    cx.spanned(lit, format!("group \"{}\" is declared twice", lit.value()));
                } else {
                    out.push(g);
                }
            }
            Err(e) => cx.push(e),
        }
    }
    out
}

fn check_not_generic(generics: &syn::Generics, what: &str, cx: &mut Ctxt) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        let span = if generics.params.is_empty() {
            generics.where_clause.span()
        } else {
            generics.params.span()
        };
        cx.error(
            span,
            format!(
                "{what} can't be generic: the router calls it with one concrete signature\n\
                 help: remove the generic parameters; take `String` (or another `FromStr` type) \
                 for path captures"
            ),
        );
    }
}

/// Parameters after the message: captures by name, then extractors.
fn tail_params<'a>(
    inputs: impl Iterator<Item = &'a FnArg>,
    consumer: &str,
    allow_session: bool,
    first_is_message: bool,
    cx: &mut Ctxt,
) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    for arg in inputs {
        let FnArg::Typed(pt) = arg else { continue };
        let ident = match &*pt.pat {
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.clone(),
            other => {
                cx.spanned(
                    other,
                    format!(
                        "`{consumer}`'s path parameters must be plain names: the name says which \
                         capture fills it\nhelp: write `name: Type` where `name` is a capture of the \
                         route's path, like `room: String`"
                    ),
                );
                continue;
            }
        };
        if message_arg(&pt.ty).is_some() {
            if !first_is_message {
                // Reported as "the `Message` must be the first parameter".
                continue;
            }
            cx.spanned(
                &pt.ty,
                format!("`{consumer}` takes the message twice: only its first parameter is the `Message`"),
            );
            continue;
        }
        let kind = if is_session(&pt.ty) {
            if !allow_session {
                cx.spanned(
                    &pt.ty,
                    "`new` can't take the `Session`: it has no message yet\nhelp: use \
                     `message.channel_session()` in `connect`",
                );
                continue;
            }
            ParamKind::Session
        } else {
            if let Some(session) = params.iter().find(|p| p.kind == ParamKind::Session) {
                cx.spanned(
                    &pt.pat,
                    format!(
                        "path parameter `{ident}` comes after the extractor `{}`: put path captures \
                         first, then extractors like `Session`",
                        session.ident
                    ),
                );
            }
            ParamKind::Capture
        };
        if params.iter().any(|p| p.ident == ident) {
            // rustc reports duplicate parameter names itself.
            continue;
        }
        params.push(Param {
            ident,
            ty: (*pt.ty).clone(),
            kind,
        });
    }
    params
}

pub fn consumer_fn(item: &syn::ItemFn, args: &ConsumerArgs, cx: &mut Ctxt) -> FnModel {
    let sig = &item.sig;
    let name = sig.ident.to_string();
    if let (Some(atomic), None) = (&args.atomic, &sig.asyncness) {
        cx.spanned(
            atomic,
            format!(
                "`atomic` holds an async consumer's sends until it returns; `{name}` is a sync `fn`, whose sends always leave at once\n\
                 help: make it `async fn`, or remove `atomic`"
            ),
        );
    }
    check_not_generic(&sig.generics, &format!("consumer `{name}`"), cx);
    if let Some(unsafety) = &sig.unsafety {
        cx.spanned(unsafety, "a consumer can't be `unsafe fn`");
    }
    if let Some(abi) = &sig.abi {
        cx.spanned(abi, "a consumer can't have an `extern` ABI");
    }
    if let Some(variadic) = &sig.variadic {
        cx.spanned(variadic, "a consumer can't be variadic");
    }
    if let Some(constness) = &sig.constness {
        cx.spanned(constness, "a consumer can't be `const fn`");
    }
    let mut inputs = sig.inputs.iter().peekable();
    if let Some(FnArg::Receiver(recv)) = inputs.peek() {
        cx.spanned(
            recv,
            format!(
                "`{name}` takes `self`, but a function consumer is a free function\nhelp: remove \
                 `self`; for a consumer with state, put `#[consumer]` on the `impl` block and \
                 route it with `route_class(Type, ...)`"
            ),
        );
        inputs.next();
    }
    let message_span = match inputs.peek() {
        Some(FnArg::Typed(pt)) => pt.ty.span(),
        _ => sig.ident.span(),
    };
    let message = match inputs.peek() {
        Some(FnArg::Typed(pt)) => {
            match message_arg(&pt.ty) {
                Some(m) => {
                    inputs.next();
                    m
                }
                None if sig
                    .inputs
                    .iter()
                    .skip(1)
                    .any(|a| matches!(a, FnArg::Typed(t) if message_arg(&t.ty).is_some())) =>
                {
                    let later = sig.inputs.iter().skip(1).find_map(|a| match a {
                        FnArg::Typed(t) if message_arg(&t.ty).is_some() => Some(t),
                        _ => None,
                    });
                    if let Some(later) = later {
                        cx.spanned(
                        later,
                        format!(
                            "the `Message` must be the first parameter of consumer `{name}`\nhelp: \
                             move `{}` first; path captures and extractors come after it",
                            quote::ToTokens::to_token_stream(later).to_string().replace(" :", ":")
                        ),
                    );
                    }
                    MessageArg::ByValue
                }
                None => {
                    cx.spanned(
                        &pt.ty,
                        format!(
                            "the first parameter of consumer `{name}` must be the `Message`\nhelp: \
                         write `fn {name}(message: Message, ...)` (or `message: &Message`); path \
                         captures and extractors come after it"
                        ),
                    );
                    MessageArg::ByValue
                }
            }
        }
        _ => {
            cx.error(
                sig.paren_token.span.join(),
                format!(
                    "consumer `{name}` takes no `Message`\nhelp: write `fn {name}(message: Message)`"
                ),
            );
            MessageArg::ByValue
        }
    };
    let first_is_message = matches!(
        sig.inputs.iter().find(|a| matches!(a, FnArg::Typed(_))),
        Some(FnArg::Typed(t)) if message_arg(&t.ty).is_some()
    );
    let params = tail_params(inputs, &name, true, first_is_message, cx);
    let ret_span = match &sig.output {
        syn::ReturnType::Default => sig.ident.span(),
        syn::ReturnType::Type(_, ty) => {
            if let Type::ImplTrait(_) = &**ty {
                cx.spanned(
                    ty,
                    "a consumer must return `()` or `Result<(), E>` where `E: Display`, not \
                     `impl Trait`",
                );
            }
            ty.span()
        }
    };
    FnModel {
        ident: sig.ident.clone(),
        vis: item.vis.clone(),
        is_async: sig.asyncness.is_some(),
        message,
        message_span,
        params,
        ret_span,
        groups: groups(args, cx),
        atomic: args.atomic.is_some(),
    }
}

/// Which message a class-based consumer's method handles.
#[derive(Clone, PartialEq, Eq)]
pub enum HandlerKind {
    Connect,
    Receive,
    Disconnect,
    /// A typed event: `chat.message` -> `chat_message`.
    Event,
}

pub struct Handler {
    pub ident: Ident,
    pub kind: HandlerKind,
    pub is_async: bool,
    pub message: Option<MessageArg>,
    /// The typed payload parameter of an event handler.
    pub event: Option<Type>,
    pub ret_span: Span,
}

/// A checked `#[consumer] impl`.
pub struct ClassModel {
    pub self_ty: Type,
    pub name: String,
    /// `fn new(captures...) -> Self`; `None`: `Default`.
    pub new: Option<Vec<Param>>,
    pub handlers: Vec<Handler>,
    pub groups: Vec<GroupTemplate>,
}

pub fn consumer_impl(item: &syn::ItemImpl, args: &ConsumerArgs, cx: &mut Ctxt) -> ClassModel {
    if let Some(atomic) = &args.atomic {
        cx.spanned(
            atomic,
            "`atomic` applies to function consumers; a class-based consumer's sends leave at once\n\
             help: remove `atomic`, or route a `#[consumer(atomic)] async fn` instead",
        );
    }
    let name = match &*item.self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string()),
        other => {
            cx.spanned(
                other,
                "a class-based consumer is a named type: `#[consumer] impl ChatConsumer { ... }`",
            );
            String::new()
        }
    };
    if let Some((_, path, _)) = &item.trait_ {
        cx.spanned(
            path,
            "`#[consumer]` goes on the type's own `impl` block (`impl ChatConsumer { ... }`), not on \
             a trait impl",
        );
    }
    check_not_generic(
        &item.generics,
        &format!("class-based consumer `{name}`"),
        cx,
    );
    let mut new = None;
    let mut handlers: Vec<Handler> = Vec::new();
    for impl_item in &item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let sig = &method.sig;
        let ident = &sig.ident;
        let method_name = ident.to_string();
        check_not_generic(&sig.generics, &format!("handler `{method_name}`"), cx);
        if method_name == "new" {
            if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
                cx.spanned(
                    r,
                    "`new` creates the instance for a connection; it takes no `self`",
                );
            }
            if sig.asyncness.is_some() {
                cx.spanned(
                    sig.asyncness,
                    "`new` must not be `async`: it runs when a connection's path is matched",
                );
            }
            new = Some(tail_params(
                sig.inputs.iter().filter(|a| matches!(a, FnArg::Typed(_))),
                &format!("{name}::new"),
                false,
                true,
                cx,
            ));
            continue;
        }
        if method_name.starts_with('_') {
            cx.spanned(
                ident,
                format!(
                    "handler names can't start with `_`: Channels refuses to dispatch an event \
                     type to `{method_name}`\nhelp: rename it, or move helper methods to an `impl \
                     {name}` block without `#[consumer]`"
                ),
            );
            continue;
        }
        let kind = match method_name.as_str() {
            "connect" => HandlerKind::Connect,
            "receive" => HandlerKind::Receive,
            "disconnect" => HandlerKind::Disconnect,
            _ => HandlerKind::Event,
        };
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() => {}
            other => {
                let span = other.map_or(sig.paren_token.span.join(), Spanned::span);
                cx.error(
                    span,
                    format!(
                        "handler `{method_name}` must take `&mut self`: one instance serves every \
                         event of a connection\nhelp: write `fn {method_name}(&mut self, ...)`, or \
                         move helpers to an `impl {name}` block without `#[consumer]`"
                    ),
                );
                continue;
            }
        }
        let mut message = None;
        let mut event = None;
        for arg in inputs {
            let FnArg::Typed(pt) = arg else { continue };
            if let Some(m) = message_arg(&pt.ty)
                && message.is_none()
                && event.is_none()
            {
                message = Some(m);
            } else if kind == HandlerKind::Event && event.is_none() {
                event = Some((*pt.ty).clone());
            } else {
                let expected = if kind == HandlerKind::Event {
                    format!(
                        "`(&mut self, message: Message, event: T)`, where `T: Deserialize` is the \
                         payload of a `\"type\": \"{}\"` event",
                        method_name.replace('_', ".")
                    )
                } else {
                    "`(&mut self, message: Message)`".to_owned()
                };
                cx.spanned(
                    pt,
                    format!("unexpected parameter: `{method_name}` takes {expected}"),
                );
            }
        }
        let ret_span = match &sig.output {
            syn::ReturnType::Default => ident.span(),
            syn::ReturnType::Type(_, ty) => ty.span(),
        };
        handlers.push(Handler {
            ident: ident.clone(),
            kind,
            is_async: sig.asyncness.is_some(),
            message,
            event,
            ret_span,
        });
    }
    ClassModel {
        self_ty: (*item.self_ty).clone(),
        name,
        new,
        handlers,
        groups: groups(args, cx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("websocket.receive", "websocket.recieve"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn names_follow_channels_rule() {
        assert!(check_name("thumbnails.generate").is_ok());
        assert!(check_name("a b").unwrap_err().contains("a space at byte 1"));
        assert!(check_name("é").unwrap_err().contains("not ASCII"));
        assert!(check_name(&"x".repeat(99)).is_ok());
        assert!(check_name(&"x".repeat(100)).is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn group_templates() {
        let g = group_name(&lit("room.{room}.{user}"), true).unwrap();
        assert_eq!(g.placeholders, ["room", "user"]);
        assert!(group_name(&lit("room.{room}"), false).is_err());
        assert!(group_name(&lit("room.{room"), true).is_err());
        assert!(group_name(&lit("room}"), true).is_err());
        assert!(group_name(&lit("room.{a-b}"), true).is_err());
        assert!(group_name(&lit("chat"), false).is_ok());
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
