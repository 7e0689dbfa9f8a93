//! Phase 3: code generation from the checked model.
//!
//! Generated code names everything by full path (`::channels::...`), reaches support code through
//! `::channels::__private`, and keeps helpers inside `const _: () = { ... };`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::check::{
    CheckedTable, ClassModel, FnModel, GroupTemplate, Handler, HandlerKind, MessageArg, Param,
    ParamKind,
};
use crate::parse::{EntryKind, Table};

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

// ---------------------------------------------------------------------------------------------------
// channel_routing!

pub fn table(checked: &CheckedTable) -> TokenStream {
    let Table {
        attrs,
        vis,
        name,
        entries,
    } = checked.table;
    let mut checks = Vec::new();
    let mut chain = Vec::new();
    // Function consumers are resolved through `mod #resolve`, so that routing to a function without
    // `#[consumer]` is a readable trait error rather than "expected type, found function".
    let resolve = format_ident!("__channel_routing_{}", name);
    let mut aliases = Vec::new();
    let mut resolvers = Vec::new();
    for (i, (entry, captures)) in entries.iter().zip(&checked.captures).enumerate() {
        let path = match &entry.path {
            Some(lit) => quote!(::core::option::Option::Some(#lit)),
            None => quote!(::core::option::Option::None),
        };
        let (meta, target_name) = match &entry.kind {
            EntryKind::Route { event, consumer } => {
                // The last segment: the function's name, where "add #[consumer]" belongs.
                let span = consumer
                    .segments
                    .last()
                    .map_or_else(|| consumer.span(), |s| s.ident.span());
                let alias = Ident::new(&format!("__channel_routing_{name}_{i}"), span);
                let module = Ident::new(&format!("r{i}"), span);
                let resolve = Ident::new(&resolve.to_string(), span);
                // `self::name`: a single name is an item of this module (or imported into it), and an
                // unknown one is reported with "a similar name exists" rather than "no external crate".
                let import = if consumer.leading_colon.is_none() && consumer.segments.len() == 1 {
                    quote_spanned!(span=> self::#consumer)
                } else {
                    quote!(#consumer)
                };
                aliases.push(quote_spanned! {span=>
                    #[doc(hidden)]
                    #[allow(unused_imports)]
                    use #import as #alias;
                });
                resolvers.push(quote! {
                    pub(super) mod #module {
                        #[allow(unused_imports)]
                        pub(in super::super) use ::channels::__private::consumer_fallback::*;
                        pub(in super::super) use super::super::#alias as C;
                    }
                });
                let resolved = quote_spanned!(span=> <#resolve::#module::C as ::channels::__private::FnConsumer>);
                chain.push(quote! {
                    .route(#resolved::route(#event, #path))
                });
                (resolved, crate::check::path_text(consumer))
            }
            EntryKind::Class { ty } => {
                chain.push(quote! {
                    .route(<#ty as ::channels::__private::ClassConsumer>::route(#path))
                });
                (
                    quote!(<#ty as ::channels::__private::ClassConsumer>),
                    crate::check::path_text(ty),
                )
            }
            EntryKind::Include { target } => {
                chain.push(quote! { .include(#path, #target()) });
                continue;
            }
        };
        // Captures against the consumer's parameters and groups, while compiling: each panic message
        // was written by one of the two macros, which each know one side.
        let has_path = entry.path.is_some();
        let at = match &entry.path {
            Some(lit) => lit.span(),
            None => entry.last,
        };
        checks.push(quote_spanned! {at=>
            const _: () = if let ::core::option::Option::Some(message) =
                ::channels::__private::unmet_need(#meta::NEEDS, &[#(#captures),*], #has_path)
            {
                ::core::panic!("{}", message)
            };
        });
        for capture in captures {
            let message = format!(
                "the path captures `{capture}`, but `{target_name}` takes no parameter `{capture}`\n\
                 help: add a parameter `{capture}: String` (or another `FromStr` type) to \
                 `{target_name}`, or make the group non-capturing: `(?:...)`"
            );
            checks.push(quote_spanned! {at=>
                const _: () = if !::channels::__private::uses(#meta::USES, #capture) {
                    ::core::panic!("{}", #message)
                };
            });
        }
    }
    let doc = if attrs.iter().any(|a| a.path().is_ident("doc")) {
        quote!()
    } else {
        quote!(#[doc = "The route table (`channel_routing!`)."])
    };
    let resolve_mod = (!resolvers.is_empty()).then(|| {
        quote! {
            #(#aliases)*
            #[doc(hidden)]
            mod #resolve {
                #(#resolvers)*
            }
        }
    });
    quote! {
        #(#attrs)*
        #doc
        #vis fn #name() -> ::channels::routing::Routing {
            #(#checks)*
            ::channels::routing::Routing::new()
                #(#chain)*
        }

        #resolve_mod
    }
}

/// What a table with errors expands to: the errors and a stub, so code calling it still compiles.
pub fn table_stub(table: Option<&Table>, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let Some(Table {
        attrs, vis, name, ..
    }) = table
    else {
        return errors;
    };
    quote! {
        #errors
        #(#attrs)*
        #[doc = "The route table (`channel_routing!`)."]
        #vis fn #name() -> ::channels::routing::Routing {
            ::channels::routing::Routing::new()
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// #[consumer]: what both kinds share

fn group_lits(groups: &[GroupTemplate]) -> Vec<&syn::LitStr> {
    groups.iter().map(|g| &g.lit).collect()
}

/// Capture names a consumer uses, and what it needs, with messages naming it.
fn uses_and_needs(
    consumer: &str,
    params: &[Param],
    groups: &[GroupTemplate],
) -> (Vec<String>, Vec<TokenStream>) {
    let mut uses: Vec<String> = Vec::new();
    let mut needs = Vec::new();
    for p in params.iter().filter(|p| p.kind == ParamKind::Capture) {
        let name = p.ident.to_string();
        let ty = type_text(&p.ty);
        let with_path = format!(
            "`{consumer}` takes `{name}: {ty}`, but this route's path has no capture `{name}`\n\
             help: add `(?P<{name}>...)` to the path, or remove the parameter"
        );
        let without_path = format!(
            "`{consumer}` takes `{name}: {ty}` from the path, but this route has no path\n\
             help: add `path = r\"...(?P<{name}>...)...\"` to the route, or remove the parameter"
        );
        needs.push(quote! {
            ::channels::__private::Need { name: #name, with_path: #with_path, without_path: #without_path }
        });
        uses.push(name);
    }
    for g in groups {
        for name in &g.placeholders {
            if uses.contains(name) {
                continue;
            }
            let group = g.lit.value();
            let with_path = format!(
                "group \"{group}\" of `{consumer}` needs the capture `{name}`, but this route's path \
                 has no `(?P<{name}>...)`\nhelp: add it to the path, or use this consumer only on \
                 routes that capture `{name}`"
            );
            let without_path = format!(
                "group \"{group}\" of `{consumer}` needs the capture `{name}`, but this route has no \
                 path\nhelp: add `path = r\"...(?P<{name}>...)...\"` to the route"
            );
            needs.push(quote! {
                ::channels::__private::Need { name: #name, with_path: #with_path, without_path: #without_path }
            });
            uses.push(name.clone());
        }
    }
    (uses, needs)
}

/// `let __room: String = params.parse("room")?;` for each capture; spanned at the type, so a type
/// that can't be parsed from the URL is reported on it.
/// Whether `ty` is `Cow<str>` (any lifetime, any path to `Cow`): not `FromStr`, but a natural capture type,
/// so it is parsed as a `String` and handed over as `Cow::Owned`.
fn is_cow_str(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident != "Cow" {
        return false;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    args.args.iter().any(|arg| {
        matches!(arg, syn::GenericArgument::Type(syn::Type::Path(p)) if p.path.is_ident("str"))
    })
}

fn parse_captures(params: &[Param]) -> TokenStream {
    params
        .iter()
        .filter(|p| p.kind == ParamKind::Capture)
        .map(|p| {
            let local = format_ident!("__{}", p.ident);
            let name = p.ident.to_string();
            let ty = &p.ty;
            if is_cow_str(ty) {
                return quote! {
                    let #local: ::std::borrow::Cow<'static, str> = ::std::borrow::Cow::Owned(
                        ::channels::__private::PathParams::parse::<::std::string::String>(params, #name)?,
                    );
                };
            }
            let parse = quote_spanned!(ty.span()=> ::channels::__private::PathParams::parse::<#ty>);
            quote! { let #local: #ty = #parse(params, #name)?; }
        })
        .collect()
}

fn into_result(span: Span) -> TokenStream {
    quote_spanned!(span=> ::channels::__private::IntoConsumerResult::into_consumer_result)
}

// ---------------------------------------------------------------------------------------------------
// #[consumer] fn

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
    } = model;
    let name = ident.to_string();
    let (uses, needs) = uses_and_needs(&name, params, groups);
    let groups = group_lits(groups);
    let parse = parse_captures(params);
    let clones = params.iter().map(|p| {
        let local = format_ident!("__{}", p.ident);
        match p.kind {
            ParamKind::Capture if is_cow_str(&p.ty) => {
                quote! { let #local = ::core::clone::Clone::clone(&#local); }
            }
            ParamKind::Capture => {
                let ty = &p.ty;
                let clone = quote_spanned!(ty.span()=> ::channels::__private::clone_capture::<#ty>);
                quote! { let #local = #clone(&#local); }
            }
            ParamKind::Session => quote! {
                let #local = ::core::clone::Clone::clone(__message.channel_session());
            },
        }
    });
    let message_arg = match message {
        MessageArg::ByValue => quote_spanned!(*message_span=> __message),
        MessageArg::ByRef => quote_spanned!(*message_span=> &__message),
    };
    let args = params.iter().map(|p| format_ident!("__{}", p.ident));
    let call = quote!(#ident(#message_arg #(, #args)*));
    let output = quote_spanned!(*ret_span=> __output);
    let into = into_result(*ret_span);
    let invocation = if *is_async {
        quote! {
            ::channels::__private::Invocation::Async(::std::boxed::Box::pin(async move {
                let #output = #call.await;
                #into(#output)
            }))
        }
    } else {
        quote! {
            ::channels::__private::Invocation::Blocking(::std::boxed::Box::new(move || {
                let #output = #call;
                #into(#output)
            }))
        }
    };
    let atomic = if *atomic { quote!(.atomic()) } else { quote!() };
    let companion = companion_impl(
        quote!(::channels::__private::FnConsumer),
        quote!(#ident),
        &name,
        Metadata::new(uses, needs, groups),
        quote! {
            #parse
            ::core::option::Option::Some(::channels::__private::Consumer::new(
                #name,
                move |__message: ::channels::Message| {
                    #(#clones)*
                    #invocation
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
pub fn consumer_fn_stub(item: &syn::ItemFn, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    if let Some(syn::FnArg::Receiver(_)) = item.sig.inputs.first() {
        // A method: no companion can sit next to it.
        return quote!(#errors #item);
    }
    let ident = &item.sig.ident;
    let vis = &item.vis;
    let name = ident.to_string();
    let companion = stub_companion(
        quote!(::channels::__private::FnConsumer),
        quote!(#ident),
        &name,
    );
    quote! {
        #errors
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #companion
    }
}

// ---------------------------------------------------------------------------------------------------
// #[consumer] impl

fn handler_invocation(handler: &Handler, name: &str) -> TokenStream {
    let method = &handler.ident;
    let into = into_result(handler.ret_span);
    let output = quote_spanned!(handler.ret_span=> __output);
    let message = match handler.message {
        Some(MessageArg::ByValue) => quote!(__message),
        Some(MessageArg::ByRef) => quote!(&__message),
        None => quote!(),
    };
    let (payload, event_arg) = match &handler.event {
        Some(ty) => {
            let parse = quote_spanned!(ty.span()=> ::channels::__private::event_payload::<#ty>);
            (
                quote! {
                    let ::core::option::Option::Some(__event) = #parse(#name, &__message) else {
                        return ::channels::__private::done();
                    };
                },
                quote!(__event),
            )
        }
        None => (quote!(), quote!()),
    };
    let args: Vec<&TokenStream> = [&message, &event_arg]
        .into_iter()
        .filter(|a| !a.is_empty())
        .collect();
    if handler.is_async {
        quote! {{
            #payload
            let __state = ::std::sync::Arc::clone(&__state);
            ::channels::__private::Invocation::Async(::std::boxed::Box::pin(async move {
                let mut __this = __state.lock_owned().await;
                let #output = __this.#method(#(#args),*).await;
                #into(#output)
            }))
        }}
    } else {
        quote! {{
            #payload
            let __state = ::std::sync::Arc::clone(&__state);
            ::channels::__private::Invocation::Blocking(::std::boxed::Box::new(move || {
                let mut __this = __state.blocking_lock();
                let #output = __this.#method(#(#args),*);
                #into(#output)
            }))
        }}
    }
}

pub fn consumer_impl(item: &syn::ItemImpl, model: &ClassModel) -> TokenStream {
    let ClassModel {
        self_ty,
        name,
        new,
        handlers,
        groups,
    } = model;
    let no_params = Vec::new();
    let params = new.as_ref().unwrap_or(&no_params);
    let (uses, needs) = uses_and_needs(name, params, groups);
    let groups = group_lits(groups);
    let parse = parse_captures(params);
    let create = match new {
        Some(params) => {
            let args = params.iter().map(|p| format_ident!("__{}", p.ident));
            quote!(<#self_ty>::new(#(#args),*))
        }
        None => {
            let default = quote_spanned!(self_ty.span()=> <#self_ty as ::channels::__private::DefaultInstance>::default_instance);
            quote!(#default())
        }
    };
    let find = |kind: HandlerKind| handlers.iter().find(|h| h.kind == kind);
    let connect = match find(HandlerKind::Connect) {
        Some(h) => handler_invocation(h, name),
        // Channels' `WebsocketConsumer.connect` accepts.
        None => quote! {
            ::channels::__private::Invocation::Async(::std::boxed::Box::pin(async move {
                ::channels::__private::IntoConsumerResult::into_consumer_result(
                    __message.reply_channel.accept().await,
                )
            }))
        },
    };
    let receive = match find(HandlerKind::Receive) {
        Some(h) => handler_invocation(h, name),
        None => quote!(::channels::__private::done()),
    };
    let disconnect = match find(HandlerKind::Disconnect) {
        Some(h) => handler_invocation(h, name),
        None => quote!(::channels::__private::done()),
    };
    let events = handlers
        .iter()
        .filter(|h| h.kind == HandlerKind::Event)
        .map(|h| {
            let method = h.ident.to_string();
            let run = handler_invocation(h, name);
            quote! {
                __event if ::channels::__private::is_handler(__event, #method) => #run,
            }
        });
    let companion = companion_impl(
        quote!(::channels::__private::ClassConsumer),
        quote!(#self_ty),
        name,
        Metadata::new(uses, needs, groups),
        quote! {
            #parse
            let __state = ::std::sync::Arc::new(::channels::__private::AsyncMutex::new(#create));
            ::core::option::Option::Some(::channels::__private::Consumer::new(
                #name,
                move |__message: ::channels::Message| match __message.channel() {
                    "websocket.connect" => #connect,
                    "websocket.receive" => #receive,
                    "websocket.disconnect" => #disconnect,
                    #(#events)*
                    _ => ::channels::__private::unhandled_event(#name, &__message),
                },
            ))
        },
    );
    quote! {
        #item

        #companion
    }
}

/// The companion of a consumer that failed its own checks: it accepts any route (so its errors are not
/// repeated at every route that uses it) and never binds.
fn stub_companion(trait_path: TokenStream, self_ty: TokenStream, name: &str) -> TokenStream {
    let any = [quote!(::channels::__private::ANY_CAPTURE)];
    let none: [TokenStream; 0] = [];
    companion_impl(
        trait_path,
        self_ty,
        name,
        Metadata::new(any, none.clone(), none),
        quote! {
            let _ = params;
            ::core::option::Option::None
        },
    )
}

/// What `channel_routing!` reads off a consumer's companion: the names it uses, what it needs from a
/// route's path, and its declared groups (each already rendered as tokens).
struct Metadata {
    uses: Vec<TokenStream>,
    needs: Vec<TokenStream>,
    groups: Vec<TokenStream>,
}

impl Metadata {
    fn new(
        uses: impl IntoIterator<Item = impl quote::ToTokens>,
        needs: impl IntoIterator<Item = impl quote::ToTokens>,
        groups: impl IntoIterator<Item = impl quote::ToTokens>,
    ) -> Self {
        fn tokens(items: impl IntoIterator<Item = impl quote::ToTokens>) -> Vec<TokenStream> {
            items
                .into_iter()
                .map(|item| quote::ToTokens::into_token_stream(item))
                .collect()
        }
        Metadata {
            uses: tokens(uses),
            needs: tokens(needs),
            groups: tokens(groups),
        }
    }
}

/// The companion impl that `#[consumer]` emits for a function (`FnConsumer`) or a class
/// (`ClassConsumer`): the metadata consts, and `bind` with the given body.
fn companion_impl(
    trait_path: TokenStream,
    self_ty: TokenStream,
    name: &str,
    metadata: Metadata,
    bind_body: TokenStream,
) -> TokenStream {
    let Metadata {
        uses,
        needs,
        groups,
    } = metadata;
    quote! {
        const _: () = {
            impl #trait_path for #self_ty {
                const NAME: &'static str = #name;
                const USES: &'static [&'static str] = &[#(#uses),*];
                const NEEDS: &'static [::channels::__private::Need] = &[#(#needs),*];
                const GROUPS: &'static [&'static str] = &[#(#groups),*];

                fn bind(
                    params: &::channels::__private::PathParams,
                ) -> ::core::option::Option<::channels::__private::Consumer> {
                    #bind_body
                }
            }
        };
    }
}

/// A class-based consumer that failed its checks: the block as written, and a companion that accepts
/// any route.
pub fn consumer_impl_stub(item: &syn::ItemImpl, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let self_ty = &item.self_ty;
    let name = match &**self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let Some(name) = name.filter(|_| item.generics.params.is_empty() && item.trait_.is_none())
    else {
        return quote!(#errors #item);
    };
    let companion = stub_companion(
        quote!(::channels::__private::ClassConsumer),
        quote!(#self_ty),
        &name,
    );
    quote! {
        #errors
        #item

        #companion
    }
}

// ---------------------------------------------------------------------------------------------------
// group!

pub fn group(lit: &syn::LitStr) -> TokenStream {
    quote!(::channels::Group::from_checked(#lit))
}
