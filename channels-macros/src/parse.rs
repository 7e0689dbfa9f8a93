//! Phase 1: the routing table and the consumers as syn sees them. No checks beyond the grammar.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Token, Visibility};

/// Collects errors so that one invocation reports all of them (serde's `Ctxt`, without the drop bomb:
/// a macro never panics).
#[derive(Default)]
pub struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// How many errors so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// All errors as one `syn::Error`, if there are any.
    pub fn finish(self) -> Option<syn::Error> {
        let mut errors = self.errors.into_iter();
        let mut first = errors.next()?;
        for e in errors {
            first.combine(e);
        }
        Some(first)
    }
}

// ---------------------------------------------------------------------------------------------------
// The routing table

/// `channel_routing! { [vis fn name;] entry, entry, ... }`
pub struct Table {
    pub attrs: Vec<syn::Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub entries: Vec<Entry>,
}

pub struct Entry {
    pub kind: EntryKind,
    /// `path = r"..."`, if given.
    pub path: Option<LitStr>,
    /// The entry's first and last token, for errors about the whole entry.
    pub first: Span,
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

pub enum EntryKind {
    /// `"event" => consumer` or `route("event", consumer)`.
    Route { event: LitStr, consumer: syn::Path },
    /// `route_class(Type)`.
    Class { ty: syn::Path },
    /// `include(path::to::routing)`.
    Include { target: syn::Path },
}

const ROUTE_FORMS: &str = "a route reads `\"websocket.receive\" => consumer`, \
`\"websocket.receive\", path = r\"^/chat/$\" => consumer`, \
`route(\"websocket.receive\", consumer, path = r\"...\")`, \
`route_class(Consumer, path = r\"...\")` or `include(module::channel_routing, path = r\"...\")`";

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
    let attrs = input.call(syn::Attribute::parse_outer)?;
    let (vis, name) = if !attrs.is_empty() || input.peek(Token![fn]) || input.peek(Token![pub]) {
        let vis: Visibility = input.parse()?;
        input.parse::<Token![fn]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `fn name;`: name the routing table like `pub fn admin_routing;`",
            )
        })?;
        let name: Ident = input.parse()?;
        input.parse::<Token![;]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `;` after `fn {name}`, then the routes"),
            )
        })?;
        (vis, name)
    } else {
        (
            syn::parse_quote!(pub),
            Ident::new("channel_routing", Span::call_site()),
        )
    };
    let mut entries = Vec::new();
    while !input.is_empty() {
        let first = input.span();
        match parse_entry(input) {
            Ok((kind, path, last)) => {
                entries.push(Entry {
                    kind,
                    path,
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
        attrs,
        vis,
        name,
        entries,
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

fn parse_entry(input: ParseStream) -> syn::Result<(EntryKind, Option<LitStr>, Span)> {
    if input.peek(LitStr) {
        let event: LitStr = input.parse()?;
        let mut path = None;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            path = Some(parse_path_kwarg(input, &event)?);
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
        return Ok((EntryKind::Route { event, consumer }, path, last));
    }
    if input.peek(Ident) && input.peek2(syn::token::Paren) {
        let head: Ident = input.parse()?;
        let content;
        let paren = syn::parenthesized!(content in input);
        let result = parse_form(&head, &content, paren.span.close());
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

/// The inside of `route(...)`, `route_class(...)` or `include(...)`.
fn parse_form(
    head: &Ident,
    content: ParseStream,
    last: Span,
) -> syn::Result<(EntryKind, Option<LitStr>, Span)> {
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
            let path = parse_trailing_kwargs(content, "route")?;
            Ok((EntryKind::Route { event, consumer }, path, last))
        }
        "route_class" => {
            let ty: syn::Path = content.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a type: `route_class(ChatConsumer, path = r\"...\")`",
                )
            })?;
            let path = parse_trailing_kwargs(content, "route_class")?;
            Ok((EntryKind::Class { ty }, path, last))
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
            let path = parse_trailing_kwargs(content, "include")?;
            Ok((EntryKind::Include { target }, path, last))
        }
        other => Err(syn::Error::new(
            head.span(),
            format!("unknown routing form `{other}(...)`\nhelp: {ROUTE_FORMS}"),
        )),
    }
}

fn parse_path_kwarg(input: ParseStream, event: &LitStr) -> syn::Result<LitStr> {
    let shown = event.value();
    let expected = || {
        format!(
            "expected `path = r\"...\"` after `\"{shown}\",`: \
             write `\"{shown}\", path = r\"^/chat/$\" => consumer`"
        )
    };
    let key: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), expected()))?;
    if key != "path" {
        return Err(syn::Error::new(key.span(), expected()));
    }
    input
        .parse::<Token![=]>()
        .map_err(|e| syn::Error::new(e.span(), expected()))?;
    input.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a string literal regex: `path = r\"^/chat/(?P<room>\\w+)/$\"`",
        )
    })
}

/// `[, path = r"..."] [,]` at the end of `route(...)`, `route_class(...)`, `include(...)`.
fn parse_trailing_kwargs(content: ParseStream, form: &str) -> syn::Result<Option<LitStr>> {
    let mut path = None;
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        if key != "path" {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown argument `{key}`: `{form}(...)` takes only `path = r\"...\"`"),
            ));
        }
        content.parse::<Token![=]>()?;
        let lit: LitStr = content.parse()?;
        if path.is_some() {
            return Err(syn::Error::new(lit.span(), "`path` is given twice"));
        }
        path = Some(lit);
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------------
// #[consumer]

/// `#[consumer(groups = ["chat", "room.{room}"], atomic)]`
#[derive(Default)]
pub struct ConsumerArgs {
    pub groups: Vec<LitStr>,
    /// `atomic`: hold the consumer's sends until it returns `Ok` (Channels 1.x's behaviour).
    pub atomic: Option<Ident>,
}

pub fn consumer_args(args: TokenStream, cx: &mut Ctxt) -> ConsumerArgs {
    let mut out = ConsumerArgs::default();
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            if key == "atomic" {
                out.atomic = Some(key);
            } else if key == "groups" {
                input.parse::<Token![=]>()?;
                let content;
                syn::bracketed!(content in input);
                let groups = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                out.groups.extend(groups);
            } else {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown argument `{key}`: `#[consumer]` takes `groups = [\"name\", \"room.{{capture}}\"]` and `atomic`"
                    ),
                ));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
    }
    out
}

/// What `#[consumer]` was put on.
pub enum ConsumerItem {
    Fn(syn::ItemFn),
    Impl(syn::ItemImpl),
    /// Anything else: reported, and emitted unchanged.
    Other(TokenStream),
}

pub fn consumer_item(item: TokenStream, cx: &mut Ctxt) -> ConsumerItem {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(f)) => ConsumerItem::Fn(f),
        Ok(syn::Item::Impl(i)) => ConsumerItem::Impl(i),
        Ok(other) => {
            cx.error(
                item_head_span(&other),
                "`#[consumer]` goes on a function (`async fn ws_message(message: Message)`) \
                 or on the `impl` block of a class-based consumer",
            );
            ConsumerItem::Other(item)
        }
        Err(e) => {
            cx.push(e);
            ConsumerItem::Other(item)
        }
    }
}

fn item_head_span(item: &syn::Item) -> Span {
    match item {
        syn::Item::Struct(s) => s
            .struct_token
            .span
            .join(s.ident.span())
            .unwrap_or(s.ident.span()),
        syn::Item::Enum(e) => e
            .enum_token
            .span
            .join(e.ident.span())
            .unwrap_or(e.ident.span()),
        syn::Item::Const(c) => c.ident.span(),
        syn::Item::Static(s) => s.ident.span(),
        syn::Item::Mod(m) => m.ident.span(),
        syn::Item::Trait(t) => t.ident.span(),
        syn::Item::Type(t) => t.ident.span(),
        other => other.span(),
    }
}
