//! The local endpoints: plain HTTP/1.1 on loopback (unless configured otherwise).
//!
//! Every request passes [`guard`] first: the `Host` must name this machine's loopback or a
//! configured name (a DNS-rebinding page in a browser sends its own host name), and a request
//! from a browser (`Origin`) is refused. Connections are limited in number and must send their
//! headers promptly.

pub mod container;
pub mod imds;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::agent::Agent;

/// A response body.
pub type Body = Full<Bytes>;

/// Which listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Container protocol, TES path, status, metrics.
    Container,
    /// IMDSv2 emulation.
    Imds,
}

/// A JSON response.
pub fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A text response.
pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `{"Code": …, "Message": …}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        serde_json::json!({"Code": code, "Message": message}).to_string(),
    )
}

/// The host part of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased.
fn host_name(value: &str) -> Option<String> {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        if !(after.is_empty() || after[1..].parse::<u16>().is_ok() && after.starts_with(':')) {
            return None;
        }
        h
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => h,
            Some(_) => return None,
            None => v,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Whether a `Host` value names this agent: loopback names and addresses, the addresses it
/// listens on, the configured names, and for IMDS the link-local IMDS addresses.
pub fn host_allowed(value: Option<&str>, agent: &Agent, kind: Kind) -> bool {
    let Some(host) = value.and_then(host_name) else {
        return false;
    };
    if host == "localhost"
        || agent
            .config
            .hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
    {
        return true;
    }
    if kind == Kind::Imds && (host == "169.254.169.254" || host == "fd00:ec2::254") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || agent.config.addresses.contains(&ip),
        Err(_) => false,
    }
}

/// Refuse what no SDK sends: a foreign `Host` (DNS rebinding), a browser's `Origin`.
pub fn guard<B>(req: &Request<B>, agent: &Agent, kind: Kind) -> Result<(), Box<Response<Body>>> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host_allowed(host, agent, kind) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "InvalidHost",
            "The Host header does not name this agent",
        )));
    }
    if req.headers().contains_key(header::ORIGIN) {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Requests from web pages are not served",
        )));
    }
    Ok(())
}

/// Bound listeners.
pub struct Listeners {
    /// Container listeners.
    pub container: Vec<TcpListener>,
    /// IMDS listeners.
    pub imds: Vec<TcpListener>,
}

async fn bind_all(addresses: &[IpAddr], port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut out: Vec<TcpListener> = Vec::new();
    let mut port = port;
    let mut last_err = None;
    for ip in addresses {
        match TcpListener::bind(SocketAddr::new(*ip, port)).await {
            Ok(l) => {
                // With port 0 every address gets the port the first one was given.
                port = l.local_addr()?.port();
                out.push(l);
            }
            Err(e)
                if ip.is_loopback()
                    && ip.is_ipv6()
                    && e.kind() == std::io::ErrorKind::AddrNotAvailable =>
            {
                tracing::warn!(address = %ip, "IPv6 loopback unavailable; serving on the other addresses");
            }
            Err(e) => {
                last_err = Some(std::io::Error::new(
                    e.kind(),
                    format!("binding {ip} port {port}: {e}"),
                ));
                break;
            }
        }
    }
    match last_err {
        Some(e) => Err(e),
        None if out.is_empty() => Err(std::io::Error::other("no address could be bound")),
        None => Ok(out),
    }
}

/// Bind the configured listeners.
pub async fn bind(agent: &Agent) -> std::io::Result<Listeners> {
    let container = bind_all(&agent.config.addresses, agent.config.port).await?;
    let imds = match agent.config.imds_port {
        Some(p) => bind_all(&agent.config.addresses, p).await?,
        None => Vec::new(),
    };
    Ok(Listeners { container, imds })
}

/// Serve `listener` until shutdown.
pub async fn serve(agent: Arc<Agent>, listener: TcpListener, kind: Kind, limit: Arc<Semaphore>) {
    let mut stop = agent.on_shutdown();
    loop {
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            crate::metrics::connection_refused();
            drop(stream);
            continue;
        };
        let agent = agent.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let agent = agent.clone();
                async move {
                    let resp = match kind {
                        Kind::Container => container::handle(&agent, &req).await,
                        Kind::Imds => imds::handle(&agent, &req).await,
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(Duration::from_secs(300), conn).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("localhost:8770").as_deref(), Some("localhost"));
        assert_eq!(host_name("LocalHost.").as_deref(), Some("localhost"));
        assert_eq!(host_name("[::1]:8770").as_deref(), Some("::1"));
        assert_eq!(host_name("[::1]").as_deref(), Some("::1"));
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            host_name("evil.example:80").as_deref(),
            Some("evil.example")
        );
        assert_eq!(host_name("a:b"), None);
        assert_eq!(host_name("[::1]x"), None);
        assert_eq!(host_name(""), None);
    }
}
