//! The servers the generator measures: the *floor* (the most direct tokio-tungstenite implementation of the
//! echo and chat protocols) and *ours* (the same protocols on the `channels` runtime, written as the
//! `echo` and `chat` examples write them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use channels_runtime::routing::{Consumer, Route, Routing};
use channels_runtime::{Message, Result, ServerConfig};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

/// Which protocol a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Any path; every text frame comes back as the same text (binary frames as the same bytes).
    Echo,
    /// Any path joins one group; each text `T` goes to every member, sender included, as `"[user] T"`.
    Chat,
}

/// Buffer sizes and limits, the same knobs as [`ServerConfig`] and with its defaults.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    /// tungstenite's read buffer, in bytes.
    pub read_buffer: usize,
    /// tungstenite's write buffer, in bytes.
    pub write_buffer: usize,
    /// Largest message and frame accepted.
    pub max_message: usize,
    /// The floor: messages queued per connection before a broadcast skips it. Ours: the layer's
    /// `capacity`, which bounds custom channels only (a connection's reply channel is bounded by bytes).
    pub capacity: usize,
    /// Ours: bytes a connection may hold for its client ([`ServerConfig::outbound_budget`]).
    pub outbound_budget: usize,
}

/// The knobs as command-line options, shared by `channels-floor` and `channels-ours`; each left out keeps
/// [`Knobs::default`] (the runtime's own defaults).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct KnobArgs {
    /// Read buffer in bytes (default: `ServerConfig`'s).
    #[arg(long)]
    pub read_buffer: Option<usize>,
    /// Write buffer in bytes (default: `ServerConfig`'s).
    #[arg(long)]
    pub write_buffer: Option<usize>,
    /// The floor: messages queued per connection before a broadcast skips it; ours: the layer's capacity
    /// (custom channels only). Default 100.
    #[arg(long)]
    pub capacity: Option<usize>,
    /// Ours: bytes a connection may hold for its client (default: `ServerConfig`'s, 1 MiB).
    #[arg(long)]
    pub outbound_budget: Option<usize>,
}

impl KnobArgs {
    /// The knobs these options ask for.
    pub fn knobs(&self) -> Knobs {
        let defaults = Knobs::default();
        Knobs {
            read_buffer: self.read_buffer.unwrap_or(defaults.read_buffer),
            write_buffer: self.write_buffer.unwrap_or(defaults.write_buffer),
            capacity: self.capacity.unwrap_or(defaults.capacity),
            outbound_budget: self.outbound_budget.unwrap_or(defaults.outbound_budget),
            ..defaults
        }
    }
}

impl Default for Knobs {
    fn default() -> Self {
        let ours = ServerConfig::default();
        Knobs {
            read_buffer: ours.read_buffer_size,
            write_buffer: ours.write_buffer_size,
            max_message: ours.max_message_size,
            capacity: channels_runtime::layer::LayerConfig::default().capacity,
            outbound_budget: ours.outbound_budget,
        }
    }
}

impl Knobs {
    /// tungstenite's configuration for these knobs.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer)
            .write_buffer_size(self.write_buffer)
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_message))
    }

    /// The `channels` server configuration for these knobs.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig::default()
            .read_buffer_size(self.read_buffer)
            .write_buffer_size(self.write_buffer)
            .max_message_size(self.max_message)
            .max_frame_size(self.max_message)
            .outbound_budget(self.outbound_budget)
    }
}

/// The floor's broadcast set: one bounded queue per member; a full queue misses the message.
#[derive(Debug, Default)]
struct Members {
    next_id: AtomicU64,
    queues: Mutex<HashMap<u64, mpsc::Sender<Utf8Bytes>>>,
    dropped: AtomicU64,
}

/// Serves `protocol` on `listener` the most direct way tokio-tungstenite allows, until the task is
/// dropped.
pub async fn floor(listener: TcpListener, protocol: Protocol, knobs: Knobs) {
    let members = Arc::new(Members::default());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let members = members.clone();
        tokio::spawn(async move {
            let Ok(ws) =
                tokio_tungstenite::accept_async_with_config(stream, Some(knobs.websocket_config()))
                    .await
            else {
                return;
            };
            match protocol {
                Protocol::Echo => floor_echo(ws).await,
                Protocol::Chat => floor_chat(ws, &members, knobs.capacity).await,
            }
        });
    }
}

type ServerWs = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn floor_echo(mut ws: ServerWs) {
    while let Some(Ok(message)) = ws.next().await {
        let reply = match message {
            WsMessage::Text(_) | WsMessage::Binary(_) => message,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}

async fn floor_chat(mut ws: ServerWs, members: &Members, capacity: usize) {
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(capacity.max(1));
    let id = members.next_id.fetch_add(1, Ordering::Relaxed);
    members
        .queues
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, tx);
    loop {
        tokio::select! {
            biased;
            Some(text) = rx.recv() => {
                let mut ok = ws.feed(WsMessage::Text(text)).await.is_ok();
                let mut budget = 64;
                while ok && budget > 0 {
                    let Ok(text) = rx.try_recv() else { break };
                    ok = ws.feed(WsMessage::Text(text)).await.is_ok();
                    budget -= 1;
                }
                if !ok || ws.flush().await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    // Encode once; every member's queue gets an O(1) clone of the same bytes.
                    let out = Utf8Bytes::from(format!("[user] {}", text.as_str()));
                    let queues = members.queues.lock().unwrap_or_else(|e| e.into_inner());
                    for queue in queues.values() {
                        if queue.try_send(out.clone()).is_err() {
                            members.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    members
        .queues
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
}

// ---- ours: the examples' consumers, verbatim ----

async fn echo_message(message: Message) -> Result<()> {
    if let Some(text) = message.content.text_bytes() {
        message.reply_channel.send_text(text.clone()).await
    } else if let Some(bytes) = message.bytes() {
        message.reply_channel.send_bytes(bytes.clone()).await
    } else {
        Ok(())
    }
}

async fn chat_add(message: Message) -> Result<()> {
    message
        .reply_channel
        .send(serde_json::json!({"accept": true}))
        .await?;
    channels_runtime::group!("chat")
        .add(&message.reply_channel)
        .await
}

async fn chat_message(message: Message) -> Result<()> {
    let Some(text) = message.text() else {
        return Ok(());
    };
    channels_runtime::group!("chat")
        .send(serde_json::json!({"text": format!("[user] {text}")}))
        .await
}

async fn chat_disconnect(message: Message) -> Result<()> {
    channels_runtime::group!("chat")
        .discard(&message.reply_channel)
        .await
}

/// The route table of `examples/echo.rs`.
pub fn echo_routing() -> Routing {
    Routing::new().route(Route::to(
        "websocket.receive",
        None,
        Consumer::from_async("ws_message", echo_message),
    ))
}

/// The route table of `examples/chat.rs` (without its HTTP page).
pub fn chat_routing() -> Routing {
    group_chat_routing(Consumer::from_async("ws_message", chat_message))
}

/// Group "chat"'s route table with `on_receive` as the `websocket.receive` consumer: connecting joins
/// the group, disconnecting leaves it. The chat and the tutorial protocol differ only in what a
/// received frame becomes.
fn group_chat_routing(on_receive: Consumer) -> Routing {
    Routing::new()
        .route(Route::to(
            "websocket.connect",
            None,
            Consumer::from_async("ws_add", chat_add),
        ))
        .route(Route::to("websocket.receive", None, on_receive))
        .route(Route::to(
            "websocket.disconnect",
            None,
            Consumer::from_async("ws_disconnect", chat_disconnect),
        ))
}

async fn tutorial_message(message: Message) -> Result<()> {
    let m = message
        .text()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|mut json| json.get_mut("message").map(serde_json::Value::take));
    let Some(m) = m else {
        return Ok(());
    };
    let text = serde_json::json!({ "message": m }).to_string();
    channels_runtime::group!("chat")
        .send(serde_json::json!({ "text": text }))
        .await
}

/// The Channels 4 tutorial's protocol in the chat's shape (any path joins group "chat"; `{"message": m}`
/// reaches every member as `{"message": m}`), for `broadcast --protocol tutorial` smoke runs without
/// the `tutorial_chat` example. Frames without `"message"` are ignored.
pub fn tutorial_routing() -> Routing {
    group_chat_routing(Consumer::from_async(
        "ws_tutorial_message",
        tutorial_message,
    ))
}

/// The route table for `protocol` on the `channels` runtime.
pub fn routing(protocol: Protocol) -> Routing {
    match protocol {
        Protocol::Echo => echo_routing(),
        Protocol::Chat => chat_routing(),
    }
}
