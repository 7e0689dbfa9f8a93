//! `#[consumer] impl Type`: the block as written, and `ClassConsumer` for the type: one instance per
//! connection, behind a lock, each event dispatched to its handler method.

use channels_names::events;
use proc_macro2::TokenStream;
use quote::quote;

use super::companion::{Kind, Metadata, companion_impl, stub_companion};
use super::params::{new_checks, parse_captures, uses_and_needs};
use super::{
    capture_local, error_mode_call, first_span, local, local_at, qualified, qualified_call, respan,
};
use crate::check::{ClassModel, Handler, HandlerArg, HandlerKind, MessageArg, is_helper};
use crate::exports::{self, Exports};

/// `let #local = match #value { Ok(v) => v, Err(e) => return failed(e) };`: a message the handler
/// can't take fails the run.
fn take_or_fail(ex: &Exports, local: &proc_macro2::Ident, value: TokenStream) -> TokenStream {
    let (failed, ok, err) = (ex.failed(), exports::ok(), exports::err());
    let (taken, error) = (super::local("taken"), super::local("error"));
    quote! {
        let #local = match #value {
            #ok(#taken) => #taken,
            #err(#error) => return #failed(#error),
        };
    }
}

/// One run of `handler`: its arguments read from the message, then the method called on the locked
/// instance.
fn handler_invocation(ex: &Exports, self_ty: &syn::Type, handler: &Handler) -> TokenStream {
    let method = &handler.ident;
    let into = respan(ex.handler_result(), handler.ret_span);
    let output = local_at("output", handler.ret_span);
    let (msg, state, this) = (local("message"), local("state"), local("this"));
    let mut prelude = TokenStream::new();
    let mut args = Vec::new();
    for arg in &handler.args {
        match arg {
            HandlerArg::Message(MessageArg::ByValue) => args.push(quote!(#msg)),
            HandlerArg::Message(MessageArg::ByRef) => args.push(quote!(&#msg)),
            HandlerArg::MessageOrEvent(ty) => {
                let arg = local("arg");
                let from_event = qualified_call(ty, ex.handler_param(), "from_event", quote!(#msg));
                prelude.extend(take_or_fail(ex, &arg, from_event));
                args.push(quote!(#arg));
            }
            HandlerArg::Event(ty) => {
                let event = local("event");
                let event_payload = respan(ex.event_payload(), first_span(ty));
                prelude.extend(take_or_fail(
                    ex,
                    &event,
                    quote!(#event_payload::<#ty>(&#msg)),
                ));
                args.push(quote!(#event));
            }
            HandlerArg::Content(ty) => {
                let content = local("content");
                // Spanned at `receive_json`: a class that doesn't implement `JsonWebsocketConsumer`
                // is told so there; a content type that isn't `Deserialize`, at the type.
                let json_content = respan(ex.json_content(), method.span());
                let self_at = respan(quote!(#self_ty), method.span());
                let ty_at = respan(quote!(#ty), first_span(ty));
                prelude.extend(take_or_fail(
                    ex,
                    &content,
                    quote!(#json_content::<#self_at, #ty_at>(&#msg)),
                ));
                args.push(quote!(#content));
            }
        }
    }
    let (invocation, arc_clone) = (ex.invocation(), exports::arc_clone());
    if handler.is_async {
        let box_pin = exports::box_pin();
        quote! {{
            #prelude
            let #state = #arc_clone(&#state);
            #invocation::Async(#box_pin(async move {
                let mut #this = #state.lock_owned().await;
                let #output = #this.#method(#(#args),*).await;
                #into(#output)
            }))
        }}
    } else {
        let box_new = exports::box_new();
        quote! {{
            #prelude
            let #state = #arc_clone(&#state);
            #invocation::Blocking(#box_new(move || {
                let mut #this = #state.blocking_lock();
                let #output = #this.#method(#(#args),*);
                #into(#output)
            }))
        }}
    }
}

/// The block as written, and the type's `ClassConsumer` impl.
pub fn consumer_impl(item: &syn::ItemImpl, model: &ClassModel) -> TokenStream {
    let ClassModel {
        self_ty,
        name,
        new,
        handlers,
        groups,
        errors,
        exports: ex,
    } = model;
    let no_params = Vec::new();
    let params = new.as_ref().unwrap_or(&no_params);
    let (uses, needs) = uses_and_needs(ex, name, params, groups);
    let groups = groups.iter().map(|g| {
        let lit = &g.lit;
        quote!(#lit)
    });
    let parse = parse_captures(ex, params);
    let create = match new {
        Some(params) => {
            let args = params.iter().map(|p| capture_local(&p.ident));
            quote!(<#self_ty>::new(#(#args),*))
        }
        None => {
            let default = qualified(self_ty, ex.default_instance(), "default_instance");
            quote!(#default())
        }
    };
    let (msg, state, event) = (local("message"), local("state"), local("event"));
    let (invocation, box_pin, done) = (ex.invocation(), exports::box_pin(), ex.done());
    let into_consumer_result = ex.result_trait();
    let find = |kind: HandlerKind| handlers.iter().find(|h| h.kind == kind);
    let connect = match find(HandlerKind::Connect) {
        Some(h) => handler_invocation(ex, self_ty, h),
        // Channels' `WebsocketConsumer.connect` accepts.
        None => quote! {
            #invocation::Async(#box_pin(async move {
                #into_consumer_result::into_consumer_result(#msg.reply_channel.accept().await)
            }))
        },
    };
    let receive = match find(HandlerKind::Receive).or_else(|| find(HandlerKind::ReceiveJson)) {
        Some(h) => handler_invocation(ex, self_ty, h),
        None => quote!(#done()),
    };
    let disconnect = match find(HandlerKind::Disconnect) {
        Some(h) => handler_invocation(ex, self_ty, h),
        None => quote!(#done()),
    };
    let is_handler = ex.is_handler();
    let event_arms = handlers
        .iter()
        .filter(|h| h.kind == HandlerKind::Event)
        .map(|h| {
            let method = h.ident.to_string();
            let run = handler_invocation(ex, self_ty, h);
            quote! {
                #event if #is_handler(#event, #method) => #run,
            }
        });
    let (connect_event, receive_event, disconnect_event) = (
        events::WEBSOCKET_CONNECT,
        events::WEBSOCKET_RECEIVE,
        events::WEBSOCKET_DISCONNECT,
    );
    let (consumer, message_ty, unhandled) = (ex.consumer(), ex.message(), ex.unhandled_event());
    let dispatch_type = ex.dispatch_type();
    let (arc_new, mutex, some) = (exports::arc_new(), ex.async_mutex(), exports::some());
    let errors = error_mode_call(ex, *errors);
    let companion = companion_impl(
        Kind::Class,
        quote!(#self_ty),
        name,
        ex,
        Metadata {
            uses,
            needs,
            groups: groups.collect(),
            name_captures: Vec::new(),
            params,
        },
        quote! {
            #parse
            let #state = #arc_new(#mutex::new(#create));
            #some(#consumer::new(
                #name,
                move |#msg: #message_ty| match #dispatch_type(&#msg) {
                    #connect_event => #connect,
                    #receive_event => #receive,
                    #disconnect_event => #disconnect,
                    #(#event_arms)*
                    _ => #unhandled(&#msg),
                },
            )#errors)
        },
    );
    let item = deny_unused_futures(item, handlers);
    let checks = new_checks(ex, name, params);
    quote! {
        #item

        const _: () = {
            #checks
            #companion
        };
    }
}

/// The block with each sync handler denying unused futures (see `consumer_fn::deny_unused_futures`),
/// and without the `#[helper]` marks.
fn deny_unused_futures(item: &syn::ItemImpl, handlers: &[Handler]) -> syn::ItemImpl {
    let mut item = without_helper_marks(item);
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(method) = impl_item
            && handlers
                .iter()
                .any(|h| !h.is_async && h.ident == method.sig.ident)
        {
            method.attrs.push(super::consumer_fn::deny_attribute());
        }
    }
    item
}

/// The block as written, without the `#[helper]` marks (which only `#[consumer]` reads).
fn without_helper_marks(item: &syn::ItemImpl) -> syn::ItemImpl {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(method) = impl_item {
            method.attrs.retain(|a| !is_helper(a));
        }
    }
    item
}

/// A class-based consumer that failed its checks: the block as written, and a companion that accepts
/// any route.
pub fn consumer_impl_stub(item: &syn::ItemImpl, ex: &Exports, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let item = &without_helper_marks(item);
    let self_ty = &item.self_ty;
    let name = match &**self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let Some(name) = name.filter(|_| item.generics.params.is_empty() && item.trait_.is_none())
    else {
        return quote!(#errors #item);
    };
    let companion = stub_companion(Kind::Class, quote!(#self_ty), &name, ex);
    quote! {
        #errors
        #item

        const _: () = {
            #companion
        };
    }
}
