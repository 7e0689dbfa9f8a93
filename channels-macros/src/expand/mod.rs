//! Phase 3: code generation from the checked model (never from raw tokens).
//!
//! Generated code names everything by full path, through the one table in `exports.rs`; keeps its
//! impls inside `const _: () = { ... };`; and owns its local names: generated locals start with
//! `__channels_`, a path capture `room` is held in `__capture_room`, so no parameter or capture name
//! (`message`, `params`, `state`, ...) can collide with them.

mod asgi;
mod companion;
mod consumer_class;
mod consumer_fn;
mod params;
mod route;
mod table;

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};

pub use consumer_class::{consumer_impl, consumer_impl_stub};
pub use consumer_fn::{consumer_fn, consumer_fn_stub};
pub use table::{table, table_stub};

use crate::exports::Exports;

/// A generated local: `__channels_<name>`.
fn local(name: &str) -> Ident {
    format_ident!("__channels_{}", name)
}

/// A generated local, with `span` for the errors the compiler reports at it.
fn local_at(name: &str, span: Span) -> Ident {
    Ident::new(&format!("__channels_{name}"), span)
}

/// `tokens` (a path from `exports`) with every token at `span`, so an error about the expression they
/// are part of is reported where the user wrote the thing it is about.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The span of the first token of `tokens` (a type as written).
fn first_span(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |tt| tt.span())
}

/// The span of the last token of `tokens`.
fn last_span(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |tt| tt.span())
}

/// `<ty as trait_path>::item`, spanning exactly `ty` as written: an unsatisfied bound is reported under
/// the whole type, and every use of the same bound is the same error, which the compiler shows once.
fn qualified(ty: &impl ToTokens, trait_path: TokenStream, item: &str) -> TokenStream {
    let (first, last) = (first_span(ty), last_span(ty));
    let open = respan(quote!(<), first);
    let rest = respan(quote!(as #trait_path>::), last);
    let item = Ident::new(item, last);
    quote!(#open #ty #rest #item)
}

/// `<ty as trait_path>::item(args)`, the whole call spanning `ty` (see [`qualified`]).
fn qualified_call(
    ty: &impl ToTokens,
    trait_path: TokenStream,
    item: &str,
    args: TokenStream,
) -> TokenStream {
    let path = qualified(ty, trait_path, item);
    let mut args = Group::new(Delimiter::Parenthesis, respan(args, last_span(ty)));
    args.set_span(last_span(ty));
    quote!(#path #args)
}

/// The local holding the capture (or extractor) parameter `param`: `__capture_<param>`.
fn capture_local(param: &Ident) -> Ident {
    format_ident!("__capture_{}", param)
}

/// A type as the user wrote it, for messages: `Vec<u8>`, not `Vec < u8 >`.
fn type_text(ty: &syn::Type) -> String {
    let text = quote!(#ty).to_string();
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = if i > 0 { chars[i - 1] } else { ' ' };
            let next = chars.get(i + 1).copied().unwrap_or(' ');
            if matches!(prev, '<' | ':' | '&' | '(' | '[')
                || matches!(next, '<' | '>' | ':' | ',' | ')' | ']')
            {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `IntoConsumerResult::into_consumer_result`, spanned at the return type so that an unsupported one
/// is reported there.
fn into_result(ex: &Exports, span: Span) -> TokenStream {
    let trait_path = ex.result_trait();
    respan(quote!(#trait_path::into_consumer_result), span)
}

/// `.with_error_mode(...)` on a `Consumer` or `Routing` for `errors = "..."`, or nothing.
fn error_mode_call(ex: &Exports, errors: Option<crate::parse::ErrorMode>) -> TokenStream {
    let mode = ex.error_mode();
    match errors {
        None => TokenStream::new(),
        Some(crate::parse::ErrorMode::Close) => quote!(.with_error_mode(#mode::Close)),
        Some(crate::parse::ErrorMode::KeepOpen) => quote!(.with_error_mode(#mode::KeepOpen)),
    }
}

/// `group!("chat")`: a group whose name was checked while compiling; `group!("room.{room}")`: one
/// filled in from the variables in scope (`captures`: those that are path captures of the consumer
/// around it, whose characters `channel_routing!` checked).
pub fn group(template: &crate::check::GroupTemplate, captures: &[Ident]) -> TokenStream {
    let ex = Exports::default();
    let (group, lit) = (ex.group(), &template.lit);
    if template.placeholders.is_empty() {
        return quote!(#group::from_checked(#lit));
    }
    let span = lit.span();
    let (name_part, from_template) = (
        respan(ex.name_part(), span),
        respan(ex.group_from_template(), span),
    );
    let segments = &template.segments;
    let parts = template.placeholders.iter().map(|name| {
        // At the literal: a variable that isn't in scope, or whose type can't fill a placeholder, is
        // reported there.
        let var = Ident::new(name, span);
        let capture = captures.iter().any(|c| c == name);
        quote_spanned!(span=> #name_part(&#var, #capture))
    });
    // In a block of its own: the placeholders' borrows end with the `let`, so the group can be held
    // across an `.await` in a `Send` future.
    let group = local("group");
    quote!({
        let #group = #from_template(&[#(#segments),*], &[#(#parts),*]);
        #group
    })
}

/// `group!` with an error: the error, and a group, so the code around it still type-checks.
pub fn group_stub(errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let group = Exports::default().group();
    quote!({ #errors; #group::from_checked("invalid") })
}
