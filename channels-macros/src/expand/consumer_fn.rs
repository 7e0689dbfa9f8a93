//! `#[consumer] fn`: the function as written, a hidden companion struct of the same name (in the type
//! namespace), and its `FnConsumer` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::companion::{Kind, Metadata, companion_impl, stub_companion};
use super::params::{bind_params, extract_params, param_checks, uses_and_needs};
use proc_macro2::{Delimiter, Group, Ident, Span, TokenTree};

use super::{capture_local, error_mode_call, into_result, local, local_at, qualified};
use crate::check::{FnModel, MessageArg, Param, group_call, placeholders};
use crate::exports::{self, Exports};
use crate::parse::CAPTURES_MARKER;

/// The consumer, its companion and the companion's impl.
pub fn consumer_fn(item: &syn::ItemFn, model: &FnModel) -> TokenStream {
    let FnModel {
        ident,
        vis,
        is_async,
        message,
        message_span,
        params,
        ret_span,
        groups,
        atomic,
        buffered,
        errors,
        name_captures,
        exports: ex,
    } = model;
    let name = ident.to_string();
    let (uses, needs) = uses_and_needs(ex, &name, params, groups);
    let groups = groups.iter().map(|g| {
        let lit = &g.lit;
        quote!(#lit)
    });
    let bind = bind_params(ex, params);
    let extract = extract_params(ex, params);
    let msg = local("message");
    // Spanned at the parameter's type: a first parameter that isn't the `Message` is a type mismatch
    // there.
    let at_type = local_at("message", *message_span);
    let message_arg = match message {
        MessageArg::ByValue => quote!(#at_type),
        MessageArg::ByRef => quote_spanned!(*message_span=> &#at_type),
    };
    let args = params.iter().map(|p| capture_local(&p.ident));
    let call = quote!(#ident(#message_arg #(, #args)*));
    let output = local_at("output", *ret_span);
    let into = into_result(ex, *ret_span);
    let invocation = ex.invocation();
    let run = if *is_async && matches!(message, MessageArg::ByValue) {
        // The consumer's own future, boxed once (not inside an `async` block that would hold the
        // message beside it).
        let run_async = ex.run_async();
        quote! {
            #run_async(#call, |#output| #into(#output))
        }
    } else if *is_async {
        let box_pin = exports::box_pin();
        quote! {
            #invocation::Async(#box_pin(async move {
                let #output = #call.await;
                #into(#output)
            }))
        }
    } else {
        let box_new = exports::box_new();
        quote! {
            #invocation::Blocking(#box_new(move || {
                let #output = #call;
                #into(#output)
            }))
        }
    };
    let hold = if *atomic {
        quote!(.atomic())
    } else if *buffered {
        quote!(.buffered())
    } else {
        quote!()
    };
    let errors = error_mode_call(ex, *errors);
    let (consumer, message_ty, some) = (ex.consumer(), ex.message(), exports::some());
    let companion = companion_impl(
        Kind::Fn,
        quote!(#ident),
        &name,
        ex,
        Metadata {
            uses,
            needs,
            groups: groups.collect(),
            name_captures: name_capture_consts(ex, params, name_captures),
            params,
        },
        quote! {
            #bind
            #some(#consumer::new(
                #name,
                move |#msg: #message_ty| {
                    #extract
                    #run
                },
            )#hold #errors)
        },
    );
    let item = mark_capture_placeholders(&deny_unused_futures(item, *is_async), name_captures);
    let companion = companion_struct(vis, ident, companion);
    let checks = param_checks(ex, &name, params);
    let checks = (!checks.is_empty()).then(|| {
        let checks_name = quote::format_ident!("__channels_checks_{}", ident);
        quote! {
            #[doc(hidden)]
            #[allow(non_upper_case_globals, dead_code)]
            const #checks_name: () = {
                #checks
            };
        }
    });
    quote! {
        #item
        #companion
        #checks
    }
}

/// The companion: a struct named like the function, holding its impls.
///
/// It is one item, with the impls in its field's array length, so that `#[consumer]` on an associated
/// function (where no struct can go) is one error at the attribute, not one per item. (The checks of
/// the parameters are a named `const` beside it, which an `impl` block accepts too.)
fn companion_struct(
    vis: &syn::Visibility,
    ident: &syn::Ident,
    companion: TokenStream,
) -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, non_local_definitions)]
        #vis struct #ident {
            __channels_companion: [(); {
                #companion
                0
            }],
        }
    }
}

/// A sync consumer with `#[deny(unused_must_use)]` and the reason: an async method (`send(..)`) called
/// without `.await` does nothing, and in a sync consumer the error names its `_blocking` form.
fn deny_unused_futures(item: &syn::ItemFn, is_async: bool) -> syn::ItemFn {
    let mut item = item.clone();
    if !is_async {
        item.attrs.push(deny_attribute());
    }
    item
}

/// `#[deny(unused_must_use, reason = "...")]` for a sync consumer or handler.
pub(super) fn deny_attribute() -> syn::Attribute {
    syn::parse_quote! {
            #[deny(
                unused_must_use,
                reason = "a sync consumer calls the `_blocking` forms: an async method such as \
                          `send(..)` does nothing unless awaited; call `send_blocking(..)` (or \
                          `send_text_blocking`, `send_json_blocking`, `accept_blocking`, \
                          `close_blocking`, `respond_blocking`, `Group::send_blocking`), or make the \
                          consumer `async fn` and `.await` it"
        )]
    }
}

/// A consumer that failed its checks: the item as written, and a companion that accepts any route, so
/// its errors aren't repeated at every route that uses it.
pub fn consumer_fn_stub(item: &syn::ItemFn, ex: &Exports, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    if let Some(syn::FnArg::Receiver(_)) = item.sig.inputs.first() {
        // A method: no companion can sit next to it.
        return quote!(#errors #item);
    }
    let ident = &item.sig.ident;
    let vis = &item.vis;
    let name = ident.to_string();
    let companion = companion_struct(
        vis,
        ident,
        stub_companion(Kind::Fn, quote!(#ident), &name, ex),
    );
    quote! {
        #errors
        #item
        #companion
    }
}

/// `NAME_CAPTURES`: each capture a body template puts in a group name, unless its type only ever
/// writes name characters (an integer), as `const` expressions.
fn name_capture_consts(ex: &Exports, params: &[Param], names: &[String]) -> Vec<TokenStream> {
    let not_a_capture = ex.not_a_capture();
    names
        .iter()
        .filter_map(|name| params.iter().find(|p| p.ident == name))
        .map(|p| {
            let name = p.ident.to_string();
            if p.cow_str {
                return quote!(#name);
            }
            let name_characters = qualified(&p.ty, ex.group_name_part(), "NAME_CHARACTERS");
            let from_path = qualified(&p.ty, ex.consumer_param(), "FROM_PATH");
            quote!(if #from_path && !#name_characters { #name } else { #not_a_capture })
        })
        .collect()
}

/// The function with every `group!("...")` of its body marked with the placeholders that are path
/// captures (`group!(__captures(room) "room.{room}")`), so their characters aren't checked again.
fn mark_capture_placeholders(item: &syn::ItemFn, names: &[String]) -> syn::ItemFn {
    if names.is_empty() {
        return item.clone();
    }
    let mut item = item.clone();
    let body = mark(quote::ToTokens::to_token_stream(&item.block), names);
    match syn::parse2::<syn::Block>(body) {
        Ok(block) => item.block = Box::new(block),
        // Never happens (only a macro's arguments change); the body as written is then kept.
        Err(_) => return item,
    }
    item
}

fn mark(tokens: TokenStream, names: &[String]) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        if let (Some(template), TokenTree::Group(_)) = (
            if i >= 2 {
                group_call(&trees, i - 2)
            } else {
                None
            },
            tree,
        ) {
            let captures: Vec<Ident> = placeholders(&template)
                .into_iter()
                .filter(|p| names.contains(p))
                .map(|p| Ident::new(&p, Span::call_site()))
                .collect();
            if let (false, TokenTree::Group(args)) = (captures.is_empty(), tree) {
                let marker = Ident::new(CAPTURES_MARKER, Span::call_site());
                let inner = args.stream();
                let mut group = Group::new(
                    Delimiter::Parenthesis,
                    quote!(#marker(#(#captures),*) #inner),
                );
                group.set_span(args.span());
                out.push(TokenTree::Group(group));
                continue;
            }
        }
        match tree {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), mark(g.stream(), names));
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}
