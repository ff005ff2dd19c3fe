//! The credentials request: `GET /role-aliases/{alias}/credentials` over mutual TLS, one
//! endpoint after the other until one answers.
//!
//! Each fetch opens a fresh connection with the identity in use at that moment (fetches are
//! rare: one per alias per credential lifetime), so a reloaded certificate is used from the
//! next fetch on and a fetch in flight is never disturbed. A 4xx answer is authoritative (the
//! endpoints share one registry) and ends the fetch; an endpoint that is down, overloaded
//! (5xx, 429) or unreachable passes the request to the next one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::creds::{Credentials, parse_time_ms};
use crate::identity::Identity;
use crate::schedule::ErrorClass;

/// The thing-name header.
const THING_NAME: &str = "x-amzn-iot-thingname";
/// The largest answer read.
const MAX_BODY: usize = 64 * 1024;

/// A credentials endpoint, `HOST[:PORT]` (443 when no port: what `iotcreds endpoint` prints
/// for a listener on 443).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parse `HOST`, `HOST:PORT`, `[V6]:PORT`, optionally prefixed with `https://` and
    /// followed by `/`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("endpoint {s:?} must be HOST[:PORT], e.g. creds.example.com:8443");
        let rest = s
            .strip_prefix("https://")
            .unwrap_or(s)
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) || rest.contains("://") {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => 443,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(bad)?,
            };
            (h.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_owned(), p.parse().map_err(|_| bad())?),
                Some(_) => return Err(bad()),
                None => (rest.to_owned(), 443),
            }
        };
        if host.is_empty() || port == 0 || ServerName::try_from(host.clone()).is_err() {
            return Err(bad());
        }
        Ok(Self { host, port })
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.authority())
    }
}

/// A failed fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The endpoint answered 4xx (other than 408/429): its status, `x-amzn-ErrorType` and
    /// message.
    #[error("{endpoint} answered {status}{}: {message}", error_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Refused {
        /// Which endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// `x-amzn-ErrorType`.
        error_type: Option<String>,
        /// The `message` of the body.
        message: String,
    },
    /// The TLS handshake failed in a way that will not fix itself (certificate not trusted
    /// either way), or the answer was unusable.
    #[error("{0}")]
    Broken(String),
    /// Every endpoint was unreachable or failing.
    #[error("{0}")]
    Unavailable(String),
}

impl FetchError {
    /// The backoff class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Refused { .. } | Self::Broken(_) => ErrorClass::Refused,
            Self::Unavailable(_) => ErrorClass::Unavailable,
        }
    }
}

/// Credentials and how long they live.
#[derive(Debug)]
pub struct Fetched {
    /// The credentials.
    pub creds: Credentials,
    /// Their lifetime as the server counts it (expiration − its `Date`), so a device clock
    /// that is off does not shorten or stretch the schedule.
    pub lifetime: Duration,
    /// The endpoint that answered.
    pub endpoint: String,
}

/// The fetcher's settings.
#[derive(Clone)]
pub struct Fetcher {
    endpoints: Vec<Endpoint>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: String,
}

#[derive(Debug)]
struct Resolver(Arc<CertifiedKey>);

impl ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// Trust anchors: the PEM bundle given, or the system's.
pub fn load_roots(ca: Option<&std::path::Path>) -> Result<RootCertStore, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut store = RootCertStore::empty();
    match ca {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|_| format!("{} is not PEM certificates", path.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if store.is_empty() {
                return Err(format!("{} holds no certificate", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system CA certificates found; give the endpoint's CA with --ca".into(),
                );
            }
        }
    }
    Ok(store)
}

fn classify_io(e: &std::io::Error) -> bool {
    // true: the TLS layer refused (a configuration problem that retrying will not fix).
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|t| {
            matches!(
                t,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::AlertReceived(
                        rustls::AlertDescription::BadCertificate
                            | rustls::AlertDescription::UnknownCA
                            | rustls::AlertDescription::CertificateRequired
                            | rustls::AlertDescription::CertificateUnknown
                            | rustls::AlertDescription::CertificateRevoked
                            | rustls::AlertDescription::CertificateExpired
                            | rustls::AlertDescription::AccessDenied
                            | rustls::AlertDescription::HandshakeFailure
                    )
                    | rustls::Error::General(_)
            )
        })
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}

enum Attempt {
    Done(Result<Fetched, FetchError>),
    Next(String),
}

impl Fetcher {
    /// A fetcher for `endpoints` (in failover order).
    pub fn new(
        endpoints: Vec<Endpoint>,
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Self {
        Self {
            endpoints,
            roots: Arc::new(roots),
            provider,
            connect_timeout,
            request_timeout,
            user_agent: concat!("iotcreds-agent/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The endpoints, in order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    fn tls_config(&self, identity: &Identity) -> Result<Arc<ClientConfig>, FetchError> {
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| FetchError::Broken(format!("TLS set-up: {e}")))?
            .with_root_certificates(self.roots.clone())
            .with_client_cert_resolver(Arc::new(Resolver(identity.certified.clone())));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Fetch credentials for `alias` (with `thing` as `x-amzn-iot-thingname`).
    pub async fn fetch(
        &self,
        identity: &Identity,
        alias: &str,
        thing: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let config = self.tls_config(identity)?;
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            let attempt = tokio::time::timeout(
                self.request_timeout,
                self.attempt(endpoint, config.clone(), alias, thing),
            )
            .await
            .unwrap_or_else(|_| {
                Attempt::Next(format!(
                    "{endpoint}: no answer within {} s",
                    self.request_timeout.as_secs()
                ))
            });
            match attempt {
                Attempt::Done(r) => return r,
                Attempt::Next(why) => {
                    tracing::debug!(endpoint = %endpoint, error = %why, "credentials endpoint failed; trying the next");
                    failures.push(why);
                }
            }
        }
        Err(FetchError::Unavailable(match failures.len() {
            1 => failures.remove(0),
            n => format!(
                "all {n} credentials endpoints failed: {}",
                failures.join("; ")
            ),
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<TcpStream, String> {
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)),
        )
        .await
        .map_err(|_| format!("{endpoint}: name resolution timed out"))?
        .map_err(|e| format!("{endpoint}: cannot resolve {}: {e}", endpoint.host))?
        .collect();
        let mut last = format!("{endpoint}: no address");
        for addr in addrs {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("{endpoint}: connecting to {addr}: {e}"),
                Err(_) => last = format!("{endpoint}: connecting to {addr} timed out"),
            }
        }
        Err(last)
    }

    async fn attempt(
        &self,
        endpoint: &Endpoint,
        config: Arc<ClientConfig>,
        alias: &str,
        thing: Option<&str>,
    ) -> Attempt {
        let tcp = match self.connect(endpoint).await {
            Ok(t) => t,
            Err(e) => return Attempt::Next(e),
        };
        let name = match ServerName::try_from(endpoint.host.clone()) {
            Ok(n) => n,
            Err(_) => {
                return Attempt::Done(Err(FetchError::Broken(format!(
                    "{endpoint}: not a host name"
                ))));
            }
        };
        let tls = match TlsConnector::from(config).connect(name, tcp).await {
            Ok(t) => t,
            Err(e) if classify_io(&e) => {
                return Attempt::Done(Err(FetchError::Broken(format!(
                    "{endpoint}: TLS handshake refused: {}",
                    chain(&e)
                ))));
            }
            Err(e) => return Attempt::Next(format!("{endpoint}: TLS handshake: {}", chain(&e))),
        };
        let (mut sender, conn) =
            match hyper::client::conn::http1::handshake(TokioIo::new(tls)).await {
                Ok(x) => x,
                Err(e) => return Attempt::Next(format!("{endpoint}: {}", chain(&e))),
            };
        let conn_task = tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = format!(
            "/role-aliases/{}/credentials",
            percent_encoding::utf8_percent_encode(alias, percent_encoding::NON_ALPHANUMERIC)
        );
        let mut req = Request::get(path)
            .header(http::header::HOST, endpoint.authority())
            .header(http::header::USER_AGENT, &self.user_agent)
            .header(http::header::ACCEPT, "application/json");
        if let Some(t) = thing {
            req = req.header(THING_NAME, t);
        }
        let req = match req.body(Empty::<Bytes>::new()) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Done(Err(FetchError::Broken(format!(
                    "the request cannot be built (thing name?): {e}"
                ))));
            }
        };
        let result = self.exchange(endpoint, &mut sender, req).await;
        conn_task.abort();
        result
    }

    async fn exchange(
        &self,
        endpoint: &Endpoint,
        sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
        req: Request<Empty<Bytes>>,
    ) -> Attempt {
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => return Attempt::Next(format!("{endpoint}: {}", chain(&e))),
        };
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let error_type = header("x-amzn-errortype");
        let date = header("date");
        let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Attempt::Next(format!("{endpoint}: reading the answer: {e}")),
        };
        if status.is_success() {
            return Attempt::Done(match Credentials::from_endpoint_json(&body) {
                Ok(creds) => {
                    let now_ms = now_ms();
                    let server_now = date.as_deref().and_then(httpdate_ms).unwrap_or(now_ms);
                    let ms = creds.expiration_ms.saturating_sub(server_now).max(0);
                    Ok(Fetched {
                        creds,
                        lifetime: Duration::from_millis(ms as u64),
                        endpoint: endpoint.to_string(),
                    })
                }
                Err(e) => Err(FetchError::Broken(format!("{endpoint}: {e}"))),
            });
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect()
            });
        if status.is_client_error()
            && status != StatusCode::TOO_MANY_REQUESTS
            && status != StatusCode::REQUEST_TIMEOUT
        {
            return Attempt::Done(Err(FetchError::Refused {
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                error_type,
                message,
            }));
        }
        let code = error_type.map(|t| format!(" {t}")).unwrap_or_default();
        Attempt::Next(format!(
            "{endpoint} answered {}{code}: {message}",
            status.as_u16()
        ))
    }
}

/// Wall-clock ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An HTTP `Date` (IMF-fixdate) in ms since the epoch.
fn httpdate_ms(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(s, &fmt).ok()?.assume_utc();
    parse_time_ms(&crate::creds::format_time_ms(t.unix_timestamp() * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("localhost:8443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("localhost", 8443));
        assert_eq!(e.to_string(), "localhost:8443");
        let e = Endpoint::parse("https://creds.example.com/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("creds.example.com", 443));
        assert_eq!(e.to_string(), "creds.example.com");
        let e = Endpoint::parse("[::1]:9443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9443));
        assert_eq!(e.to_string(), "[::1]:9443");
        for bad in [
            "", "http://h", "h/p", "u@h", "h:0", "h:x", "::1:5", "[::1", "h: 1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            httpdate_ms("Thu, 01 Jan 2026 00:00:00 GMT"),
            Some(1_767_225_600_000)
        );
        assert_eq!(httpdate_ms("yesterday"), None);
    }
}
