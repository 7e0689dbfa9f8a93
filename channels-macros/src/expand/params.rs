//! Parameters after the message, by their type: what a consumer's companion tells `channel_routing!`
//! (`USES`, `NEEDS`), how `bind` reads them, and how each run gets them.
//!
//! Whether a parameter is a path capture or an extractor (`Session`) is the runtime's
//! `ConsumerParam::FROM_PATH` for its type, never the spelling of the type: the generated code asks the
//! compiler, in `const` items where a route's needs are computed.

use proc_macro2::TokenStream;
use quote::quote;

use super::{capture_local, local, qualified, qualified_call, respan, type_text};
use crate::check::{GroupTemplate, Param};
use crate::exports::{self, Exports};

/// `true` for a path capture, as a `const` expression.
fn from_path(ex: &Exports, p: &Param) -> TokenStream {
    if p.cow_str {
        return quote!(true);
    }
    qualified(&p.ty, ex.consumer_param(), "FROM_PATH")
}

/// The parameter's name in `USES`/`NEEDS`: its name if its type makes it a path capture, else a name
/// that every route "captures" (so an extractor needs nothing from the path).
fn capture_name(ex: &Exports, p: &Param) -> TokenStream {
    let name = p.ident.to_string();
    if p.cow_str {
        return quote!(#name);
    }
    if p.pattern {
        // Refused by `param_checks` if its type is a capture's.
        return ex.not_a_capture();
    }
    let (from_path, not_a_capture) = (from_path(ex, p), ex.not_a_capture());
    quote!(if #from_path { #name } else { #not_a_capture })
}

/// The names a consumer uses (its capture parameters and its group templates' placeholders) and what
/// it needs from a route, with messages naming it.
pub fn uses_and_needs(
    ex: &Exports,
    consumer: &str,
    params: &[Param],
    groups: &[GroupTemplate],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let need = ex.need();
    let mut uses = Vec::new();
    let mut needs = Vec::new();
    for p in params {
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
        let name = capture_name(ex, p);
        needs.push(
            quote! { #need { name: #name, with_path: #with_path, without_path: #without_path } },
        );
        uses.push(name);
    }
    let mut placeholders: Vec<&String> = Vec::new();
    for g in groups {
        for name in &g.placeholders {
            if params.iter().any(|p| p.ident == name) || placeholders.contains(&name) {
                continue;
            }
            placeholders.push(name);
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
                #need { name: #name, with_path: #with_path, without_path: #without_path }
            });
            uses.push(quote!(#name));
        }
    }
    (uses, needs)
}

/// `true` for the message itself (refused after the first parameter), as a `const` expression.
fn is_message(ex: &Exports, p: &Param) -> TokenStream {
    if p.cow_str {
        return quote!(false);
    }
    qualified(&p.ty, ex.consumer_param(), "IS_MESSAGE")
}

/// `const` checks of the parameters after the message, by their types, each failing at its parameter:
/// the message isn't one of them, and path captures come before extractors.
pub fn param_checks(ex: &Exports, consumer: &str, params: &[Param]) -> TokenStream {
    let panic = exports::panic();
    let mut checks = TokenStream::new();
    for p in params.iter().filter(|p| p.pattern) {
        let ty = type_text(&p.ty);
        let message = format!(
            "`{consumer}` takes a `{ty}` through a pattern, but `{ty}` is a path capture, which a \
             route fills by the parameter's name\nhelp: write `name: {ty}`, where `name` is the \
             capture's name; patterns work for extractors such as `Json(content): Json<T>`"
        );
        let from_path = from_path(ex, p);
        let fail = respan(quote!(#panic("{}", #message)), p.ident.span());
        checks.extend(quote! {
            const _: () = if #from_path {
                #fail
            };
        });
    }
    for p in params.iter().filter(|p| !p.cow_str) {
        let shown = if p.pattern {
            "_".to_owned()
        } else {
            p.ident.to_string()
        };
        let message = format!(
            "`{consumer}` takes `{shown}: {}` after its first parameter, but the `Message` is only ever a \
             consumer's first parameter\nhelp: the first parameter is the message; remove `{shown}`, or \
             make it the first parameter",
            type_text(&p.ty),
        );
        let is_message = is_message(ex, p);
        let fail = respan(quote!(#panic("{}", #message)), p.ident.span());
        checks.extend(quote! {
            const _: () = if #is_message {
                #fail
            };
        });
    }
    for (i, later) in params.iter().enumerate() {
        for earlier in params[..i].iter().filter(|p| !p.cow_str) {
            let message = format!(
                "path parameter `{}` comes after the extractor `{}`: put path captures first, then \
                 extractors like `Session`",
                later.ident, earlier.ident
            );
            let (later_from_path, earlier_from_path) =
                (from_path(ex, later), from_path(ex, earlier));
            let earlier_is_message = is_message(ex, earlier);
            let fail = respan(quote!(#panic("{}", #message)), later.ident.span());
            checks.extend(quote! {
                const _: () = if #later_from_path && !#earlier_from_path && !#earlier_is_message {
                    #fail
                };
            });
        }
    }
    checks
}

/// In `bind`: each parameter read from the path (an extractor reads nothing yet), or `return None`.
pub fn bind_params(ex: &Exports, params: &[Param]) -> TokenStream {
    bind_each(ex, params, |_, bind| quote! { #bind? })
}

/// In `bind` of a class-based consumer: `new`'s parameters, each parsed from the path.
pub fn parse_captures(ex: &Exports, params: &[Param]) -> TokenStream {
    // Through `ConsumerParam`, like a function's parameters: a parameter that is no capture (the
    // message, `Session`) is refused by `new_checks` with a message, not by a bound.
    bind_each(ex, params, |p, bind| {
        let ty = &p.ty;
        let from_bound = qualified_call(ty, ex.consumer_param(), "from_bound", quote!(#bind?));
        quote! { #from_bound? }
    })
}

/// One `let` per parameter: a `Cow<str>` capture borrowed from the path, any other type through
/// `ConsumerParam::bind` and then `finish` (which gives the value the local holds).
fn bind_each(
    ex: &Exports,
    params: &[Param],
    finish: impl Fn(&Param, TokenStream) -> TokenStream,
) -> TokenStream {
    let matched = local("params");
    params
        .iter()
        .map(|p| {
            let held = capture_local(&p.ident);
            let name = p.ident.to_string();
            if p.cow_str {
                return bind_cow(ex, &held, &name);
            }
            let bind = qualified_call(&p.ty, ex.consumer_param(), "bind", quote!(#matched, #name));
            let value = finish(p, bind);
            quote! { let #held = #value; }
        })
        .collect()
}

/// `const` checks of a class-based consumer's `new` parameters, each failing at its parameter: they
/// are path captures, never the message or an extractor.
pub fn new_checks(ex: &Exports, class: &str, params: &[Param]) -> TokenStream {
    let panic = exports::panic();
    let mut checks = TokenStream::new();
    for p in params.iter().filter(|p| !p.cow_str) {
        let (ident, ty) = (&p.ident, type_text(&p.ty));
        let message = format!(
            "`{class}::new` takes `{ident}: {ty}`, but `new` takes path captures only, by name: it \
             creates the instance when a connection's path matches, before any message\nhelp: take \
             the message in the handlers, `async fn connect(&mut self, message: Message)`, and remove \
             `{ident}` from `new`"
        );
        let extractor = format!(
            "`{class}::new` takes `{ident}: {ty}`, but `new` takes path captures only, by name, and \
             `{ty}` is read from each message\nhelp: read it in the handlers \
             (`message.channel_session()`), and remove `{ident}` from `new`"
        );
        let is_message = is_message(ex, p);
        let from_path = from_path(ex, p);
        let fail_message = respan(quote!(#panic("{}", #message)), ident.span());
        let fail_extractor = respan(quote!(#panic("{}", #extractor)), ident.span());
        checks.extend(quote! {
            const _: () = if #is_message {
                #fail_message
            } else if !#from_path {
                #fail_extractor
            };
        });
    }
    checks
}

fn bind_cow(ex: &Exports, held: &syn::Ident, name: &str) -> TokenStream {
    let (cow, string, parse_capture) = (exports::cow(), exports::string(), ex.parse_capture());
    let matched = local("params");
    quote! {
        let #held: #cow<'static, str> =
            #cow::Owned(#parse_capture::<#string>(#matched, #name)?);
    }
}

/// In each run: every parameter's value (a clone of a capture, or the extractor's value); a message
/// an extractor can't take (a `Json` parameter and a frame that doesn't decode) fails the run.
pub fn extract_params(ex: &Exports, params: &[Param]) -> TokenStream {
    let message = local("message");
    let (failed, ok, err) = (ex.failed(), exports::ok(), exports::err());
    let (value, error) = (local("value"), local("error"));
    params
        .iter()
        .map(|p| {
            let held = capture_local(&p.ident);
            if p.cow_str {
                let clone = exports::clone();
                return quote! { let #held = #clone(&#held); };
            }
            let ty = &p.ty;
            let extract = qualified_call(
                ty,
                ex.consumer_param(),
                "extract",
                quote!(&#held, &#message),
            );
            quote! {
                let #held: #ty = match #extract {
                    #ok(#value) => #value,
                    #err(#error) => return #failed(#error),
                };
            }
        })
        .collect()
}
