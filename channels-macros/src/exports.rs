//! Every path that generated code names, in one table (Rocket's `exports.rs`).
//!
//! Generated code reaches the runtime only through these paths: the runtime crate's root (`::channels`
//! by default, or the path given with `crate = "..."`, as serde's `#[serde(crate = "...")]`), its
//! hidden `__private` module, and the standard library by absolute path, so that no import or item of
//! the user's can change what the generated code means.

use proc_macro2::TokenStream;
use quote::quote;

/// Where the generated code finds the runtime.
#[derive(Clone)]
pub struct Exports {
    krate: syn::Path,
}

impl Default for Exports {
    fn default() -> Self {
        Exports::new(None)
    }
}

impl Exports {
    /// The runtime at `krate` (`crate = "..."`), or at `::channels`.
    pub fn new(krate: Option<syn::Path>) -> Self {
        Exports {
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::channels)),
        }
    }

    /// `channels::Message`: the type of the message a consumer gets.
    pub fn message(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::Message)
    }

    /// `channels::Group`: what `group!` names.
    pub fn group(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::Group)
    }

    /// The name `name` as a type, a tuple of `Ch<'c'>` (see `ParamType`).
    pub fn name_type(&self, name: &str) -> TokenStream {
        let ch = self.ch();
        let chars = name.chars().map(|c| quote!(#ch<#c>));
        quote!((#(#chars,)*))
    }
}

/// Items of the runtime's `__private` module that generated code uses, by the method that names them.
macro_rules! private {
    ($($(#[$doc:meta])* $method:ident => $($item:ident)::+;)*) => {
        impl Exports {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> TokenStream {
                    let krate = &self.krate;
                    quote!(#krate::__private::$($item)::+)
                }
            )*
        }
    };
}

private! {
    /// The route table `channel_routing!` builds.
    routing => Routing;
    /// One route.
    route => Route;
    /// Implemented by a function consumer's companion.
    fn_consumer => FnConsumer;
    /// Implemented by a class-based consumer.
    class_consumer => ClassConsumer;
    /// Implemented by every consumer's companion: what a Channels 2+ list routes.
    app => App;
    /// A Channels 2+ pattern.
    path_pattern => PathPattern;
    /// A `ProtocolTypeRouter` key.
    protocol => Protocol;
    /// What a table's consumers use.
    table => Table;
    /// See `Table`.
    table_uses_struct => TableUses;
    /// Whether a table's consumers use a capture.
    table_uses => table_uses;
    /// Glob-imported where an included table is resolved; see `NotATable`.
    table_fallback => table_fallback;
    /// The event a class-based consumer dispatches a message to.
    dispatch_type => dispatch_type;
    /// A character of a parameter name, as a type.
    ch => Ch;
    /// A consumer's parameter type, by name.
    param_type => ParamType;
    /// Looks a parameter up by name.
    probe => Probe;
    /// See `Probe`.
    via_param => ViaParam;
    /// See `Probe`.
    via_fallback => ViaFallback;
    /// Checks an `<int:...>` capture's parameter.
    int_converter => int_converter;
    /// The bound consumer `bind` returns.
    consumer => Consumer;
    /// One run of a consumer.
    invocation => Invocation;
    /// An `async fn` consumer's run, from its future.
    run_async => run_async;
    /// A matched path's captures.
    path_params => PathParams;
    /// What a consumer needs from a route's path.
    need => Need;
    /// A consumer parameter after the message: a path capture or an extractor, by its type.
    consumer_param => ConsumerParam;
    /// A class-based consumer's event handler parameter: the message or the event's payload, by type.
    handler_param => HandlerParam;
    /// A class-based consumer's instance without `fn new`.
    default_instance => DefaultInstance;
    /// What a consumer's return value becomes.
    result_trait => IntoConsumerResult;
    /// What a class-based consumer's handler's return value becomes.
    handler_result => HandlerResult::into_handler_result;
    /// The per-connection lock around a class-based consumer's instance.
    async_mutex => AsyncMutex;
    /// Glob-imported where a routed consumer is resolved; see `NotAConsumer`.
    consumer_fallback => consumer_fallback;
    /// Every route "captures" it, so an extractor parameter needs nothing from the path.
    not_a_capture => NOT_A_CAPTURE;
    /// In a failed consumer's `USES`: accept every capture.
    any_capture => ANY_CAPTURE;
    /// The first need a route's captures don't meet.
    unmet_need => unmet_need;
    /// Whether a consumer uses a capture.
    uses => uses;
    /// Whether one of several consumers uses a capture.
    any_uses => any_uses;
    /// Parses a path capture.
    parse_capture => PathParams::parse;
    /// A class-based consumer's typed event payload.
    event_payload => event_payload;
    /// Whether an event type goes to a handler method.
    is_handler => is_handler;
    /// A run that does nothing.
    done => done;
    /// Fails a run: an event with no handler.
    unhandled_event => unhandled_event;
    /// Fails a run: a message the consumer can't take.
    failed => failed;
    /// What a consumer's failures do to its connection.
    error_mode => ErrorMode;
    /// `receive_json`'s content, decoded with the class's `decode_json`.
    json_content => json_content;
    /// Channels 1.x's `WebsocketDemultiplexer`.
    demultiplexer => Demultiplexer;
    /// A `group!` template's placeholder value.
    name_part => name_part;
    /// What a `group!` placeholder's type writes.
    group_name_part => GroupNamePart;
    /// A group from a `group!` template.
    group_from_template => group_from_template;
}

/// Items of the standard library, by absolute path.
macro_rules! std_paths {
    ($($(#[$doc:meta])* $name:ident => { $($path:tt)+ })*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> TokenStream {
                quote!($($path)+)
            }
        )*
    };
}

std_paths! {
    /// `Option`.
    option => { ::core::option::Option }
    /// `Option::Some`.
    some => { ::core::option::Option::Some }
    /// `Option::None`.
    none => { ::core::option::Option::None }
    /// `Result::Ok`.
    ok => { ::core::result::Result::Ok }
    /// `Result::Err`.
    err => { ::core::result::Result::Err }
    /// `Clone::clone`.
    clone => { ::core::clone::Clone::clone }
    /// `panic!`.
    panic => { ::core::panic! }
    /// `Box::new`.
    box_new => { ::std::boxed::Box::new }
    /// `Box::pin`.
    box_pin => { ::std::boxed::Box::pin }
    /// `Arc::new`.
    arc_new => { ::std::sync::Arc::new }
    /// `Arc::clone`.
    arc_clone => { ::std::sync::Arc::clone }
    /// `Cow`.
    cow => { ::std::borrow::Cow }
    /// `String`.
    string => { ::std::string::String }
}
