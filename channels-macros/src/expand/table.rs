//! `channel_routing!`: one expression that builds the table, wrapped as a function (`fn name;`, the
//! default) or a local variable (`let name;`).
//!
//! Everything the expression needs is inside it: each routed function is resolved in a block of its
//! own, so the expression works wherever an expression does, in a module's function or in a test's
//! body, and defines nothing beside the table.

use proc_macro2::TokenStream;
use quote::quote;

use super::asgi;
use super::route::{Captures, Target, Via, routed};
use crate::check::CheckedTable;
use crate::exports::{self, Exports};
use crate::parse::{Entry, EntryKind, Table, TableForm};

/// The table, as a function or a local.
pub fn table(checked: &CheckedTable) -> TokenStream {
    let ex = &checked.exports;
    let routing = ex.routing();
    let in_module = matches!(checked.table.form, TableForm::Fn { .. });
    let body = if checked.table.asgi.is_empty() {
        let chain = checked
            .table
            .entries
            .iter()
            .zip(&checked.captures)
            .map(|(entry, captures)| entry_call(ex, entry, captures, in_module));
        quote! {
            #routing::new()
                #(#chain)*
        }
    } else {
        asgi::table(checked, in_module)
    };
    define(&checked.table.form, &routing, body)
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

/// `.route(...)` or `.include(...)` for one Channels 1.x entry.
fn entry_call(ex: &Exports, entry: &Entry, captures: &[String], in_module: bool) -> TokenStream {
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
    let (target, build): (
        Target,
        Box<dyn FnOnce(&dyn Fn(&str) -> TokenStream) -> TokenStream>,
    ) = match &entry.kind {
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
        EntryKind::Include { target } => return quote! { .include(#path, #target()) },
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
        ints: &[],
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
