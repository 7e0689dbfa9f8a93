//! [`WebsocketCommunicator`]: a WebSocket client for tests (Channels' `WebsocketCommunicator`), and
//! [`WebsocketRequest`], the handshake it sends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::header::{self, HeaderValue};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::transport::Dial;
use super::{TestError, TestServer};

/// The client side of an upgraded connection.
type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A WebSocket client for tests (Channels' `WebsocketCommunicator`).
#[derive(Debug)]
pub struct WebsocketCommunicator {
    socket: Socket,
    /// Frames read by [`receive_nothing`](Self::receive_nothing), handed out first.
    pending: VecDeque<WsMessage>,
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
}

/// The handshake a [`WebsocketCommunicator`] sends: the request side of Channels'
/// `WebsocketCommunicator(application, path, headers=..., subprotocols=...)`.
///
/// ```
/// use channels_runtime::routing::{Consumer, Route, Routing};
/// use channels_runtime::testing::{TestServer, WebsocketCommunicator};
/// use channels_runtime::Message;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let who = Consumer::from_async("who", |m: Message| async move {
///     let origin = m.content.header("origin").unwrap_or("none").to_owned();
///     m.reply_channel.send_text(origin).await
/// });
/// let server = TestServer::in_process(Routing::new().route(Route::to("websocket.receive", None, who))).await?;
/// // In process, the handshake's `Host` is `localhost`: a page served from there may connect (an
/// // origin from elsewhere needs `ServerConfig::allowed_origin`).
/// let mut client = WebsocketCommunicator::build(&server, "/")
///     .origin("http://localhost")
///     .cookie("sessionid", "abc")
///     .connect()
///     .await?;
/// client.send_text("?").await?;
/// assert_eq!(client.receive_text().await?, "http://localhost");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until `.connect().await`"]
pub struct WebsocketRequest<'a> {
    dial: Dial<'a>,
    path: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    subprotocols: Vec<String>,
}

impl WebsocketRequest<'_> {
    /// Adds a request header (Channels' `headers=[(b"name", b"value")]`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a cookie; all of them go in one `Cookie` header, as a browser sends them.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push(format!("{name}={value}"));
        self
    }

    /// Sets the `Origin` header, as a browser does. The server refuses (403) an origin that is neither
    /// the host the handshake goes to (`http://127.0.0.1:<port>` for [`TestServer::start`],
    /// `http://localhost` in process) nor in its
    /// [`allowed_origins`](crate::ServerConfig#structfield.allowed_origins).
    pub fn origin(self, origin: &str) -> Self {
        self.header("origin", origin)
    }

    /// Sets `Origin` to the server's own (`http://` and the `Host` the handshake is sent to), as a page
    /// the server served sends: the origin check lets it in whatever
    /// [`allowed_origins`](crate::ServerConfig#structfield.allowed_origins) says.
    pub fn same_origin(self) -> Self {
        let origin = format!("http://{}", self.dial.host());
        self.origin(&origin)
    }

    /// Offers these subprotocols (`Sec-WebSocket-Protocol`); [`WebsocketCommunicator::subprotocol`] says
    /// which one the server chose, if any.
    pub fn subprotocols<S: Into<String>>(
        mut self,
        subprotocols: impl IntoIterator<Item = S>,
    ) -> Self {
        self.subprotocols
            .extend(subprotocols.into_iter().map(Into::into));
        self
    }

    /// Performs the handshake. A refused one (403, 404, 500, ...) is [`TestError::Refused`]; no
    /// answer within [`WebsocketCommunicator::TIMEOUT`] is [`TestError::Timeout`].
    pub async fn connect(self) -> Result<WebsocketCommunicator, TestError> {
        let timeout = WebsocketCommunicator::TIMEOUT;
        tokio::time::timeout(timeout, self.handshake())
            .await
            .map_err(|_| TestError::Timeout(timeout))?
    }

    async fn handshake(self) -> Result<WebsocketCommunicator, TestError> {
        let io = self.dial.open().await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        let key = generate_key();
        let mut request = hyper::Request::get(&self.path)
            .header(header::HOST, self.dial.host())
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, &key);
        if !self.subprotocols.is_empty() {
            request = request.header(header::SEC_WEBSOCKET_PROTOCOL, self.subprotocols.join(", "));
        }
        if !self.cookies.is_empty() {
            request = request.header(header::COOKIE, self.cookies.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| TestError::Request(e.to_string()))?;
        let response = sender.send_request(request).await?;
        if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Err(TestError::Refused(response.status().as_u16()));
        }
        let accept = response.headers().get(header::SEC_WEBSOCKET_ACCEPT);
        if accept.and_then(|v| v.to_str().ok()) != Some(derive_accept_key(key.as_bytes()).as_str())
        {
            return Err(TestError::Unexpected {
                expected: "a Sec-WebSocket-Accept matching the key",
                got: format!("{accept:?}"),
            });
        }
        let subprotocol = response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), text(v)))
            .collect();
        let upgraded = hyper::upgrade::on(response).await?;
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        Ok(WebsocketCommunicator {
            socket,
            pending: VecDeque::new(),
            subprotocol,
            headers,
        })
    }
}

fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

impl WebsocketCommunicator {
    /// How long a receive waits before failing with [`TestError::Timeout`].
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// How long [`receive_nothing`](Self::receive_nothing) waits (Channels' default, 0.1 s).
    pub const NOTHING_WITHIN: Duration = Duration::from_millis(100);

    /// Opens a WebSocket to `path` on `server`. A refused handshake is [`TestError::Refused`].
    pub async fn connect(server: &TestServer, path: &str) -> Result<Self, TestError> {
        Self::build(server, path).connect().await
    }

    /// Opens a WebSocket to `path` at `addr` (a server of your own on a port).
    pub async fn connect_to(addr: SocketAddr, path: &str) -> Result<Self, TestError> {
        request(Dial::Addr(addr), path).connect().await
    }

    /// A handshake to `path` on `server`, to add headers, cookies, an origin or subprotocols to before
    /// [`connect`](WebsocketRequest::connect)ing.
    pub fn build<'a>(server: &'a TestServer, path: &str) -> WebsocketRequest<'a> {
        request(Dial::server(server), path)
    }

    /// [`build`](Self::build) for a server of your own on a port.
    pub fn build_to(addr: SocketAddr, path: &str) -> WebsocketRequest<'static> {
        request(Dial::Addr(addr), path)
    }

    /// The subprotocol the server chose (its `Sec-WebSocket-Protocol`), if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// A header of the server's handshake response (case-insensitive name).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), TestError> {
        Ok(self.socket.send(WsMessage::text(text)).await?)
    }

    /// Sends a binary frame.
    pub async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), TestError> {
        Ok(self.socket.send(WsMessage::Binary(bytes.into())).await?)
    }

    /// Sends `value` as JSON text.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TestError> {
        self.send_text(&serde_json::to_string(value)?).await
    }

    /// Channels' `send_json_to(data)`: [`send_json`](Self::send_json).
    pub async fn send_json_to<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), TestError> {
        self.send_json(value).await
    }

    /// The next data or close frame, skipping pings and pongs.
    pub async fn receive(&mut self) -> Result<WsMessage, TestError> {
        if let Some(frame) = self.pending.pop_front() {
            return Ok(frame);
        }
        self.next_frame(Self::TIMEOUT)
            .await?
            .ok_or(TestError::Timeout(Self::TIMEOUT))
    }

    /// The next data or close frame within `wait`, skipping pings and pongs; `None` if none came.
    async fn next_frame(&mut self, wait: Duration) -> Result<Option<WsMessage>, TestError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                return Ok(None);
            };
            match frame {
                None => return Err(TestError::Closed(1006)),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(frame)) => return Ok(Some(frame)),
            }
        }
    }

    /// The next text frame.
    pub async fn receive_text(&mut self) -> Result<String, TestError> {
        match self.receive().await? {
            WsMessage::Text(text) => Ok(text.to_string()),
            other => Err(unexpected("a text frame", other)),
        }
    }

    /// Channels' `receive_from()`: the next text frame.
    pub async fn receive_from(&mut self) -> Result<String, TestError> {
        self.receive_text().await
    }

    /// The next text frame, parsed as JSON.
    pub async fn receive_json(&mut self) -> Result<serde_json::Value, TestError> {
        self.receive_json_from().await
    }

    /// Channels' `receive_json_from()`: the next text frame, parsed as JSON into `T` (a
    /// `serde_json::Value`, or a type of yours).
    pub async fn receive_json_from<T: DeserializeOwned>(&mut self) -> Result<T, TestError> {
        Ok(serde_json::from_str(&self.receive_text().await?)?)
    }

    /// The next binary frame.
    pub async fn receive_bytes(&mut self) -> Result<Bytes, TestError> {
        match self.receive().await? {
            WsMessage::Binary(bytes) => Ok(bytes),
            other => Err(unexpected("a binary frame", other)),
        }
    }

    /// Channels' `receive_nothing()`: `true` if no frame arrives within
    /// [`NOTHING_WITHIN`](Self::NOTHING_WITHIN) (100 ms). A frame that does arrive is kept for the next
    /// receive. Under a paused clock ([`TestServer::in_process`]) the wait takes no real time.
    pub async fn receive_nothing(&mut self) -> Result<bool, TestError> {
        self.receive_nothing_within(Self::NOTHING_WITHIN).await
    }

    /// [`receive_nothing`](Self::receive_nothing), waiting `wait`.
    pub async fn receive_nothing_within(&mut self, wait: Duration) -> Result<bool, TestError> {
        if !self.pending.is_empty() {
            return Ok(false);
        }
        match self.next_frame(wait).await {
            Ok(None) => Ok(true),
            Ok(Some(frame)) => {
                self.pending.push_back(frame);
                Ok(false)
            }
            // The server went away without a close frame: something did happen.
            Err(TestError::Closed(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Waits for the server to close, completes the closing handshake, and returns the close code.
    pub async fn receive_close(&mut self) -> Result<u16, TestError> {
        Ok(self.receive_close_frame().await?.0)
    }

    /// [`receive_close`](Self::receive_close), with the close frame's reason.
    pub async fn receive_close_frame(&mut self) -> Result<(u16, String), TestError> {
        let (code, reason) = match self.receive().await? {
            WsMessage::Close(frame) => frame.map_or((1005, String::new()), |f| {
                (u16::from(f.code), f.reason.to_string())
            }),
            other => {
                return Err(TestError::Unexpected {
                    expected: "a close frame",
                    got: format!("{other:?}"),
                });
            }
        };
        // Reading on sends our close reply, so the server sees a clean close at once.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Self::TIMEOUT, self.socket.next()).await {}
        Ok((code, reason))
    }

    /// Closes with code 1000 and waits for the server's reply.
    pub async fn disconnect(mut self) -> Result<(), TestError> {
        self.socket.close(None).await?;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Self::TIMEOUT, self.socket.next()).await {}
        Ok(())
    }

    /// The underlying client socket, for anything else (raw frames, pings).
    pub fn socket(&mut self) -> &mut WebSocketStream<TokioIo<hyper::upgrade::Upgraded>> {
        &mut self.socket
    }
}

fn request<'a>(dial: Dial<'a>, path: &str) -> WebsocketRequest<'a> {
    WebsocketRequest {
        dial,
        path: path.to_owned(),
        headers: Vec::new(),
        cookies: Vec::new(),
        subprotocols: Vec::new(),
    }
}

/// What a frame of the wrong kind is: a close frame is [`TestError::Closed`].
fn unexpected(expected: &'static str, got: WsMessage) -> TestError {
    match got {
        WsMessage::Close(frame) => TestError::Closed(frame.map_or(1005, |f| u16::from(f.code))),
        other => TestError::Unexpected {
            expected,
            got: format!("{other:?}"),
        },
    }
}
