//! `route_demultiplexer(path = r"...", consumers = {"stream": Consumer, ...})`: Channels 1.x's
//! `WebsocketDemultiplexer`, as a route.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use super::kwargs::path_attr;
use super::table::{EntryKind, ParsedEntry};
use crate::attr::Attr;
use crate::ctxt::Ctxt;

const DEMULTIPLEXER: &str = "`route_demultiplexer(path = r\"^/multiplex/$\", consumers = {\"echo\": \
EchoConsumer, \"other\": OtherConsumer})`";

/// `route_demultiplexer(path = r"...", consumers = {"stream": Consumer, ...})`, keyword arguments in
/// any order.
pub(super) fn parse_demultiplexer(
    head: &Ident,
    content: ParseStream,
    last: Span,
    cx: &mut Ctxt,
) -> syn::Result<ParsedEntry> {
    let mut path = path_attr();
    let mut consumers = Attr::none(
        "`consumers`",
        "a demultiplexer has one `consumers = {...}`: list every stream in it",
    );
    while !content.is_empty() {
        let key: Ident = content.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `path` or `consumers`: {DEMULTIPLEXER}"),
            )
        })?;
        let eq: Token![=] = content.parse()?;
        match key.to_string().as_str() {
            "path" => {
                let lit: LitStr = content.parse()?;
                path.set(cx, quote::quote!(#key #eq #lit), lit);
            }
            "consumers" => {
                let braces;
                let brace = syn::braced!(braces in content);
                let streams = match streams(&braces, cx) {
                    Ok(streams) => streams,
                    Err(e) => {
                        // Reported once: the rest of the braces is not "unexpected" too.
                        let _ = braces.parse::<proc_macro2::TokenStream>();
                        return Err(e);
                    }
                };
                let tokens = quote::quote_spanned!(brace.span.close()=> #key #eq end);
                consumers.set(cx, tokens, streams);
            }
            other => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{other}`: {DEMULTIPLEXER}"),
                ));
            }
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    let streams = consumers.get().unwrap_or_default();
    if streams.is_empty() {
        return Err(syn::Error::new(
            head.span(),
            format!("a demultiplexer needs its streams' consumers: {DEMULTIPLEXER}"),
        ));
    }
    Ok((
        EntryKind::Demultiplexer { streams },
        path.get(),
        Vec::new(),
        last,
    ))
}

/// The inside of `consumers = {...}`: `"stream": Consumer` pairs; a stream given twice is reported.
fn streams(braces: ParseStream, cx: &mut Ctxt) -> syn::Result<Vec<(LitStr, syn::Path)>> {
    let mut streams: Vec<(LitStr, syn::Path)> = Vec::new();
    while !braces.is_empty() {
        let stream: LitStr = braces.parse().map_err(|e| {
            syn::Error::new(e.span(), format!("expected a stream name: {DEMULTIPLEXER}"))
        })?;
        braces.parse::<Token![:]>()?;
        let ty: syn::Path = braces.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected a class-based consumer: {DEMULTIPLEXER}"),
            )
        })?;
        if streams.iter().any(|(s, _)| s.value() == stream.value()) {
            cx.spanned(
                &stream,
                format!(
                    "stream \"{}\" is served twice\nhelp: a stream has one consumer: remove one",
                    stream.value()
                ),
            );
        } else {
            streams.push((stream, ty));
        }
        if !braces.is_empty() {
            braces.parse::<Token![,]>()?;
        }
    }
    Ok(streams)
}
