//! TLS with rustls (feature `tls`): [`TlsConfig`] from PEM files, and [`Server::spawn_tls`], which serves
//! https:// and wss:// on one port.
//!
//! Each accepted connection's handshake runs in a task of its own, bounded by
//! [`handshake_timeout`](crate::ServerConfig#structfield.handshake_timeout), so a client that opens a
//! socket and never finishes its TLS handshake holds nothing past it and never blocks the accept loop.
//! The protocol offered by ALPN is `http/1.1` (the server speaks HTTP/1.1 and WebSocket upgrades).
//!
//! ```no_run
//! use channels_runtime::server::TlsConfig;
//! use channels_runtime::{routing::Routing, Server};
//! # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
//! let tls = TlsConfig::from_pem_files("/etc/chat/cert.pem", "/etc/chat/key.pem")?;
//! let server = Server::new(routing).spawn_tls("0.0.0.0:443", tls).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::listen::{Transport, serve_connection_over};
use super::listener::{accept_loop, local_addr_of};
use super::{Server, ServerError, ServerHandle, Shared};

/// A server's TLS settings: its certificate chain and private key (rustls, on the `ring` provider).
///
/// Cheap to clone; one config serves every connection.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// Why a [`TlsConfig`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate PEM holds no certificate, or one that does not parse.
    #[error("no valid certificate in {what}: {reason}")]
    Certificate {
        /// The file (or "PEM data").
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The key PEM holds no private key (PKCS#8, PKCS#1 or SEC1), or one that does not parse.
    #[error("no valid private key in {what}: {reason}")]
    Key {
        /// The file (or "PEM data").
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key type, ...).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsConfig {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key.
    ///
    /// # Errors
    /// [`TlsError`]: a file that can't be read, a PEM without a certificate or key, a key that does not
    /// match.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let (cert, key) = (cert.as_ref(), key.as_ref());
        TlsConfig::from_pem_named(
            &read(cert)?,
            &cert.display().to_string(),
            &read(key)?,
            &key.display().to_string(),
        )
    }

    /// [`from_pem_files`](Self::from_pem_files) from PEM bytes already in memory.
    ///
    /// # Errors
    /// As [`from_pem_files`](Self::from_pem_files), without the file errors.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        TlsConfig::from_pem_named(cert_pem, "PEM data", key_pem, "PEM data")
    }

    /// A rustls server config of the application's own (client certificates, several names, another
    /// provider). Its ALPN protocols should be empty or include `http/1.1`.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        TlsConfig {
            acceptor: TlsAcceptor::from(config),
        }
    }

    fn from_pem_named(
        cert_pem: &[u8],
        cert_name: &str,
        key_pem: &[u8],
        key_name: &str,
    ) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsError::Certificate {
                what: cert_name.to_owned(),
                reason: error.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Certificate {
                what: cert_name.to_owned(),
                reason: "no CERTIFICATE block".to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| TlsError::Key {
            what: key_name.to_owned(),
            reason: error.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig::from_rustls(Arc::new(config)))
    }
}

impl Server {
    /// Binds `addr` and serves TLS on it in the background (as [`spawn`](Self::spawn)): https:// for
    /// plain requests and wss:// for WebSockets, on one port (feature `tls`).
    ///
    /// A client whose TLS handshake fails, or does not finish within
    /// [`handshake_timeout`](crate::ServerConfig#structfield.handshake_timeout), is dropped (logged at
    /// debug level); no consumer runs for it.
    ///
    /// ```no_run
    /// use channels_runtime::server::TlsConfig;
    /// use channels_runtime::{routing::Routing, Server};
    /// # async fn run(routing: Routing) -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// let server = Server::new(routing).spawn_tls("127.0.0.1:8443", tls).await?;
    /// println!("wss://{}/", server.local_addr());
    /// # Ok(()) }
    /// ```
    pub async fn spawn_tls(self, addr: &str, tls: TlsConfig) -> Result<ServerHandle, ServerError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        self.spawn_tls_on(listener, tls)
    }

    /// [`spawn_tls`](Self::spawn_tls) on a TCP listener made elsewhere (see
    /// [`spawn_from_std`](Self::spawn_from_std)).
    pub async fn spawn_tls_from_std(
        self,
        listener: std::net::TcpListener,
        tls: TlsConfig,
    ) -> Result<ServerHandle, ServerError> {
        let listener = super::listener::tcp_from_std(listener)?;
        self.spawn_tls_on(listener, tls)
    }

    fn spawn_tls_on(
        self,
        listener: tokio::net::TcpListener,
        tls: TlsConfig,
    ) -> Result<ServerHandle, ServerError> {
        let local_addr = local_addr_of(&listener)?;
        let mut handle = self.start_listening(local_addr)?;
        let shared = handle.shared.clone();
        let acceptor = tls.acceptor;
        let serve = move |shared: &Arc<Shared>, io, peer| {
            handshake(shared.clone(), acceptor.clone(), io, peer);
        };
        handle.tasks.spawn(accept_loop(listener, shared, serve));
        Ok(handle)
    }
}

/// Runs the TLS handshake of one connection in a task of its own, then serves it.
fn handshake(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    io: tokio::net::TcpStream,
    peer: Option<SocketAddr>,
) {
    tokio::spawn(async move {
        let timeout = shared.config.handshake_timeout;
        match tokio::time::timeout(timeout, acceptor.accept(io)).await {
            Ok(Ok(stream)) => serve_connection_over(shared, stream, peer, Transport::Tls),
            Ok(Err(error)) => tracing::debug!(%error, ?peer, "TLS handshake failed"),
            Err(_) => tracing::debug!(?peer, ?timeout, "TLS handshake timed out"),
        }
    });
}
