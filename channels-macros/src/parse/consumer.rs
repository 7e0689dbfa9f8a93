//! `#[consumer(...)]`: its arguments and the item it is put on.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Token};

use crate::attr::Attr;
use crate::ctxt::Ctxt;

/// `#[consumer(groups = ["chat", "room.{room}"], atomic, crate = "channels_runtime")]`
#[derive(Default)]
pub struct ConsumerArgs {
    /// `groups = [...]`: the groups every connection routed to the consumer joins.
    pub groups: Vec<LitStr>,
    /// `atomic`: hold the consumer's sends until it returns `Ok` (Channels 1.x's behaviour).
    pub atomic: Option<Ident>,
    /// `crate = "..."`: where the runtime is, when it is not `::channels`.
    pub krate: Option<syn::Path>,
}

const ARGUMENTS: &str = "`#[consumer]` takes `groups = [\"name\", \"room.{capture}\"]`, `atomic` and \
`crate = \"path::to::runtime\"`";

/// Parses the arguments; every malformed or repeated one is reported, and the rest still parsed.
pub fn consumer_args(args: TokenStream, cx: &mut Ctxt) -> ConsumerArgs {
    let mut groups = Attr::none(
        "`groups`",
        "list every group in one `groups = [\"chat\", \"room.{room}\"]`",
    );
    let mut atomic = Attr::none("`atomic`", "remove this one");
    let mut krate = Attr::none("`crate`", "remove one: the runtime is at one path");
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            if let Err(e) = consumer_arg(input, &mut groups, &mut atomic, &mut krate, cx) {
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
        krate: krate.get(),
    }
}

fn consumer_arg(
    input: ParseStream,
    groups: &mut Attr<Vec<LitStr>>,
    atomic: &mut Attr<Ident>,
    krate: &mut Attr<syn::Path>,
    cx: &mut Ctxt,
) -> syn::Result<()> {
    let key = input.call(Ident::parse_any)?;
    match key.to_string().as_str() {
        "atomic" => {
            if input.peek(Token![=]) {
                return Err(syn::Error::new(
                    input.span(),
                    "`atomic` takes no value: write `#[consumer(atomic)]`",
                ));
            }
            atomic.set(cx, &key, key.clone());
        }
        "groups" => {
            let eq: Token![=] = input.parse()?;
            let content;
            let brackets = syn::bracketed!(content in input);
            let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            let spanned = quote::quote_spanned!(brackets.span.close()=> #key #eq end);
            groups.set(cx, spanned, list.into_iter().collect());
        }
        "crate" => {
            let eq: Token![=] = input.parse()?;
            let lit: LitStr = input.parse()?;
            let path = runtime_path(&lit)?;
            krate.set(cx, quote::quote!(#key #eq #lit), path);
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
