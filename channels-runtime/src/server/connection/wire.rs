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
//!
//! **Direct writes.** Over plain TCP or a Unix socket the wire takes the socket back from hyper and shares
//! it with the reply channel's queue ([`DirectSocket`], a [`DirectSink`]): a data frame the connection's
//! own consumers send while the client is caught up (nothing queued, nothing in hand, nothing waiting
//! here) is written by the send itself, with one non-blocking `send`, without another turn of the
//! connection's loop. Group messages are queued, then written by a flushing pass after the sender's turn
//! ([`DirectSink::try_send_queued`]: all a member's waiting frames in one `send`; see `Queue::push_fanout`).
//! A frame the socket takes only in part leaves its rest here, first in line, and wakes the connection to
//! finish it. The queue's `writing` flag keeps the two writers apart and the frames in
//! order (see [`DirectSink`]); the wire sets it before anything it writes itself
//! ([`Queue::claim_socket`]) and clears it once it has written everything ([`Queue::socket_idle`]).
//! Other transports (TLS, in-memory pipes, axum's upgrades) go through hyper as before.
//!
//! **Reads ahead.** tungstenite keeps a read buffer of
//! [`read_buffer_size`](crate::ServerConfig#structfield.read_buffer_size) for the connection's whole life,
//! and asks for at most that much per read: a large buffer is memory every idle connection keeps, a small
//! one is one system call per few hundred bytes of a large message. So the wire reads from the socket
//! into a buffer of its thread's ([`SCRATCH_LEN`], shared by every connection the thread serves), hands
//! tungstenite what it asked for, and keeps only the rest (`ahead`, usually nothing) for its
//! next reads: one system call per 64 KiB however small tungstenite's buffer, and nothing kept per idle
//! connection. A read that brings no more than tungstenite asked for (a small message) allocates nothing.
//! Every transport reads this way (TLS and in-memory pipes too). What it costs: a copy of the rest of a
//! read larger than tungstenite's request, and one turn of tungstenite's read loop per `read_buffer_size`
//! bytes of a large message (from memory, where it used to be a system call each).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::layer::LayerMessage;
use crate::layer::queue::{DirectSink, Flushed, Queue, Sent};

/// Slices per vectored write: up to 32 shared frames in one system call.
const MAX_SLICES: usize = 64;

/// Payloads up to this size are copied, header and all, into one buffer, as tungstenite would: a
/// plain `send` of one buffer costs the kernel less than a vectored write of many small pieces, and
/// copying a few hundred bytes costs less than either. Larger ones are written from the shared bytes.
const COPY_MAX: usize = 1024;

/// After a burst, a copy buffer larger than this is given back when it empties.
const KEEP_COPY_BUFFER: usize = 16 << 10;

/// The thread's read buffer: at most this much is read from a socket at a time (see the module docs).
/// A request at least this large (tungstenite's own buffer made as large) is read straight into it.
pub(crate) const SCRATCH_LEN: usize = 64 << 10;

/// A flushing pass ([`DirectSink::try_send_queued`]) copies a member's frames into one buffer of about
/// this size per system call.
const FLUSH_LEN: usize = 16 << 10;

thread_local! {
    /// Where a flushing pass gathers a member's frames before its one `send`: allocated on a thread's first
    /// flush, kept for the thread's life, empty between two flushes.
    static GATHER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };

    /// Where a wire reads before handing tungstenite its part: allocated on a thread's first read, kept
    /// for the thread's life. Nothing stays in it between two reads.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The upgraded connection, with the data frames waiting to be written.
pub(crate) struct Wire {
    io: Io,
    out: Outgoing,
    /// tungstenite's last write stopped inside its own bytes: the rest goes first, before any data frame.
    theirs_partial: bool,
    /// The reply channel's queue, whose budget the frames count against.
    queue: Arc<Queue>,
}

/// The connection's bytes: the socket itself when it can be shared for direct writes, else hyper's.
///
/// Each keeps `ahead`: bytes read from the socket and not yet handed to tungstenite, first in line
/// (what hyper read past the handshake, or the rest of a read larger than tungstenite asked for).
/// Empty, and holding no memory, on an idle connection.
enum Io {
    /// TLS, an in-memory pipe, an axum upgrade: as hyper hands it over. Boxed: the plain sockets are
    /// the many, and this keeps them small (a TLS connection holds far more than a box anyway).
    Upgraded(Box<Upgraded>),
    /// TCP or a Unix socket, shared with the reply channel's queue for direct writes.
    Direct {
        socket: Arc<DirectSocket>,
        ahead: Bytes,
    },
}

/// A stream as hyper hands it over, and what was read from it ahead (see [`Io`]).
struct Upgraded {
    io: TokioIo<hyper::upgrade::Upgraded>,
    ahead: Bytes,
}

/// A plain socket.
#[derive(Debug)]
enum Stream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

/// A connection's socket, shared by its wire (which owns it) and its reply channel's queue (which holds
/// it weakly and writes to it from [`DirectSink::try_send`], under its lock).
#[derive(Debug)]
pub(crate) struct DirectSocket {
    stream: Stream,
    /// Direct writes are allowed: cleared for good before the close frame, and after a failed write.
    open: AtomicBool,
    /// A direct write left part of its frame in `rest` (one load to check).
    has_rest: AtomicBool,
    /// Boxed: rarely there, and this is paid per connection.
    rest: Mutex<Option<Box<Rest>>>,
}

/// What a direct write did not get onto the socket: its frame, and how much of it was written.
#[derive(Debug)]
struct Rest {
    opcode: Opcode,
    payload: Bytes,
    cost: usize,
    written: usize,
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

    /// Queues, first, a frame of which `written` bytes are already on the socket (a direct write's rest).
    /// Only ever called with nothing queued: a direct write happens only then, and the wire takes its
    /// rest before it queues anything else.
    fn push_started(&mut self, rest: Rest) {
        debug_assert!(self.is_empty(), "a direct write's rest goes first");
        self.push(rest.opcode, rest.payload, rest.cost);
        if let Some(Frame::Copied { .. }) = self.frames.front() {
            self.copied_start += rest.written;
        }
        self.front_written = rest.written;
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
    /// The wire over `io`: over TCP or a Unix socket, the socket taken back from hyper and registered on
    /// `queue` for direct writes; over anything else, hyper's stream as it is.
    pub(crate) fn new(io: TokioIo<hyper::upgrade::Upgraded>, queue: Arc<Queue>) -> Self {
        let upgraded = io.into_inner();
        let upgraded = match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => {
                return Wire::direct(Stream::Tcp(parts.io.into_inner()), parts.read_buf, queue);
            }
            Err(upgraded) => upgraded,
        };
        #[cfg(unix)]
        let upgraded = match upgraded.downcast::<TokioIo<tokio::net::UnixStream>>() {
            Ok(parts) => {
                return Wire::direct(Stream::Unix(parts.io.into_inner()), parts.read_buf, queue);
            }
            Err(upgraded) => upgraded,
        };
        let io = Upgraded {
            io: TokioIo::new(upgraded),
            ahead: Bytes::new(),
        };
        Wire::over(Io::Upgraded(Box::new(io)), queue)
    }

    /// The wire over a plain socket, registered on `queue` for direct writes; `early` is what hyper read
    /// past the handshake (the client's first frames), read first.
    fn direct(stream: Stream, early: Bytes, queue: Arc<Queue>) -> Self {
        let socket = Arc::new(DirectSocket {
            stream,
            open: AtomicBool::new(true),
            has_rest: AtomicBool::new(false),
            rest: Mutex::new(None),
        });
        let sink: Weak<dyn DirectSink> = Arc::downgrade(&socket) as Weak<DirectSocket>;
        queue.set_sink(sink);
        // An empty `Bytes` frozen from hyper's read buffer still owns that whole buffer (8 KiB): keep
        // it only while it holds bytes to read.
        let early = if early.is_empty() {
            Bytes::new()
        } else {
            early
        };
        let io = Io::Direct {
            socket,
            ahead: early,
        };
        Wire::over(io, queue)
    }

    fn over(io: Io, queue: Arc<Queue>) -> Self {
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
        self.claim();
        self.out.push(opcode, payload, cost);
    }

    /// Forgets the frames not started yet (a slow client is being closed) and gives their bytes back; a
    /// frame half written stays, so that the close frame after it is still well framed.
    pub(crate) fn discard_unstarted(&mut self) {
        self.claim();
        let freed = self.out.discard_unstarted();
        self.queue.release(freed);
    }

    /// Turns direct writes off for good: the connection is about to write its close frame (or answer the
    /// peer's), after which no data frame may go.
    pub(crate) fn stop_direct(&mut self) {
        if let Io::Direct { socket, .. } = &self.io {
            socket.open.store(false, Ordering::Release);
            self.claim();
        }
    }

    /// Whether a direct write left part of a frame for the connection to finish (it flushes then).
    pub(crate) fn direct_pending(&self) -> bool {
        match &self.io {
            Io::Direct { socket, .. } => socket.has_rest.load(Ordering::Acquire),
            Io::Upgraded(_) => false,
        }
    }

    /// Before the connection writes or queues anything: the socket is the connection's from now on
    /// ([`Queue::claim_socket`]), and a direct write's rest, if one was left, goes first.
    fn claim(&mut self) {
        let Io::Direct { socket, .. } = &self.io else {
            return;
        };
        self.queue.claim_socket();
        if socket.has_rest.load(Ordering::Acquire) {
            let rest = lock(&socket.rest).take();
            socket.has_rest.store(false, Ordering::Release);
            if let Some(rest) = rest {
                self.out.push_started(*rest);
            }
        }
    }

    /// Everything is on the socket: direct writes may go again (unless they were stopped).
    fn idle(&self) {
        if let Io::Direct { socket, .. } = &self.io
            && socket.open.load(Ordering::Acquire)
            && !self.theirs_partial
            && self.out.is_empty()
        {
            self.queue.socket_idle();
        }
    }

    /// Writes queued frames until none is left (`Ready(Ok)`), the socket is full (`Pending`) or fails.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.theirs_partial {
            // Only reachable if tungstenite flushes without finishing its own bytes: they must go first.
            return Poll::Ready(Ok(()));
        }
        if self.direct_pending() {
            self.claim();
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // One `Option` swapped in and out: a panic can't leave it half changed.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl DirectSink for DirectSocket {
    fn try_send(&self, message: &LayerMessage, cost: usize) -> Sent {
        if !self.open.load(Ordering::Acquire) {
            return Sent::Nothing;
        }
        let Some((opcode, payload)) = data_frame(message) else {
            return Sent::Nothing;
        };
        let head = Head::new(opcode, payload.len());
        let head = head.as_slice();
        let len = head.len() + payload.len();
        let result = if payload.len() <= COPY_MAX {
            // One plain `send` of one buffer, as the wire does for small frames. A chat message's frame
            // is copied into a small buffer: zeroing the large one cost more than the copy (77
            // instructions per message).
            let mut small = [0u8; 128];
            let mut large;
            let buf: &mut [u8] = if len <= small.len() {
                &mut small
            } else {
                large = [0u8; 10 + COPY_MAX];
                &mut large
            };
            buf[..head.len()].copy_from_slice(head);
            buf[head.len()..len].copy_from_slice(payload);
            self.stream.try_write(&buf[..len])
        } else {
            self.stream
                .try_write_vectored(&[IoSlice::new(head), IoSlice::new(payload)])
        };
        match result {
            Ok(written) if written == len => {
                crate::metrics::message_sent();
                Sent::Whole
            }
            Ok(written) if written > 0 => {
                self.keep_rest(opcode, message, cost, written);
                Sent::Part
            }
            Ok(_) => Sent::Nothing,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Sent::Nothing,
            Err(error) => {
                // The connection meets the same error on its own write or read, and ends.
                tracing::debug!(%error, "direct write failed; the message is queued for the connection");
                self.open.store(false, Ordering::Release);
                Sent::Nothing
            }
        }
    }

    fn try_send_queued(
        &self,
        queued: &VecDeque<(tokio::time::Instant, LayerMessage)>,
        budgeted: bool,
    ) -> Flushed {
        GATHER.with(|buf| match buf.try_borrow_mut() {
            Ok(mut buf) => self.send_queued(queued, budgeted, &mut buf),
            // Never nested in practice (a flush runs in its own task); if it were, the connection writes.
            Err(_) => Flushed::default(),
        })
    }
}

impl DirectSocket {
    /// [`try_send_queued`](DirectSink::try_send_queued) with the thread's gather buffer.
    fn send_queued(
        &self,
        queued: &VecDeque<(tokio::time::Instant, LayerMessage)>,
        budgeted: bool,
        buf: &mut Vec<u8>,
    ) -> Flushed {
        let mut flushed = Flushed::default();
        while self.open.load(Ordering::Acquire) {
            buf.clear();
            let first = flushed.whole;
            let mut next = first;
            while let Some((opcode, payload)) = queued.get(next).and_then(|(_, m)| data_frame(m)) {
                if payload.len() > COPY_MAX
                    || (next > first && buf.len() + payload.len() > FLUSH_LEN)
                {
                    break;
                }
                buf.extend_from_slice(Head::new(opcode, payload.len()).as_slice());
                buf.extend_from_slice(payload);
                next += 1;
            }
            if next == first {
                break;
            }
            let written = match self.stream.try_write(buf) {
                Ok(written) => written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    // The connection meets the same error on its own write or read, and ends.
                    tracing::debug!(%error, "flush failed; the messages stay queued for the connection");
                    self.open.store(false, Ordering::Release);
                    break;
                }
            };
            if written == buf.len() {
                // The usual case: every frame offered is on the socket.
                flushed.whole = next;
                crate::metrics::messages_sent(next - first);
                continue;
            }
            // Walk the frames offered: those inside `written` are whole, the one it ends in is a rest.
            let mut start = 0;
            let offered = queued
                .range(first..next)
                .filter_map(|(_, message)| Some((message, data_frame(message)?)));
            for (message, (opcode, payload)) in offered {
                let len = usize::from(Head::new(opcode, payload.len()).len) + payload.len();
                if start + len <= written {
                    flushed.whole += 1;
                    crate::metrics::message_sent();
                    start += len;
                    continue;
                }
                if start < written {
                    let cost = if budgeted {
                        crate::layer::queue::cost_of(message)
                    } else {
                        0
                    };
                    self.keep_rest(opcode, message, cost, written - start);
                    flushed.part = true;
                }
                return flushed;
            }
        }
        flushed
    }

    /// A frame the socket took only `written` bytes of: its rest is kept for the connection to write
    /// first, with the `cost` it counts against the budget.
    fn keep_rest(&self, opcode: Opcode, message: &LayerMessage, cost: usize, written: usize) {
        *lock(&self.rest) = Some(Box::new(Rest {
            opcode,
            payload: payload_bytes(message),
            cost,
            written,
        }));
        self.has_rest.store(true, Ordering::Release);
        crate::metrics::message_sent();
    }
}

/// A data message's opcode and payload; `None` for anything else.
fn data_frame(message: &LayerMessage) -> Option<(Opcode, &[u8])> {
    match message {
        LayerMessage::Text(text) => Some((Opcode::Text, text.as_bytes())),
        LayerMessage::Binary(bytes) => Some((Opcode::Binary, bytes)),
        _ => None,
    }
}

/// A data message's payload as shared bytes (a text's is copied: it is kept only for a rest).
fn payload_bytes(message: &LayerMessage) -> Bytes {
    match message {
        LayerMessage::Text(text) => Bytes::from(text.clone()),
        LayerMessage::Binary(bytes) => bytes.clone(),
        _ => Bytes::new(),
    }
}

impl Stream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_read_ready(cx),
            #[cfg(unix)]
            Stream::Unix(s) => s.poll_read_ready(cx),
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_write_ready(cx),
            #[cfg(unix)]
            Stream::Unix(s) => s.poll_write_ready(cx),
        }
    }

    /// Reads what is there. A read that fills less than `buf` also forgets the socket's readiness, as
    /// tokio's own `poll_read` does: the socket is drained, so the next read waits for the reactor
    /// instead of asking the kernel again for nothing.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let mut read = 0;
        let mut read_into = || -> io::Result<usize> {
            read = match self {
                Stream::Tcp(s) => s.try_read(buf)?,
                #[cfg(unix)]
                Stream::Unix(s) => s.try_read(buf)?,
            };
            if read > 0 && read < len {
                // `try_io` forgets the readiness when its closure says it would block.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(read)
        };
        let result = match self {
            Stream::Tcp(s) => s.try_io(tokio::io::Interest::READABLE, &mut read_into),
            #[cfg(unix)]
            Stream::Unix(s) => s.try_io(tokio::io::Interest::READABLE, &mut read_into),
        };
        match result {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && read > 0 => Ok(read),
            other => other,
        }
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.try_write(buf),
        }
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => s.try_write_vectored(bufs),
        }
    }

    /// Shuts the write side down. The socket is shared (no `&mut`), so through a duplicate of its
    /// descriptor: a shutdown acts on the socket, not on one descriptor of it.
    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                #[cfg(unix)]
                let owned = std::os::fd::AsFd::as_fd(s).try_clone_to_owned()?;
                #[cfg(windows)]
                let owned = std::os::windows::io::AsSocket::as_socket(s).try_clone_to_owned()?;
                std::net::TcpStream::from(owned).shutdown(std::net::Shutdown::Write)
            }
            #[cfg(unix)]
            Stream::Unix(s) => {
                let owned = std::os::fd::AsFd::as_fd(s).try_clone_to_owned()?;
                std::os::unix::net::UnixStream::from(owned).shutdown(std::net::Shutdown::Write)
            }
        }
    }

    /// Polls a non-blocking operation until the socket is ready for it and it doesn't block.
    fn poll_io<T>(
        &self,
        cx: &mut Context<'_>,
        ready: fn(&Stream, &mut Context<'_>) -> Poll<io::Result<()>>,
        mut op: impl FnMut(&Stream) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            futures_util::ready!(ready(self, cx))?;
            match op(self) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }
}

/// The stream under an [`Io`], to read from, apart from its `ahead`.
enum Source<'a> {
    Upgraded(&'a mut TokioIo<hyper::upgrade::Upgraded>),
    Direct(&'a DirectSocket),
}

impl Io {
    fn split(&mut self) -> (Source<'_>, &mut Bytes) {
        match self {
            Io::Upgraded(upgraded) => (Source::Upgraded(&mut upgraded.io), &mut upgraded.ahead),
            Io::Direct { socket, ahead } => (Source::Direct(socket), ahead),
        }
    }

    /// What was read ahead and not handed over yet.
    #[cfg(test)]
    fn ahead(&self) -> &Bytes {
        match self {
            Io::Upgraded(upgraded) => &upgraded.ahead,
            Io::Direct { ahead, .. } => ahead,
        }
    }
}

impl Source<'_> {
    /// Reads what the stream holds into `buf`.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Source::Upgraded(io) => Pin::new(&mut **io).poll_read(cx, buf),
            Source::Direct(socket) => {
                let read = futures_util::ready!(socket.stream.poll_io(
                    cx,
                    Stream::poll_read_ready,
                    |stream| stream.try_read(buf.initialize_unfilled())
                ))?;
                buf.advance(read);
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// Reads ahead (see the module docs): what was kept from the last read first; else a read into the
/// thread's buffer, of which `buf` gets what fits and `ahead` the rest.
impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (mut source, ahead) = self.get_mut().split();
        if !ahead.is_empty() {
            let n = ahead.len().min(buf.remaining());
            buf.put_slice(&ahead[..n]);
            bytes::Buf::advance(ahead, n);
            if ahead.is_empty() {
                // Gives the buffer back (an empty slice of it would still own it).
                *ahead = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SCRATCH_LEN {
            return source.poll_read(cx, buf);
        }
        SCRATCH.with(|scratch| {
            // Only a read of another wire polled from inside this one could find it taken: none is,
            // but if one were, it reads straight into its caller's buffer.
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return source.poll_read(cx, buf);
            };
            if scratch.is_empty() {
                *scratch = vec![0u8; SCRATCH_LEN];
            }
            let mut read = ReadBuf::new(&mut scratch[..]);
            futures_util::ready!(source.poll_read(cx, &mut read))?;
            let read = read.filled();
            let n = read.len().min(buf.remaining());
            buf.put_slice(&read[..n]);
            if n < read.len() {
                *ahead = Bytes::copy_from_slice(&read[n..]);
            }
            Poll::Ready(Ok(()))
        })
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Upgraded(up) => Pin::new(&mut up.io).poll_write(cx, buf),
            Io::Direct { socket, .. } => {
                socket
                    .stream
                    .poll_io(cx, Stream::poll_write_ready, |stream| stream.try_write(buf))
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Upgraded(up) => Pin::new(&mut up.io).poll_write_vectored(cx, bufs),
            Io::Direct { socket, .. } => {
                socket
                    .stream
                    .poll_io(cx, Stream::poll_write_ready, |stream| {
                        stream.try_write_vectored(bufs)
                    })
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Upgraded(up) => up.io.is_write_vectored(),
            Io::Direct { .. } => true,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Upgraded(up) => Pin::new(&mut up.io).poll_flush(cx),
            // A socket has nothing to flush.
            Io::Direct { .. } => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Upgraded(up) => Pin::new(&mut up.io).poll_shutdown(cx),
            Io::Direct { socket, .. } => {
                socket.open.store(false, Ordering::Release);
                Poll::Ready(socket.stream.shutdown_write())
            }
        }
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
        this.claim();
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
        futures_util::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        // tungstenite flushes after writing out its own bytes: all of them are on the socket.
        self.idle();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stop_direct();
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

    // Direct writes, over a real socket pair: the wire on one end (as a connection over TCP has it), the
    // client on the other.

    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    use crate::layer::queue::{Budget, OverBudget, cost_of};

    /// A reply channel's queue with a budget, and a wire over one end of a socket pair.
    fn direct_wire() -> (Arc<Queue>, Wire, UnixStream) {
        let queue = Arc::new(Queue::new(100_000, Duration::from_secs(60)));
        queue.set_budget(Arc::new(Budget::new(64 << 20, OverBudget::Close)));
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let wire = Wire::direct(Stream::Unix(ours), Bytes::new(), queue.clone());
        (queue, wire, theirs)
    }

    async fn flush(wire: &mut Wire) {
        std::future::poll_fn(|cx| Pin::new(&mut *wire).poll_flush(cx))
            .await
            .expect("flush");
    }

    /// What the connection does with a message it took: its frame on the wire.
    fn write(wire: &mut Wire, message: LayerMessage) {
        let cost = cost_of(&message);
        match message {
            LayerMessage::Text(text) => wire.push(Opcode::Text, Bytes::from(text), cost),
            LayerMessage::Binary(bytes) => wire.push(Opcode::Binary, bytes, cost),
            other => panic!("not a data frame: {other:?}"),
        }
    }

    fn frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Head::new(opcode, payload.len()).as_slice().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    async fn read_exactly(client: &mut UnixStream, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        client.read_exact(&mut bytes).await.expect("read");
        bytes
    }

    #[tokio::test]
    async fn a_caught_up_client_gets_a_push_straight_from_the_socket() {
        let (queue, mut wire, mut client) = direct_wire();
        // Until the connection's first flush, pushes queue (its early messages go first).
        queue.push_wait(LayerMessage::text("early")).await.unwrap();
        assert_eq!(queue.len(), 1);
        let early = queue.try_pop().unwrap();
        write(&mut wire, early);
        flush(&mut wire).await;
        queue.push_wait(LayerMessage::text("hi")).await.unwrap();
        assert_eq!(queue.len(), 0, "written by the push");
        assert_eq!(queue.held(), 0, "nothing held for a frame on the socket");
        let mut expected = frame(Opcode::Text, b"early");
        expected.extend(frame(Opcode::Text, b"hi"));
        assert_eq!(read_exactly(&mut client, expected.len()).await, expected);
        assert!(!wire.direct_pending());
    }

    #[tokio::test]
    async fn a_partial_direct_write_is_finished_by_the_wire_before_what_follows() {
        let (queue, mut wire, mut client) = direct_wire();
        flush(&mut wire).await;
        // Far more than a socket buffer: the socket takes part of it.
        let big = Bytes::from(vec![7u8; 8 << 20]);
        queue
            .push_wait(LayerMessage::Binary(big.clone()))
            .await
            .unwrap();
        assert_eq!(queue.len(), 0);
        assert!(wire.direct_pending(), "the rest is left to the wire");
        let big_cost = cost_of(&LayerMessage::Binary(big.clone()));
        assert_eq!(queue.held(), big_cost);
        // Behind the rest: queued, not written.
        queue.push_wait(LayerMessage::text("after")).await.unwrap();
        assert_eq!(queue.len(), 1);
        let mut expected = frame(Opcode::Binary, &big);
        expected.extend(frame(Opcode::Text, b"after"));
        let len = expected.len();
        let reader = tokio::spawn(async move { read_exactly(&mut client, len).await });
        // The connection, woken for the rest: flushes it, then writes what it takes.
        flush(&mut wire).await;
        assert!(!wire.direct_pending());
        let next = queue.try_pop().unwrap();
        write(&mut wire, next);
        flush(&mut wire).await;
        assert!(
            reader.await.unwrap() == expected,
            "the rest, then the next frame"
        );
        assert_eq!(
            queue.held(),
            0,
            "the rest's bytes are given back once written"
        );
    }

    #[tokio::test]
    async fn a_message_in_hand_is_not_overtaken_by_a_push() {
        let (queue, mut wire, mut client) = direct_wire();
        flush(&mut wire).await;
        queue.claim_socket();
        queue.push_wait(LayerMessage::text("1")).await.unwrap();
        flush(&mut wire).await;
        // The connection takes "1"; before its frame is on the wire, "2" is pushed.
        let one = queue.try_pop().unwrap();
        queue.push_wait(LayerMessage::text("2")).await.unwrap();
        assert_eq!(queue.len(), 1, "queued behind the message in hand");
        write(&mut wire, one);
        flush(&mut wire).await;
        let two = queue.try_pop().unwrap();
        write(&mut wire, two);
        flush(&mut wire).await;
        queue.push_wait(LayerMessage::text("3")).await.unwrap();
        assert_eq!(queue.len(), 0, "caught up again: written by the push");
        let mut expected = frame(Opcode::Text, b"1");
        expected.extend(frame(Opcode::Text, b"2"));
        expected.extend(frame(Opcode::Text, b"3"));
        assert_eq!(read_exactly(&mut client, expected.len()).await, expected);
    }

    #[tokio::test]
    async fn nothing_is_written_directly_once_stopped() {
        let (queue, mut wire, mut client) = direct_wire();
        flush(&mut wire).await;
        wire.stop_direct();
        flush(&mut wire).await;
        queue.push_wait(LayerMessage::text("late")).await.unwrap();
        assert_eq!(queue.len(), 1, "left to the connection, which is closing");
        drop(wire);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "nothing reached the socket: {rest:?}");
    }

    #[tokio::test]
    async fn bytes_read_past_the_handshake_come_first() {
        let queue = Arc::new(Queue::new(10, Duration::from_secs(60)));
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let mut wire = Wire::direct(Stream::Unix(ours), Bytes::from_static(b"abc"), queue);
        theirs.write_all(b"def").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 6 {
            let mut buf = [0u8; 16];
            let n = wire.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdef");
    }

    #[tokio::test]
    async fn a_read_larger_than_asked_for_is_kept_for_the_next_reads_only() {
        let queue = Arc::new(Queue::new(10, Duration::from_secs(60)));
        let (ours, mut theirs) = UnixStream::pair().expect("socket pair");
        let mut wire = Wire::direct(Stream::Unix(ours), Bytes::from_static(b"early"), queue);
        let sent: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        theirs.write_all(&sent).await.unwrap();
        // What hyper read past the handshake comes first, as far as it goes.
        let mut buf = [0u8; 64];
        assert_eq!(wire.read(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf[..5], b"early");
        assert!(wire.io.ahead().is_empty());
        // Then one read takes all the socket holds; the caller gets what it asked for, the rest waits.
        let mut got = Vec::new();
        let n = wire.read(&mut buf).await.unwrap();
        got.extend_from_slice(&buf[..n]);
        assert_eq!(n, 64);
        assert_eq!(wire.io.ahead().len(), sent.len() - 64, "the rest is kept");
        while got.len() < sent.len() {
            let n = wire.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, sent);
        assert!(
            wire.io.ahead().is_empty(),
            "nothing is kept once all is read"
        );
        // A read that fits keeps nothing.
        theirs.write_all(b"small").await.unwrap();
        let n = wire.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"small");
        assert!(wire.io.ahead().is_empty());
        // A request as large as the thread's buffer is read straight into the caller's.
        theirs.write_all(&sent).await.unwrap();
        let mut large = vec![0u8; SCRATCH_LEN];
        let mut got = 0;
        while got < sent.len() {
            got += wire.read(&mut large[got..]).await.unwrap();
            assert!(wire.io.ahead().is_empty());
        }
        assert_eq!(&large[..got], &sent[..]);
    }

    /// Several tasks on two worker threads push numbered messages while a connection takes what queues
    /// and writes it; the client must get every message of every task, each task's in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_pushes_reach_the_client_complete_and_in_order() {
        const THREADS: usize = 3;
        const EACH: usize = 3000;
        let (queue, mut wire, mut client) = direct_wire();
        let reader = tokio::spawn(async move {
            let mut next = [0usize; THREADS];
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut got = 0;
            while got < THREADS * EACH {
                let n = client.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the socket closed early");
                buf.extend_from_slice(&chunk[..n]);
                let mut at = 0;
                // Short text frames: 0x81, then a 7-bit length.
                while buf.len() >= at + 2 && buf.len() >= at + 2 + usize::from(buf[at + 1]) {
                    assert_eq!(buf[at], 0x81, "a text frame, whole");
                    let len = usize::from(buf[at + 1]);
                    let text = std::str::from_utf8(&buf[at + 2..at + 2 + len]).unwrap();
                    let (thread, seq) = text.split_once(':').unwrap();
                    let (thread, seq): (usize, usize) =
                        (thread.parse().unwrap(), seq.parse().unwrap());
                    assert_eq!(seq, next[thread], "thread {thread}'s messages in order");
                    next[thread] += 1;
                    got += 1;
                    at += 2 + len;
                }
                buf.drain(..at);
            }
            next
        });
        let pushers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    for seq in 0..EACH {
                        queue
                            .push_wait(LayerMessage::text(format!("{thread}:{seq}")))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        // The connection: write what it takes (up to a batch), flush, and flush a direct write's rest.
        let connection = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut direct_rests = 0;
                loop {
                    let (wire_now, queue_now) = (&mut wire, &queue);
                    let taken = std::future::poll_fn(move |cx| {
                        if wire_now.direct_pending() {
                            return Poll::Ready(None);
                        }
                        match queue_now.poll_pop(cx) {
                            Poll::Ready(message) => Poll::Ready(Some(message)),
                            Poll::Pending if wire_now.direct_pending() => Poll::Ready(None),
                            Poll::Pending => Poll::Pending,
                        }
                    })
                    .await;
                    match taken {
                        Some(close @ LayerMessage::Close(_)) => {
                            queue.release(cost_of(&close));
                            break;
                        }
                        Some(message) => {
                            write(&mut wire, message);
                            for _ in 0..64 {
                                match queue.try_pop() {
                                    Some(close @ LayerMessage::Close(_)) => {
                                        queue.release(cost_of(&close));
                                        flush(&mut wire).await;
                                        return direct_rests;
                                    }
                                    Some(message) => write(&mut wire, message),
                                    None => break,
                                }
                            }
                        }
                        None => direct_rests += 1,
                    }
                    flush(&mut wire).await;
                }
                direct_rests
            })
        };
        for pusher in pushers {
            pusher.await.unwrap();
        }
        assert_eq!(reader.await.unwrap(), [EACH; THREADS]);
        // Ends the connection task (`Close` never goes directly).
        queue.push(LayerMessage::Close(1000)).unwrap();
        connection.await.unwrap();
        assert_eq!(queue.held(), 0);
    }
}
