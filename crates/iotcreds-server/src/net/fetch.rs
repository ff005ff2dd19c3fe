//! Outbound plain-HTTP requests for revocation data (OCSP answers, CRLs): one request at a
//! time per call, a deadline on the whole exchange (connect, send, every byte of the answer), a
//! cap on the answer's size read as it arrives, no redirects, no proxy from the environment, no
//! TLS (what is fetched is signed by the CA). hyper-util's client, already in the tree for
//! hyper, does the HTTP/1.1.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a fetch failed. `Display` names no URL (a URL may carry credentials).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The exchange did not finish within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with another status than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer is larger than allowed.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed or broke.
    #[error("connection failed: {0}")]
    Connection(String),
}

/// A plain-HTTP client with bounded exchanges.
#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    /// A client keeping a few idle connections per host for 30 s.
    pub fn new() -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(3)));
        http.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(http);
        Self { client }
    }

    /// Send `req` and read the answer's body, refusing bodies over `max_bytes` and exchanges
    /// over `deadline`.
    pub async fn send(
        &self,
        req: Request<Full<Bytes>>,
        max_bytes: usize,
        deadline: Duration,
    ) -> Result<Bytes, FetchError> {
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| FetchError::Connection(error_chain(&e)))?;
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            let declared = resp
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max_bytes as u64) {
                return Err(FetchError::TooLarge(max_bytes));
            }
            let body = Limited::new(resp.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge(max_bytes)
                    } else {
                        FetchError::Connection(e.to_string())
                    }
                })?;
            Ok(body.to_bytes())
        };
        tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| FetchError::Timeout(deadline))?
    }
}

/// An error and its sources, for a log line ("connection failed: … : Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A one-shot HTTP server that answers the first request with `answer` (or never, if
    /// `None`).
    async fn serve_once(answer: Option<&'static [u8]>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            match answer {
                Some(a) => {
                    let _ = s.write_all(a).await;
                    let _ = s.shutdown().await;
                }
                None => tokio::time::sleep(Duration::from_secs(30)).await,
            }
        });
        format!("http://{addr}/x")
    }

    fn get(url: &str) -> Request<Full<Bytes>> {
        Request::get(url).body(Full::default()).unwrap()
    }

    #[tokio::test]
    async fn bounded_exchanges() {
        let f = Fetcher::new();
        let short = Duration::from_millis(300);
        let ok = serve_once(Some(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")).await;
        assert_eq!(f.send(get(&ok), 5, short * 10).await.unwrap(), "hello");
        let big = serve_once(Some(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nhello!")).await;
        assert_eq!(
            f.send(get(&big), 5, short * 10).await,
            Err(FetchError::TooLarge(5))
        );
        // Without a length, counted as it arrives.
        let chunked = serve_once(Some(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello!\r\n0\r\n\r\n",
        ))
        .await;
        assert_eq!(
            f.send(get(&chunked), 5, short * 10).await,
            Err(FetchError::TooLarge(5))
        );
        let missing =
            serve_once(Some(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")).await;
        assert_eq!(
            f.send(get(&missing), 5, short * 10).await,
            Err(FetchError::Status(404))
        );
        let silent = serve_once(None).await;
        assert_eq!(
            f.send(get(&silent), 5, short).await,
            Err(FetchError::Timeout(short))
        );
        // Nothing listens on the port of a closed listener.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/x", l.local_addr().unwrap())
        };
        assert!(matches!(
            f.send(get(&closed), 5, short * 10).await,
            Err(FetchError::Connection(_))
        ));
    }
}
