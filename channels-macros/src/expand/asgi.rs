//! Channels 2+ tables: `ProtocolTypeRouter` becomes `Routing::protocol` entries, `URLRouter` a
//! `Routing::url_router()`, `re_path`/`path` routes `at` a `PathPattern`, a nested router a `mount`, and
//! `ChannelNameRouter` routes to custom channels.

use proc_macro2::TokenStream;
use quote::quote;

use super::respan;
use super::route::{Captures, Target, Via, routed};
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
                let captures = Captures {
                    available: Vec::new(),
                    own: &[],
                    ints: &[],
                    has_path: false,
                    at,
                };
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
        let captures = Captures {
            available: Vec::new(),
            own: &[],
            ints: &[],
            has_path: false,
            at: channel.span(),
        };
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
                    ints: &info.ints,
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
        let mut consumers = Vec::new();
        if captures.is_empty() || !inline_consumers(list, &mut consumers) {
            return TokenStream::new();
        }
        let uses: Vec<TokenStream> = consumers
            .iter()
            .map(|path| {
                Target {
                    path,
                    via,
                    in_module: self.in_module,
                }
                .uses(self.ex)
            })
            .collect();
        let (any_uses, panic) = (self.ex.any_uses(), exports::panic());
        let mut checks = TokenStream::new();
        for capture in captures {
            let message = format!(
                "the prefix captures `{capture}`, but no consumer under it takes a parameter \
                 `{capture}`\nhelp: add a parameter `{capture}: String` (or another `FromStr` type) to \
                 the consumers that need it, or make the group non-capturing: `(?:...)`"
            );
            let fail = respan(quote!(#panic("{}", #message)), entry.pattern.span());
            checks.extend(quote! {
                const _: () = if !#any_uses(&[#(#uses),*], #capture) {
                    #fail
                };
            });
        }
        checks
    }
}

/// The consumers routed under `list`, nested lists included; `false` when a list is defined
/// elsewhere (its consumers can't be seen here).
fn inline_consumers<'a>(list: &'a UrlList, out: &mut Vec<&'a syn::Path>) -> bool {
    let UrlSource::Inline(entries) = &list.source else {
        return false;
    };
    entries.iter().all(|e| match &e.target {
        UrlTarget::Consumer(path) => {
            out.push(path);
            true
        }
        UrlTarget::Router(inner) => inline_consumers(inner, out),
    })
}
