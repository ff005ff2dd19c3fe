//! Listeners: the accept loop every endpoint shares.
//!
//! One task per connection; the TLS handshake runs inside that task under a timeout, so a slow
//! or silent client never blocks the accept loop or another connection; hyper's header-read
//! timeout closes connections that stall before a request (or between keep-alive requests).
//! A semaphore bounds concurrent connections. On shutdown the loop stops accepting, every
//! connection is asked to finish its in-flight request and close, and the loop returns when all
//! have closed or the grace period ends.
//!
//! With [`Tls::Optional`] one port serves both HTTPS and plain HTTP: the first byte of a TLS
//! connection is a handshake record (`0x16`), which no HTTP request starts with.
//!
//! Plain-HTTP connections are wrapped in [`plain::PlainTcp`], which sends object data that the
//! storage backend memory-mapped with `sendfile` (zero copy).

pub mod plain;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// What a handler may know about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// TLS details, when the connection is TLS.
    pub tls: Option<TlsInfo>,
    /// The connection sends memory-mapped object data with `sendfile` (plain TCP; see
    /// [`plain`]).
    pub sendfile: bool,
}

/// TLS details of a connection.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// The client's certificate chain (leaf first), if it sent one.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The server name the client asked for (SNI).
    pub sni: Option<String>,
    /// The leaf certificate's id (lowercase hex SHA-256 of its DER), computed once per
    /// connection.
    pub peer_certificate_id: Option<String>,
}

/// TLS on a listener.
#[derive(Clone)]
pub enum Tls {
    /// Plain HTTP only.
    Off,
    /// TLS only.
    Required(Arc<ServerConfig>),
    /// TLS and plain HTTP on the same port, told apart by the first byte.
    Optional(Arc<ServerConfig>),
}

/// Limits of one listener.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Longest TLS handshake (and longest wait for the first byte with [`Tls::Optional`]).
    pub handshake_timeout: Duration,
    /// Longest wait for a request's headers.
    pub header_timeout: Duration,
    /// Most concurrent connections.
    pub max_connections: usize,
    /// Serve HTTP/2 as well as HTTP/1.1.
    pub http2: bool,
    /// How long shutdown waits for in-flight requests.
    pub grace: Duration,
}

/// The error type handlers never return (they answer errors as responses).
pub type HandlerError = Infallible;

/// Serve `listener` until `shutdown` is cancelled, then drain. `make_service` builds the
/// per-connection service from the connection's [`ConnInfo`].
pub async fn serve<F, S, B>(
    listener: TcpListener,
    tls: Tls,
    options: ListenerOptions,
    shutdown: CancellationToken,
    make_service: F,
) where
    F: Fn(Arc<ConnInfo>) -> S + Send + Sync + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let make_service = Arc::new(make_service);
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%remote, "connection limit reached; closing connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let make_service = make_service.clone();
        let tls = tls.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let _permit = permit;
            handle(tcp, remote, tls, &options, watcher, make_service.as_ref()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(options.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

async fn handle<F, S, B>(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Tls,
    options: &ListenerOptions,
    watcher: hyper_util::server::graceful::Watcher,
    make_service: &F,
) where
    F: Fn(Arc<ConnInfo>) -> S,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let config = match tls {
        Tls::Off => None,
        Tls::Required(c) => Some(c),
        Tls::Optional(c) => {
            let mut first = [0u8; 1];
            match tokio::time::timeout(options.handshake_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(1)) if first[0] == 0x16 => Some(c),
                Ok(Ok(1)) => None,
                _ => return,
            }
        }
    };
    match config {
        None => {
            let info = Arc::new(ConnInfo {
                remote,
                tls: None,
                sendfile: true,
            });
            let io = TokioIo::new(plain::PlainTcp::new(tcp));
            serve_connection(io, options, watcher, make_service(info)).await;
        }
        Some(config) => {
            let accept = TlsAcceptor::from(config).accept(tcp);
            let stream = match tokio::time::timeout(options.handshake_timeout, accept).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let (_, session) = stream.get_ref();
            let tls = TlsInfo {
                peer_certificates: session
                    .peer_certificates()
                    .map(<[_]>::to_vec)
                    .unwrap_or_default(),
                sni: session.server_name().map(str::to_owned),
                peer_certificate_id: session
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| iotcreds_pki::certificate_id(c)),
            };
            let info = Arc::new(ConnInfo {
                remote,
                tls: Some(tls),
                sendfile: false,
            });
            serve_connection(TokioIo::new(stream), options, watcher, make_service(info)).await;
        }
    }
}

async fn serve_connection<I, S, B>(
    io: I,
    options: &ListenerOptions,
    watcher: hyper_util::server::graceful::Watcher,
    service: S,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let result = if options.http2 {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(options.header_timeout));
        watcher
            .watch(builder.serve_connection(io, service).into_owned())
            .await
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_timeout);
        watcher
            .watch(builder.serve_connection(io, service))
            .await
            .map_err(Into::into)
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Bind a TCP listener (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
