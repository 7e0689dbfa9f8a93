//! Channels 2+ tables: `ProtocolTypeRouter` becomes `Routing::protocol` entries, `URLRouter` a
//! `Routing::url_router()`, `re_path`/`path` routes `at` a `PathPattern`, a nested router a `mount`, and
//! `ChannelNameRouter` routes to custom channels.

use proc_macro2::TokenStream;
use quote::quote;

use super::respan;
use super::route::{self, Captures, Target, Via, routed};
use crate::check::{CheckedTable, UrlInfo};
use crate::exports::{self, Exports};
use crate::parse::{
    App, AsgiEntry, ChannelEntry, Router, UrlEntry, UrlKind, UrlList, UrlSource, UrlTarget,
};

/// What walks the tree: the exports, the table's form, and the checked URL entries in walk order.
struct Walk<'a> {
    ex: &'a Exports,
    in_module: bool,
    urls: std::slice::Iter<'a, UrlInfo>,
}

/// The table's expression.
pub fn table(checked: &CheckedTable, in_module: bool) -> TokenStream {
    let mut walk = Walk {
        ex: &checked.exports,
        in_module,
        urls: checked.asgi.urls.iter(),
    };
    let list: Vec<&UrlEntry> = checked
        .table
        .asgi
        .iter()
        .filter_map(|(e, _)| match e {
            AsgiEntry::Url(u) => Some(u),
            AsgiEntry::Router(_) => None,
        })
        .collect();
    if !list.is_empty() {
        return walk.url_entries(&list, Via::App, &[]);
    }
    let router = checked.table.asgi.iter().find_map(|(e, _)| match e {
        AsgiEntry::Router(r) => Some(r),
        AsgiEntry::Url(_) => None,
    });
    match router {
        Some(router) => walk.router(router, Via::App),
        None => {
            let routing = walk.ex.routing();
            quote!(#routing::new())
        }
    }
}

impl Walk<'_> {
    fn router(&mut self, router: &Router, via: Via) -> TokenStream {
        let routing = self.ex.routing();
        match router {
            Router::Protocol(keys) => {
                let protocol = self.ex.protocol();
                let entries: Vec<TokenStream> = keys
                    .iter()
                    .filter_map(|pk| {
                        let (variant, via) = match pk.key.value().as_str() {
                            "websocket" => (quote!(WebSocket), Via::Class),
                            "http" => (quote!(Http), Via::Fn),
                            "channel" => (quote!(Channel), Via::App),
                            _ => return None,
                        };
                        let app = self.app(&pk.app, via);
                        Some(quote!(.protocol(#protocol::#variant, #app)))
                    })
                    .collect();
                quote!(#routing::new() #(#entries)*)
            }
            Router::Url(list) => self.url_list(list, via, &[]),
            Router::ChannelNames(entries) => {
                let routes = entries.iter().map(|e| self.channel_entry(e));
                quote!(#routing::new() #(#routes)*)
            }
        }
    }

    fn app(&mut self, app: &App, via: Via) -> TokenStream {
        match app {
            App::Router(router) => self.router(router, via),
            // A consumer for every path of its protocol.
            App::Consumer(path) => {
                let routing = self.ex.routing();
                let (none, event) = (exports::none(), channels_names::events::HTTP_REQUEST);
                let target = Target {
                    path,
                    via,
                    in_module: self.in_module,
                };
                let at = path
                    .segments
                    .last()
                    .map_or_else(proc_macro2::Span::call_site, |s| s.ident.span());
                let captures = Captures::none(at);
                let route = routed(self.ex, &target, &captures, |item| {
                    let route = item("route");
                    if via == Via::Fn {
                        quote!(#route(#event, #none))
                    } else {
                        quote!(#route(#none))
                    }
                });
                quote!(#routing::new().route(#route))
            }
        }
    }

    fn channel_entry(&mut self, entry: &ChannelEntry) -> TokenStream {
        let channel = &entry.channel;
        let target = Target {
            path: &entry.consumer,
            via: Via::App,
            in_module: self.in_module,
        };
        let captures = Captures::none(channel.span());
        let route = routed(self.ex, &target, &captures, |item| {
            let route = item("channel_route");
            quote!(#route(#channel))
        });
        quote!(.route(#route))
    }

    fn url_list(&mut self, list: &UrlList, via: Via, outer: &[String]) -> TokenStream {
        match &list.source {
            UrlSource::Inline(entries) => {
                let entries: Vec<&UrlEntry> = entries.iter().collect();
                self.url_entries(&entries, via, outer)
            }
            UrlSource::Table(path) => {
                // Channels' `URLRouter(patterns)`: whatever the table is, its paths come without
                // their leading `/`.
                let routing = self.ex.routing();
                let none = exports::none();
                let call = respan(quote!(#path()), list.head.span());
                quote!(#routing::url_router().include(#none, #call))
            }
        }
    }

    fn url_entries(&mut self, entries: &[&UrlEntry], via: Via, outer: &[String]) -> TokenStream {
        let routing = self.ex.routing();
        let calls: Vec<TokenStream> = entries
            .iter()
            .map(|e| self.url_entry(e, via, outer))
            .collect();
        quote!(#routing::url_router() #(#calls)*)
    }

    fn url_entry(&mut self, entry: &UrlEntry, via: Via, outer: &[String]) -> TokenStream {
        let Some(info) = self.urls.next() else {
            return TokenStream::new();
        };
        let lit = &entry.pattern;
        let path_pattern = self.ex.path_pattern();
        let pattern = match entry.kind {
            UrlKind::RePath => quote!(#path_pattern::re_path(#lit)),
            UrlKind::Path => quote!(#path_pattern::path(#lit)),
        };
        let mut available = outer.to_vec();
        available.extend(info.captures.iter().cloned());
        match &entry.target {
            UrlTarget::Consumer(path) => {
                let target = Target {
                    path,
                    via,
                    in_module: self.in_module,
                };
                let captures = Captures {
                    available,
                    own: &info.captures,
                    origins: &[],
                    ints: &info.ints,
                    not_names: &info.not_names,
                    has_path: true,
                    at: lit.span(),
                };
                let event = channels_names::events::HTTP_REQUEST;
                let none = exports::none();
                let route = routed(self.ex, &target, &captures, |item| match via {
                    Via::Class => {
                        let route = item("route");
                        quote!(#route(#none).at(#pattern))
                    }
                    Via::Fn => {
                        let route = item("route");
                        quote!(#route(#event, #none).at(#pattern))
                    }
                    Via::App => {
                        let route = item("url_route");
                        quote!(#route(#pattern))
                    }
                });
                quote!(.route(#route))
            }
            UrlTarget::Router(list) => {
                let checks = self.prefix_checks(entry, &info.captures, list, via);
                let inner = self.url_list(list, via, &available);
                quote!(.mount(#pattern, { #checks #inner }))
            }
        }
    }

    /// Each capture of a nested router's prefix must be taken by a consumer under it.
    fn prefix_checks(
        &self,
        entry: &UrlEntry,
        captures: &[String],
        list: &UrlList,
        via: Via,
    ) -> TokenStream {
        if captures.is_empty() {
            return TokenStream::new();
        }
        let (mut consumers, mut tables) = (Vec::new(), Vec::new());
        self.list_uses(list, via, &mut consumers, &mut tables);
        route::prefix_checks(
            self.ex,
            captures,
            &consumers,
            &tables,
            entry.pattern.span(),
            "under it",
        )
    }

    /// What the consumers routed under `list` use (`USES` expressions), and the tables it names.
    fn list_uses(
        &self,
        list: &UrlList,
        via: Via,
        consumers: &mut Vec<TokenStream>,
        tables: &mut Vec<TokenStream>,
    ) {
        match &list.source {
            UrlSource::Table(path) => tables.push(route::table_uses(self.ex, path, self.in_module)),
            UrlSource::Inline(entries) => {
                for entry in entries {
                    match &entry.target {
                        UrlTarget::Consumer(path) => consumers.push(
                            Target {
                                path,
                                via,
                                in_module: self.in_module,
                            }
                            .uses(self.ex),
                        ),
                        UrlTarget::Router(inner) => self.list_uses(inner, via, consumers, tables),
                    }
                }
            }
        }
    }

    /// What the table's consumers use, for its `Table` companion.
    fn router_uses(
        &self,
        router: &Router,
        via: Via,
        consumers: &mut Vec<TokenStream>,
        tables: &mut Vec<TokenStream>,
    ) {
        match router {
            Router::Protocol(keys) => {
                for pk in keys {
                    let via = match pk.key.value().as_str() {
                        "websocket" => Via::Class,
                        "http" => Via::Fn,
                        _ => Via::App,
                    };
                    match &pk.app {
                        App::Router(router) => self.router_uses(router, via, consumers, tables),
                        App::Consumer(path) => consumers.push(
                            Target {
                                path,
                                via,
                                in_module: self.in_module,
                            }
                            .uses(self.ex),
                        ),
                    }
                }
            }
            Router::Url(list) => self.list_uses(list, via, consumers, tables),
            Router::ChannelNames(entries) => {
                for e in entries {
                    consumers.push(
                        Target {
                            path: &e.consumer,
                            via: Via::App,
                            in_module: self.in_module,
                        }
                        .uses(self.ex),
                    );
                }
            }
        }
    }
}

/// What the consumers of a Channels 2+ table use: `USES` expressions, and included tables'.
pub fn table_uses(checked: &CheckedTable, in_module: bool) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let walk = Walk {
        ex: &checked.exports,
        in_module,
        urls: checked.asgi.urls.iter(),
    };
    let (mut consumers, mut tables) = (Vec::new(), Vec::new());
    for (entry, _) in &checked.table.asgi {
        match entry {
            AsgiEntry::Url(u) => match &u.target {
                UrlTarget::Consumer(path) => consumers.push(
                    Target {
                        path,
                        via: Via::App,
                        in_module,
                    }
                    .uses(walk.ex),
                ),
                UrlTarget::Router(list) => {
                    walk.list_uses(list, Via::App, &mut consumers, &mut tables)
                }
            },
            AsgiEntry::Router(router) => {
                walk.router_uses(router, Via::App, &mut consumers, &mut tables)
            }
        }
    }
    (consumers, tables)
}
