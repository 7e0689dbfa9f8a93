//! `#[consumer] fn`: the signature a router can call.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Type};

use super::groups::{GroupTemplate, groups};
use super::params::{MessageArg, Param, check_not_generic, named_params};
use crate::ctxt::Ctxt;
use crate::exports::Exports;
use crate::parse::{ConsumerArgs, ErrorMode};

/// A checked `#[consumer] fn`: what `expand` reads.
pub struct FnModel {
    /// The function's name (and its companion's).
    pub ident: Ident,
    /// Its visibility (and its companion's).
    pub vis: syn::Visibility,
    /// `async fn`, or a sync `fn` run on the blocking pool.
    pub is_async: bool,
    /// How it takes the message (its first parameter).
    pub message: MessageArg,
    /// The message parameter's type, where a type mismatch is reported.
    pub message_span: Span,
    /// The parameters after the message.
    pub params: Vec<Param>,
    /// The return type, where an unsupported one is reported.
    pub ret_span: Span,
    /// `groups = [...]`.
    pub groups: Vec<GroupTemplate>,
    /// Sends are held until the consumer returns `Ok`.
    pub atomic: bool,
    /// Sends are held until the consumer returns, and sent whatever it returned.
    pub buffered: bool,
    /// `errors = "..."`, if given.
    pub errors: Option<ErrorMode>,
    /// The parameters that `group!` templates in the body put in a group name (see `body_groups`).
    pub name_captures: Vec<String>,
    /// Where the runtime is.
    pub exports: Exports,
}

/// Checks a function consumer's signature and arguments.
pub fn consumer_fn(item: &syn::ItemFn, args: &ConsumerArgs, cx: &mut Ctxt) -> FnModel {
    let sig = &item.sig;
    let name = sig.ident.to_string();
    for (flag, held) in [(&args.atomic, "atomic"), (&args.buffered, "buffered")] {
        if let (Some(flag), None) = (flag, &sig.asyncness) {
            cx.spanned(
                flag,
                format!(
                    "`{held}` holds an async consumer's sends until it returns; `{name}` is a sync `fn`, whose sends always leave at once\n\
                     help: make it `async fn`, or remove `{held}`"
                ),
            );
        }
    }
    if let (Some(_), Some(buffered)) = (&args.atomic, &args.buffered) {
        cx.spanned(
            buffered,
            "`atomic` and `buffered` both hold the sends, and disagree on a failure: `atomic` \
             discards them, `buffered` sends them (Channels 1.x)\nhelp: keep one",
        );
    }
    check_not_generic(&sig.generics, &format!("consumer `{name}`"), cx);
    if let Some(unsafety) = &sig.unsafety {
        cx.spanned(unsafety, "a consumer can't be `unsafe fn`");
    }
    if let Some(abi) = &sig.abi {
        cx.spanned(abi, "a consumer can't have an `extern` ABI");
    }
    if let Some(variadic) = &sig.variadic {
        cx.spanned(variadic, "a consumer can't be variadic");
    }
    if let Some(constness) = &sig.constness {
        cx.spanned(constness, "a consumer can't be `const fn`");
    }
    let mut inputs = sig.inputs.iter().peekable();
    if let Some(FnArg::Receiver(recv)) = inputs.peek() {
        cx.spanned(
            recv,
            format!(
                "`{name}` takes `self`, but a function consumer is a free function\nhelp: remove \
                 `self`; for a consumer with state, put `#[consumer]` on the `impl` block and \
                 route it with `route_class(Type, ...)`"
            ),
        );
        inputs.next();
    }
    // The first parameter is the message, by position: the compiler checks its type.
    let (message, message_span) = match inputs.next() {
        Some(FnArg::Typed(pt)) => (MessageArg::of(&pt.ty), pt.ty.span()),
        _ => {
            cx.error(
                sig.paren_token.span.join(),
                format!(
                    "consumer `{name}` takes no `Message`\nhelp: write `fn {name}(message: Message)`"
                ),
            );
            (MessageArg::ByValue, sig.ident.span())
        }
    };
    let params = named_params(inputs, &name, true, cx);
    let names: Vec<String> = params
        .iter()
        .filter(|p| !p.pattern)
        .map(|p| p.ident.to_string())
        .collect();
    let body = quote::ToTokens::to_token_stream(&item.block);
    let name_captures = super::body_groups::capture_placeholders(&body, &names);
    let ret_span = match &sig.output {
        syn::ReturnType::Default => sig.ident.span(),
        syn::ReturnType::Type(_, ty) => {
            if let Type::ImplTrait(_) = &**ty {
                cx.spanned(
                    ty,
                    "a consumer must return `()` or `Result<(), E>` where `E` is an error type, not \
                     `impl Trait`",
                );
            }
            ty.span()
        }
    };
    FnModel {
        ident: sig.ident.clone(),
        vis: item.vis.clone(),
        is_async: sig.asyncness.is_some(),
        message,
        message_span,
        params,
        ret_span,
        groups: groups(args, cx),
        atomic: args.atomic.is_some(),
        buffered: args.buffered.is_some(),
        errors: args.errors,
        name_captures,
        exports: Exports::new(args.krate.clone()),
    }
}
