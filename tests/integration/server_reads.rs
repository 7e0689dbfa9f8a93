//! How a connection reads its client's frames, below the client library: the bytes are written raw on a
//! TCP socket, so where they split is the test's choice. The server reads ahead into its thread's
//! buffer and hands tungstenite (whose own buffer is small) what it asks for, keeping the rest for its
//! next reads (see `wire` in the runtime): frames cut anywhere, many frames in one write, a frame far
//! larger than any buffer, frames sent with the handshake, a close frame behind data frames and the
//! message size limit must all come out as they would with one large buffer.

use std::net::SocketAddr;

use channels::ServerHandle;
use channels::prelude::*;
use channels::testing::{TestServer, WebsocketCommunicator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, GUARD};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;

/// A masked client frame (FIN set) carrying `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&len.to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A handshake request for `/`.
fn handshake(addr: SocketAddr) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A raw client: the socket, and what it has read past the last frame it parsed.
struct Raw {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Raw {
    /// Connects, sends the handshake followed by `early` in the same write, and reads the answer's head.
    async fn open(addr: SocketAddr, early: &[u8]) -> Raw {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut request = handshake(addr);
        request.extend_from_slice(early);
        stream.write_all(&request).await.expect("write");
        let mut raw = Raw {
            stream,
            read: Vec::new(),
        };
        let end = loop {
            if let Some(at) = raw.read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            raw.fill().await;
        };
        let head = String::from_utf8_lossy(&raw.read[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.read.drain(..end);
        raw
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 << 10];
        let n = tokio::time::timeout(GUARD, self.stream.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .expect("read");
        assert!(n > 0, "the server closed the connection");
        self.read.extend_from_slice(&chunk[..n]);
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next (unmasked, final) frame from the server: its opcode and payload.
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((opcode, payload, used)) = parse(&self.read) {
                self.read.drain(..used);
                return (opcode, payload);
            }
            self.fill().await;
        }
    }

    /// The next frame, which must be a close frame: its code.
    async fn close_code(&mut self) -> u16 {
        let (opcode, payload) = self.frame().await;
        assert_eq!(opcode, CLOSE, "a close frame, not {payload:?}");
        u16::from_be_bytes([payload[0], payload[1]])
    }
}

/// A whole server frame at the start of `bytes`: opcode, payload and the bytes it takes.
fn parse(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    assert_eq!(first & 0x80, 0x80, "a final frame");
    assert_eq!(second & 0x80, 0, "server frames are not masked");
    let (len, at) = match second & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
            4,
        ),
        127 => {
            let ext: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(ext)).ok()?, 10)
        }
        len => (usize::from(len), 2),
    };
    let payload = bytes.get(at..at + len)?.to_vec();
    Some((first & 0x0f, payload, at + len))
}

/// The echo example, with `config`.
async fn echo_server(config: ServerConfig) -> ServerHandle {
    common::start_with(crate::echo::channel_routing(), config)
        .await
        .0
}

/// A small tungstenite buffer: every frame here is larger than one read of it.
fn small() -> ServerConfig {
    ServerConfig::default().read_buffer_size(64)
}

fn text_of(i: usize) -> Vec<u8> {
    format!("message {i} {}", "x".repeat(i % 200)).into_bytes()
}

#[tokio::test]
async fn frames_cut_anywhere_arrive_whole() {
    let server = echo_server(small()).await;
    let mut client = Raw::open(server.local_addr(), b"").await;
    let a = client_frame(TEXT, &text_of(150));
    let b = client_frame(BINARY, &[7u8; 300]);
    // One frame and the first bytes of the next in one write; the echo of the first says they were read.
    for cut in [1, 2, 5, 6, 7, 100, b.len() - 1] {
        let mut bytes = a.clone();
        bytes.extend_from_slice(&b[..cut]);
        client.send(&bytes).await;
        assert_eq!(client.frame().await, (TEXT, text_of(150)), "cut at {cut}");
        client.send(&b[cut..]).await;
        assert_eq!(
            client.frame().await,
            (BINARY, vec![7u8; 300]),
            "cut at {cut}"
        );
    }
    // A byte at a time.
    let c = client_frame(TEXT, &text_of(40));
    for byte in &c {
        client.send(std::slice::from_ref(byte)).await;
    }
    assert_eq!(client.frame().await, (TEXT, text_of(40)));
}

#[tokio::test]
async fn many_frames_in_one_write_come_back_in_order() {
    for config in [small(), ServerConfig::default()] {
        let server = echo_server(config).await;
        let mut client = Raw::open(server.local_addr(), b"").await;
        let mut bytes = Vec::new();
        for i in 0..300 {
            if i % 3 == 0 {
                bytes.extend(client_frame(BINARY, &[i as u8; 17]));
            } else {
                bytes.extend(client_frame(TEXT, &text_of(i)));
            }
        }
        client.send(&bytes).await;
        for i in 0..300 {
            let expected = if i % 3 == 0 {
                (BINARY, vec![i as u8; 17])
            } else {
                (TEXT, text_of(i))
            };
            assert_eq!(client.frame().await, expected, "message {i}");
        }
    }
}

#[tokio::test]
async fn a_frame_larger_than_any_read_buffer_arrives_whole() {
    let server = echo_server(small()).await;
    let mut client = Raw::open(server.local_addr(), b"").await;
    // Four times the thread's read buffer, with a small frame behind it in the same write.
    let large: Vec<u8> = (0..256 << 10).map(|i: u32| (i % 251) as u8).collect();
    let mut bytes = client_frame(BINARY, &large);
    bytes.extend(client_frame(TEXT, b"after"));
    client.send(&bytes).await;
    let (opcode, payload) = client.frame().await;
    assert_eq!(opcode, BINARY);
    assert!(payload == large, "the large frame comes back unchanged");
    assert_eq!(client.frame().await, (TEXT, b"after".to_vec()));
}

#[tokio::test]
async fn frames_sent_with_the_handshake_are_read_first() {
    let server = echo_server(small()).await;
    // Frames in the handshake's own write (hyper reads them with it), the last one cut.
    let mut early = Vec::new();
    for i in 0..20 {
        early.extend(client_frame(TEXT, &text_of(i * 7)));
    }
    let last = client_frame(BINARY, &[9u8; 500]);
    early.extend_from_slice(&last[..200]);
    let mut client = Raw::open(server.local_addr(), &early).await;
    for i in 0..20 {
        assert_eq!(client.frame().await, (TEXT, text_of(i * 7)), "message {i}");
    }
    client.send(&last[200..]).await;
    assert_eq!(client.frame().await, (BINARY, vec![9u8; 500]));
}

#[tokio::test]
async fn a_close_frame_behind_data_frames_closes_after_their_echoes() {
    let server = echo_server(small()).await;
    let mut client = Raw::open(server.local_addr(), b"").await;
    let mut bytes = Vec::new();
    for i in 0..10 {
        bytes.extend(client_frame(TEXT, &text_of(i * 13)));
    }
    bytes.extend(client_frame(CLOSE, &4321u16.to_be_bytes()));
    client.send(&bytes).await;
    let mut echoed = 0;
    // The echoes of the frames whose consumers ran before the close was read, then the close (echoing
    // the client's code). Every frame before the close was read, so none comes out of order.
    loop {
        let (opcode, payload) = client.frame().await;
        if opcode == CLOSE {
            assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 4321);
            break;
        }
        assert_eq!((opcode, payload), (TEXT, text_of(echoed * 13)));
        echoed += 1;
    }
    assert!(echoed <= 10);
}

#[tokio::test]
async fn the_message_size_limit_holds_whatever_the_buffers() {
    let server = echo_server(small().max_message_size(1000).max_frame_size(1000)).await;
    let mut client = Raw::open(server.local_addr(), b"").await;
    // Up to the limit: echoed.
    let mut bytes = client_frame(BINARY, &[1u8; 1000]);
    // Past it, in the same write, and followed by more: the connection closes with 1009.
    bytes.extend(client_frame(BINARY, &[2u8; 1001]));
    bytes.extend(client_frame(TEXT, b"never"));
    client.send(&bytes).await;
    assert_eq!(client.frame().await, (BINARY, vec![1u8; 1000]));
    assert_eq!(client.close_code().await, 1009);
}

#[tokio::test]
async fn a_fragmented_message_is_reassembled_across_reads() {
    let server = echo_server(small().max_message_size(4000)).await;
    let mut client = Raw::open(server.local_addr(), b"").await;
    // Three fragments (text, continuation, final continuation), written in pieces of 50 bytes.
    let parts = [vec![b'a'; 700], vec![b'b'; 900], vec![b'c'; 300]];
    let mut bytes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut frame = client_frame(if i == 0 { TEXT } else { 0 }, part);
        if i < parts.len() - 1 {
            frame[0] &= 0x7f;
        }
        bytes.extend(frame);
    }
    for piece in bytes.chunks(50) {
        client.send(piece).await;
    }
    assert_eq!(client.frame().await, (TEXT, parts.concat()));
}

#[tokio::test]
async fn an_in_process_connection_reads_ahead_as_a_socket_does() {
    // In process, the connection is an in-memory pipe handed over by hyper: not a plain socket.
    let server = TestServer::in_process_with(crate::echo::channel_routing(), small())
        .await
        .expect("starts");
    let mut ws = WebsocketCommunicator::connect(&server, "/")
        .await
        .expect("accepted");
    let large: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    ws.send_bytes(large.clone()).await.expect("send");
    for i in 0..50 {
        ws.send_text(&format!("{i}")).await.expect("send");
    }
    let echoed = ws.receive_bytes().await.expect("the large echo");
    assert!(echoed == large, "the large message comes back unchanged");
    for i in 0..50 {
        assert_eq!(ws.receive_text().await.expect("an echo"), format!("{i}"));
    }
}
