//! What function and class-based consumers share: the message parameter, named parameters after it,
//! and the refusal of generics.
//!
//! Nothing here reads a type's *name*: whether a parameter is a path capture or an extractor (such as
//! `Session`) is decided by its type, in the generated code (see `expand/params.rs`), so a type of the
//! user's that happens to be called `Session` or `Message` is what it is.

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, Type};

use crate::ctxt::Ctxt;

/// A parameter after the message: a path capture (by its name) or an extractor (by its type).
pub struct Param {
    /// The parameter's name: the capture that fills it, if it is a capture.
    pub ident: Ident,
    /// Its type as written.
    pub ty: Type,
    /// `Cow<str>`: not `FromStr`, so parsed as a `String` and handed over as `Cow::Owned`.
    pub cow_str: bool,
    /// Written as a pattern (`Json(chat): Json<ChatIn>`): an extractor, never a capture (a capture is
    /// named by its parameter); `ident` is then a generated name, `channels_pattern<position>`.
    pub pattern: bool,
}

/// How a consumer takes the message: by reference when its type is written `&T`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MessageArg {
    /// `message: Message`.
    ByValue,
    /// `message: &Message`.
    ByRef,
}

impl MessageArg {
    /// How a parameter of type `ty` takes the message. The type itself is checked by the compiler,
    /// which names both types when they differ.
    pub fn of(ty: &Type) -> MessageArg {
        match ty {
            Type::Reference(r) if r.mutability.is_none() => MessageArg::ByRef,
            _ => MessageArg::ByValue,
        }
    }
}

/// Refuses generic parameters and `where` clauses.
pub fn check_not_generic(generics: &syn::Generics, what: &str, cx: &mut Ctxt) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        let span = if generics.params.is_empty() {
            generics.where_clause.span()
        } else {
            generics.params.span()
        };
        cx.error(
            span,
            format!(
                "{what} can't be generic: the router calls it with one concrete signature\n\
                 help: remove the generic parameters; take `String` (or another `FromStr` type) \
                 for path captures"
            ),
        );
    }
}

/// Named parameters: a path capture's name says which capture fills it. With `patterns`, a parameter
/// may be a pattern (`Json(chat): Json<ChatIn>`), which makes it an extractor (checked by its type).
pub fn named_params<'a>(
    inputs: impl Iterator<Item = &'a FnArg>,
    consumer: &str,
    patterns: bool,
    cx: &mut Ctxt,
) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    for (i, arg) in inputs.enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        let mut pattern = false;
        let ident = match &*pt.pat {
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.clone(),
            Pat::TupleStruct(_) | Pat::Struct(_) if patterns => {
                pattern = true;
                syn::Ident::new(&format!("channels_pattern{i}"), pt.pat.span())
            }
            other => {
                cx.spanned(
                    other,
                    format!(
                        "`{consumer}`'s path parameters must be plain names: the name says which \
                         capture fills it\nhelp: write `name: Type` where `name` is a capture of the \
                         route's path, like `room: String`"
                    ),
                );
                continue;
            }
        };
        if params.iter().any(|p| p.ident == ident) {
            // rustc reports duplicate parameter names itself.
            continue;
        }
        params.push(Param {
            ident,
            cow_str: !pattern && is_cow_str(&pt.ty),
            ty: (*pt.ty).clone(),
            pattern,
        });
    }
    params
}

/// Whether `ty` is `Cow<str>` (any lifetime, any path to `Cow`): not `FromStr`, but a natural capture
/// type, so it is parsed as a `String` and handed over as `Cow::Owned`. (The runtime can't give `Cow`
/// the trait itself: coherence forbids implementing a trait for `Cow<str>` beside a blanket impl over
/// `FromStr`, a foreign trait `Cow` might implement one day.)
fn is_cow_str(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
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
    args.args.iter().any(
        |arg| matches!(arg, syn::GenericArgument::Type(Type::Path(p)) if p.path.is_ident("str")),
    )
}
