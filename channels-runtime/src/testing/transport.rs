//! How a communicator reaches its server: a TCP connection to a loopback port, or an in-memory pipe
//! handed to the server as an accepted connection.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{TestError, TestServer};
use crate::ServerHandle;

/// Where a [`TestServer`] is reached.
#[derive(Debug, Clone, Copy)]
pub(super) enum Transport {
    /// A loopback port.
    Socket(SocketAddr),
    /// The server's own process, through a pipe per connection.
    InProcess,
}

/// A connection to a server, whichever the transport.
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection to a server, boxed.
pub(super) type BoxIo = Box<dyn Io>;

/// What a communicator dials.
#[derive(Clone, Copy)]
pub(super) enum Dial<'a> {
    /// A server on this address (a [`TestServer`] on a port, or any other).
    Addr(SocketAddr),
    /// An in-process [`TestServer`].
    InProcess(&'a ServerHandle),
}

impl std::fmt::Debug for Dial<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.host())
    }
}

impl<'a> Dial<'a> {
    /// How to reach `server`.
    pub(super) fn server(server: &'a TestServer) -> Self {
        match server.transport {
            Transport::Socket(addr) => Dial::Addr(addr),
            Transport::InProcess => Dial::InProcess(&server.handle),
        }
    }

    /// The `Host` header to send.
    pub(super) fn host(&self) -> String {
        match self {
            Dial::Addr(addr) => addr.to_string(),
            Dial::InProcess(_) => "localhost".to_owned(),
        }
    }

    /// A new connection.
    pub(super) async fn open(&self) -> Result<BoxIo, TestError> {
        match self {
            Dial::Addr(addr) => {
                let stream = TcpStream::connect(addr).await?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            Dial::InProcess(handle) => {
                let (client, server) = tokio::io::duplex(PIPE_BUFFER);
                handle.serve_io(server);
                Ok(Box::new(client))
            }
        }
    }
}

/// How many bytes an in-process pipe holds in each direction before the writer waits.
const PIPE_BUFFER: usize = 64 * 1024;
