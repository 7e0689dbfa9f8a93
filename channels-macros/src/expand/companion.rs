//! The companion impls that `#[consumer]` emits for a function (`FnConsumer`) or a class
//! (`ClassConsumer`): what `channel_routing!` reads off a consumer (its `App` impl serving Channels 2+
//! lists, and a `ParamType` impl per parameter), and `bind`.

use proc_macro2::TokenStream;
use quote::quote;

use super::local;
use crate::check::Param;
use crate::exports::{self, Exports};

/// Which kind of consumer a companion describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `#[consumer] fn`.
    Fn,
    /// A `#[consumer] impl`.
    Class,
}

/// What `channel_routing!` reads off a consumer's companion: the names it uses, what it needs from a
/// route's path, and its declared groups (each already rendered as tokens).
pub struct Metadata<'a> {
    /// `USES`.
    pub uses: Vec<TokenStream>,
    /// `NEEDS`.
    pub needs: Vec<TokenStream>,
    /// `GROUPS`.
    pub groups: Vec<TokenStream>,
    /// `NAME_CAPTURES` (each a `const` expression).
    pub name_captures: Vec<TokenStream>,
    /// The parameters the route may fill, for `ParamType`.
    pub params: &'a [Param],
}

/// The impl of the companion trait of `kind` for `self_ty`, with `bind` running `bind_body` (which sees
/// the matched path as `__channels_params`), and its `App` and `ParamType` impls.
pub fn companion_impl(
    kind: Kind,
    self_ty: TokenStream,
    name: &str,
    ex: &Exports,
    metadata: Metadata,
    bind_body: TokenStream,
) -> TokenStream {
    let Metadata {
        uses,
        needs,
        groups,
        name_captures,
        params,
    } = metadata;
    let (need, path_params, consumer) = (ex.need(), ex.path_params(), ex.consumer());
    let trait_path = match kind {
        Kind::Fn => ex.fn_consumer(),
        Kind::Class => ex.class_consumer(),
    };
    let bind = local("params");
    let option = exports::option();
    let app = app_impl(kind, &self_ty, ex);
    let param_type = ex.param_type();
    let param_types = params
        .iter()
        .filter(|p| !p.cow_str && !has_lifetime(&p.ty))
        .map(|p| {
            let (name, ty) = (ex.name_type(&p.ident.to_string()), &p.ty);
            quote! {
                impl #param_type<#name> for #self_ty {
                    type Type = #ty;
                }
            }
        });
    quote! {
        impl #trait_path for #self_ty {
            const NAME: &'static str = #name;
            const USES: &'static [&'static str] = &[#(#uses),*];
            const NEEDS: &'static [#need] = &[#(#needs),*];
            const GROUPS: &'static [&'static str] = &[#(#groups),*];
            const NAME_CAPTURES: &'static [&'static str] = &[#(#name_captures),*];

            fn bind(#bind: &#path_params) -> #option<#consumer> {
                #bind_body
            }
        }

        #app
        #(#param_types)*
    }
}

/// `impl App`: how a Channels 2+ list routes the consumer, by what it is.
fn app_impl(kind: Kind, self_ty: &TokenStream, ex: &Exports) -> TokenStream {
    let (app, need, route, pattern) = (ex.app(), ex.need(), ex.route(), ex.path_pattern());
    let none = exports::none();
    let http = channels_names::events::HTTP_REQUEST;
    let (trait_path, url_route, channel_route) = match kind {
        Kind::Fn => {
            let t = ex.fn_consumer();
            (
                t.clone(),
                quote!(<#self_ty as #t>::route(#http, #none).at(pattern)),
                quote!(<#self_ty as #t>::route(channel, #none)),
            )
        }
        Kind::Class => {
            let t = ex.class_consumer();
            (
                t.clone(),
                quote!(<#self_ty as #t>::route(#none).at(pattern)),
                quote!(<#self_ty as #t>::channel_route(channel)),
            )
        }
    };
    quote! {
        impl #app for #self_ty {
            const NAME: &'static str = <#self_ty as #trait_path>::NAME;
            const USES: &'static [&'static str] = <#self_ty as #trait_path>::USES;
            const NEEDS: &'static [#need] = <#self_ty as #trait_path>::NEEDS;
            const NAME_CAPTURES: &'static [&'static str] = <#self_ty as #trait_path>::NAME_CAPTURES;
            fn url_route(pattern: #pattern) -> #route {
                #url_route
            }
            fn channel_route(channel: &str) -> #route {
                #channel_route
            }
        }
    }
}

/// Whether a type mentions a lifetime (`ParamType` can't name it).
fn has_lifetime(ty: &syn::Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Punct(p) => p.as_char() == '\'',
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    matches!(ty, syn::Type::Reference(_) | syn::Type::ImplTrait(_)) || walk(quote!(#ty))
}

/// The companion of a consumer that failed its own checks: it accepts any route (so its errors are not
/// repeated at every route that uses it) and never binds.
pub fn stub_companion(kind: Kind, self_ty: TokenStream, name: &str, ex: &Exports) -> TokenStream {
    let params = local("params");
    let none = exports::none();
    companion_impl(
        kind,
        self_ty,
        name,
        ex,
        Metadata {
            uses: vec![ex.any_capture()],
            needs: Vec::new(),
            groups: Vec::new(),
            name_captures: Vec::new(),
            params: &[],
        },
        quote! {
            let _ = #params;
            #none
        },
    )
}
