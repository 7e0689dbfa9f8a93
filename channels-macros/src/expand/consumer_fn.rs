//! `#[consumer] fn`: the function as written, a hidden companion struct of the same name (in the type
//! namespace), and its `FnConsumer` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::companion::{Kind, Metadata, companion_impl, stub_companion};
use super::params::{bind_params, extract_params, param_checks, uses_and_needs};
use super::{capture_local, into_result, local, local_at};
use crate::check::{FnModel, MessageArg};
use crate::exports::{self, Exports};

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
    let run = if *is_async {
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
    let atomic = if *atomic { quote!(.atomic()) } else { quote!() };
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
            params,
        },
        param_checks(ex, &name, params),
        quote! {
            #bind
            #some(#consumer::new(
                #name,
                move |#msg: #message_ty| {
                    #extract
                    #run
                },
            )#atomic)
        },
    );
    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #companion
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
    let companion = stub_companion(Kind::Fn, quote!(#ident), &name, ex);
    quote! {
        #errors
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #companion
    }
}
