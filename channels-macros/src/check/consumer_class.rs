//! `#[consumer] impl Type { ... }`: a class-based consumer, one instance per connection.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Type};

use super::groups::{GroupTemplate, groups};
use super::params::{MessageArg, Param, check_not_generic, named_params};
use crate::ctxt::Ctxt;
use crate::exports::Exports;
use crate::parse::{ConsumerArgs, ErrorMode};

/// Which message a class-based consumer's method handles.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// `connect`: `websocket.connect`.
    Connect,
    /// `receive`: `websocket.receive`.
    Receive,
    /// `disconnect`: `websocket.disconnect`.
    Disconnect,
    /// `receive_json`: `websocket.receive`, its text decoded (Channels' `JsonWebsocketConsumer`).
    ReceiveJson,
    /// A typed event: `chat.message` -> `chat_message`.
    Event,
}

/// What a handler's parameter (after `&mut self`) gets.
pub enum HandlerArg {
    /// The message (a handler's first of two parameters, or the only one of a `websocket.*`
    /// handler, or any `&T`).
    Message(MessageArg),
    /// The only parameter of an event handler: the message or the event's payload, as its type says
    /// (the generated code asks the type, so an event type of the user's called `Message` is a
    /// payload).
    MessageOrEvent(Type),
    /// The event's payload, built from its JSON.
    Event(Type),
    /// `receive_json`'s content, decoded from the frame's text with the class's `decode_json`.
    Content(Type),
}

/// One method of the `#[consumer]` block.
pub struct Handler {
    /// The method.
    pub ident: Ident,
    /// What it handles.
    pub kind: HandlerKind,
    /// `async fn`, or a sync `fn` run on the blocking pool.
    pub is_async: bool,
    /// Its parameters after `&mut self`.
    pub args: Vec<HandlerArg>,
    /// The return type, where an unsupported one is reported.
    pub ret_span: Span,
}

/// A checked `#[consumer] impl`: what `expand` reads.
pub struct ClassModel {
    /// The consumer type.
    pub self_ty: Type,
    /// Its name, for messages and logs.
    pub name: String,
    /// `fn new(captures...) -> Self`; `None`: `Default`.
    pub new: Option<Vec<Param>>,
    /// Its handlers.
    pub handlers: Vec<Handler>,
    /// `groups = [...]`.
    pub groups: Vec<GroupTemplate>,
    /// `errors = "..."`, if given.
    pub errors: Option<ErrorMode>,
    /// Where the runtime is.
    pub exports: Exports,
}

/// Checks a class-based consumer's `impl` block and arguments.
pub fn consumer_impl(item: &syn::ItemImpl, args: &ConsumerArgs, cx: &mut Ctxt) -> ClassModel {
    for (flag, held) in [(&args.atomic, "atomic"), (&args.buffered, "buffered")] {
        if let Some(flag) = flag {
            cx.spanned(
                flag,
                format!(
                    "`{held}` applies to function consumers; a class-based consumer's sends leave at once\n\
                     help: remove `{held}`, or route a `#[consumer({held})] async fn` instead"
                ),
            );
        }
    }
    let name = match &*item.self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string()),
        other => {
            cx.spanned(
                other,
                "a class-based consumer is a named type: `#[consumer] impl ChatConsumer { ... }`",
            );
            String::new()
        }
    };
    if let Some((_, path, _)) = &item.trait_ {
        cx.spanned(
            path,
            "`#[consumer]` goes on the type's own `impl` block (`impl ChatConsumer { ... }`), not on \
             a trait impl",
        );
    }
    check_not_generic(
        &item.generics,
        &format!("class-based consumer `{name}`"),
        cx,
    );
    let mut new = None;
    let mut handlers: Vec<Handler> = Vec::new();
    for impl_item in &item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let sig = &method.sig;
        if let Some(helper) = method.attrs.iter().find(|a| is_helper(a)) {
            if ["new", "connect", "receive", "disconnect"].contains(&sig.ident.to_string().as_str())
            {
                cx.spanned(
                    helper,
                    format!(
                        "`{}` can't be a `#[helper]`: the class calls it for {}\nhelp: remove \
                         `#[helper]`, or rename the helper",
                        sig.ident,
                        if sig.ident == "new" {
                            "each connection".to_owned()
                        } else {
                            format!("`websocket.{}`", sig.ident)
                        }
                    ),
                );
            }
            continue;
        }
        check_not_generic(&sig.generics, &format!("handler `{}`", sig.ident), cx);
        if sig.ident == "new" {
            new = Some(check_new(sig, &name, cx));
        } else if let Some(handler) = check_handler(sig, &name, cx) {
            handlers.push(handler);
        }
    }
    let receive = handlers.iter().find(|h| h.kind == HandlerKind::Receive);
    if let (Some(_), Some(json)) = (
        receive,
        handlers.iter().find(|h| h.kind == HandlerKind::ReceiveJson),
    ) {
        cx.spanned(
            &json.ident,
            format!(
                "`{name}` has both `receive` and `receive_json`: each frame goes to one of them\nhelp: \
                 keep `receive_json` (Channels' `JsonWebsocketConsumer`: frames are decoded for it) \
                 and remove `receive`, or keep `receive` and decode in it"
            ),
        );
    }
    ClassModel {
        self_ty: (*item.self_ty).clone(),
        name,
        new,
        handlers,
        groups: groups(args, cx),
        errors: args.errors,
        exports: Exports::new(args.krate.clone()),
    }
}

/// `#[helper]`: a method of the block that is not an event handler.
pub fn is_helper(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("helper")
}

/// `fn new(capture: Type, ...) -> Self`: its parameters are path captures.
fn check_new(sig: &syn::Signature, name: &str, cx: &mut Ctxt) -> Vec<Param> {
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        cx.spanned(
            r,
            "`new` creates the instance for a connection; it takes no `self`",
        );
    }
    if sig.asyncness.is_some() {
        cx.spanned(
            sig.asyncness,
            "`new` must not be `async`: it runs when a connection's path is matched",
        );
    }
    named_params(
        sig.inputs.iter().filter(|a| matches!(a, FnArg::Typed(_))),
        &format!("{name}::new"),
        false,
        cx,
    )
}

/// A handler: `(&mut self, [message: Message,] [event: T])`.
fn check_handler(sig: &syn::Signature, name: &str, cx: &mut Ctxt) -> Option<Handler> {
    let ident = &sig.ident;
    let method_name = ident.to_string();
    if method_name.starts_with('_') {
        cx.spanned(
            ident,
            format!(
                "handler names can't start with `_`: Channels refuses to dispatch an event \
                 type to `{method_name}`\nhelp: for a helper method, put `#[helper]` above it (or \
                 move it to an `impl {name}` block without `#[consumer]`); for a handler, rename it"
            ),
        );
        return None;
    }
    let kind = match method_name.as_str() {
        "connect" => HandlerKind::Connect,
        "receive" => HandlerKind::Receive,
        "disconnect" => HandlerKind::Disconnect,
        "receive_json" => HandlerKind::ReceiveJson,
        _ => HandlerKind::Event,
    };
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() => {}
        other => {
            let span = other.map_or(sig.paren_token.span.join(), Spanned::span);
            cx.error(
                span,
                format!(
                    "handler `{method_name}` must take `&mut self`: one instance serves every \
                     event of a connection\nhelp: write `fn {method_name}(&mut self, ...)`; for a \
                     helper method, put `#[helper]` above it (or move it to an `impl {name}` block \
                     without `#[consumer]`)"
                ),
            );
            return None;
        }
    }
    let typed: Vec<&syn::PatType> = inputs
        .filter_map(|a| match a {
            FnArg::Typed(pt) => Some(pt),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let most = if matches!(kind, HandlerKind::Event | HandlerKind::ReceiveJson) {
        2
    } else {
        1
    };
    for extra in typed.iter().skip(most) {
        let expected = match kind {
            HandlerKind::Event => format!(
                "`(&mut self, message: Message, event: T)`, where `T: Deserialize` is the \
                 payload of a `\"type\": \"{}\"` event",
                method_name.replace('_', ".")
            ),
            HandlerKind::ReceiveJson => "`(&mut self, message: Message, content: T)`, where \
                 `T: Deserialize` is the frame's JSON"
                .to_owned(),
            _ => "`(&mut self, message: Message)`".to_owned(),
        };
        cx.spanned(
            extra,
            format!(
                "unexpected parameter: `{method_name}` takes {expected}\nhelp: for a helper \
                 method, put `#[helper]` above it"
            ),
        );
    }
    let args = match (kind, typed.as_slice()) {
        (HandlerKind::ReceiveJson, []) => {
            cx.error(
                sig.paren_token.span.join(),
                "`receive_json` takes the frame's JSON: `(&mut self, message: Message, content: T)` \
                 or `(&mut self, content: T)`, where `T: Deserialize` (`serde_json::Value` for any \
                 JSON)",
            );
            return None;
        }
        (HandlerKind::ReceiveJson, [only]) => vec![HandlerArg::Content((*only.ty).clone())],
        (HandlerKind::ReceiveJson, [message, content, ..]) => vec![
            HandlerArg::Message(MessageArg::of(&message.ty)),
            HandlerArg::Content((*content.ty).clone()),
        ],
        (_, []) => Vec::new(),
        (HandlerKind::Event, [only]) => match MessageArg::of(&only.ty) {
            MessageArg::ByRef => vec![HandlerArg::Message(MessageArg::ByRef)],
            MessageArg::ByValue => vec![HandlerArg::MessageOrEvent((*only.ty).clone())],
        },
        (HandlerKind::Event, [message, event, ..]) => vec![
            HandlerArg::Message(MessageArg::of(&message.ty)),
            HandlerArg::Event((*event.ty).clone()),
        ],
        (_, [message, ..]) => vec![HandlerArg::Message(MessageArg::of(&message.ty))],
    };
    let ret_span = match &sig.output {
        syn::ReturnType::Default => ident.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    Some(Handler {
        ident: ident.clone(),
        kind,
        is_async: sig.asyncness.is_some(),
        args,
        ret_span,
    })
}
