//! Listener kinds over real sockets: a Unix domain socket, a std listener handed over (as one inherited
//! from systemd would be), and TLS with rustls (feature `tls`: https:// and wss:// on one port, a
//! self-signed certificate made in the test, a client that trusts it).

use crate::common;

use channels::prelude::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn routing() -> Routing {
    let echo = Consumer::from_async("echo", |m: Message| async move {
        match m.text() {
            Some(text) => {
                m.reply_channel
                    .send_text(format!("echo {text} over {}", m.content.scheme()))
                    .await
            }
            None => Ok(()),
        }
    });
    let page = Consumer::from_async("page", |m: Message| async move {
        m.reply_channel
            .respond(HttpResponse::text(format!(
                "hello over {}",
                m.content.scheme()
            )))
            .await
    });
    Routing::new()
        .route(Route::to("websocket.receive", Some(r"^/ws/$"), echo))
        .route(Route::to("http.request", Some(r"^/$"), page))
}

/// Sends a GET for `/` on `io` and reads the whole answer (`Connection: close`).
async fn get_page<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) -> String {
    io.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(GUARD, io.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .ok(); // a TLS peer may close without close_notify after the answer; what was read counts
    String::from_utf8_lossy(&raw).into_owned()
}

/// Opens a WebSocket at `/ws/` over `io`, sends "hi" and returns the answer.
async fn echo_over<IO: AsyncRead + AsyncWrite + Unpin>(io: IO, url: &str) -> String {
    let (mut ws, response) = tokio_tungstenite::client_async(url, io)
        .await
        .expect("handshake accepted");
    assert_eq!(response.status(), 101);
    ws.send(WsMessage::text("hi")).await.expect("send");
    let answer = tokio::time::timeout(GUARD, ws.next())
        .await
        .expect("answer in time")
        .expect("a frame")
        .expect("a good frame");
    answer.into_text().expect("text").to_string()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let unique = format!("channels-{name}-{}-{}", std::process::id(), rand_suffix());
    std::env::temp_dir().join(unique)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_serves_http_and_websockets() {
    let path = temp_path("unix.sock");
    let server = Server::new(routing())
        .spawn_unix(&path)
        .await
        .expect("binds the socket");
    let page = get_page(tokio::net::UnixStream::connect(&path).await.unwrap()).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.ends_with("hello over http"), "{page}");
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    assert_eq!(
        echo_over(stream, "ws://localhost/ws/").await,
        "echo hi over ws"
    );
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_path_in_use_is_a_bind_error() {
    let path = temp_path("taken.sock");
    let _first = Server::new(routing()).spawn_unix(&path).await.unwrap();
    let error = Server::new(routing())
        .spawn_unix(&path)
        .await
        .expect_err("the path is taken");
    assert!(
        matches!(error, channels::ServerError::Bind { .. }),
        "{error}"
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_std_listener_handed_over_is_served() {
    // What systemd socket activation hands over (via `listenfd`): a bound, listening socket.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(routing())
        .spawn_from_std(listener)
        .await
        .expect("takes the listener");
    assert_eq!(server.local_addr(), addr);
    assert_eq!(
        http_get(addr, "/").await,
        (200, "hello over http".to_owned())
    );
    let mut ws = connect(addr, "/ws/").await;
    send_text(&mut ws, "there").await;
    assert_eq!(next_text(&mut ws).await, "echo there over ws");
}

#[cfg(feature = "tls")]
mod tls {
    use super::*;

    use std::sync::Arc;

    use channels::server::{TlsConfig, TlsError};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::ServerName;

    /// A self-signed certificate for `localhost`: (certificate PEM, key PEM, certificate DER).
    fn self_signed() -> (String, String, rustls::pki_types::CertificateDer<'static>) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (
            made.cert.pem(),
            made.signing_key.serialize_pem(),
            made.cert.der().clone(),
        )
    }

    /// A TLS client that trusts only `cert`.
    fn client_trusting(cert: rustls::pki_types::CertificateDer<'static>) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    async fn dial(
        connector: &TlsConnector,
        addr: std::net::SocketAddr,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(GUARD, connector.connect(name, tcp))
            .await
            .expect("TLS handshake in time")
            .expect("TLS handshake succeeds")
    }

    #[tokio::test]
    async fn tls_serves_https_and_wss_on_one_port() {
        let (cert_pem, key_pem, cert_der) = self_signed();
        // From files, as a deployment has them.
        let (cert_path, key_path) = (temp_path("cert.pem"), temp_path("key.pem"));
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, &key_pem).unwrap();
        let tls = TlsConfig::from_pem_files(&cert_path, &key_path).expect("a valid pair");
        let server = Server::new(routing())
            .spawn_tls("127.0.0.1:0", tls)
            .await
            .expect("binds");
        let addr = server.local_addr();
        let connector = client_trusting(cert_der);
        let page = get_page(dial(&connector, addr).await).await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.ends_with("hello over https"), "{page}");
        let stream = dial(&connector, addr).await;
        assert_eq!(
            echo_over(stream, "wss://localhost/ws/").await,
            "echo hi over wss"
        );
        let _ = std::fs::remove_file(cert_path);
        let _ = std::fs::remove_file(key_path);
    }

    #[tokio::test]
    async fn a_client_that_speaks_no_tls_is_dropped_and_the_server_serves_on() {
        let (cert_pem, key_pem, cert_der) = self_signed();
        let tls = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let server = Server::new(routing())
            .spawn_tls("127.0.0.1:0", tls)
            .await
            .unwrap();
        let addr = server.local_addr();
        // Plain HTTP on the TLS port: the handshake fails and the connection is closed, no answer.
        let plain = get_page(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
        assert!(!plain.contains("hello"), "{plain}");
        let connector = client_trusting(cert_der);
        let stream = dial(&connector, addr).await;
        assert_eq!(
            echo_over(stream, "wss://localhost/ws/").await,
            "echo hi over wss"
        );
    }

    #[tokio::test]
    async fn bad_pem_is_a_typed_error() {
        let (cert_pem, _, _) = self_signed();
        let error = TlsConfig::from_pem(b"not a certificate", b"nor a key").unwrap_err();
        assert!(matches!(error, TlsError::Certificate { .. }), "{error}");
        let error = TlsConfig::from_pem(cert_pem.as_bytes(), b"nor a key").unwrap_err();
        assert!(matches!(error, TlsError::Key { .. }), "{error}");
        // A key that is not the certificate's.
        let (_, other_key, _) = self_signed();
        let error = TlsConfig::from_pem(cert_pem.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(matches!(error, TlsError::Rustls(_)), "{error}");
        let missing = TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
        assert!(matches!(missing, Err(TlsError::Read { .. })));
    }
}
