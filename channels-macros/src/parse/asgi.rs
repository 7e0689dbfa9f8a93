//! Channels 2+ routing as written in Python: `ProtocolTypeRouter({...})`, `URLRouter([...])`,
//! `re_path(r"...", Consumer.as_asgi())`, `path("...", ...)` and `ChannelNameRouter({...})`, and the
//! middleware wrappers of a `ProtocolTypeRouter` value (`middleware`).

use proc_macro2::TokenStream;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Token};

use crate::ctxt::Ctxt;

mod middleware;

use middleware::Wrapper;

/// A top-level Channels 2+ entry.
pub enum AsgiEntry {
    /// `re_path(...)` or `path(...)`: an entry of a `websocket_urlpatterns`-like list.
    Url(UrlEntry),
    /// `ProtocolTypeRouter(...)`, `URLRouter(...)` or `ChannelNameRouter(...)`.
    Router(Router),
}

/// A Channels 2+ application that routes further.
pub enum Router {
    /// `ProtocolTypeRouter({"websocket": ..., "http": ..., "channel": ...})`.
    Protocol(Vec<ProtocolKey>),
    /// `URLRouter([...])` or `URLRouter(module::urlpatterns)`.
    Url(UrlList),
    /// `ChannelNameRouter({"thumbnails-generate": Consumer.as_asgi()})`.
    ChannelNames(Vec<ChannelEntry>),
}

/// One key of a `ProtocolTypeRouter`.
pub struct ProtocolKey {
    /// `"websocket"`, `"http"` or `"channel"` as written.
    pub key: LitStr,
    /// What it routes to.
    pub app: App,
}

/// What a `ProtocolTypeRouter` key routes to.
pub enum App {
    /// A router.
    Router(Router),
    /// A consumer, for every path.
    Consumer(syn::Path),
}

/// The routes of a `URLRouter`.
pub struct UrlList {
    /// `URLRouter` as written.
    pub head: Ident,
    /// Where they are.
    pub source: UrlSource,
}

/// Where a `URLRouter`'s routes are.
pub enum UrlSource {
    /// `URLRouter([re_path(...), ...])`.
    Inline(Vec<UrlEntry>),
    /// `URLRouter(chat::routing::websocket_urlpatterns)`: a `channel_routing!` table defined elsewhere.
    Table(syn::Path),
}

/// `re_path(r"...", target)` or `path("...", target)`.
pub struct UrlEntry {
    /// Which syntax.
    pub kind: UrlKind,
    /// The pattern.
    pub pattern: LitStr,
    /// What it routes to.
    pub target: UrlTarget,
}

/// `re_path` or `path`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// Django's `re_path`: a regex.
    RePath,
    /// Django's `path`: a route with `<converter:name>` parameters.
    Path,
}

/// What a URL entry routes to.
pub enum UrlTarget {
    /// A consumer (`ChatConsumer`, `ChatConsumer.as_asgi()`, or a function).
    Consumer(syn::Path),
    /// A nested `URLRouter`.
    Router(UrlList),
}

/// `"channel-name": Consumer.as_asgi()` in a `ChannelNameRouter`.
pub struct ChannelEntry {
    /// The channel.
    pub channel: LitStr,
    /// Its consumer.
    pub consumer: syn::Path,
}

/// Whether `head(...)` starts a Channels 2+ entry.
pub fn is_asgi_head(head: &Ident) -> bool {
    [
        "ProtocolTypeRouter",
        "URLRouter",
        "ChannelNameRouter",
        "re_path",
        "path",
    ]
    .iter()
    .any(|h| head == h)
}

/// The inside of `head(...)`, `head` being one of [`is_asgi_head`]'s.
pub fn asgi_entry(head: &Ident, content: ParseStream, cx: &mut Ctxt) -> syn::Result<AsgiEntry> {
    match head.to_string().as_str() {
        "re_path" | "path" => url_entry(head, content, cx).map(AsgiEntry::Url),
        _ => router(head, content, cx).map(AsgiEntry::Router),
    }
}

fn router(head: &Ident, content: ParseStream, cx: &mut Ctxt) -> syn::Result<Router> {
    match head.to_string().as_str() {
        "ProtocolTypeRouter" => {
            let mut keys = Vec::new();
            for (key, value) in dict(content, "ProtocolTypeRouter")? {
                let parsed = value
                    .and_then(|v| syn::parse::Parser::parse2(|s: ParseStream| app(s, &key, cx), v));
                match parsed {
                    Ok(app) => keys.push(ProtocolKey { key, app }),
                    Err(e) => cx.push(e),
                }
            }
            Ok(Router::Protocol(keys))
        }
        "ChannelNameRouter" => {
            let mut entries = Vec::new();
            for (channel, value) in dict(content, "ChannelNameRouter")? {
                match value.and_then(|v| syn::parse::Parser::parse2(consumer_target, v)) {
                    Ok(consumer) => entries.push(ChannelEntry { channel, consumer }),
                    Err(e) => cx.push(e),
                }
            }
            Ok(Router::ChannelNames(entries))
        }
        _ => url_list(head, content, cx).map(Router::Url),
    }
}

/// `{ "key": value, ... }`: each key with its value's tokens (or why they can't be read).
fn dict(content: ParseStream, form: &str) -> syn::Result<Vec<(LitStr, syn::Result<TokenStream>)>> {
    let inner;
    syn::braced!(inner in content);
    if !content.is_empty() {
        return Err(content.error(format!(
            "`{form}` takes one dict: `{form}({{\"key\": value, ...}})`"
        )));
    }
    let mut out = Vec::new();
    while !inner.is_empty() {
        let key: LitStr = inner.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected a string key: `{form}({{\"name\": ...}})`"),
            )
        })?;
        inner.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "expected `:` after \"{}\", as in Python's dict",
                    key.value()
                ),
            )
        })?;
        let mut value = TokenStream::new();
        while !inner.is_empty() && !inner.peek(Token![,]) {
            value.extend([inner.parse::<proc_macro2::TokenTree>()?]);
        }
        let value = if value.is_empty() {
            Err(syn::Error::new(
                key.span(),
                format!("\"{}\" has no value", key.value()),
            ))
        } else {
            Ok(value)
        };
        out.push((key, value));
        if !inner.is_empty() {
            inner.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

/// A `ProtocolTypeRouter` value under `key`: a router, a middleware wrapper (see [`middleware`]), or a
/// consumer.
fn app(input: ParseStream, key: &LitStr, cx: &mut Ctxt) -> syn::Result<App> {
    if input.peek(Ident) && input.peek2(syn::token::Paren) {
        let head: Ident = input.fork().parse()?;
        let name = head.to_string();
        if let Some(wrapper) = Wrapper::named(&name) {
            input.parse::<Ident>()?;
            let content;
            syn::parenthesized!(content in input);
            // What it wraps is read first (its errors are reported after the wrapper's).
            let mut inner_cx = Ctxt::default();
            let inner = app(&content, key, &mut inner_cx);
            let rest = match &inner {
                Ok(_) => middleware::rest(&content, wrapper).unwrap_or_else(|e| {
                    inner_cx.push(e);
                    middleware::Rest::Nothing
                }),
                Err(_) => middleware::Rest::Nothing,
            };
            // Whatever is left was reported: read it, so it is not reported again.
            let _ = content.parse::<TokenStream>();
            if let Some(message) = wrapper.refusal(key, inner.as_ref().ok(), &rest) {
                cx.spanned(&head, message);
            }
            if let Some(errors) = inner_cx.finish() {
                cx.push(errors);
            }
            return inner;
        }
        if name == "get_asgi_application" {
            return Err(syn::Error::new(
                head.span(),
                "`get_asgi_application()` is Django's HTTP application, which has no Rust form\n\
                 help: route `http.request` consumers: `\"http\": URLRouter([path(\"\", index)])` with \
                 `#[consumer] async fn index(message: Message)`",
            ));
        }
        if ["URLRouter", "ChannelNameRouter", "ProtocolTypeRouter"].contains(&name.as_str()) {
            input.parse::<Ident>()?;
            let content;
            syn::parenthesized!(content in input);
            return router(&head, &content, cx).map(App::Router);
        }
    }
    let consumer = consumer_target(input)?;
    Ok(App::Consumer(consumer))
}

fn url_list(head: &Ident, content: ParseStream, cx: &mut Ctxt) -> syn::Result<UrlList> {
    if content.peek(syn::token::Bracket) {
        let inner;
        syn::bracketed!(inner in content);
        if !content.is_empty() {
            return Err(
                content.error("`URLRouter` takes one list: `URLRouter([re_path(...), ...])`")
            );
        }
        return Ok(UrlList {
            head: head.clone(),
            source: UrlSource::Inline(url_entries(&inner, cx)?),
        });
    }
    let path: syn::Path = content.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`URLRouter` takes a list, `URLRouter([re_path(...), ...])`, or a table defined with \
             `channel_routing! { pub fn websocket_urlpatterns; ... }`: `URLRouter(websocket_urlpatterns)`",
        )
    })?;
    Ok(UrlList {
        head: head.clone(),
        source: UrlSource::Table(path),
    })
}

/// The entries of a `URLRouter([...])` list; a malformed one is reported and skipped.
pub fn url_entries(input: ParseStream, cx: &mut Ctxt) -> syn::Result<Vec<UrlEntry>> {
    let mut entries = Vec::new();
    while !input.is_empty() {
        let entry = (|| {
            let head: Ident = input.parse()?;
            if head != "re_path" && head != "path" {
                return Err(syn::Error::new(
                    head.span(),
                    format!(
                        "a `URLRouter` list holds `re_path(r\"...\", Consumer)` and \
                         `path(\"...\", Consumer)` entries, not `{head}(...)`"
                    ),
                ));
            }
            let content;
            syn::parenthesized!(content in input);
            url_entry(&head, &content, cx)
        })();
        match entry {
            Ok(e) => entries.push(e),
            Err(e) => {
                cx.push(e);
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<proc_macro2::TokenTree>()?;
                }
            }
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(entries)
}

/// The inside of `re_path(r"...", target [, name = "..."])` or `path(...)`.
fn url_entry(head: &Ident, content: ParseStream, cx: &mut Ctxt) -> syn::Result<UrlEntry> {
    let form = head.to_string();
    let kind = if form == "re_path" {
        UrlKind::RePath
    } else {
        UrlKind::Path
    };
    let example = match kind {
        UrlKind::RePath => r#"re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi())"#,
        UrlKind::Path => r#"path("ws/chat/<str:room_name>/", ChatConsumer.as_asgi())"#,
    };
    let pattern: LitStr = content.parse().map_err(|e| {
        syn::Error::new(e.span(), format!("expected the pattern first: `{example}`"))
    })?;
    content.parse::<Token![,]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `,` and a consumer: `{example}`"),
        )
    })?;
    let target = if content.peek(Ident) && content.peek2(syn::token::Paren) && {
        let head: Ident = content.fork().parse()?;
        head == "URLRouter"
    } {
        let head: Ident = content.parse()?;
        let inner;
        syn::parenthesized!(inner in content);
        UrlTarget::Router(url_list(&head, &inner, cx)?)
    } else {
        UrlTarget::Consumer(consumer_target(content)?)
    };
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("`{form}(...)` takes the pattern, the consumer and `name = \"...\"`"),
            )
        })?;
        if key != "name" {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{key}`: `{form}(...)` takes the pattern, the consumer and \
                     `name = \"...\"` (Django's `kwargs` have no Rust form: take values from the path)"
                ),
            ));
        }
        content.parse::<Token![=]>()?;
        // The name is for Django's `reverse()`: accepted so a line ports as written.
        content.parse::<LitStr>()?;
    }
    Ok(UrlEntry {
        kind,
        pattern,
        target,
    })
}

/// A consumer as a `URLRouter` or `ChannelNameRouter` names it: `ChatConsumer`, `ChatConsumer.as_asgi()`,
/// `consumers::ChatConsumer::as_asgi()` or a `#[consumer]` function.
pub fn consumer_target(input: ParseStream) -> syn::Result<syn::Path> {
    let mut path: syn::Path = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a consumer: `ChatConsumer.as_asgi()`, `ChatConsumer` or a `#[consumer]` function",
        )
    })?;
    let as_asgi = if input.peek(Token![.]) {
        input.parse::<Token![.]>()?;
        let method: Ident = input.parse()?;
        if method != "as_asgi" {
            return Err(syn::Error::new(
                method.span(),
                format!("expected `.as_asgi()` after the consumer, not `.{method}`"),
            ));
        }
        true
    } else if path.segments.len() > 1 && path.segments.last().is_some_and(|s| s.ident == "as_asgi")
    {
        path.segments.pop();
        path.segments.pop_punct();
        true
    } else {
        false
    };
    if as_asgi {
        let args;
        syn::parenthesized!(args in input);
        if !args.is_empty() {
            return Err(args.error(
                "`as_asgi(**initkwargs)` has no Rust form: give the consumer's `fn new` parameters \
                 captured from the path instead",
            ));
        }
    }
    Ok(path)
}
