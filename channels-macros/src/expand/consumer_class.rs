//! `#[consumer] impl Type`: the block as written, and `ClassConsumer` for the type: one instance per
//! connection, behind a lock, each event dispatched to its handler method.

use channels_names::events;
use proc_macro2::TokenStream;
use quote::quote;

use super::companion::{Kind, Metadata, companion_impl, stub_companion};
use super::params::{parse_captures, uses_and_needs};
use super::{
    capture_local, first_span, into_result, local, local_at, qualified, qualified_call, respan,
};
use crate::check::{ClassModel, Handler, HandlerArg, HandlerKind, MessageArg};
use crate::exports::{self, Exports};

/// One run of `handler`: its arguments read from the message, then the method called on the locked
/// instance.
fn handler_invocation(ex: &Exports, handler: &Handler, name: &str) -> TokenStream {
    let method = &handler.ident;
    let into = into_result(ex, handler.ret_span);
    let output = local_at("output", handler.ret_span);
    let (msg, state, this) = (local("message"), local("state"), local("this"));
    let (done, some) = (ex.done(), exports::some());
    let mut prelude = TokenStream::new();
    let mut args = Vec::new();
    for arg in &handler.args {
        match arg {
            HandlerArg::Message(MessageArg::ByValue) => args.push(quote!(#msg)),
            HandlerArg::Message(MessageArg::ByRef) => args.push(quote!(&#msg)),
            HandlerArg::MessageOrEvent(ty) => {
                let arg = local("arg");
                let from_event =
                    qualified_call(ty, ex.handler_param(), "from_event", quote!(#name, #msg));
                prelude.extend(quote! {
                    let #some(#arg) = #from_event else {
                        return #done();
                    };
                });
                args.push(quote!(#arg));
            }
            HandlerArg::Event(ty) => {
                let event = local("event");
                let first = first_span(ty);
                let event_payload = respan(ex.event_payload(), first);
                prelude.extend(quote! {
                    let #some(#event) = #event_payload::<#ty>(#name, &#msg) else {
                        return #done();
                    };
                });
                args.push(quote!(#event));
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
        Some(h) => handler_invocation(ex, h, name),
        // Channels' `WebsocketConsumer.connect` accepts.
        None => quote! {
            #invocation::Async(#box_pin(async move {
                #into_consumer_result::into_consumer_result(#msg.reply_channel.accept().await)
            }))
        },
    };
    let receive = match find(HandlerKind::Receive) {
        Some(h) => handler_invocation(ex, h, name),
        None => quote!(#done()),
    };
    let disconnect = match find(HandlerKind::Disconnect) {
        Some(h) => handler_invocation(ex, h, name),
        None => quote!(#done()),
    };
    let is_handler = ex.is_handler();
    let event_arms = handlers
        .iter()
        .filter(|h| h.kind == HandlerKind::Event)
        .map(|h| {
            let method = h.ident.to_string();
            let run = handler_invocation(ex, h, name);
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
    let companion = companion_impl(
        Kind::Class,
        quote!(#self_ty),
        name,
        ex,
        Metadata {
            uses,
            needs,
            groups: groups.collect(),
            params,
        },
        TokenStream::new(),
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
                    _ => #unhandled(#name, &#msg),
                },
            ))
        },
    );
    quote! {
        #item

        #companion
    }
}

/// A class-based consumer that failed its checks: the block as written, and a companion that accepts
/// any route.
pub fn consumer_impl_stub(item: &syn::ItemImpl, ex: &Exports, errors: syn::Error) -> TokenStream {
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
    let companion = stub_companion(Kind::Class, quote!(#self_ty), &name, ex);
    quote! {
        #errors
        #item

        #companion
    }
}
