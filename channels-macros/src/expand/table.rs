//! `channel_routing!`: one expression that builds the table, wrapped as a function (`fn name;`, the
//! default) or a local variable (`let name;`).
//!
//! Everything the expression needs is inside it: each routed function is resolved in a block of its
//! own, so the expression works wherever an expression does, in a module's function or in a test's
//! body, and defines nothing beside the table.

use proc_macro2::TokenStream;
use quote::quote;

use super::asgi;
use super::route::{Captures, Target, Via, demultiplexed, prefix_checks, routed, table_uses};
use crate::check::CheckedTable;
use crate::exports::{self, Exports};
use crate::parse::{Entry, EntryKind, Table, TableForm};

/// The table, as a function or a local.
pub fn table(checked: &CheckedTable) -> TokenStream {
    let ex = &checked.exports;
    let routing = ex.routing();
    let in_module = matches!(checked.table.form, TableForm::Fn { .. });
    let (body, (consumers, tables)) = if checked.table.asgi.is_empty() {
        let chain = checked
            .table
            .entries
            .iter()
            .zip(checked.captures.iter().zip(&checked.origins))
            .zip(&checked.not_names)
            .map(|((entry, (captures, origins)), not_names)| {
                entry_call(ex, entry, captures, origins, not_names, in_module)
            });
        let body = quote! {
            #routing::new()
                #(#chain)*
        };
        (body, v1_uses(ex, &checked.table.entries, in_module))
    } else {
        (
            asgi::table(checked, in_module),
            asgi::table_uses(checked, in_module),
        )
    };
    let errors = super::error_mode_call(ex, checked.table.errors);
    let middleware = checked.table.middleware.iter();
    let body = if errors.is_empty() && checked.table.middleware.is_empty() {
        body
    } else {
        quote!((#body) #errors #(.with_middleware(#middleware))*)
    };
    let table = define(&checked.table.form, &routing, body);
    let TableForm::Fn { vis, name, .. } = &checked.table.form else {
        return table;
    };
    // The companion that a table including this one reads: what its consumers use.
    let (table_trait, uses_struct) = (ex.table(), ex.table_uses_struct());
    quote! {
        #table

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        const _: () = {
            impl #table_trait for #name {
                const USES: #uses_struct = #uses_struct {
                    consumers: &[#(#consumers),*],
                    tables: &[#(#tables),*],
                };
            }
        };
    }
}

/// What the consumers of a Channels 1.x table use, and the tables it includes.
fn v1_uses(
    ex: &Exports,
    entries: &[Entry],
    in_module: bool,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let (mut consumers, mut tables) = (Vec::new(), Vec::new());
    for entry in entries {
        let (path, via) = match &entry.kind {
            EntryKind::Route { consumer, .. } => (consumer, Via::Fn),
            EntryKind::Class { ty, .. } => (ty, Via::Class),
            EntryKind::Include { target } => {
                tables.push(table_uses(ex, target, in_module));
                continue;
            }
            EntryKind::Demultiplexer { streams } => {
                for (_, ty) in streams {
                    let target = Target {
                        path: ty,
                        via: Via::Class,
                        in_module,
                    };
                    consumers.push(target.uses(ex));
                }
                continue;
            }
        };
        let target = Target {
            path,
            via,
            in_module,
        };
        consumers.push(target.uses(ex));
    }
    (consumers, tables)
}

/// `fn name() -> Routing { body }` or `let name: Routing = body;`.
fn define(form: &TableForm, routing: &TokenStream, body: TokenStream) -> TokenStream {
    match form {
        TableForm::Fn { attrs, vis, name } => {
            let doc = if attrs.iter().any(|a| a.path().is_ident("doc")) {
                quote!()
            } else {
                quote!(#[doc = "The route table (`channel_routing!`)."])
            };
            quote! {
                #(#attrs)*
                #doc
                #vis fn #name() -> #routing {
                    #body
                }
            }
        }
        TableForm::Let { name } => quote! {
            let #name: #routing = { #body };
        },
    }
}

/// Makes a route from what names an item of its consumer's companion (see `route::routed`).
type Build<'a> = Box<dyn FnOnce(&dyn Fn(&str) -> TokenStream) -> TokenStream + 'a>;

/// `.route(...)` or `.include(...)` for one Channels 1.x entry.
fn entry_call(
    ex: &Exports,
    entry: &Entry,
    captures: &[String],
    origins: &[(proc_macro2::Span, String)],
    not_names: &[(String, String)],
    in_module: bool,
) -> TokenStream {
    let path = match &entry.path {
        Some(lit) => {
            let some = exports::some();
            quote!(#some(#lit))
        }
        None => exports::none(),
    };
    let fields = entry.fields.iter().map(|f| {
        let (name, pattern) = (f.name.to_string(), &f.pattern);
        quote!(.with_field(#name, #pattern))
    });
    let fields = quote!(#(#fields)*);
    let (target, build): (Target, Build) = match &entry.kind {
        EntryKind::Route { event, consumer } => (
            Target {
                path: consumer,
                via: Via::Fn,
                in_module,
            },
            Box::new(move |item| {
                let route = item("route");
                quote!(#route(#event, #path) #fields)
            }),
        ),
        EntryKind::Class { ty, channel } => (
            Target {
                path: ty,
                via: Via::Class,
                in_module,
            },
            Box::new(move |item| match channel {
                Some(channel) => {
                    let route = item("channel_route");
                    quote!(#route(#channel))
                }
                None => {
                    let route = item("route");
                    quote!(#route(#path))
                }
            }),
        ),
        EntryKind::Include { target } => {
            let checks = entry.path.as_ref().map(|lit| {
                let uses = table_uses(ex, target, in_module);
                let under = "of the included table (checked on its own, its consumers take their own \
                             routes' captures only)";
                prefix_checks(ex, captures, &[], &[uses], lit.span(), under)
            });
            return quote! { .include(#path, { #checks #target() }) };
        }
        EntryKind::Demultiplexer { streams } => {
            let targets: Vec<(&syn::LitStr, Target)> = streams
                .iter()
                .map(|(stream, ty)| {
                    let target = Target {
                        path: ty,
                        via: Via::Class,
                        in_module,
                    };
                    (stream, target)
                })
                .collect();
            let checks = Captures {
                available: captures.to_vec(),
                own: captures,
                origins,
                ints: &[],
                not_names,
                has_path: entry.path.is_some(),
                at: entry.path.as_ref().map_or(entry.last, |lit| lit.span()),
            };
            let route = demultiplexed(ex, &targets, &checks, path);
            return quote!(.route(#route));
        }
    };
    let at = entry
        .path
        .as_ref()
        .map(|lit| lit.span())
        .or_else(|| entry.fields.first().map(|f| f.pattern.span()))
        .unwrap_or(entry.last);
    let checks = Captures {
        available: captures.to_vec(),
        own: captures,
        origins,
        ints: &[],
        not_names,
        has_path: entry.path.is_some() || !entry.fields.is_empty(),
        at,
    };
    let route = routed(ex, &target, &checks, build);
    quote!(.route(#route))
}

/// What a table with errors expands to: the errors and a stub, so code calling it still compiles.
pub fn table_stub(table: Option<&Table>, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let Some(table) = table else {
        return errors;
    };
    let routing = Exports::new(table.krate.clone()).routing();
    let stub = define(&table.form, &routing, quote!(#routing::new()));
    quote! {
        #errors
        #stub
    }
}
