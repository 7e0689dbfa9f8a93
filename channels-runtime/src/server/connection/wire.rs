//! [`Wire`]: the socket under tungstenite, which writes data frames from their shared payloads.
//!
//! tungstenite copies every frame it writes into its own write buffer. For a group message that is one
//! private copy per member, kept until the member's socket takes it: 1,500 members that don't read and one
//! 1 MiB broadcast pinned 1.5 GB. So data frames don't go through tungstenite: the connection queues them
//! here ([`Outgoing`]). A large payload is kept as it is (`Bytes`, shared by every member: a reference
//! count, not a copy) behind a header built per member (at most 10 bytes), and written with a vectored
//! write; a small one (up to [`COPY_MAX`]) is copied with its header into one buffer, as tungstenite
//! would, since one plain `send` of a buffer costs the kernel less than a vectored write of small pieces.
//! What tungstenite writes itself (pongs, the close frame) passes through below, after every queued
//! frame, so a close always follows the data, and never lands inside a frame.
//!
//! Each queued frame carries the bytes it counts against its connection's budget; they are given back to
//! the reply channel's queue ([`Queue::release`]) as soon as the socket has taken the frame.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::layer::queue::Queue;

/// Slices per vectored write: up to 32 shared frames in one system call.
const MAX_SLICES: usize = 64;

/// Payloads up to this size are copied, header and all, into one buffer, as tungstenite would: a
/// plain `send` of one buffer costs the kernel less than a vectored write of many small pieces, and
/// copying a few hundred bytes costs less than either. Larger ones are written from the shared bytes.
const COPY_MAX: usize = 1024;

/// After a burst, a copy buffer larger than this is given back when it empties.
const KEEP_COPY_BUFFER: usize = 16 << 10;

/// The upgraded connection, with the data frames waiting to be written.
pub(crate) struct Wire {
    io: TokioIo<hyper::upgrade::Upgraded>,
    out: Outgoing,
    /// tungstenite's last write stopped inside its own bytes: the rest goes first, before any data frame.
    theirs_partial: bool,
    /// The reply channel's queue, whose budget the frames count against.
    queue: Arc<Queue>,
}

/// The data frames waiting to be written, in order.
#[derive(Default)]
struct Outgoing {
    frames: VecDeque<Frame>,
    /// The copied frames' bytes: `copied[copied_start..]` are those not written yet, in frame order.
    copied: Vec<u8>,
    copied_start: usize,
    /// Bytes of the front frame already written.
    front_written: usize,
}

/// One data frame, and what it counts against the budget (given back once it is written).
enum Frame {
    /// `len` bytes (header and payload) in the copy buffer.
    Copied { len: usize, cost: usize },
    /// A header, and a payload shared with every other member that gets it.
    Shared {
        head: Head,
        payload: Bytes,
        cost: usize,
    },
}

/// A frame header: at most 10 bytes.
#[derive(Clone, Copy)]
struct Head {
    bytes: [u8; 10],
    len: u8,
}

/// A data frame's opcode.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Opcode {
    Text = 1,
    Binary = 2,
    /// A keepalive ping (sent with an empty payload; see `clock`).
    Ping = 9,
}

impl Head {
    /// A final, unmasked (server) frame's header: FIN + opcode, then the length in 7, 7+16 or 7+64 bits.
    fn new(opcode: Opcode, len: usize) -> Head {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | opcode as u8;
        let head_len = if len < 126 {
            bytes[1] = len as u8;
            2
        } else if let Ok(len) = u16::try_from(len) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        Head {
            bytes,
            len: head_len,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Frame::Copied { len, .. } => *len,
            Frame::Shared { head, payload, .. } => usize::from(head.len) + payload.len(),
        }
    }

    fn cost(&self) -> usize {
        match self {
            Frame::Copied { cost, .. } | Frame::Shared { cost, .. } => *cost,
        }
    }
}

impl Outgoing {
    /// Queues a data frame.
    fn push(&mut self, opcode: Opcode, payload: Bytes, cost: usize) {
        let head = Head::new(opcode, payload.len());
        if payload.len() > COPY_MAX {
            self.frames.push_back(Frame::Shared {
                head,
                payload,
                cost,
            });
            return;
        }
        self.copied.extend_from_slice(head.as_slice());
        self.copied.extend_from_slice(&payload);
        let len = usize::from(head.len) + payload.len();
        // Consecutive copied frames are one run of bytes (the last copied frame's bytes end the buffer,
        // so this one's follow them): one slice, one entry.
        if let Some(Frame::Copied {
            len: last,
            cost: last_cost,
        }) = self.frames.back_mut()
        {
            *last += len;
            *last_cost += cost;
            return;
        }
        self.frames.push_back(Frame::Copied { len, cost });
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets what has not started to be written; returns the budget bytes it held. What is half
    /// written stays, so that whatever follows is still well framed.
    fn discard_unstarted(&mut self) -> usize {
        let keep = usize::from(self.front_written > 0);
        let mut copied_kept = self.copied_start;
        if let Some(Frame::Copied { len, .. }) = self.frames.front().filter(|_| keep == 1) {
            copied_kept += len - self.front_written;
        }
        let freed = self.frames.drain(keep..).map(|frame| frame.cost()).sum();
        self.copied.truncate(copied_kept);
        freed
    }

    /// Fills `slices` with the unwritten bytes, in order; returns how many slices were filled. A run of
    /// copied frames is one slice; a shared frame is two (header, payload) and waits for the next call
    /// if only one slice is left.
    fn fill<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        let mut copied_at = self.copied_start;
        for (i, frame) in self.frames.iter().enumerate() {
            let written = if i == 0 { self.front_written } else { 0 };
            match frame {
                Frame::Copied { len, .. } => {
                    if count == slices.len() {
                        break;
                    }
                    let end = copied_at + (len - written);
                    slices[count] = IoSlice::new(&self.copied[copied_at..end]);
                    count += 1;
                    copied_at = end;
                }
                Frame::Shared { head, payload, .. } => {
                    if count + 2 > slices.len() {
                        break;
                    }
                    let head = head.as_slice();
                    let (head, payload) = if written < head.len() {
                        (&head[written..], &payload[..])
                    } else {
                        (&[][..], &payload[written - head.len()..])
                    };
                    for part in [head, payload] {
                        if !part.is_empty() {
                            slices[count] = IoSlice::new(part);
                            count += 1;
                        }
                    }
                }
            }
        }
        count
    }

    /// Marks `written` bytes as written; returns the budget bytes of the frames completed.
    fn advance(&mut self, mut written: usize) -> usize {
        let mut freed = 0;
        while let Some(front) = self.frames.front() {
            let left = front.len() - self.front_written;
            if let Frame::Copied { .. } = front {
                self.copied_start += written.min(left);
            }
            if written < left {
                self.front_written += written;
                break;
            }
            written -= left;
            freed += front.cost();
            self.front_written = 0;
            self.frames.pop_front();
        }
        if self.frames.is_empty() {
            self.tidy();
        }
        freed
    }

    /// Everything is written: start the copy buffer over, and after a burst give back what it grew to.
    fn tidy(&mut self) {
        self.copied.clear();
        self.copied_start = 0;
        if self.copied.capacity() > KEEP_COPY_BUFFER {
            self.copied = Vec::new();
        }
        if self.frames.capacity() > 64 {
            self.frames.shrink_to(8);
        }
    }
}

impl Wire {
    pub(crate) fn new(io: TokioIo<hyper::upgrade::Upgraded>, queue: Arc<Queue>) -> Self {
        Wire {
            io,
            out: Outgoing::default(),
            theirs_partial: false,
            queue,
        }
    }

    /// Queues a data frame; it is written at the next flush (or sooner, when tungstenite writes).
    pub(crate) fn push(&mut self, opcode: Opcode, payload: Bytes, cost: usize) {
        if !matches!(opcode, Opcode::Ping) {
            crate::metrics::message_sent();
        }
        self.out.push(opcode, payload, cost);
    }

    /// Forgets the frames not started yet (a slow client is being closed) and gives their bytes back; a
    /// frame half written stays, so that the close frame after it is still well framed.
    pub(crate) fn discard_unstarted(&mut self) {
        let freed = self.out.discard_unstarted();
        self.queue.release(freed);
    }

    /// Writes queued frames until none is left (`Ready(Ok)`), the socket is full (`Pending`) or fails.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.theirs_partial {
            // Only reachable if tungstenite flushes without finishing its own bytes: they must go first.
            return Poll::Ready(Ok(()));
        }
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = self.out.fill(&mut slices);
            let io = Pin::new(&mut self.io);
            let written = if count == 1 {
                futures_util::ready!(io.poll_write(cx, &slices[0]))?
            } else {
                futures_util::ready!(io.poll_write_vectored(cx, &slices[..count]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            // Given back as soon as the socket has them: the client may read them right away.
            let freed = self.out.advance(written);
            self.queue.release(freed);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

/// tungstenite's own writes (pongs, close): after the queued data frames, and never split by them.
impl AsyncWrite for Wire {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !this.theirs_partial {
            futures_util::ready!(this.poll_drain(cx))?;
        }
        let written = futures_util::ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        // tungstenite hands over its whole buffer each time; a short write leaves a frame half written.
        this.theirs_partial = written < buf.len();
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_rfc_6455_length_forms() {
        assert_eq!(Head::new(Opcode::Text, 2).as_slice(), b"\x81\x02");
        assert_eq!(
            Head::new(Opcode::Binary, 300).as_slice(),
            &[0x82, 126, 0x01, 0x2c]
        );
        assert_eq!(
            Head::new(Opcode::Binary, 70_000).as_slice(),
            &[0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]
        );
    }

    /// What `fill` offers, as one byte string.
    fn offered(out: &Outgoing) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = out.fill(&mut slices);
        slices[..count].iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn small_frames_are_copied_into_one_run_and_large_ones_shared() {
        let mut out = Outgoing::default();
        let large = Bytes::from(vec![b'L'; COPY_MAX + 1]);
        out.push(Opcode::Text, Bytes::from_static(b"a"), 10);
        out.push(Opcode::Text, Bytes::from_static(b"bc"), 20);
        out.push(Opcode::Binary, large.clone(), 30);
        out.push(Opcode::Text, Bytes::from_static(b"d"), 40);
        assert_eq!(out.frames.len(), 3, "the first two are one run");
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        assert_eq!(out.fill(&mut slices), 4);
        assert_eq!(
            slices[2].as_ptr(),
            large.as_ptr(),
            "the large payload is not copied"
        );
        let mut expected = b"\x81\x01a\x81\x02bc".to_vec();
        expected.extend_from_slice(Head::new(Opcode::Binary, large.len()).as_slice());
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"\x81\x01d");
        assert_eq!(offered(&out), expected);
    }

    #[test]
    fn partial_writes_resume_where_they_stopped_and_free_whole_frames() {
        let mut out = Outgoing::default();
        let large = Bytes::from(vec![b'L'; 2000]);
        out.push(Opcode::Text, Bytes::from_static(b"abc"), 10);
        out.push(Opcode::Binary, large, 20);
        out.push(Opcode::Text, Bytes::from_static(b"z"), 30);
        let whole = offered(&out);
        // Inside the copied run: nothing is freed yet.
        assert_eq!(out.advance(2), 0);
        assert_eq!(offered(&out), whole[2..]);
        // The rest of the run and the shared header: the run is freed.
        assert_eq!(out.advance(3 + 2), 10);
        assert_eq!(offered(&out), whole[7..]);
        // Through the shared payload and the last frame.
        assert_eq!(out.advance(whole.len() - 7), 50);
        assert!(out.is_empty());
        assert!(out.copied.is_empty());
    }

    #[test]
    fn discarding_keeps_only_a_half_written_frame() {
        let mut out = Outgoing::default();
        out.push(Opcode::Binary, Bytes::from(vec![1u8; 2000]), 20);
        out.push(Opcode::Text, Bytes::from_static(b"a"), 10);
        assert_eq!(out.advance(5), 0);
        assert_eq!(out.discard_unstarted(), 10);
        assert_eq!(out.frames.len(), 1);
        assert!(out.copied.is_empty());
        let rest = offered(&out);
        assert_eq!(rest.len(), 4 + 2000 - 5);
        let mut fresh = Outgoing::default();
        fresh.push(Opcode::Text, Bytes::from_static(b"x"), 5);
        assert_eq!(fresh.discard_unstarted(), 5);
        assert!(fresh.is_empty());
    }
}
