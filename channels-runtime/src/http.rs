//! HTTP responses for `http.request` consumers.

use bytes::Bytes;

/// A response that an `http.request` consumer sends on its reply channel.
///
/// Channels 1.x consumers answered with `message.reply_channel.send({"status": 200, "content": ...})`; the
/// same JSON works here (see [`ReplyChannel::send`](crate::ReplyChannel::send)), and this type is the typed
/// form.
///
/// ```
/// use channels_runtime::HttpResponse;
/// let page = HttpResponse::html("<h1>hi</h1>");
/// assert_eq!(page.status, 200);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with this status and body, and no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A 200 response with an HTML body.
    pub fn html(body: impl Into<Bytes>) -> Self {
        HttpResponse::new(200, body).header("content-type", "text/html; charset=utf-8")
    }

    /// A 200 response with a plain-text body.
    pub fn text(body: impl Into<Bytes>) -> Self {
        HttpResponse::new(200, body).header("content-type", "text/plain; charset=utf-8")
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
