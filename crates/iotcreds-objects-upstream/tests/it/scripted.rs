//! A scripted upstream: an HTTP server on 127.0.0.1:0 that answers every request with what a
//! test function returns for it, and records what it received. It stands in for the upstream
//! answers moto never gives (503 SlowDown, 5xx, BadDigest, redirects) and lets tests check which
//! headers the gateway forwards.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the scripted upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

pub struct Scripted {
    pub endpoint: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The XML error body S3 sends.
pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>UPSTREAMREQID</RequestId><HostId>upstream-host-id</HostId></Error>"
    )
}

impl Scripted {
    pub async fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let seen2 = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, answer) = (Arc::clone(&seen2), Arc::clone(&answer));
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let s = Seen {
                                    method: parts.method,
                                    path: parts
                                        .uri
                                        .path_and_query()
                                        .map(ToString::to_string)
                                        .unwrap_or_default(),
                                    headers: parts.headers,
                                    body,
                                };
                                let (status, headers, body) = answer(&s);
                                seen.lock().expect("seen").push(s);
                                let mut resp = Response::builder().status(status);
                                for (k, v) in headers {
                                    resp = resp.header(k, v);
                                }
                                Ok::<_, Infallible>(
                                    resp.body(Full::new(Bytes::from(body))).expect("response"),
                                )
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            seen,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}
