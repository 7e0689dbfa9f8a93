//! Listener kinds beside [`Server::spawn`]'s TCP address: a Unix domain socket
//! ([`Server::spawn_unix`]), a listener made elsewhere — inherited from a supervisor (systemd socket
//! activation), or bound by the application ([`Server::spawn_from_std`]) — and TLS
//! ([`Server::spawn_tls`], feature `tls`).
//!
//! One accept loop, generic over the listener, hands each connection to the same per-connection code as
//! the TCP listener (`listen::serve_connection`: limits, timeouts, HTTP/1.1 and WebSocket upgrades).
//!
//! ```no_run
//! use channels_runtime::{routing::Routing, Server};
//! # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
//! // Behind nginx on the same machine: `proxy_pass http://unix:/run/chat.sock;`
//! let server = Server::new(routing).spawn_unix("/run/chat.sock").await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::listen::{AcceptErrors, serve_connection};
use super::{Server, ServerError, ServerHandle, Shared};

/// A source of connections: each with its peer's address, when it has one.
pub(crate) trait Listener: Send + 'static {
    /// One accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection.
    fn accept(&mut self)
    -> impl Future<Output = io::Result<(Self::Io, Option<SocketAddr>)>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Io, Option<SocketAddr>)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Some(peer)))
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;

    async fn accept(&mut self) -> io::Result<(Self::Io, Option<SocketAddr>)> {
        // A Unix socket's peer has no IP address: the scope's `client` is `None`.
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok((stream, None))
    }
}

/// Accepts connections from `listener` until the server stops, handing each to `serve`. A failed
/// accept (out of file descriptors, say) backs off as the TCP listener's does.
pub(crate) async fn accept_loop<L, S>(mut listener: L, shared: Arc<Shared>, serve: S)
where
    L: Listener,
    S: Fn(&Arc<Shared>, L::Io, Option<SocketAddr>) + Send + 'static,
{
    let mut errors = AcceptErrors::default();
    loop {
        match listener.accept().await {
            Ok((io, peer)) => serve(&shared, io, peer),
            Err(error) => errors.back_off(error).await,
        }
    }
}

/// Serves `io` as it is (no TLS).
fn plain<IO>(shared: &Arc<Shared>, io: IO, peer: Option<SocketAddr>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_connection(shared.clone(), io, peer);
}

/// The address a server on a listener without one reports (a Unix socket): `0.0.0.0:0`.
const NO_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

impl Server {
    /// Serves on a Unix domain socket bound at `path`, in the background (as [`spawn`](Self::spawn)):
    /// for a reverse proxy on the same machine (nginx's `proxy_pass http://unix:/run/app.sock;`), with the
    /// file's permissions as access control.
    ///
    /// The path must not exist: a socket file left by a previous run is not removed (that is the
    /// deployment's call), and binding fails with [`ServerError::Bind`]. The file is not removed when
    /// the server stops. The handle's [`local_addr`](ServerHandle::local_addr) is `0.0.0.0:0`, and
    /// consumers see no `client` address.
    ///
    /// ```no_run
    /// use channels_runtime::{routing::Routing, Server};
    /// # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::new(routing).spawn_unix("/tmp/chat.sock").await?;
    /// # Ok(()) }
    /// ```
    #[cfg(unix)]
    pub async fn spawn_unix(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<ServerHandle, ServerError> {
        let path = path.as_ref();
        let listener =
            tokio::net::UnixListener::bind(path).map_err(|source| ServerError::Bind {
                addr: path.display().to_string(),
                source,
            })?;
        self.spawn_listener(listener, NO_ADDR)
    }

    /// Serves on a Unix domain socket listener made elsewhere (inherited from a supervisor, say); see
    /// [`spawn_unix`](Self::spawn_unix). It is made non-blocking here.
    #[cfg(unix)]
    pub async fn spawn_unix_from_std(
        self,
        listener: std::os::unix::net::UnixListener,
    ) -> Result<ServerHandle, ServerError> {
        let bind_error = |source| ServerError::Bind {
            addr: "inherited Unix listener".to_owned(),
            source,
        };
        listener.set_nonblocking(true).map_err(bind_error)?;
        let listener = tokio::net::UnixListener::from_std(listener).map_err(bind_error)?;
        self.spawn_listener(listener, NO_ADDR)
    }

    /// Serves on a TCP listener made elsewhere, in the background: bound by the application (with socket
    /// options of its own), or inherited from a supervisor. It is made non-blocking here.
    ///
    /// systemd socket activation (`LISTEN_FDS`): a `.socket` unit binds the port and starts the service
    /// with the socket as file descriptor 3. Taking a raw descriptor is `unsafe` (this crate forbids it),
    /// so take it with the [`listenfd`](https://docs.rs/listenfd) crate and hand it over:
    ///
    /// ```ignore
    /// let listener = listenfd::ListenFd::from_env()
    ///     .take_tcp_listener(0)?
    ///     .expect("started by systemd with a listening socket");
    /// let server = Server::new(routing).spawn_from_std(listener).await?;
    /// ```
    ///
    /// ```no_run
    /// use channels_runtime::{routing::Routing, Server};
    /// # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = Server::new(routing).spawn_from_std(listener).await?;
    /// println!("on {}", server.local_addr());
    /// # Ok(()) }
    /// ```
    pub async fn spawn_from_std(
        self,
        listener: std::net::TcpListener,
    ) -> Result<ServerHandle, ServerError> {
        let listener = tcp_from_std(listener)?;
        let local_addr = local_addr_of(&listener)?;
        self.spawn_listener(listener, local_addr)
    }

    /// Starts the server and its accept loop on `listener`.
    fn spawn_listener<L: Listener>(
        self,
        listener: L,
        local_addr: SocketAddr,
    ) -> Result<ServerHandle, ServerError> {
        let mut handle = self.start_listening(local_addr)?;
        let shared = handle.shared.clone();
        handle.tasks.spawn(accept_loop(listener, shared, plain));
        Ok(handle)
    }
}

/// A std TCP listener as tokio's.
pub(crate) fn tcp_from_std(
    listener: std::net::TcpListener,
) -> Result<tokio::net::TcpListener, ServerError> {
    let bind_error = |source| ServerError::Bind {
        addr: "inherited TCP listener".to_owned(),
        source,
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    tokio::net::TcpListener::from_std(listener).map_err(bind_error)
}

/// The address `listener` listens on.
pub(crate) fn local_addr_of(listener: &tokio::net::TcpListener) -> Result<SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Bind {
        addr: "listener".to_owned(),
        source,
    })
}

impl ServerHandle {
    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully (see [`shutdown`](Self::shutdown), with
    /// 5 s of grace): what [`Server::run`] does after binding its address, for a server started on
    /// another listener ([`Server::spawn_unix`], [`Server::spawn_from_std`], `Server::spawn_tls`).
    ///
    /// ```no_run
    /// use channels_runtime::{routing::Routing, Server};
    /// # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
    /// Server::new(routing).spawn_unix("/tmp/chat.sock").await?.run_until_stopped().await;
    /// # Ok(()) }
    /// ```
    pub async fn run_until_stopped(self) {
        super::listen::shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown(std::time::Duration::from_secs(5)).await;
    }
}
