//! Channels 2+ entries: the table's shape (one application, or one `URLRouter` list), `ProtocolTypeRouter`
//! keys and what each routes to, `re_path`/`path` patterns (with Django's converters), the style of their
//! paths, routes shadowed in a list, and `ChannelNameRouter` channel names.

use channels_names::route::{Converter, route_to_regex};
use syn::LitStr;

use super::lang::Lang;
use super::name_safe::not_name_captures;
use super::names::{check_event, is_custom_channel};
use super::regex::check_path;
use super::style::{check_v2, v2_regex};
use crate::ctxt::Ctxt;
use crate::parse::{
    App, AsgiEntry, ChannelEntry, Router, Table, UrlEntry, UrlKind, UrlList, UrlSource, UrlTarget,
};

/// What one `re_path`/`path` entry captures.
pub struct UrlInfo {
    /// Its own named captures, in order.
    pub captures: Vec<String>,
    /// Those taken with Django's `int` converter.
    pub ints: Vec<String>,
    /// Those that can hold characters a group name can't have, with one such character.
    pub not_names: Vec<(String, String)>,
}

/// The checked Channels 2+ entries: for each `re_path`/`path` entry, in the order `expand` walks them
/// (each entry, then the entries of the router it nests), what it captures.
#[derive(Default)]
pub struct CheckedAsgi {
    /// One per URL entry, depth first.
    pub urls: Vec<UrlInfo>,
}

/// A `ProtocolTypeRouter` key: what it routes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    WebSocket,
    Http,
    Channel,
}

/// Checks the Channels 2+ entries of `table`.
pub fn asgi(table: &Table, cx: &mut Ctxt) -> CheckedAsgi {
    let mut checked = CheckedAsgi::default();
    let routers = table
        .asgi
        .iter()
        .filter(|(e, _)| matches!(e, AsgiEntry::Router(_)))
        .count();
    if routers > 0 && table.asgi.len() > 1 {
        let (_, second) = &table.asgi[1];
        cx.error(
            *second,
            "a table is one application: one `ProtocolTypeRouter(...)`, `URLRouter(...)` or \
             `ChannelNameRouter(...)`, or a list of `re_path(...)`/`path(...)` entries\nhelp: put this \
             in the application above (a `ProtocolTypeRouter` key, or an entry of its `URLRouter`), or \
             in a table of its own",
        );
    }
    let list: Vec<&UrlEntry> = table
        .asgi
        .iter()
        .filter_map(|(e, _)| match e {
            AsgiEntry::Url(u) => Some(u),
            AsgiEntry::Router(_) => None,
        })
        .collect();
    url_entries(&list, &[], cx, &mut checked);
    for (entry, _) in &table.asgi {
        if let AsgiEntry::Router(router) = entry {
            check_router(router, cx, &mut checked);
        }
    }
    checked
}

fn check_router(router: &Router, cx: &mut Ctxt, out: &mut CheckedAsgi) {
    match router {
        Router::Protocol(keys) => {
            let mut seen: Vec<String> = Vec::new();
            for pk in keys {
                let name = pk.key.value();
                if seen.contains(&name) {
                    cx.spanned(&pk.key, format!("\"{name}\" is given twice"));
                }
                seen.push(name.clone());
                let key = match name.as_str() {
                    "websocket" => Key::WebSocket,
                    "http" => Key::Http,
                    "channel" => Key::Channel,
                    _ => {
                        cx.spanned(
                            &pk.key,
                            format!(
                                "unknown protocol \"{name}\": the server speaks \"websocket\", \
                                 \"http\" and \"channel\" (worker channels)"
                            ),
                        );
                        continue;
                    }
                };
                match (&pk.app, key) {
                    (App::Router(Router::ChannelNames(_)), Key::Channel)
                    | (App::Router(Router::Url(_)) | App::Consumer(_), Key::WebSocket | Key::Http) => {}
                    (App::Router(Router::Protocol(_)), _) => cx.spanned(
                        &pk.key,
                        "a `ProtocolTypeRouter` inside a `ProtocolTypeRouter` routes nothing new\n\
                         help: route to a `URLRouter(...)` (or a consumer) here",
                    ),
                    (_, Key::Channel) => cx.spanned(
                        &pk.key,
                        "\"channel\" messages have no path: route them by channel name\nhelp: write \
                         `\"channel\": ChannelNameRouter({\"thumbnails-generate\": Consumer})`",
                    ),
                    (_, _) => cx.spanned(
                        &pk.key,
                        format!(
                            "a `ChannelNameRouter` routes worker channels, not \"{name}\" \
                             connections\nhelp: write `\"channel\": ChannelNameRouter({{...}})`, and \
                             route \"{name}\" to a `URLRouter(...)`"
                        ),
                    ),
                }
                if let App::Router(router) = &pk.app {
                    check_router(router, cx, out);
                }
            }
        }
        Router::Url(list) => url_list(list, &[], cx, out),
        Router::ChannelNames(entries) => channel_names(entries, cx),
    }
}

fn url_list(list: &UrlList, outer: &[String], cx: &mut Ctxt, out: &mut CheckedAsgi) {
    if let UrlSource::Inline(entries) = &list.source {
        let entries: Vec<&UrlEntry> = entries.iter().collect();
        url_entries(&entries, outer, cx, out);
    }
}

/// Checks a list of URL entries (captures of enclosing prefixes in `outer`), recording each in `out`.
fn url_entries(entries: &[&UrlEntry], outer: &[String], cx: &mut Ctxt, out: &mut CheckedAsgi) {
    // Consumer entries so far whose pattern has no capture: what they match, for shadowing.
    let mut earlier: Vec<(&UrlEntry, Lang)> = Vec::new();
    for entry in entries {
        let endpoint = matches!(entry.target, UrlTarget::Consumer(_));
        let before = cx.len();
        let info = pattern(entry, endpoint, cx);
        if endpoint && cx.len() == before {
            shadowing(entry, &info, &mut earlier, cx);
        }
        let nested = match &entry.target {
            UrlTarget::Router(list) => {
                let mut all = outer.to_vec();
                all.extend(info.captures.iter().cloned());
                Some((list, all))
            }
            UrlTarget::Consumer(_) => None,
        };
        out.urls.push(info);
        if let Some((list, all)) = nested {
            url_list(list, &all, cx, out);
        }
    }
}

/// Checks one entry's pattern: syntax, converters, and that it can match a `URLRouter` path.
fn pattern(entry: &UrlEntry, endpoint: bool, cx: &mut Ctxt) -> UrlInfo {
    let lit = &entry.pattern;
    let value = lit.value();
    let mut info = UrlInfo {
        captures: Vec::new(),
        ints: Vec::new(),
        not_names: Vec::new(),
    };
    match entry.kind {
        UrlKind::RePath => {
            let Some(names) = check_path(lit, cx) else {
                return info;
            };
            info.captures = names;
            info.not_names = not_name_captures(&value);
        }
        UrlKind::Path => {
            if value.starts_with('^') || value.ends_with('$') || value.contains("(?P<") {
                cx.spanned(
                    lit,
                    format!(
                        "`path()` takes a Django route (`\"ws/<int:id>/\"`), and \"{value}\" is a \
                         regex\nhelp: write `re_path(r\"{value}\", ...)`"
                    ),
                );
                return info;
            }
            match route_to_regex(&value) {
                Ok(route) => {
                    info.not_names = not_name_captures(&route.regex(true));
                    for (name, converter) in route.captures() {
                        info.captures.push(name.to_owned());
                        if converter == Converter::Int {
                            info.ints.push(name.to_owned());
                        }
                    }
                }
                Err(error) => {
                    cx.spanned(lit, format!("invalid `path()` route \"{value}\": {error}"));
                    return info;
                }
            }
        }
    }
    check_v2(lit, entry.kind, endpoint, cx);
    info
}

/// A consumer entry that an earlier one without captures always takes first is an error.
fn shadowing<'a>(
    entry: &'a UrlEntry,
    info: &UrlInfo,
    earlier: &mut Vec<(&'a UrlEntry, Lang)>,
    cx: &mut Ctxt,
) {
    let Some(lang) = v2_regex(entry.kind, &entry.pattern.value(), true).and_then(|r| Lang::new(&r))
    else {
        return;
    };
    if let Some((first, _)) = earlier
        .iter()
        .find(|(_, e)| lang.shadowed_by(e) == Some(true))
    {
        let form = |e: &UrlEntry| match e.kind {
            UrlKind::RePath => format!("re_path(r\"{}\", ...)", e.pattern.value()),
            UrlKind::Path => format!("path(\"{}\", ...)", e.pattern.value()),
        };
        cx.spanned(
            &entry.pattern,
            format!(
                "this route can never run: `{}` above matches every path it matches, and the first \
                 matching route wins, as in Channels\nhelp: move this route above it, or remove it",
                form(first)
            ),
        );
        return;
    }
    if info.captures.is_empty() {
        earlier.push((entry, lang));
    }
}

fn channel_names(entries: &[ChannelEntry], cx: &mut Ctxt) {
    let mut seen: Vec<String> = Vec::new();
    for entry in entries {
        let name = entry.channel.value();
        check_channel(&entry.channel, cx);
        if seen.contains(&name) {
            cx.spanned(
                &entry.channel,
                format!("channel \"{name}\" is routed twice"),
            );
        }
        seen.push(name);
    }
}

/// A `ChannelNameRouter` key must be a custom channel's name.
fn check_channel(lit: &LitStr, cx: &mut Ctxt) {
    let before = cx.len();
    check_event(lit, cx);
    if cx.len() == before && !is_custom_channel(lit) {
        cx.spanned(
            lit,
            format!(
                "a `ChannelNameRouter` routes worker channels, and \"{}\" is one of Channels' own \
                 events\nhelp: route WebSocket and HTTP events under the \"websocket\" and \"http\" \
                 keys of the `ProtocolTypeRouter`",
                lit.value()
            ),
        );
    }
}
