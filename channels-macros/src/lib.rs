//! The procedural macros of `channels`: [`channel_routing!`], [`#[consumer]`](macro@consumer) and
//! [`group!`]. Use them through the `channels` crate (`use channels::prelude::*;`).
//!
//! Each macro works in three phases: `parse` (a syn view of the input), `check` (regexes with
//! `regex-syntax`, names with `channels-names`, signatures, table reachability) and `expand` (code from
//! the checked model, naming the runtime only through `exports`). Every error of an invocation is
//! reported at once, at the offending token (`ctxt`; an argument given twice is an error at the second,
//! `attr`), and the input is still emitted next to the errors so that one mistake does not cascade.
//!
//! Channels' naming rules, its event names and the words that explain a broken rule come from
//! `channels-names`, which the runtime uses too: a name the macros accept is a name the runtime
//! accepts.
//!
//! # Checks that need both macros
//!
//! `#[consumer]` keeps the function as written and adds a hidden companion of the same name (a struct,
//! in the type namespace, so it lives beside the function), implementing `FnConsumer` with the
//! consumer's capture parameters, its declared groups and the messages to show when a route doesn't
//! provide them. `channel_routing!` reaches it by the path written in the table and emits `const`
//! assertions comparing the route's captures with it: the compiler evaluates them, so a capture
//! without a parameter, or a parameter without a capture, is an error at the route's path literal.
//!
//! Whether a parameter is a path capture or an extractor (`Session`) is its type's answer (the
//! runtime's `ConsumerParam`), never its spelling: the companion's metadata names a parameter as a
//! capture through a `const` the compiler evaluates for the parameter's type.
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod attr;
mod check;
mod ctxt;
mod expand;
mod exports;
mod parse;

use ctxt::Ctxt;
use exports::Exports;

/// Compiles a Channels `routing.py` into a route table: a function returning
/// `channels::routing::Routing`.
///
/// ```
/// use channels::prelude::*;
///
/// #[consumer]
/// async fn ws_add(message: Message) -> Result<()> {
///     message.reply_channel.accept().await?;
///     group!("chat").add(&message.reply_channel).await
/// }
///
/// #[consumer]
/// async fn ws_message(message: Message) -> Result<()> {
///     group!("chat").send_text(format!("[user] {}", message.text().unwrap_or_default())).await
/// }
///
/// #[consumer]
/// async fn room_message(message: Message, room: String) -> Result<()> {
///     message.reply_channel.send_text(format!("{room}: {}", message.text().unwrap_or_default())).await
/// }
///
/// mod admin {
///     use channels::prelude::*;
///     #[consumer]
///     fn stats(message: Message) -> Result<()> {
///         message.reply_channel.send_text_blocking("all good")
///     }
///     channel_routing! {
///         pub fn routing;
///         "websocket.receive", path = r"^/stats/$" => stats,
///     }
/// }
///
/// channel_routing! {
///     "websocket.receive", path = r"^/chat/(?P<room>[a-zA-Z0-9_]+)/$" => room_message,
///     route("websocket.connect", ws_add),
///     include(admin::routing, path = r"^/admin"),
///     "websocket.receive" => ws_message,
/// }
///
/// fn main() {
///     let routing: Routing = channel_routing();
///     assert!(routing.resolve("websocket.receive", "/chat/lobby/").is_some());
///     assert!(routing.resolve("websocket.receive", "/admin/stats/").is_some());
/// }
/// ```
///
/// # Entries
///
/// | `routing.py` (Channels 1.x) | `channel_routing!` |
/// |---|---|
/// | `route("websocket.receive", ws_message)` | `"websocket.receive" => ws_message` or `route("websocket.receive", ws_message)` |
/// | `route("websocket.receive", ws_message, path=r"^/chat/$")` | `"websocket.receive", path = r"^/chat/$" => ws_message` or `route("websocket.receive", ws_message, path = r"^/chat/$")` |
/// | `route_class(ChatConsumer, path=r"^/rooms/(?P<room>\w+)/$")` | `route_class(ChatConsumer, path = r"^/rooms/(?P<room>\w+)/$")` |
/// | `include("admin.routing.channel_routing", path=r"^/admin")` | `include(admin::channel_routing, path = r"^/admin")` |
/// | `route("thumbnails.generate", make_thumbnail)` | `"thumbnails.generate" => make_thumbnail` (a custom channel, run by workers) |
///
/// | `route("chat.receive", chat_join, command=r"^join$")` | `route("chat.receive", chat_join, command = r"^join$")` (field matching) |
/// | a worker class on a custom channel | `route_class(Worker, channel = "thumbnails.generate")` |
/// | `route_class(Demultiplexer, path=r"^/multiplex/")` with `consumers = {"echo": EchoConsumer}` | `route_demultiplexer(path = r"^/multiplex/", consumers = {"echo": EchoConsumer})` |
///
/// Entries are separated by commas; any delimiter works (`channel_routing! { }`, `( )`, `[ ]`).
/// `include(path)` calls the function at `path`.
///
/// # Channels 2+ (`ProtocolTypeRouter`, `URLRouter`, `re_path`, `path`, `ChannelNameRouter`)
///
/// A table may instead hold Channels 2+'s application, as `asgi.py` and `routing.py` write it: one
/// `ProtocolTypeRouter({"websocket": ..., "http": ..., "channel": ...})`, `URLRouter(...)` or
/// `ChannelNameRouter({...})`, or a `websocket_urlpatterns` list of `re_path(...)`/`path(...)` entries.
/// Paths are then matched without their leading `/`, with Django's rules (see the README's
/// "Porting Channels 2+/4" section).
///
/// ```
/// use channels::prelude::*;
///
/// struct ChatConsumer { room_name: String }
///
/// #[consumer]
/// impl ChatConsumer {
///     fn new(room_name: String) -> Self {
///         ChatConsumer { room_name }
///     }
/// }
///
/// channel_routing! {
///     ProtocolTypeRouter({
///         "websocket": URLRouter([
///             re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi()),
///         ]),
///     })
/// }
///
/// fn main() {
///     assert!(channel_routing().resolve("websocket.connect", "/ws/chat/lobby/").is_some());
///     assert!(channel_routing().resolve("websocket.connect", "/ws/chat/lobby/x").is_none());
/// }
/// ```
///
/// # Where it goes: `fn name;` or `let name;`
///
/// The table is one expression; the header says what holds it.
///
/// - No header, or `fn name;` (with any visibility, and doc comments): a function returning the table,
///   `pub fn channel_routing() -> Routing` by default, as Channels' `routing.py` defines
///   `channel_routing`. Write it at module level: `channel_routing! { pub(crate) fn admin_routing; ... }`.
///   A routed name without a path (`ws_message`) is looked up in the module.
/// - `let name;`: a local variable holding the table, for a function body (a test that builds its own
///   table). It routes functions defined in that body too.
///
/// ```
/// use channels::prelude::*;
///
/// fn main() {
///     #[consumer]
///     async fn echo(message: Message) -> Result<()> {
///         message.reply_channel.send_text(message.text().unwrap_or_default()).await
///     }
///
///     channel_routing! {
///         let routing;
///         "websocket.receive" => echo,
///     }
///     assert_eq!(routing.resolve("websocket.receive", "/").map(|c| c.name()), Some("echo"));
/// }
/// ```
///
/// Beside a `fn name;` table, a hidden struct of the same name (in the type namespace) tells a table
/// that includes this one which captures its consumers take; a `let` table defines only the variable.
/// Two tables can share a module or a block.
///
/// # Without the `channels` facade
///
/// The generated code names the runtime as `::channels`. With `channels-runtime` and `channels-macros`
/// as direct dependencies, say where the runtime is with the header `crate = "channels_runtime";` (and
/// `#[consumer(crate = "channels_runtime")]` on each consumer), as serde's `#[serde(crate = "...")]`.
///
/// # Error mode: `errors = "keep_open";`
///
/// What the failures of the table's consumers do to their connections, for the consumers that don't
/// choose (`#[consumer(errors = "...")]`): `"close"` (Channels 4, the default: close with 1011) or
/// `"keep_open"` (Channels 1.x: log and keep the connection). An included table's own header wins.
///
/// # Middleware: `middleware = expr;`
///
/// Channels' `AuthMiddlewareStack(URLRouter([...]))`: `middleware = TokenAuth::new();` runs the value (a
/// `channels::auth::Middleware`) before the consumers of every route of the table and of the tables it
/// includes, once per WebSocket handshake and per `http.request`; it can refuse (403) or attach a user
/// (`message.user::<U>()`). The header may be repeated: the middleware run in the order written
/// (`Routing::with_middleware` by hand; `Route::with_middleware` for one route).
///
/// Each header other than `middleware` may be given once: a second `fn name;`, `let name;`, `crate =
/// ...;` or `errors = ...;` is an error at the second, and so is a second `path = ...` in one route.
///
/// # Semantics (as in Channels)
///
/// Routes are tried in order and the first match wins. In a Channels 1.x table a path pattern matches
/// from the start of the whole path (`re.match`), whether or not it starts with `^`; field patterns
/// match a message's top-level field the same way, message by message. `include` strips the part its prefix matched
/// and hands the rest to the inner table. A capture's text is parsed into the consumer's parameter
/// type; if it doesn't parse (`u32` from `"abc"`), the route doesn't match and the next is tried.
/// Captures of an `include` prefix are available to inner consumers that take them; each must be taken
/// by some consumer of the included table (or of a table it includes). The inner table's routes are
/// checked on their own paths only.
///
/// # Checked while compiling
///
/// - Path regexes, with the parser the runtime uses (`regex-syntax`): syntax errors (with its caret
///   diagram), look-around and back-references, unnamed groups (only named groups are allowed, as in
///   Channels 1.x), capture names that aren't Rust identifiers, captures under a repetition.
/// - Event names: an unknown `websocket.*`/`http.*` event (with the nearest valid one), a custom
///   channel name breaking Channels' rule, a custom channel with a path.
/// - Captures against parameters: every capture must be a parameter of the consumer (or used by one
///   of its group templates), and every parameter must be captured by the path.
/// - The table: a route that an earlier one always shadows (decided on the patterns' regex languages,
///   for earlier routes without captures), an empty table, malformed entries, a header or `path` given
///   twice.
/// - Styles: a pattern that can never match a path in its table's style (a Channels 4 pattern in a 1.x
///   table, a `^/` pattern in a `URLRouter`), `path()` routes and their converters (`<int:id>` needs an
///   integer parameter), a nested router's captures that no consumer under it takes.
#[proc_macro]
pub fn channel_routing(input: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let table = parse::table(input.into(), &mut cx);
    let checked = table.as_ref().map(|t| check::table(t, &mut cx));
    match (cx.finish(), checked) {
        (None, Some(checked)) => expand::table(&checked),
        (Some(errors), _) => expand::table_stub(table.as_ref(), errors),
        (None, None) => proc_macro2::TokenStream::new(),
    }
    .into()
}

/// Makes a function, or the `impl` block of a class-based consumer, routable by [`channel_routing!`].
///
/// # Function consumers
///
/// `fn` or `async fn`, taking:
/// 1. the message, first: `message: Message` or `message: &Message` (any name);
/// 2. then the path captures, by name, typed with anything that implements `FromStr + Clone + Send +
///    Sync + 'static` (`String`, `u32`, your own types), or `Cow<'_, str>` (parsed as a `String`); a
///    capture that doesn't parse makes the route not match;
/// 3. then extractors: `session: Session` (the connection's `message.channel_session()`),
///    `Json<T>` (the message's JSON decoded into any `T: serde::Deserialize`; a frame that doesn't
///    decode fails the run, see "Error mode") and `Multiplexer` (the stream of a demultiplexed
///    message). An extractor may be taken apart by a pattern: `Json(chat): Json<ChatIn>`.
///
/// Whether a parameter is a capture or an extractor is decided by its type, not by how the type is
/// spelled: a type of your own called `Session` that implements `FromStr` is a capture. Any parameter
/// name works, `message` included (as a capture, when the `Message` parameter is named otherwise).
///
/// It returns `()` or `Result<(), E>` where `E` is an error type (any `std::error::Error + Send + Sync`,
/// `anyhow::Error` or `String`; it is kept as the error's source). An `Err` is logged and closes the
/// connection with 1011 (or keeps it, see "Error mode"). A sync `fn` runs on the blocking thread pool.
///
/// ```
/// use channels::prelude::*;
///
/// #[consumer]
/// async fn echo_times(message: Message, times: u32, session: Session) -> Result<()> {
///     session.set("times", json!(times));
///     let text = message.text().unwrap_or_default().repeat(times as usize);
///     message.reply_channel.send_text(text).await
/// }
///
/// #[consumer]
/// fn ws_sync(message: Message) -> Result<()> {
///     message.reply_channel.send_text_blocking("hi")
/// }
///
/// channel_routing! {
///     "websocket.receive", path = r"^/echo/(?P<times>\d+)/$" => echo_times,
///     "websocket.receive" => ws_sync,
/// }
/// # fn main() { let _ = channel_routing(); }
/// ```
///
/// # Declared groups
///
/// `#[consumer(groups = ["chat", "room.{room}"])]`: every connection taking a route to this consumer
/// joins these groups before its connect consumer runs, and leaves them when it closes, however it
/// closes (Channels 4's `groups`). `{room}` is filled in from the path capture `room`, which every
/// route to the consumer must have. Literal parts are checked against Channels' naming rule.
///
/// # Held sends: `buffered` and `atomic`
///
/// Without either, each send leaves at once. `#[consumer(buffered)]` on an `async fn` holds every send it
/// makes (reply channel, groups, channels) until it returns, then sends them in order whatever it
/// returned: what Channels 1.x did for every consumer (its buffer was flushed in a `finally`).
/// `#[consumer(atomic)]` holds them too, but discards them if the consumer failed: all or nothing, which
/// 1.x never did.
///
/// # Error mode
///
/// `#[consumer(errors = "keep_open")]`: a failure of this consumer (an `Err` it returns, a message it
/// can't take: a frame that isn't its `Json<T>`, an event with no handler or whose payload doesn't fit)
/// is logged and the connection stays, as under Channels 1.x; data its connect sends before accepting
/// accepts the connection. The default, `errors = "close"` (Channels 4), logs and closes with 1011, and
/// data before accepting is an error. A table may choose for its consumers (`errors = "...";`).
///
/// # Group names from the path
///
/// `group!("room.{room}")` in the body, where `room` is a path capture parameter, needs no run-time
/// check of its characters: `channel_routing!` refuses every route whose pattern lets `room` hold one a
/// group name can't have. (A name the body binds again, `let room = ...`, is checked at run time.)
///
/// # Without the `channels` facade
///
/// `#[consumer(crate = "channels_runtime")]` makes the generated code name the runtime by that path
/// instead of `::channels` (see [`channel_routing!`]). Each argument may be given once.
///
/// # Class-based consumers
///
/// `#[consumer]` on an `impl` block makes the type routable with `route_class(Type, path = ...)`.
/// A new instance serves each connection: `fn new(capture: Type, ...) -> Self` in the block (its
/// parameters are path captures, by name), or `Default` when there is no `new`. Methods:
///
/// - `connect`, `receive`, `disconnect`: `(&mut self, message: Message)`; without `connect`, the
///   connection is accepted (as Channels' `WebsocketConsumer`);
/// - any other method is a handler for events sent to the connection's channel or its groups, by
///   `type`: `"chat.message"` goes to `chat_message` (dots become underscores). A handler takes
///   `(&mut self, [message: Message,] [event: T])` where `T: serde::Deserialize` is built from the
///   event's JSON; a single parameter is the
///   message or the payload as its type says. A payload that doesn't fit, and an event with no handler,
///   fail the run (see "Error mode"; Channels 4 raises). Names starting with `_` are refused, as Channels
///   refuses them;
/// - `receive_json`: `(&mut self, [message: Message,] content: T)`, Channels' `JsonWebsocketConsumer`:
///   each text frame is decoded into `T` with the type's `JsonWebsocketConsumer::decode_json` (the type
///   implements `channels::JsonWebsocketConsumer`, whose hooks have Channels' defaults); a class has
///   `receive` or `receive_json`, not both;
/// - a method marked `#[helper]` is a helper: no event is dispatched to it, and it may take and return
///   anything (`#[helper] fn room_group(&self) -> String`).
///
/// Routed to a worker channel (`route_class(Type, channel = "...")`, or Channels 2+'s
/// `ChannelNameRouter`), one instance serves the channel, and each message goes to the handler its
/// `type` names (a `SyncConsumer`), or without a `type` to the one the channel's name does.
///
/// A sync `fn` consumer or handler denies `unused_must_use`: an async send (`send(..)`) called without
/// `.await` does nothing, so it is an error that names the `_blocking` form to call.
///
/// Methods may be `async` or not, and return `()` or `Result<(), E>` like function consumers. Events
/// of one connection are handled one at a time, in order.
///
/// ```
/// use channels::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct ChatMessage { text: String }
///
/// struct ChatConsumer { room: String, sent: u32 }
///
/// #[consumer(groups = ["room.{room}"])]
/// impl ChatConsumer {
///     fn new(room: String) -> Self {
///         ChatConsumer { room, sent: 0 }
///     }
///     async fn receive(&mut self, message: Message) -> Result<()> {
///         self.sent += 1;
///         let text = message.text().unwrap_or_default();
///         Group::new(format!("room.{}", self.room))?
///             .send(json!({"type": "chat.message", "text": text}))
///             .await
///     }
///     async fn chat_message(&mut self, message: Message, event: ChatMessage) -> Result<()> {
///         message.reply_channel.send_text(event.text).await
///     }
/// }
///
/// channel_routing! {
///     route_class(ChatConsumer, path = r"^/rooms/(?P<room>\w+)/$"),
/// }
/// # fn main() { let _ = channel_routing(); }
/// ```
#[proc_macro_attribute]
pub fn consumer(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let args = parse::consumer_args(args.into(), &mut cx);
    let ex = Exports::new(args.krate.clone());
    match parse::consumer_item(item.into(), &mut cx) {
        parse::ConsumerItem::Fn(item) => {
            let model = check::consumer_fn(&item, &args, &mut cx);
            match cx.finish() {
                None => expand::consumer_fn(&item, &model),
                Some(errors) => expand::consumer_fn_stub(&item, &ex, errors),
            }
        }
        parse::ConsumerItem::Impl(item) => {
            let model = check::consumer_impl(&item, &args, &mut cx);
            match cx.finish() {
                None => expand::consumer_impl(&item, &model),
                Some(errors) => expand::consumer_impl_stub(&item, &ex, errors),
            }
        }
        parse::ConsumerItem::Other(item) => {
            let errors = cx.finish().map(|e| e.to_compile_error());
            quote::quote!(#errors #item)
        }
    }
    .into()
}

/// Names a group with a literal checked while compiling: `group!("chat")` is a `channels::Group`.
///
/// The name must follow Channels' rule: ASCII letters, digits, `-`, `_` and `.`, shorter than 100
/// characters.
///
/// ```
/// use channels::prelude::*;
/// let chat: Group = group!("chat");
/// assert_eq!(chat.name(), "chat");
/// ```
///
/// ```compile_fail
/// use channels::prelude::*;
/// let room = group!("my room"); // a space: refused while compiling
/// ```
///
/// # Templates
///
/// `group!("room.{room}")` fills `{room}` with the variable `room` in scope (a `String`, a `&str` or an
/// integer), as `format!` would; the literal parts are checked while compiling. It is still a `Group`,
/// not a `Result`:
///
/// - an integer only ever writes digits (and `-`), so nothing is checked at run time;
/// - in a `#[consumer] fn`, a placeholder that names one of its path captures (`room: String`) needs
///   no character check either: `channel_routing!` refuses, while compiling, a route whose pattern
///   lets that capture hold a character a group name can't have (`[^/]+` lets it hold a space), and
///   names a pattern that fits (`(?P<room>[a-zA-Z0-9_.-]+)`, `<slug:room>`). Only the length of the
///   name is measured (a capture can be long);
/// - any other text is checked when the group is built.
///
/// A name that breaks the rule at run time (a room "café" from a `&str`, a 150-character capture)
/// makes a group whose every operation returns `Error::InvalidName`, as `Group::new` would have.
///
/// ```
/// use channels::prelude::*;
/// let room = "lobby";
/// assert_eq!(group!("room.{room}").name(), "room.lobby");
/// let id = 7u32;
/// assert_eq!(group!("game.{id}.players").name(), "game.7.players");
/// ```
#[proc_macro]
pub fn group(input: TokenStream) -> TokenStream {
    let (captures, lit) = match parse::group_input(input.into()) {
        Ok(parsed) => parsed,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "expected a string literal: `group!(\"chat\")`, or a template `group!(\"room.{room}\")` \
                 with variables in scope",
            )
            .to_compile_error()
            .into();
        }
    };
    match check::group_name(&lit, true) {
        Ok(template) => expand::group(&template, &captures),
        Err(e) => expand::group_stub(e),
    }
    .into()
}
