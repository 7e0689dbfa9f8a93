//! Channels' ASGI middleware wrappers as a `ProtocolTypeRouter` value holds them: the ones whose job the
//! server does compile as what they wrap; the ones that need Rust values (Django's settings, a session
//! store, a list of origins) are refused with the Rust to write instead. None is ever silently dropped:
//! a wrapper that did nothing would be a route that never authenticates.

use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{LitStr, Token};

use super::{App, Router, UrlSource};

/// A Python wrapper, `Wrapper(app, ...)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// `AllowedHostsOriginValidator(app)`: the server's default `Origin` check, for WebSockets.
    AllowedHosts,
    /// `OriginValidator(app, ["https://...", ...])`: origins for `ServerConfig::allowed_origin`.
    Origins,
    /// `CookieMiddleware(app)`: cookies are always parsed.
    Cookies,
    /// `AuthMiddlewareStack(app)` or `AuthMiddleware(app)`, as named.
    Auth(&'static str),
    /// `SessionMiddlewareStack(app)` or `SessionMiddleware(app)`, as named.
    Session(&'static str),
}

/// The arguments after the application: `OriginValidator`'s origins.
pub enum Rest {
    /// None given.
    Nothing,
    /// A list of string literals, as written.
    Origins(Vec<String>),
    /// Something else (`settings.ALLOWED_ORIGINS`).
    Unread,
}

impl Wrapper {
    /// The wrapper called `name`, if it is one.
    pub fn named(name: &str) -> Option<Wrapper> {
        Some(match name {
            "AllowedHostsOriginValidator" => Wrapper::AllowedHosts,
            "OriginValidator" => Wrapper::Origins,
            "CookieMiddleware" => Wrapper::Cookies,
            "AuthMiddlewareStack" => Wrapper::Auth("AuthMiddlewareStack"),
            "AuthMiddleware" => Wrapper::Auth("AuthMiddleware"),
            "SessionMiddlewareStack" => Wrapper::Session("SessionMiddlewareStack"),
            "SessionMiddleware" => Wrapper::Session("SessionMiddleware"),
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Wrapper::AllowedHosts => "AllowedHostsOriginValidator",
            Wrapper::Origins => "OriginValidator",
            Wrapper::Cookies => "CookieMiddleware",
            Wrapper::Auth(name) | Wrapper::Session(name) => name,
        }
    }

    /// Why this wrapper, under `key`, wrapping `inner`, can't be written here, and what to write; `None`
    /// when it compiles as `inner`.
    pub fn refusal(self, key: &LitStr, inner: Option<&App>, rest: &Rest) -> Option<String> {
        let key = key.value();
        let name = self.name();
        match self {
            Wrapper::Cookies => None,
            // An unknown key is reported by the check of the keys.
            Wrapper::AllowedHosts if key != "http" && key != "channel" => None,
            Wrapper::AllowedHosts => {
                let hint = if key == "http" {
                    "; an `http.request` consumer reads the header itself, \
                     `message.content.header(\"origin\")`"
                } else {
                    ""
                };
                Some(format!(
                    "`{name}` checks WebSocket handshakes only (Channels raises `ValueError` on an \
                     \"{key}\" connection)\nhelp: route what it wraps directly under \"{key}\"{hint}"
                ))
            }
            Wrapper::Origins => Some(origins_refusal(rest)),
            Wrapper::Auth(_) => Some(format!(
                "`{name}` has no wrapper form: in Rust, middleware is a `middleware = ...;` header of a \
                 `channel_routing!` table\nhelp: route what it wraps directly, and add Django's auth \
                 middleware (feature `django`) {where_}:\n`middleware = django_auth();`, with \
                 `fn django_auth() -> channels::django::DjangoAuthMiddleware` returning \
                 `DjangoAuthMiddleware::new(DjangoSettings {{ secret_key: ..., ..DjangoSettings::default() }})\
                 .expect(\"complete settings\")`;\nconsumers read `message.user::<DjangoUser>()` (README: \
                 \"Django's logged-in user\")",
                where_ = where_header(&key, inner),
            )),
            Wrapper::Session(_) => Some(format!(
                "`{name}` has no wrapper form: in Rust, middleware is a `middleware = ...;` header of a \
                 `channel_routing!` table\nhelp: route what it wraps directly, and add the session \
                 middleware {where_}:\n`middleware = channels::auth::HttpSessionMiddleware::new(store);`, \
                 `store` being Django's sessions (`channels::django::DjangoSessions::new(&settings)`, \
                 feature `django`) or a `channels::session::MemorySessionStore`;\nconsumers read \
                 `message.http_session()`",
                where_ = where_header(&key, inner),
            )),
        }
    }
}

/// Where the `middleware = ...;` header goes: the table a `URLRouter(path)` names, or this one.
fn where_header(key: &str, inner: Option<&App>) -> String {
    if let Some(App::Router(Router::Url(list))) = inner
        && let UrlSource::Table(path) = &list.source
    {
        let name = path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string());
        return format!(
            "at the top of the `channel_routing!` that defines `{}` (`pub fn {name}; middleware = \
             ...; [...]`)",
            path_text(path)
        );
    }
    let table = format!("{key}_urlpatterns");
    format!(
        "at the top of this `channel_routing!` (it then runs for every route of the table; for these \
         routes only, give them a table of their own, `pub fn {table}; middleware = ...; [...]`, and \
         route `\"{key}\": URLRouter({table})`)"
    )
}

/// `chat::routing::websocket_urlpatterns` as written, without the spaces `quote` puts in.
fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// `OriginValidator`'s message, with the `ServerConfig` calls for the origins it lists.
fn origins_refusal(rest: &Rest) -> String {
    let listed: &[String] = match rest {
        Rest::Origins(origins) if !origins.is_empty() => origins,
        _ => &[],
    };
    let (calls, flags) = if listed.iter().any(|o| o == "*") {
        (
            ".allow_any_origin()".to_owned(),
            "--allowed-origin '*'".to_owned(),
        )
    } else if listed.is_empty() {
        (
            ".allowed_origin(\"https://app.example.com\".parse()?)` for each origin".to_owned(),
            "--allowed-origin https://app.example.com".to_owned(),
        )
    } else {
        let calls: String = listed
            .iter()
            .map(|o| format!(".allowed_origin({o:?}.parse()?)"))
            .collect();
        let flags: Vec<String> = listed
            .iter()
            .map(|o| format!("--allowed-origin {o}"))
            .collect();
        (calls, flags.join(" "))
    };
    let calls = if calls.ends_with("each origin") {
        format!("`ServerConfig::default(){calls}")
    } else {
        format!("`ServerConfig::default(){calls}`")
    };
    format!(
        "`OriginValidator` has no wrapper form: the server checks the `Origin` of every WebSocket \
         handshake, against `ServerConfig::allowed_origins`\nhelp: route what it wraps directly, and allow \
         its origins on the server: {calls} (`{flags}` on the examples); the server's own host is always \
         allowed"
    )
}

/// After the wrapped application: nothing, or (`OriginValidator` only) `, [origins]`.
pub fn rest(content: ParseStream, wrapper: Wrapper) -> syn::Result<Rest> {
    if content.is_empty() {
        return Ok(Rest::Nothing);
    }
    content.parse::<Token![,]>()?;
    if content.is_empty() {
        return Ok(Rest::Nothing);
    }
    if wrapper != Wrapper::Origins {
        return Err(content.error(format!(
            "`{}` takes one application: `{}(URLRouter(...))`",
            wrapper.name(),
            wrapper.name()
        )));
    }
    let fork = content.fork();
    let listed = (|| {
        let inner;
        syn::bracketed!(inner in fork);
        let origins = inner.parse_terminated(|s: ParseStream| s.parse::<LitStr>(), Token![,])?;
        fork.parse::<Option<Token![,]>>()?;
        if !fork.is_empty() {
            return Err(fork.error("more arguments"));
        }
        Ok(origins.iter().map(LitStr::value).collect())
    })();
    // Whatever it is, it is read: the message is about the wrapper.
    let _ = content.parse::<proc_macro2::TokenStream>();
    Ok(listed.map_or(Rest::Unread, Rest::Origins))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest_of(tokens: proc_macro2::TokenStream) -> Rest {
        let parser = |s: ParseStream| rest(s, Wrapper::Origins);
        syn::parse::Parser::parse2(parser, tokens).expect("read")
    }

    #[test]
    fn listed_origins_become_server_config_calls() {
        let rest = rest_of(quote::quote!(, ["https://a.example.com", ".example.com"]));
        let message = origins_refusal(&rest);
        assert!(message.contains(
            "`ServerConfig::default().allowed_origin(\"https://a.example.com\".parse()?)\
             .allowed_origin(\".example.com\".parse()?)`"
        ));
        assert!(
            message
                .contains("--allowed-origin https://a.example.com --allowed-origin .example.com")
        );
    }

    #[test]
    fn a_star_allows_any_origin() {
        let message = origins_refusal(&rest_of(quote::quote!(, ["*"])));
        assert!(message.contains("`ServerConfig::default().allow_any_origin()`"));
    }

    #[test]
    fn origins_it_cannot_read_get_a_placeholder_per_origin() {
        let rest = rest_of(quote::quote!(, settings.ALLOWED_ORIGINS));
        assert!(matches!(rest, Rest::Unread));
        let message = origins_refusal(&rest);
        assert!(message.contains(
            "`ServerConfig::default().allowed_origin(\"https://app.example.com\".parse()?)` for each origin"
        ));
    }

    #[test]
    fn other_wrappers_take_one_application() {
        let parser = |s: ParseStream| rest(s, Wrapper::Cookies);
        let error = syn::parse::Parser::parse2(parser, quote::quote!(, extra)).err();
        assert!(error.is_some_and(|e| e.to_string().contains("takes one application")));
    }
}
