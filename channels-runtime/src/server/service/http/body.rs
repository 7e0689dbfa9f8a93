//! The body of a streaming response: chunks handed over by the request's task through a small channel,
//! pulled by hyper when it can write them.
//!
//! hyper polls the body only when its write buffer has room, so a client that reads slowly leaves chunks
//! waiting here (a few) and then in the reply channel's queue, where they count against the connection's
//! outbound budget.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// Chunks handed to hyper but not yet taken: enough to keep the socket busy, few enough to leave the
/// backlog in the budgeted queue.
const IN_FLIGHT: usize = 4;

/// Why a stream was cut short (hyper aborts the connection, so the client sees an incomplete body).
#[derive(Debug, thiserror::Error)]
#[error("streaming response aborted: {0}")]
pub(crate) struct Aborted(&'static str);

/// The request task's end of a streaming body.
#[derive(Debug)]
pub(crate) struct Sender {
    chunks: mpsc::Sender<Bytes>,
    aborted: Arc<Abort>,
}

#[derive(Debug, Default)]
struct Abort {
    flag: AtomicBool,
    reason: std::sync::OnceLock<&'static str>,
}

/// hyper's end: a [`Body`] of the chunks sent, ending when the sender is dropped.
#[derive(Debug)]
pub(crate) struct ChannelBody {
    chunks: mpsc::Receiver<Bytes>,
    aborted: Arc<Abort>,
}

/// A new streaming body and its sender.
pub(crate) fn channel() -> (Sender, ChannelBody) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let aborted = Arc::new(Abort::default());
    (
        Sender {
            chunks: tx,
            aborted: aborted.clone(),
        },
        ChannelBody {
            chunks: rx,
            aborted,
        },
    )
}

impl Sender {
    /// Hands a chunk to hyper, or gives it back when the body is full (`Err(Some)`) or gone (`Err(None)`:
    /// the client left).
    pub(crate) fn try_send(&self, chunk: Bytes) -> Result<(), Option<Bytes>> {
        self.chunks.try_send(chunk).map_err(|error| match error {
            mpsc::error::TrySendError::Full(chunk) => Some(chunk),
            mpsc::error::TrySendError::Closed(_) => None,
        })
    }

    /// Completes when the body has room for a chunk (`true`) or is gone (`false`).
    ///
    /// # Cancel safety
    /// Cancel-safe: nothing is reserved once it returns.
    pub(crate) async fn room(&self) -> bool {
        self.chunks.reserve().await.is_ok()
    }

    /// Completes when hyper has dropped the body: the client left, or the connection failed.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub(crate) async fn closed(&self) {
        self.chunks.closed().await;
    }

    /// Cuts the stream short: hyper aborts the connection instead of ending the body cleanly.
    pub(crate) fn abort(self, reason: &'static str) {
        let _ = self.aborted.reason.set(reason);
        self.aborted.flag.store(true, Ordering::Release);
        // Dropping `self` wakes the body, which then sees the flag.
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.aborted.flag.load(Ordering::Acquire) {
            let reason = self.aborted.reason.get().copied().unwrap_or("aborted");
            return Poll::Ready(Some(Err(Aborted(reason))));
        }
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(None) if self.aborted.flag.load(Ordering::Acquire) => {
                let reason = self.aborted.reason.get().copied().unwrap_or("aborted");
                Poll::Ready(Some(Err(Aborted(reason))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
