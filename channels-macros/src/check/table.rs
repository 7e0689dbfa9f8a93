//! The routing table: each entry's names, path and field patterns, the style of its paths, and
//! reachability (a route that an earlier one always shadows). Channels 2+ entries are `asgi`'s.

use channels_names::events::{HTTP_REQUEST, WEBSOCKET_PREFIX, WEBSOCKET_RECEIVE};
use proc_macro2::Span;
use syn::LitStr;

use super::asgi::{CheckedAsgi, asgi};
use super::lang::Lang;
use super::name_safe::not_name_captures;
use super::names::{check_event, is_custom_channel, levenshtein};
use super::regex::{check_path, check_regex};
use super::style::{check_v1, v1_regex};
use crate::ctxt::Ctxt;
use crate::exports::Exports;
use crate::parse::{Entry, EntryKind, Field, Table};

/// A table whose entries all passed their checks: what `expand` reads.
pub struct CheckedTable<'a> {
    /// The table as written.
    pub table: &'a Table,
    /// Per Channels 1.x entry: its named captures (path, then fields), in order.
    pub captures: Vec<Vec<String>>,
    /// Per Channels 1.x entry, for each capture: the pattern it is in and how to name that pattern.
    pub origins: Vec<Vec<(Span, String)>>,
    /// Per Channels 1.x entry: its captures that can hold characters a group name can't have, with one
    /// such character.
    pub not_names: Vec<Vec<(String, String)>>,
    /// The Channels 2+ entries.
    pub asgi: CheckedAsgi,
    /// Where the runtime is.
    pub exports: Exports,
}

/// Checks every entry of `table`.
pub fn table<'a>(table: &'a Table, cx: &mut Ctxt) -> CheckedTable<'a> {
    if table.entries.is_empty() && table.asgi.is_empty() && cx.len() == 0 {
        cx.error(
            Span::call_site(),
            "empty routing table: add a route, like `\"websocket.receive\" => ws_message`",
        );
    }
    if let (false, Some((_, v2))) = (table.entries.is_empty(), table.asgi.first()) {
        cx.error(
            *v2,
            "this table mixes Channels 1.x routes (`route`, `route_class`, `include`) with Channels \
             2+ entries (`re_path`, `path`, `URLRouter`, ...): the two match paths differently (1.x \
             the whole path, 2+ the path without its leading `/`)\nhelp: write the Channels 2+ entries in their own \
             `channel_routing! { pub fn websocket_urlpatterns; ... }` and include that table here: \
             `include(module::websocket_urlpatterns)`",
        );
    }
    let mut captures = Vec::with_capacity(table.entries.len());
    let mut origins = Vec::with_capacity(table.entries.len());
    let mut not_names = Vec::with_capacity(table.entries.len());
    for entry in &table.entries {
        not_names.push(
            entry
                .path
                .iter()
                .chain(entry.fields.iter().map(|f| &f.pattern))
                .flat_map(|p| not_name_captures(&p.value()))
                .collect(),
        );
        check_entry_names(entry, cx);
        let mut all = match &entry.path {
            Some(path) => {
                let names = check_path(path, cx);
                if names.is_some() {
                    let what = match entry.kind {
                        EntryKind::Include { .. } => "include prefix",
                        _ => "path pattern",
                    };
                    check_v1(path, what, cx);
                }
                names.unwrap_or_default()
            }
            None => Vec::new(),
        };
        let mut from: Vec<(Span, String)> = entry
            .path
            .iter()
            .flat_map(|p| all.iter().map(|_| (p.span(), "the path".to_owned())))
            .collect();
        for field in &entry.fields {
            check_field(entry, field, cx);
            for name in check_regex(&field.pattern, "field", cx).unwrap_or_default() {
                if all.contains(&name) {
                    cx.spanned(
                        &field.pattern,
                        format!(
                            "capture `{name}` appears twice in this route (its path and field \
                             patterns give one set of captures)\nhelp: rename one of them"
                        ),
                    );
                } else {
                    all.push(name);
                    from.push((
                        field.pattern.span(),
                        format!("field `{}`'s pattern", field.name),
                    ));
                }
            }
        }
        captures.push(all);
        origins.push(from);
    }
    check_reachability(table, &captures, cx);
    CheckedTable {
        table,
        captures,
        origins,
        not_names,
        asgi: asgi(table, cx),
        exports: Exports::new(table.krate.clone()),
    }
}

fn check_entry_names(entry: &Entry, cx: &mut Ctxt) {
    match &entry.kind {
        EntryKind::Route { event, .. } => {
            check_event(event, cx);
            if let Some(path) = &entry.path
                && is_custom_channel(event)
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
        EntryKind::Class {
            channel: Some(channel),
            ..
        } => {
            check_event(channel, cx);
            if !is_custom_channel(channel) {
                cx.spanned(
                    channel,
                    format!(
                        "`channel = ...` names a worker channel, and \"{}\" is one of Channels' own \
                         events\nhelp: for the WebSocket events of a path, write `route_class(Consumer, \
                         path = r\"...\")`",
                        channel.value()
                    ),
                );
            }
            if let Some(path) = &entry.path {
                cx.spanned(
                    path,
                    "a worker channel's messages have no path\nhelp: remove `path = ...`, or route \
                     the WebSocket events of a path in a separate `route_class(Consumer, path = r\"...\")`",
                );
            }
        }
        EntryKind::Class { .. } | EntryKind::Include { .. } | EntryKind::Demultiplexer { .. } => {}
    }
}

/// The string fields a built-in event's message has, besides its path.
fn event_fields(event: &str) -> Option<&'static [&'static str]> {
    if event == WEBSOCKET_RECEIVE {
        Some(&["text", "query_string"])
    } else if event.starts_with(WEBSOCKET_PREFIX) {
        Some(&["query_string"])
    } else if event == HTTP_REQUEST {
        Some(&["method", "query_string"])
    } else {
        None
    }
}

/// A field pattern must name a text field the event's messages have (any field, on a custom channel).
fn check_field(entry: &Entry, field: &Field, cx: &mut Ctxt) {
    let EntryKind::Route { event, .. } = &entry.kind else {
        return;
    };
    let event = event.value();
    let Some(fields) = event_fields(&event) else {
        return;
    };
    let name = field.name.to_string();
    if fields.contains(&name.as_str()) {
        return;
    }
    let candidates = std::iter::once("path").chain(fields.iter().copied());
    let hint = match candidates.map(|c| (levenshtein(c, &name), c)).min() {
        Some((d, c)) if d <= 2 => format!(": did you mean `{c}`?"),
        _ => String::new(),
    };
    let list: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    cx.spanned(
        &field.name,
        format!(
            "\"{event}\" messages have no text field `{name}`{hint}\nhelp: a route matches `path = \
             r\"...\"` and the text fields of its event's messages ({}); any field of a custom \
             channel's messages",
            list.join(", ")
        ),
    );
}

/// Whether `name` is a custom channel (its messages have no path).
fn is_custom_channel_name(name: &str) -> bool {
    channels_names::is_custom_channel(name)
}

/// Which events an entry takes, for shadowing.
#[derive(PartialEq)]
enum Takes {
    One(String),
    AllWebSocket,
}

impl Takes {
    fn covers(&self, other: &Takes) -> bool {
        match (self, other) {
            (Takes::AllWebSocket, Takes::AllWebSocket) => true,
            (Takes::AllWebSocket, Takes::One(e)) => e.starts_with(WEBSOCKET_PREFIX),
            (Takes::One(a), Takes::One(b)) => a == b,
            (Takes::One(..), Takes::AllWebSocket) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Takes::One(e) => format!("\"{e}\""),
            Takes::AllWebSocket => "every `websocket.*` event".into(),
        }
    }
}

fn takes(entry: &Entry) -> Option<Takes> {
    match &entry.kind {
        EntryKind::Route { event, .. } => Some(Takes::One(event.value())),
        EntryKind::Class {
            channel: Some(channel),
            ..
        } => Some(Takes::One(channel.value())),
        EntryKind::Class { .. } | EntryKind::Demultiplexer { .. } => Some(Takes::AllWebSocket),
        EntryKind::Include { .. } => None,
    }
}

/// How the entry reads, to quote it in errors.
pub fn entry_text(entry: &Entry) -> String {
    let mut kwargs = entry
        .path
        .as_ref()
        .map(|p| format!(", path = r\"{}\"", p.value()))
        .unwrap_or_default();
    for field in &entry.fields {
        kwargs.push_str(&format!(
            ", {} = r\"{}\"",
            field.name,
            field.pattern.value()
        ));
    }
    match &entry.kind {
        EntryKind::Route { event, consumer } => {
            format!("\"{}\"{kwargs} => {}", event.value(), path_text(consumer))
        }
        EntryKind::Class { ty, channel } => {
            let channel = channel
                .as_ref()
                .map(|c| format!(", channel = \"{}\"", c.value()))
                .unwrap_or_default();
            format!("route_class({}{kwargs}{channel})", path_text(ty))
        }
        EntryKind::Include { target } => format!("include({}{kwargs})", path_text(target)),
        EntryKind::Demultiplexer { streams } => {
            let streams: Vec<String> = streams
                .iter()
                .map(|(s, ty)| format!("\"{}\": {}", s.value(), path_text(ty)))
                .collect();
            format!(
                "route_demultiplexer(consumers = {{{}}}{kwargs})",
                streams.join(", ")
            )
        }
    }
}

/// A path as written: `consumers::ws_message`.
pub fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

/// Whether the field patterns of `earlier` are among `later`'s (same field, same regex): then every
/// message `later` takes passes `earlier`'s fields too.
fn fields_cover(earlier: &Entry, later: &Entry) -> bool {
    earlier.fields.iter().all(|e| {
        later
            .fields
            .iter()
            .any(|l| l.name == e.name && l.pattern.value() == e.pattern.value())
    })
}

/// How `earlier`'s path covers `later`'s: `None` if it doesn't always, else whether the paths are the
/// same language (`true`) or `later`'s is narrower (`false`).
fn path_covers(earlier: Option<&LitStr>, later: Option<&LitStr>) -> Option<bool> {
    let lang = |p: &LitStr| Lang::new(&v1_regex(&p.value()));
    match (earlier, later) {
        (None, None) => Some(true),
        (None, Some(_)) => Some(false),
        (Some(_), None) => None,
        (Some(a), Some(b)) if a.value() == b.value() => Some(true),
        (Some(a), Some(b)) => {
            let (la, lb) = (lang(a)?, lang(b)?);
            if lb.shadowed_by(&la)? {
                Some(la.shadowed_by(&lb) == Some(true))
            } else {
                None
            }
        }
    }
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
            // A route whose captures may fail to parse lets later routes run; only an earlier route
            // without captures surely wins.
            if !earlier_takes.covers(&later_takes)
                || !captures[j].is_empty()
                || !fields_cover(earlier, later)
            {
                continue;
            }
            let Some(same_path) = path_covers(earlier.path.as_ref(), later.path.as_ref()) else {
                continue;
            };
            let same = same_path && earlier.fields.len() == later.fields.len();
            let custom = matches!(&later_takes, Takes::One(e) if is_custom_channel_name(e));
            let subject = match (&earlier_takes, &later_takes) {
                (Takes::AllWebSocket, _) => earlier_takes.describe(),
                (_, Takes::One(e)) if custom => format!("every \"{e}\" message"),
                _ => later_takes.describe(),
            };
            let condition = match (&earlier.path, earlier.fields.is_empty()) {
                _ if custom && earlier.fields.is_empty() => "",
                _ if custom => " with these field values",
                (None, true) => " on every path",
                (None, false) => " on every path, with these field values",
                (Some(_), _) if same => " on the same paths",
                (Some(_), _) => " on every path this route matches",
            };
            let apart = if custom {
                "different field patterns"
            } else {
                "different paths, or field patterns"
            };
            let fix = if same {
                format!(
                    "remove one of them, or tell them apart: give them {apart} (`command = \
                     r\"^leave$\"`) that say which message goes where"
                )
            } else {
                "move this route above it: it is the more specific one, and the first matching \
                 route wins, as in Channels"
                    .to_owned()
            };
            cx.push(syn::Error::new_spanned(
                later.spanned(),
                format!(
                    "this route can never run: `{}` above takes {subject}{condition} first\nhelp: \
                     {fix}",
                    entry_text(earlier),
                ),
            ));
            break;
        }
    }
}
