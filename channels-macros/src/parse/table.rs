//! `channel_routing! { [headers] entry, entry, ... }`

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token, Visibility};

use super::asgi::{AsgiEntry, asgi_entry, is_asgi_head, url_entries};
use super::kwargs::{add_field, parse_path_kwarg, parse_trailing_kwargs, path_attr};
use crate::attr::Attr;
use crate::ctxt::Ctxt;

/// A routing table as written.
pub struct Table {
    /// What the invocation defines.
    pub form: TableForm,
    /// `crate = "...";`: where the runtime is, when it is not `::channels`.
    pub krate: Option<syn::Path>,
    /// `errors = "keep_open";`: the error mode of the table's consumers that don't choose their own.
    pub errors: Option<super::ErrorMode>,
    /// `middleware = expr;` (repeatable): the table's middleware, in order (`Routing::with_middleware`).
    pub middleware: Vec<syn::Expr>,
    /// The Channels 1.x routes, in order.
    pub entries: Vec<Entry>,
    /// The Channels 2+ entries, in order, with where each starts.
    pub asgi: Vec<(AsgiEntry, Span)>,
}

/// What a `channel_routing!` invocation defines.
pub enum TableForm {
    /// `[#[doc] vis] fn name;`, or no header: a function returning the table (any item position).
    Fn {
        /// Doc comments and attributes of the function.
        attrs: Vec<syn::Attribute>,
        /// Its visibility (`pub` without a header).
        vis: Visibility,
        /// Its name (`channel_routing` without a header).
        name: Ident,
    },
    /// `let name;`: a local variable holding the table (statement position, inside a function).
    Let {
        /// The variable.
        name: Ident,
    },
}

/// One route of the table.
pub struct Entry {
    /// Which form it is.
    pub kind: EntryKind,
    /// `path = r"..."`, if given.
    pub path: Option<LitStr>,
    /// Channels 1.x field patterns: `command = r"^join$"`.
    pub fields: Vec<Field>,
    /// The entry's first and last token, for errors about the whole entry.
    pub first: Span,
    /// See `first`.
    pub last: Span,
}

impl Entry {
    /// Tokens spanning the entry, for `syn::Error::new_spanned`.
    pub fn spanned(&self) -> TokenStream {
        let (first, last) = (self.first, self.last);
        quote::quote_spanned!(first=> entry)
            .into_iter()
            .chain(quote::quote_spanned!(last=> end))
            .collect()
    }
}

/// A Channels 1.x field pattern, `command = r"^join$"`: the message's top-level `command` must match.
pub struct Field {
    /// The field's name.
    pub name: Ident,
    /// Its regex.
    pub pattern: LitStr,
}

/// The three forms of a route.
pub enum EntryKind {
    /// `"event" => consumer` or `route("event", consumer)`.
    Route {
        /// The event or channel name.
        event: LitStr,
        /// The path to the `#[consumer]` function.
        consumer: syn::Path,
    },
    /// `route_class(Type)`, or `route_class(Type, channel = "name")` for a worker channel.
    Class {
        /// The class-based consumer.
        ty: syn::Path,
        /// `channel = "..."`: the worker channel it serves.
        channel: Option<LitStr>,
    },
    /// `include(path::to::routing)`.
    Include {
        /// The routing function.
        target: syn::Path,
    },
    /// `route_demultiplexer(path = r"...", consumers = {"echo": EchoConsumer, ...})`: Channels 1.x's
    /// `WebsocketDemultiplexer`.
    Demultiplexer {
        /// Each stream's name and its class-based consumer, in order.
        streams: Vec<(LitStr, syn::Path)>,
    },
}

const ROUTE_FORMS: &str = "a route reads `\"websocket.receive\" => consumer`, \
`\"websocket.receive\", path = r\"^/chat/$\" => consumer`, \
`route(\"websocket.receive\", consumer, path = r\"...\")`, \
`route_class(Consumer, path = r\"...\")`, `include(module::channel_routing, path = r\"...\")` or \
`route_demultiplexer(path = r\"...\", consumers = {\"stream\": Consumer})`";

/// Parses a table; malformed entries are reported and skipped, so every entry is looked at.
pub fn table(input: TokenStream, cx: &mut Ctxt) -> Option<Table> {
    let parser = |stream: ParseStream| parse_table(stream, cx);
    match parser.parse2(input) {
        Ok(table) => Some(table),
        Err(e) => {
            cx.push(e);
            None
        }
    }
}

fn parse_table(input: ParseStream, cx: &mut Ctxt) -> syn::Result<Table> {
    let Headers {
        form,
        krate,
        errors,
        middleware,
    } = parse_headers(input, cx)?;
    let mut entries = Vec::new();
    let mut asgi = Vec::new();
    // `[re_path(...), ...]`: a `websocket_urlpatterns` list copied with its brackets.
    if input.peek(syn::token::Bracket) {
        let first = input.span();
        let content;
        syn::bracketed!(content in input);
        for entry in url_entries(&content, cx)? {
            asgi.push((AsgiEntry::Url(entry), first));
        }
        input.parse::<Option<Token![,]>>()?;
    }
    while !input.is_empty() {
        let first = input.span();
        match parse_entry(input, cx) {
            Ok(Parsed::Asgi(entry)) => {
                asgi.push((entry, first));
                if !input.is_empty() {
                    input
                        .parse::<Token![,]>()
                        .map_err(|e| syn::Error::new(e.span(), "expected `,` between entries"))?;
                }
            }
            Ok(Parsed::Route((kind, path, fields, last))) => {
                entries.push(Entry {
                    kind,
                    path,
                    fields,
                    first,
                    last,
                });
                if input.is_empty() {
                    break;
                }
                if input.parse::<Token![,]>().is_err() {
                    let tt: TokenTree = input.parse()?;
                    cx.error(
                        tt.span(),
                        format!(
                            "unexpected `{tt}` after a route: separate routes with `,`\n\
                             help: {ROUTE_FORMS}"
                        ),
                    );
                    skip_to_next_entry(input)?;
                }
            }
            Err(e) => {
                cx.push(e);
                skip_to_next_entry(input)?;
            }
        }
    }
    Ok(Table {
        form,
        krate,
        errors,
        middleware,
        entries,
        asgi,
    })
}

/// A table's headers.
struct Headers {
    form: TableForm,
    krate: Option<syn::Path>,
    errors: Option<super::ErrorMode>,
    middleware: Vec<syn::Expr>,
}

/// `[#[doc] vis] fn name;`, `let name;`, `crate = "...";` and `errors = "...";`, each at most once, and
/// `middleware = expr;`, any number of times (run in that order), in any order.
fn parse_headers(input: ParseStream, cx: &mut Ctxt) -> syn::Result<Headers> {
    let mut form = Attr::none(
        "the table's name",
        "a `channel_routing!` defines one table: keep one `fn name;` or `let name;`",
    );
    let mut krate = Attr::none("`crate`", "remove one: the runtime is at one path");
    let mut errors = Attr::none(
        "`errors`",
        "a table has one error mode: keep `errors = \"close\";` or `errors = \"keep_open\";`",
    );
    let mut middleware = Vec::new();
    loop {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        if input.peek(Token![let]) {
            let let_token: Token![let] = input.parse()?;
            if let Some(attr) = attrs.first() {
                cx.spanned(
                    attr,
                    "doc comments and attributes go on `fn name;`: a `let name;` table is a local \
                     variable",
                );
            }
            let name: Ident = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "expected `let name;`: name the local variable")
            })?;
            semicolon(input, &format!("let {name}"))?;
            form.set(cx, quote::quote!(#let_token #name), TableForm::Let { name });
        } else if !attrs.is_empty() || input.peek(Token![fn]) || input.peek(Token![pub]) {
            let vis: Visibility = input.parse()?;
            let fn_token = input.parse::<Token![fn]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `fn name;`: name the routing table like `pub fn admin_routing;`",
                )
            })?;
            let name: Ident = input.parse()?;
            semicolon(input, &format!("fn {name}"))?;
            let tokens = quote::quote!(#fn_token #name);
            form.set(cx, tokens, TableForm::Fn { attrs, vis, name });
        } else if input.peek(Token![crate]) && input.peek2(Token![=]) {
            let crate_token: Token![crate] = input.parse()?;
            let eq: Token![=] = input.parse()?;
            let lit: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected the runtime's path as a string: `crate = \"channels_runtime\";`",
                )
            })?;
            let path = super::consumer::runtime_path(&lit)?;
            semicolon(input, &format!("crate = \"{}\"", lit.value()))?;
            krate.set(cx, quote::quote!(#crate_token #eq #lit), path);
        } else if input.peek(Ident) && input.peek2(Token![=]) && !input.peek3(Token![>]) {
            let fork = input.fork();
            let key: Ident = fork.parse()?;
            if key == "middleware" {
                input.parse::<Ident>()?;
                input.parse::<Token![=]>()?;
                let expr: syn::Expr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected a middleware value: `middleware = TokenAuth::new();`",
                    )
                })?;
                semicolon(input, "middleware = ...")?;
                middleware.push(expr);
                continue;
            }
            if key != "errors" {
                break;
            }
            input.parse::<Ident>()?;
            let eq: Token![=] = input.parse()?;
            let lit: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `errors = \"close\";` or `errors = \"keep_open\";`",
                )
            })?;
            let mode = super::ErrorMode::parse(&lit)?;
            semicolon(input, &format!("errors = \"{}\"", lit.value()))?;
            errors.set(cx, quote::quote!(#key #eq #lit), mode);
        } else {
            break;
        }
    }
    let form = form.get().unwrap_or_else(|| TableForm::Fn {
        attrs: Vec::new(),
        vis: syn::parse_quote!(pub),
        name: Ident::new("channel_routing", Span::call_site()),
    });
    Ok(Headers {
        form,
        krate: krate.get(),
        errors: errors.get(),
        middleware,
    })
}

fn semicolon(input: ParseStream, after: &str) -> syn::Result<()> {
    input.parse::<Token![;]>().map(drop).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `;` after `{after}`, then the routes"),
        )
    })
}

/// After a malformed entry, skips to the `,` that starts the next one (a string literal, or
/// `route`/`route_class`/`include` followed by parentheses), so every entry gets checked.
fn skip_to_next_entry(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() {
        if input.peek(Token![,]) {
            let fork = input.fork();
            fork.parse::<Token![,]>()?;
            if fork.is_empty()
                || fork.peek(LitStr)
                || (fork.peek(Ident) && fork.peek2(syn::token::Paren))
            {
                input.parse::<Token![,]>()?;
                return Ok(());
            }
        }
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

pub(super) type ParsedEntry = (EntryKind, Option<LitStr>, Vec<Field>, Span);

/// A Channels 1.x route or a Channels 2+ entry.
enum Parsed {
    Route(ParsedEntry),
    Asgi(AsgiEntry),
}

fn parse_entry(input: ParseStream, cx: &mut Ctxt) -> syn::Result<Parsed> {
    if input.peek(LitStr) {
        return parse_shorthand(input, cx).map(Parsed::Route);
    }
    if input.peek(Ident) && input.peek2(syn::token::Paren) {
        let head: Ident = input.parse()?;
        let content;
        let paren = syn::parenthesized!(content in input);
        let result = if is_asgi_head(&head) {
            asgi_entry(&head, &content, cx).map(Parsed::Asgi)
        } else {
            parse_form(&head, &content, paren.span.close(), cx).map(Parsed::Route)
        };
        if result.is_err() {
            // Already reported: don't let the rest of the parentheses add "unexpected token".
            let _ = content.parse::<TokenStream>();
        }
        return result;
    }
    let span = input.span();
    Err(syn::Error::new(
        span,
        format!("expected a route\nhelp: {ROUTE_FORMS}"),
    ))
}

/// `"event" [, path = r"..."] => consumer`
fn parse_shorthand(input: ParseStream, cx: &mut Ctxt) -> syn::Result<ParsedEntry> {
    let event: LitStr = input.parse()?;
    let mut path = path_attr();
    let mut fields = Vec::new();
    while input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        let (key, tokens, lit) = parse_path_kwarg(input, &event)?;
        if key == "path" {
            path.set(cx, tokens, lit);
        } else {
            add_field(&mut fields, key, lit, cx);
        }
    }
    if !input.peek(Token![=>]) {
        let shown = event.value();
        let span = if input.is_empty() {
            event.span()
        } else {
            input.span()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "expected `=>` and a consumer after \"{shown}\": \
                 write `\"{shown}\" => consumer` or `\"{shown}\", path = r\"...\" => consumer`"
            ),
        ));
    }
    input.parse::<Token![=>]>()?;
    let consumer = input.parse::<syn::Path>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a consumer function after `=>`, like `ws_message` or `consumers::ws_message`",
        )
    })?;
    let last = consumer
        .segments
        .last()
        .map_or(event.span(), |s| s.ident.span());
    Ok((
        EntryKind::Route { event, consumer },
        path.get(),
        fields,
        last,
    ))
}

/// The inside of `route(...)`, `route_class(...)` or `include(...)`.
fn parse_form(
    head: &Ident,
    content: ParseStream,
    last: Span,
    cx: &mut Ctxt,
) -> syn::Result<ParsedEntry> {
    match head.to_string().as_str() {
        "route" => {
            let event: LitStr = content.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected the event name first: `route(\"websocket.receive\", consumer)`",
                )
            })?;
            let form = format!("`route(\"{}\", consumer)`", event.value());
            content.parse::<Token![,]>().map_err(|e| {
                syn::Error::new(e.span(), format!("expected `,` and a consumer: {form}"))
            })?;
            let consumer: syn::Path = content.parse().map_err(|e| {
                syn::Error::new(e.span(), format!("expected a consumer function: {form}"))
            })?;
            let (path, fields, _) = parse_trailing_kwargs(content, "route", cx)?;
            Ok((EntryKind::Route { event, consumer }, path, fields, last))
        }
        "route_class" => {
            let ty: syn::Path = content.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a type: `route_class(ChatConsumer, path = r\"...\")`",
                )
            })?;
            let (path, fields, channel) = parse_trailing_kwargs(content, "route_class", cx)?;
            Ok((EntryKind::Class { ty, channel }, path, fields, last))
        }
        "include" => {
            if content.peek(LitStr) {
                let lit: LitStr = content.parse()?;
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "`include` takes a path to a routing function, not a string: \
                         write `include({}, ...)`",
                        lit.value().replace('.', "::")
                    ),
                ));
            }
            let target: syn::Path = content.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a routing function: `include(chat::channel_routing, path = r\"^/chat\")`",
                )
            })?;
            let (path, _, _) = parse_trailing_kwargs(content, "include", cx)?;
            Ok((EntryKind::Include { target }, path, Vec::new(), last))
        }
        "route_demultiplexer" => super::demux::parse_demultiplexer(head, content, last, cx),
        other => Err(syn::Error::new(
            head.span(),
            format!("unknown routing form `{other}(...)`\nhelp: {ROUTE_FORMS}"),
        )),
    }
}
