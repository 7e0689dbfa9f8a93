//! The keyword arguments of a Channels 1.x route: `path = r"..."`, field patterns (`command =
//! r"^join$"`) and `channel = "..."`, each given at most once.

use proc_macro2::TokenStream;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use super::table::Field;
use crate::attr::Attr;
use crate::ctxt::Ctxt;

/// Adds a field pattern; the same field twice is reported at the second.
pub(super) fn add_field(fields: &mut Vec<Field>, name: Ident, pattern: LitStr, cx: &mut Ctxt) {
    if fields.iter().any(|f| f.name == name) {
        cx.spanned(
            &name,
            format!(
                "field `{name}` is given twice\nhelp: a route has one pattern per field: remove one, \
                 or join them with `|` in one regex"
            ),
        );
    } else {
        fields.push(Field { name, pattern });
    }
}

pub(super) fn path_attr() -> Attr<LitStr> {
    Attr::none(
        "`path`",
        "a route has one path pattern: remove one, or join them with `|` in one regex",
    )
}

/// `path = r"..."` (or a field, `command = r"..."`) after `"event",`: the key, the tokens (for a
/// repeat's error) and the literal.
pub(super) fn parse_path_kwarg(
    input: ParseStream,
    event: &LitStr,
) -> syn::Result<(Ident, TokenStream, LitStr)> {
    let shown = event.value();
    let expected = || {
        format!(
            "expected `path = r\"...\"` after `\"{shown}\",`: \
             write `\"{shown}\", path = r\"^/chat/$\" => consumer`"
        )
    };
    let key: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), expected()))?;
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(key.span(), expected()));
    }
    let eq = input
        .parse::<Token![=]>()
        .map_err(|e| syn::Error::new(e.span(), expected()))?;
    let lit = input.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a string literal regex: `path = r\"^/chat/(?P<room>\\w+)/$\"`",
        )
    })?;
    Ok((key.clone(), quote::quote!(#key #eq #lit), lit))
}

/// What follows the consumer in `route(...)`, `route_class(...)` and `include(...)`: `path`, field
/// patterns (`route`) and `channel` (`route_class`).
type Kwargs = (Option<LitStr>, Vec<Field>, Option<LitStr>);

/// `[, path = r"..."] [, field = r"..."]* [, channel = "..."] [,]` at the end of `route(...)`,
/// `route_class(...)`, `include(...)`; which keys each takes is checked here.
pub(super) fn parse_trailing_kwargs(
    content: ParseStream,
    form: &str,
    cx: &mut Ctxt,
) -> syn::Result<Kwargs> {
    let mut path = path_attr();
    let mut channel = Attr::none(
        "`channel`",
        "a class-based consumer serves one channel per route",
    );
    let mut fields = Vec::new();
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        let takes = match form {
            "route" => "`path = r\"...\"` and field patterns like `command = r\"^join$\"`",
            "route_class" => "`path = r\"...\"` or `channel = \"name\"`",
            _ => "only `path = r\"...\"`",
        };
        let allowed = key == "path"
            || (form == "route_class" && key == "channel")
            || (form == "route" && content.peek(Token![=]));
        if !allowed {
            let hint = if form == "route_class" && content.peek(Token![=]) {
                "\nhelp: a class-based consumer keeps one instance per connection, so it can't be \
                 chosen message by message: match the field in its handler, or route a function \
                 consumer with `route(\"event\", consumer, field = r\"...\")`"
            } else {
                ""
            };
            return Err(syn::Error::new(
                key.span(),
                format!("unknown argument `{key}`: `{form}(...)` takes {takes}{hint}"),
            ));
        }
        let eq = content.parse::<Token![=]>()?;
        let lit: LitStr = content.parse()?;
        let tokens = quote::quote!(#key #eq #lit);
        if key == "path" {
            path.set(cx, tokens, lit);
        } else if key == "channel" {
            channel.set(cx, tokens, lit);
        } else {
            add_field(&mut fields, key, lit, cx);
        }
    }
    Ok((path.get(), fields, channel.get()))
}
