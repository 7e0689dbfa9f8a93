//! `#[consumer(...)]`: its arguments and the item it is put on.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Token};

use crate::attr::Attr;
use crate::ctxt::Ctxt;

/// `#[consumer(groups = ["chat", "room.{room}"], atomic, errors = "keep_open", crate = "channels_runtime")]`
#[derive(Default)]
pub struct ConsumerArgs {
    /// `groups = [...]`: the groups every connection routed to the consumer joins.
    pub groups: Vec<LitStr>,
    /// `atomic`: hold the consumer's sends until it returns, send them if it returned `Ok`.
    pub atomic: Option<Ident>,
    /// `buffered`: hold the consumer's sends until it returns, send them whatever it returned
    /// (Channels 1.x).
    pub buffered: Option<Ident>,
    /// `errors = "close"` or `"keep_open"`: what the consumer's failures do to its connection.
    pub errors: Option<ErrorMode>,
    /// `crate = "..."`: where the runtime is, when it is not `::channels`.
    pub krate: Option<syn::Path>,
}

/// `errors = "..."`: what a consumer's failures do to its connection (the runtime's `ErrorMode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorMode {
    /// `"close"`: Channels 4's, the default.
    Close,
    /// `"keep_open"`: Channels 1.x's.
    KeepOpen,
}

impl ErrorMode {
    /// The mode `lit` names: `"close"` or `"keep_open"`.
    pub fn parse(lit: &LitStr) -> syn::Result<ErrorMode> {
        match lit.value().as_str() {
            "close" => Ok(ErrorMode::Close),
            "keep_open" => Ok(ErrorMode::KeepOpen),
            other => Err(syn::Error::new(
                lit.span(),
                format!(
                    "unknown error mode \"{other}\": write `errors = \"close\"` (Channels 4, the \
                     default: a failure closes the connection with 1011) or `errors = \"keep_open\"` \
                     (Channels 1.x: a failure is logged and the connection stays)"
                ),
            )),
        }
    }
}

const ARGUMENTS: &str = "`#[consumer]` takes `groups = [\"name\", \"room.{capture}\"]`, `atomic`, \
`buffered`, `errors = \"close\"` or `errors = \"keep_open\"`, and `crate = \"path::to::runtime\"`";

/// Parses the arguments; every malformed or repeated one is reported, and the rest still parsed.
pub fn consumer_args(args: TokenStream, cx: &mut Ctxt) -> ConsumerArgs {
    let mut groups = Attr::none(
        "`groups`",
        "list every group in one `groups = [\"chat\", \"room.{room}\"]`",
    );
    let mut atomic = Attr::none("`atomic`", "remove this one");
    let mut buffered = Attr::none("`buffered`", "remove this one");
    let mut errors = Attr::none(
        "`errors`",
        "a consumer has one error mode: keep `errors = \"close\"` or `errors = \"keep_open\"`",
    );
    let mut krate = Attr::none("`crate`", "remove one: the runtime is at one path");
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            let mut attrs = Args {
                groups: &mut groups,
                atomic: &mut atomic,
                buffered: &mut buffered,
                errors: &mut errors,
                krate: &mut krate,
            };
            if let Err(e) = consumer_arg(input, &mut attrs, cx) {
                cx.push(e);
                skip_to_comma(input)?;
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
    ConsumerArgs {
        groups: groups.get().unwrap_or_default(),
        atomic: atomic.get(),
        buffered: buffered.get(),
        errors: errors.get(),
        krate: krate.get(),
    }
}

/// The arguments being parsed, each given at most once.
struct Args<'a> {
    groups: &'a mut Attr<Vec<LitStr>>,
    atomic: &'a mut Attr<Ident>,
    buffered: &'a mut Attr<Ident>,
    errors: &'a mut Attr<ErrorMode>,
    krate: &'a mut Attr<syn::Path>,
}

fn consumer_arg(input: ParseStream, args: &mut Args, cx: &mut Ctxt) -> syn::Result<()> {
    let key = input.call(Ident::parse_any)?;
    match key.to_string().as_str() {
        flag @ ("atomic" | "buffered") => {
            if input.peek(Token![=]) {
                return Err(syn::Error::new(
                    input.span(),
                    format!("`{flag}` takes no value: write `#[consumer({flag})]`"),
                ));
            }
            let attr = if flag == "atomic" {
                &mut *args.atomic
            } else {
                &mut *args.buffered
            };
            attr.set(cx, &key, key.clone());
        }
        "errors" => {
            let eq: Token![=] = input.parse()?;
            let lit: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `errors = \"close\"` or `errors = \"keep_open\"`",
                )
            })?;
            let mode = ErrorMode::parse(&lit)?;
            args.errors.set(cx, quote::quote!(#key #eq #lit), mode);
        }
        "groups" => {
            let eq: Token![=] = input.parse()?;
            let content;
            let brackets = syn::bracketed!(content in input);
            let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            let spanned = quote::quote_spanned!(brackets.span.close()=> #key #eq end);
            args.groups.set(cx, spanned, list.into_iter().collect());
        }
        "crate" => {
            let eq: Token![=] = input.parse()?;
            let lit: LitStr = input.parse()?;
            let path = runtime_path(&lit)?;
            args.krate.set(cx, quote::quote!(#key #eq #lit), path);
        }
        _ => {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown argument `{key}`: {ARGUMENTS}"),
            ));
        }
    }
    Ok(())
}

/// The path in `crate = "..."`.
pub fn runtime_path(lit: &LitStr) -> syn::Result<syn::Path> {
    lit.parse::<syn::Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate = \"{}\"` is not a path: name the runtime crate, like `crate = \"channels_runtime\"`",
                lit.value()
            ),
        )
    })
}

/// After a malformed argument, skips to the `,` before the next one.
fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// What `#[consumer]` was put on.
pub enum ConsumerItem {
    /// A function consumer.
    Fn(syn::ItemFn),
    /// The `impl` block of a class-based consumer.
    Impl(syn::ItemImpl),
    /// Anything else: reported, and emitted unchanged.
    Other(TokenStream),
}

/// Parses the item under `#[consumer]`; anything but a `fn` or an `impl` block is reported.
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

/// What `group!` takes: a literal, after `__captures(room, ...)` when `#[consumer]` rewrote it (the
/// placeholders that name the consumer's path captures, which `channel_routing!` checks on every route).
pub fn group_input(input: TokenStream) -> syn::Result<(Vec<Ident>, LitStr)> {
    let parser = |input: ParseStream| -> syn::Result<(Vec<Ident>, LitStr)> {
        let mut captures = Vec::new();
        if input.peek(Ident) && input.peek2(syn::token::Paren) {
            let marker: Ident = input.parse()?;
            if marker != CAPTURES_MARKER {
                return Err(syn::Error::new(marker.span(), "expected a string literal"));
            }
            let content;
            syn::parenthesized!(content in input);
            captures = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
                .into_iter()
                .collect();
        }
        let lit: LitStr = input.parse()?;
        Ok((captures, lit))
    };
    parser.parse2(input)
}

/// How `#[consumer]` marks a `group!` template's placeholders that name its path captures.
pub const CAPTURES_MARKER: &str = "__captures";
