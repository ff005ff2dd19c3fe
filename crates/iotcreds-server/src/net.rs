//! Listeners: the accept loop every endpoint shares.
//!
//! One task per connection; the TLS handshake runs inside that task under a timeout, so a slow
//! or silent client never blocks the accept loop or another connection. What a client may hold
//! is bounded: connections per listener (a semaphore) and per client address ([`per_ip`]), and
//! how long a connection stays open without a request in progress ([`watch`]: the header
//! deadline from the first byte, covering the HTTP/1-vs-2 sniffing, and the idle deadline of
//! HTTP/1 keep-alive and HTTP/2, whose pings do not count). On shutdown the loop stops
//! accepting, every connection is asked to finish its in-flight request and close, and the loop
//! returns when all have closed or the grace period ends.
//!
//! From configured L4 load balancers a connection starts with a PROXY protocol header
//! ([`proxy_protocol`]), read before the TLS handshake; its client address becomes the
//! connection's.
//!
//! With [`Tls::Optional`] one port serves both HTTPS and plain HTTP: the first byte of a TLS
//! connection is a handshake record (`0x16`), which no HTTP request starts with.
//!
//! A connection that is closed lingers ([`linger`]): our end is half-closed and what the client
//! still sends is read and dropped for a few seconds, so an answer given before the request was
//! read (a refused upload, a head too large) reaches the client instead of a reset.
//!
//! Plain-HTTP connections are wrapped in [`plain::PlainTcp`], which sends object data that the
//! storage backend memory-mapped with `sendfile` (zero copy).

pub mod fetch;
pub mod linger;
pub mod per_ip;
pub mod plain;
pub mod proxy_protocol;
pub mod unread;
pub mod watch;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use per_ip::PerIp;
use watch::{Activity, Tracked, Watched};

/// How long a connection asked to close (idle, or shutting down with nothing in flight) may
/// take to say goodbye (an HTTP/2 GOAWAY) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Largest HTTP/1 read buffer of one connection (hyper's default is about 400 KiB, and it
/// doubles when it grows): what a connection that is sending a body may hold in memory before
/// the request handler takes it, and the longest request head. 64 KiB reads keep uploads
/// efficient; AWS caps S3 request headers at 8 KiB.
pub const H1_MAX_BUF: usize = 64 * 1024;

/// HTTP/2 flow-control windows (hyper's defaults are 1 MiB): how many body bytes a client may
/// send on one connection (all streams together) before the handler reads them.
pub const H2_WINDOW: u32 = 256 * 1024;

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
    /// Longest wait for complete request headers: from the connection's start (after the TLS
    /// handshake) for the first request, from the first byte for later HTTP/1 requests.
    pub header_timeout: Duration,
    /// Longest time a connection stays open with no request in progress (after its first).
    pub idle_timeout: Duration,
    /// Most concurrent connections.
    pub max_connections: usize,
    /// Most concurrent connections from one client address (IPv6: one /64); 0: no limit.
    pub max_connections_per_ip: usize,
    /// Serve HTTP/2 as well as HTTP/1.1.
    pub http2: bool,
    /// How long shutdown waits for in-flight requests.
    pub grace: Duration,
    /// L4 load balancers whose connections start with a PROXY protocol header
    /// ([`proxy_protocol`]); empty: none.
    pub proxy_protocol_from: Arc<Vec<ipnet::IpNet>>,
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
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let make_service = Arc::new(make_service);
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let per_ip = PerIp::new(options.max_connections_per_ip);
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
            metrics::counter!("iotcreds_connections_refused_total", "reason" => "max_connections")
                .increment(1);
            tracing::warn!(%remote, "connection limit reached; closing connection");
            continue;
        };
        let Some(slot) = per_ip.acquire(remote.ip()) else {
            // Not logged one by one: that would hand the flood to the log.
            metrics::counter!("iotcreds_connections_refused_total", "reason" => "per_ip")
                .increment(1);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let make_service = make_service.clone();
        let tls = tls.clone();
        let options = options.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            handle(tcp, remote, tls, &options, &shutdown, make_service.as_ref()).await;
        });
    }
    drop(listener);
    // Every connection holds a permit until it has closed.
    let all = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(options.grace, permits.acquire_many(all))
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
    shutdown: &CancellationToken,
    make_service: &F,
) where
    F: Fn(Arc<ConnInfo>) -> S,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut tcp = tcp;
    let mut remote = remote;
    if options
        .proxy_protocol_from
        .iter()
        .any(|n| n.contains(&remote.ip()))
    {
        let header = proxy_protocol::read_header(&mut tcp);
        match tokio::time::timeout(options.handshake_timeout, header).await {
            Ok(Ok(Some(client))) => remote = client,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                metrics::counter!("iotcreds_connections_refused_total", "reason" => "proxy_protocol")
                    .increment(1);
                tracing::debug!(%remote, error = %e, "no valid PROXY protocol header");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "PROXY protocol header timed out");
                return;
            }
        }
    }
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
            let io = plain::PlainTcp::new(tcp);
            serve_connection(io, options, shutdown, make_service(info)).await;
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
            serve_connection(stream, options, shutdown, make_service(info)).await;
        }
    }
}

async fn serve_connection<T, S, B>(
    io: T,
    options: &ListenerOptions,
    shutdown: &CancellationToken,
    service: S,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = HandlerError>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The deadlines are ours (see `watch`): hyper's header timeout would start only after the
    // protocol sniffing, and would also close idle keep-alive connections at the header limit.
    let activity = Activity::new(options.header_timeout, options.idle_timeout);
    let io = TokioIo::new(Watched::new(linger::Linger::new(io), activity.clone()));
    let service = Tracked::new(service, activity.clone());
    if options.http2 {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(H1_MAX_BUF);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(options.idle_timeout))
            .initial_stream_window_size(H2_WINDOW)
            .initial_connection_window_size(H2_WINDOW);
        let conn = builder.serve_connection(io, service).into_owned();
        drive(conn, &activity, shutdown).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(H1_MAX_BUF);
        drive(builder.serve_connection(io, service), &activity, shutdown).await;
    }
}

/// Run a connection until it ends, its deadline passes, or the server shuts down.
async fn drive<C>(conn: C, activity: &Activity, shutdown: &CancellationToken)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let mut closing = false;
    let mut shutting_down = false;
    let close_check = tokio::time::sleep(Duration::MAX);
    tokio::pin!(close_check);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
                close_check.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            why = activity.expired(), if !closing => {
                closing = true;
                metrics::counter!("iotcreds_connections_closed_total", "reason" => why.as_str())
                    .increment(1);
                if !activity.served() {
                    // Never sent a request: nothing to finish or announce.
                    return;
                }
                conn.as_mut().graceful_shutdown();
                close_check.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            () = &mut close_check => {
                if activity.in_flight() == 0 {
                    // Asked to close and idle, but the peer does not let it finish (an
                    // unanswered GOAWAY, half-sent headers): drop it.
                    return;
                }
                close_check.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
        }
    }
}

/// Bind a TCP listener (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
