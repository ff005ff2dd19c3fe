//! The connections to the upstream: one pooled hyper client (HTTP/1.1 keep-alive; HTTP/2 when
//! a TLS upstream offers it through ALPN) shared by the hand-written hot operations
//! ([`crate::wire`]) and the AWS SDK ([`SdkHttp`], its `HttpClient`), so both use the same
//! connections, TLS settings (`ca_bundle`, client certificate) and connect timeout.

use std::error::Error as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_sdk_s3::config::RuntimeComponents;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use futures::Stream;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use s3s::StdError;

use crate::config::{ConfigError, UpstreamConfig};
use crate::wire::progress::Progress;

type Connector = hyper_rustls::HttpsConnector<TcpConnector>;

/// How long an unused pooled connection is kept.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(50);

/// A request body toward the upstream.
pub(crate) enum OutBody {
    /// No body (GET, HEAD).
    Empty,
    /// An upload streaming from the device, `len` bytes on the wire; `progress` tells the
    /// upload's watchdog whether the gateway waits for the device or for the upstream.
    Upload {
        stream: Pin<Box<dyn Stream<Item = Result<Bytes, StdError>> + Send + Sync>>,
        len: u64,
        /// Bytes handed to the connection so far.
        sent: u64,
        progress: Arc<Progress>,
    },
    /// A body of the AWS SDK.
    Sdk(Pin<Box<SdkBody>>),
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Upload {
                stream,
                len,
                sent,
                progress,
            } => {
                // Polled: the upstream took what came before.
                progress.waiting_for_device();
                match stream.as_mut().poll_next(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(b))) => {
                        *sent += b.len() as u64;
                        // With a Content-Length, hyper stops polling after the last byte.
                        if *sent >= *len {
                            progress.sent();
                        } else {
                            progress.waiting_for_upstream();
                        }
                        Poll::Ready(Some(Ok(Frame::data(b))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {
                        progress.sent();
                        Poll::Ready(None)
                    }
                }
            }
            Self::Sdk(b) => b.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Upload { len, sent, .. } => sent >= len,
            Self::Sdk(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Upload { len, sent, .. } => SizeHint::with_exact(len.saturating_sub(*sent)),
            Self::Sdk(b) => b.size_hint(),
        }
    }
}

/// The pooled client.
pub(crate) struct Transport {
    client: Client<Connector, OutBody>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: &UpstreamConfig) -> Result<Self, ConfigError> {
        let tls = if config.endpoint.starts_with("https://") {
            crate::tls::client_config(config)?
        } else {
            // never used: the endpoint is plain HTTP
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::TlsFile {
                setting: "endpoint",
                path: config.endpoint.clone(),
                message: e.to_string(),
            })?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        };
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(config.connect_timeout()));
        tcp.set_keepalive(Some(std::time::Duration::from_secs(30)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(config.max_idle_connections)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Self { client })
    }

    /// Sends one request; resolves with the response headers (the body streams afterwards).
    pub(crate) async fn send(
        &self,
        req: http::Request<OutBody>,
    ) -> Result<http::Response<Incoming>, hyper_util::client::legacy::Error> {
        self.client.request(req).await
    }
}

/// Is this client error a timeout somewhere in its chain (the TCP connect timeout)?
pub(crate) fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The AWS SDK's `HttpClient` over the shared [`Transport`].
#[derive(Debug, Clone)]
pub(crate) struct SdkHttp(pub(crate) Arc<Transport>);

impl HttpClient for SdkHttp {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for SdkHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let transport = Arc::clone(&self.0);
        HttpConnectorFuture::new(async move {
            let req = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(Box::new(e)))?
                .map(|b| OutBody::Sdk(Box::pin(b)));
            match transport.send(req).await {
                Ok(resp) => HttpResponse::try_from(resp.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(Box::new(e), None)),
                Err(e) if is_timeout(&e) => Err(ConnectorError::timeout(Box::new(e))),
                Err(e) if e.is_connect() || e.source().is_some() => {
                    Err(ConnectorError::io(Box::new(e)))
                }
                Err(e) => Err(ConnectorError::other(Box::new(e), None)),
            }
        })
    }
}
