//! [`HttpCommunicator`]: one HTTP request to a [`TestServer`] (Channels' `HttpCommunicator`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

use super::transport::Dial;
use super::websocket::WebsocketCommunicator;
use super::{TestError, TestServer};

/// One HTTP request to a test server: Channels' `HttpCommunicator(application, method, path,
/// body=b"", headers=None)`, whose `get_response()` gives the status, the headers and the body.
///
/// ```
/// use channels_runtime::routing::{Consumer, Route, Routing};
/// use channels_runtime::testing::{HttpCommunicator, TestServer};
/// use channels_runtime::{HttpResponse, Message};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let index = Consumer::from_async("index", |m: Message| async move {
///     m.reply_channel.respond(HttpResponse::text("hello")).await
/// });
/// let server = TestServer::in_process(Routing::new().route(Route::to("http.request", None, index))).await?;
/// let response = HttpCommunicator::new(&server, "GET", "/").get_response().await?;
/// assert_eq!(response.status, 200);
/// assert_eq!(response.text(), "hello");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until `.get_response().await`"]
pub struct HttpCommunicator<'a> {
    dial: Dial<'a>,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// The answer an [`HttpCommunicator`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// The headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, TestError> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

impl<'a> HttpCommunicator<'a> {
    /// A `method` request for `path` (with its query string, if any) on `server`.
    pub fn new(server: &'a TestServer, method: &str, path: &str) -> Self {
        HttpCommunicator::to(Dial::server(server), method, path)
    }

    /// A request to a server of your own at `addr`.
    pub fn new_to(
        addr: std::net::SocketAddr,
        method: &str,
        path: &str,
    ) -> HttpCommunicator<'static> {
        HttpCommunicator::to(Dial::Addr(addr), method, path)
    }

    fn to(dial: Dial<'a>, method: &str, path: &str) -> Self {
        HttpCommunicator {
            dial,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole response, within
    /// [`WebsocketCommunicator::TIMEOUT`].
    pub async fn get_response(self) -> Result<TestResponse, TestError> {
        let timeout = WebsocketCommunicator::TIMEOUT;
        tokio::time::timeout(timeout, self.exchange())
            .await
            .map_err(|_| TestError::Timeout(timeout))?
    }

    async fn exchange(self) -> Result<TestResponse, TestError> {
        let io = self.dial.open().await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let method = hyper::Method::from_bytes(self.method.as_bytes())
            .map_err(|e| TestError::Request(e.to_string()))?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(&self.path)
            .header(header::HOST, self.dial.host());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(self.body))
            .map_err(|e| TestError::Request(e.to_string()))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(TestResponse {
            status,
            headers,
            body,
        })
    }
}
