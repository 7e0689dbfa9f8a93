//! Run: `cargo run --release --example tutorial_chat -- --bind 127.0.0.1:8000`, then open
//! http://127.0.0.1:8000/chat/lobby/ in two browser windows (`--features redis` and `--redis URL` join a
//! Django deployment on that Redis).
//!
//! The official Channels 4 tutorial's chat, ported: the same URLs, the same JSON and the same group
//! names, so Django's pages and processes can share the rooms.
//! - `GET /` is the lobby page; `GET /chat/<room_name>/` the room page (the tutorial's `room.html`).
//! - A WebSocket at `/ws/chat/<room_name>/` joins the group `chat_<room_name>` on connect and leaves it
//!   on disconnect; any other WebSocket path gets 404.
//! - The client sends `{"message": m}`; the consumer does the tutorial's
//!   `group_send("chat_<room_name>", {"type": "chat.message", "message": m})`; each member's
//!   `chat_message` handler sends `{"message": m}` to its socket. `m` is any JSON value, as in the
//!   tutorial (its page sends strings).
//! - A frame that is not such JSON (not JSON, not an object with `"message"`, or binary) is answered to
//!   its sender only with `{"error": "..."}` and logged at `info`; the room sees nothing. (The tutorial's
//!   consumer raises on it, and Channels closes that socket with 1011.)
//! - A `<room_name>` that makes no valid group name (`\w` matches any Unicode letter, group names are
//!   ASCII and shorter than 100 characters) is refused with 403 and logged (the tutorial's
//!   `group_add` raises there, refusing the socket too).
use channels::prelude::*;

mod common;

/// The tutorial's `chat/templates/chat/index.html`.
const INDEX_PAGE: &str = include_str!("static/tutorial_index.html");
/// The tutorial's `chat/templates/chat/room.html`; `{{ROOM_NAME_JSON}}` is its `json_script`.
const ROOM_PAGE: &str = include_str!("static/tutorial_room.html");

/// The tutorial's `ChatConsumer` (chat/consumers.py), one instance per connection:
///
/// ```python
/// class ChatConsumer(AsyncWebsocketConsumer):
///     async def connect(self):
///         self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
///         self.room_group_name = f"chat_{self.room_name}"
///         # Join room group
///         await self.channel_layer.group_add(self.room_group_name, self.channel_name)
///         await self.accept()
///
///     async def disconnect(self, close_code):
///         # Leave room group
///         await self.channel_layer.group_discard(self.room_group_name, self.channel_name)
///
///     # Receive message from WebSocket
///     async def receive(self, text_data):
///         text_data_json = json.loads(text_data)
///         message = text_data_json["message"]
///         # Send message to room group
///         await self.channel_layer.group_send(
///             self.room_group_name, {"type": "chat.message", "message": message}
///         )
///
///     # Receive message from room group
///     async def chat_message(self, event):
///         message = event["message"]
///         # Send message to WebSocket
///         await self.send(text_data=json.dumps({"message": message}))
/// ```
pub struct ChatConsumer {
    /// `self.room_group_name`: `chat_<room_name>`.
    room_group_name: String,
}

#[consumer]
impl ChatConsumer {
    // `self.scope["url_route"]["kwargs"]["room_name"]` is `new`'s parameter.
    fn new(room_name: String) -> Self {
        ChatConsumer {
            room_group_name: format!("chat_{room_name}"),
        }
    }

    async fn connect(&mut self, message: Message) -> Result<()> {
        let group = match Group::new(&self.room_group_name) {
            Ok(group) => group,
            Err(error) => {
                tracing::info!(group = %self.room_group_name, %error, "room refused: not a group name");
                return message.reply_channel.reject().await;
            }
        };
        group.add(&message.reply_channel).await?;
        message.reply_channel.accept().await
    }

    async fn disconnect(&mut self, message: Message) -> Result<()> {
        // A refused room never joined its group: nothing to leave.
        match Group::new(&self.room_group_name) {
            Ok(group) => group.discard(&message.reply_channel).await,
            Err(_) => Ok(()),
        }
    }

    async fn receive(&mut self, message: Message) -> Result<()> {
        let m = match incoming_message(&message) {
            Ok(m) => m,
            Err(problem) => {
                tracing::info!(group = %self.room_group_name, problem, "frame ignored");
                let error = format!("{problem}: send {{\"message\": ...}}");
                return message
                    .reply_channel
                    .send_json(&json!({"error": error}))
                    .await;
            }
        };
        let event = json!({"type": "chat.message", "message": m});
        let sent = match Group::new(&self.room_group_name) {
            Ok(group) => group.send(event).await,
            Err(error) => Err(error),
        };
        if let Err(error) = sent {
            // The layer gave up (Redis unreachable past its send timeout): keep the client, tell it.
            tracing::warn!(group = %self.room_group_name, %error, "chat message not relayed");
            let error = "your message was not delivered; try again";
            message
                .reply_channel
                .send_json(&json!({"error": error}))
                .await?;
        }
        Ok(())
    }

    // `event` is the whole event, as in Python: `{"type": "chat.message", "message": m}`.
    async fn chat_message(&mut self, message: Message, event: serde_json::Value) -> Result<()> {
        let reply = json!({"message": event["message"]});
        message.reply_channel.send_json(&reply).await
    }
}

/// `json.loads(text_data)["message"]`, with what went wrong instead of an exception.
fn incoming_message(message: &Message) -> std::result::Result<serde_json::Value, &'static str> {
    let text = message.text().ok_or("binary frame")?;
    let json = serde_json::from_str::<serde_json::Value>(text).map_err(|_| "not JSON")?;
    match json {
        serde_json::Value::Object(mut object) => object
            .remove("message")
            .ok_or("no \"message\" in the JSON object"),
        _ => Err("not a JSON object"),
    }
}

/// The tutorial's `views.index`: the lobby.
#[consumer]
async fn index(message: Message) -> Result<()> {
    let page = HttpResponse::html(INDEX_PAGE);
    message.reply_channel.respond(page).await
}

/// The tutorial's `views.room`: `render(request, "chat/room.html", {"room_name": room_name})`.
#[consumer]
async fn room(message: Message, room_name: String) -> Result<()> {
    let page = ROOM_PAGE.replace("{{ROOM_NAME_JSON}}", &json_script(&room_name));
    message
        .reply_channel
        .respond(HttpResponse::html(page))
        .await
}

/// Django's `json_script`: JSON with `<`, `>` and `&` escaped, safe inside a `<script>` element.
fn json_script(value: &str) -> String {
    serde_json::Value::from(value)
        .to_string()
        .replace('<', "\\u003C")
        .replace('>', "\\u003E")
        .replace('&', "\\u0026")
}

// mysite/asgi.py, with chat/routing.py's `websocket_urlpatterns` and mysite/urls.py + chat/urls.py
// (`path("chat/", include("chat.urls"))` around `path("<str:room_name>/", views.room)`) written in place:
//
//     application = ProtocolTypeRouter({
//         "http": get_asgi_application(),
//         "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(
//             [re_path(r"ws/chat/(?P<room_name>\w+)/$", consumers.ChatConsumer.as_asgi())]
//         ))),
//     })
channel_routing! {
    ProtocolTypeRouter({
        "http": URLRouter([
            path("", index),
            path("chat/<str:room_name>/", room),
        ]),
        "websocket": URLRouter([
            re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi()),
        ]),
    })
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    common::serve(channel_routing()).await
}
