//! One route to a consumer, as both table syntaxes expand it: the consumer resolved by its path, the
//! `const` checks of the route's captures against the consumer's companion, and the route itself.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{local, qualified, respan};
use crate::check::path_text;
use crate::exports::{self, Exports};

/// Which companion trait the route reads the consumer through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `FnConsumer`: a function consumer.
    Fn,
    /// `ClassConsumer`: a class-based consumer, named as a type.
    Class,
    /// `App`: either (a Channels 2+ list that can't tell).
    App,
}

/// The consumer a route goes to.
pub struct Target<'a> {
    /// Its path, as written.
    pub path: &'a syn::Path,
    /// How it is read.
    pub via: Via,
    /// Whether the table is a module's function (`fn name;`) rather than a `let` in a body.
    pub in_module: bool,
}

impl Target<'_> {
    /// The items that resolve the consumer (functions through an alias, see `entry`), and the type to
    /// read its companion through.
    fn resolve(&self, ex: &Exports) -> (TokenStream, TokenStream) {
        if self.via == Via::Class {
            let path = self.path;
            return (TokenStream::new(), quote!(#path));
        }
        let consumer = self.path;
        // The last segment: the function's name, where "add #[consumer]" belongs.
        let span = consumer
            .segments
            .last()
            .map_or_else(|| consumer.span(), |s| s.ident.span());
        let alias = Ident::new("__ChannelsConsumer", span);
        // In a module's function, `self::name`: an unknown name is then reported with "a similar
        // name exists" rather than "no external crate". A `let` table may route functions defined in
        // its own block, which only the bare name reaches.
        let import =
            if self.in_module && consumer.leading_colon.is_none() && consumer.segments.len() == 1 {
                quote_spanned!(span=> self::#consumer)
            } else {
                quote!(#consumer)
            };
        let fallback = ex.consumer_fallback();
        // Resolving through an explicit import beside a glob import of the fallback: routing to a
        // function without `#[consumer]` finds the fallback type, and that it is not a consumer is
        // reported at the routed name, not "expected type, found function".
        // `allow`: without a companion, only the function (unused here) is imported.
        let resolve = quote_spanned! {span=>
            #[allow(unused_imports)]
            use #fallback::*;
            #[allow(unused_imports)]
            use #import as #alias;
        };
        (resolve, quote!(#alias))
    }

    /// `<consumer as Trait>::item`, spanned at the consumer as written.
    fn item(&self, ex: &Exports, ty: &TokenStream, item: &str) -> TokenStream {
        let trait_path = match self.via {
            Via::Fn => ex.fn_consumer(),
            Via::Class => ex.class_consumer(),
            Via::App => ex.app(),
        };
        qualified(ty, trait_path, item)
    }

    /// `{ resolve; <consumer as Trait>::USES }`: the names the consumer uses, as a `const` expression.
    pub fn uses(&self, ex: &Exports) -> TokenStream {
        let (resolve, ty) = self.resolve(ex);
        let uses = self.item(ex, &ty, "USES");
        quote!({ #resolve #uses })
    }
}

/// `{ resolve; &<table as Table>::USES }`: what the consumers of the table at `path` use, as a `const`
/// expression (every capture, for a routing function that is no `channel_routing!` table).
pub fn table_uses(ex: &Exports, path: &syn::Path, in_module: bool) -> TokenStream {
    let span = path
        .segments
        .last()
        .map_or_else(|| path.span(), |s| s.ident.span());
    let alias = Ident::new("__ChannelsTable", span);
    let import = if in_module && path.leading_colon.is_none() && path.segments.len() == 1 {
        quote_spanned!(span=> self::#path)
    } else {
        quote!(#path)
    };
    let (fallback, table) = (ex.table_fallback(), ex.table());
    quote_spanned! {span=> {
        #[allow(unused_imports)]
        use #fallback::*;
        #[allow(unused_imports)]
        use #import as #alias;
        &<#alias as #table>::USES
    }}
}

/// `const` checks that each capture of an include prefix is used by a consumer under it, failing at
/// the prefix (`consumers`: `USES` expressions; `tables`: `table_uses` expressions).
pub fn prefix_checks(
    ex: &Exports,
    captures: &[String],
    consumers: &[TokenStream],
    tables: &[TokenStream],
    at: Span,
    under: &str,
) -> TokenStream {
    let (table_uses, uses_struct, panic) =
        (ex.table_uses(), ex.table_uses_struct(), exports::panic());
    let mut checks = TokenStream::new();
    for capture in captures {
        let message = format!(
            "the prefix captures `{capture}`, but no consumer {under} takes a parameter \
             `{capture}`\nhelp: make the group non-capturing, `(?:...)`, or add a parameter \
             `{capture}: String` (or another `FromStr` type) to a consumer under the prefix that \
             needs it"
        );
        let fail = respan(quote!(#panic("{}", #message)), at);
        checks.extend(quote! {
            const _: () = if !#table_uses(
                &#uses_struct { consumers: &[#(#consumers),*], tables: &[#(#tables),*] },
                #capture,
            ) {
                #fail
            };
        });
    }
    checks
}

/// What a route captures, for its checks.
pub struct Captures<'a> {
    /// Every capture the consumer gets: the route's own, and its enclosing prefixes'.
    pub available: Vec<String>,
    /// The route's own captures: each must be a parameter of the consumer.
    pub own: &'a [String],
    /// For each own capture, the pattern it is in and how to name it (`the path`); `at` and "the path"
    /// for those not listed.
    pub origins: &'a [(Span, String)],
    /// Own captures taken with Django's `int` converter: their parameter must be an integer.
    pub ints: &'a [String],
    /// Own captures whose pattern admits characters a group name can't have, with what it admits
    /// ("a space"): a consumer that puts one in a `group!` name is refused on this route.
    pub not_names: &'a [(String, String)],
    /// Whether the route has a path (or, for field captures, patterns) at all.
    pub has_path: bool,
    /// Where the route's errors are reported: its path literal, or its consumer.
    pub at: Span,
}

impl Captures<'_> {
    /// A route without a path or field patterns (a path-less class, a worker channel): no captures.
    pub fn none(at: Span) -> Self {
        Captures {
            available: Vec::new(),
            own: &[],
            origins: &[],
            ints: &[],
            not_names: &[],
            has_path: false,
            at,
        }
    }
}

/// The route, in a block with the consumer's resolution and the `const` checks of its captures against
/// the consumer's parameters and groups: each panic message was written by one of the two macros, which
/// each know one side, and only the compiler sees both. `build` makes the route, given what names an
/// item of the consumer's companion (`item("route")` is `<consumer as Trait>::route`).
pub fn routed(
    ex: &Exports,
    target: &Target,
    captures: &Captures,
    build: impl FnOnce(&dyn Fn(&str) -> TokenStream) -> TokenStream,
) -> TokenStream {
    let (resolve, ty) = target.resolve(ex);
    let target_name = path_text(target.path);
    let (some, panic) = (exports::some(), exports::panic());
    let (unmet_need, not_a_capture, uses) = (ex.unmet_need(), ex.not_a_capture(), ex.uses());
    let unmet = local("unmet");
    let (needs_of, uses_of) = (target.item(ex, &ty, "NEEDS"), target.item(ex, &ty, "USES"));
    let at = captures.at;
    let has_path = captures.has_path;
    let available = &captures.available;
    // The panics are spanned at the route's path (or consumer): that is where the error shows.
    let fail_unmet = respan(quote!(#panic("{}", #unmet)), at);
    let mut checks = quote! {
        const _: () = if let #some(#unmet) =
            #unmet_need(#needs_of, &[#(#available,)* #not_a_capture], #has_path)
        {
            #fail_unmet
        };
    };
    for (i, capture) in captures.own.iter().enumerate() {
        let (span, what) = captures
            .origins
            .get(i)
            .map_or((at, "the path"), |(span, what)| (*span, what.as_str()));
        let message = format!(
            "{what} captures `{capture}`, but `{target_name}` takes no parameter `{capture}`\n\
             help: add a parameter `{capture}: String` (or another `FromStr` type) to \
             `{target_name}`, or make the group non-capturing: `(?:...)`"
        );
        let fail = respan(quote!(#panic("{}", #message)), span);
        checks.extend(quote! {
            const _: () = if !#uses(#uses_of, #capture) {
                #fail
            };
        });
    }
    if !captures.ints.is_empty() {
        let (via_param, via_fallback, probe, int_converter) = (
            ex.via_param(),
            ex.via_fallback(),
            ex.probe(),
            respan(ex.int_converter(), at),
        );
        let probes = captures.ints.iter().map(|name| {
            let chars = ex.name_type(name);
            let call = quote!(#int_converter((&#probe::<#ty, #chars>::new()).param_type()););
            respan(call, at)
        });
        checks.extend(quote! {
            #[allow(dead_code)]
            fn __channels_converters() {
                #[allow(unused_imports)]
                use #via_param as _;
                #[allow(unused_imports)]
                use #via_fallback as _;
                #(#probes)*
            }
        });
    }
    checks.extend(name_capture_checks(ex, target, &ty, captures));
    let route = build(&|item| target.item(ex, &ty, item));
    quote! {{
        #resolve
        #checks
        #route
    }}
}

/// `const` checks that the consumer puts none of this route's captures that admit characters a group
/// name can't have into a `group!` name in its body (its `NAME_CAPTURES`).
fn name_capture_checks(
    ex: &Exports,
    target: &Target,
    ty: &TokenStream,
    captures: &Captures,
) -> TokenStream {
    let (uses, panic) = (ex.uses(), exports::panic());
    let target_name = path_text(target.path);
    let name_captures = target.item(ex, ty, "NAME_CAPTURES");
    let mut checks = TokenStream::new();
    for (capture, admits) in captures.not_names {
        let i = captures.own.iter().position(|c| c == capture);
        let (span, what) = i
            .and_then(|i| captures.origins.get(i))
            .map_or((captures.at, "the path"), |(span, what)| {
                (*span, what.as_str())
            });
        let message = format!(
            "`{target_name}` puts the capture `{capture}` in a group name (`group!(\"...{{{capture}}}...\")` \
             in its body), but {what} lets `{capture}` hold {admits}, which a group name can't have\n\
             help: let the capture take only name characters, like `(?P<{capture}>[a-zA-Z0-9_.-]+)` \
             (or `<slug:{capture}>` in a `path()`), or build the name at run time: \
             `Group::new(format!(\"...{{{capture}}}...\"))?`"
        );
        let fail = respan(quote!(#panic("{}", #message)), span);
        checks.extend(quote! {
            const _: () = if #uses(#name_captures, #capture) {
                #fail
            };
        });
    }
    checks
}

/// A Channels 1.x `route_demultiplexer(...)`: each stream's class-based consumer resolved and checked
/// against the route's captures (each needs what it takes; each capture is taken by one of them), and
/// the route, joining every stream's declared groups.
pub fn demultiplexed(
    ex: &Exports,
    streams: &[(&syn::LitStr, Target)],
    captures: &Captures,
    path: TokenStream,
) -> TokenStream {
    let (some, panic) = (exports::some(), exports::panic());
    let (unmet_need, not_a_capture, any_uses) =
        (ex.unmet_need(), ex.not_a_capture(), ex.any_uses());
    let unmet = local("unmet");
    let (at, has_path, available) = (captures.at, captures.has_path, &captures.available);
    let fail_unmet = respan(quote!(#panic("{}", #unmet)), at);
    let mut checks = TokenStream::new();
    let mut uses = Vec::new();
    let mut demultiplexer = ex.demultiplexer();
    demultiplexer = quote!(#demultiplexer::new());
    for (stream, target) in streams {
        let (resolve, ty) = target.resolve(ex);
        checks.extend(resolve);
        let needs_of = target.item(ex, &ty, "NEEDS");
        checks.extend(quote! {
            const _: () = if let #some(#unmet) =
                #unmet_need(#needs_of, &[#(#available,)* #not_a_capture], #has_path)
            {
                #fail_unmet
            };
        });
        uses.push(target.item(ex, &ty, "USES"));
        let serve = target.item(ex, &ty, "demultiplexed");
        demultiplexer = quote!(#serve(#demultiplexer, #stream));
        checks.extend(name_capture_checks(ex, target, &ty, captures));
    }
    for (i, capture) in captures.own.iter().enumerate() {
        let (span, what) = captures
            .origins
            .get(i)
            .map_or((at, "the path"), |(span, what)| (*span, what.as_str()));
        let message = format!(
            "{what} captures `{capture}`, but no consumer of this demultiplexer takes a parameter \
             `{capture}`\nhelp: add a parameter `{capture}: String` (or another `FromStr` type) to \
             the `new` of a stream's consumer, or make the group non-capturing: `(?:...)`"
        );
        let fail = respan(quote!(#panic("{}", #message)), span);
        checks.extend(quote! {
            const _: () = if !#any_uses(&[#(#uses),*], #capture) {
                #fail
            };
        });
    }
    quote! {{
        #checks
        #demultiplexer.route(#path)
    }}
}
