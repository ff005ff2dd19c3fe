//! The admin endpoint: `GET /healthz` and `GET /metrics` (Prometheus text format).
//!
//! Health is 200 once every listener is serving and the registry answers, or while a registry
//! outage is still within its grace period (`"status": "degraded: …"`: requests are answered from
//! the cache, writes are refused); 503 while starting and once an outage outlasts the grace. The
//! metrics never carry a secret: labels are outcomes and operation names only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use iotcreds_registry::Registry;

/// How often histogram samples are folded into their summaries.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The process-wide metrics recorder (installed once, shared by every server in the process).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests, embedding); keep serving ours.
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples pile up in the recorder until upkeep folds them into the summaries;
        // without a scraper that would be unbounded growth, so upkeep runs on a timer too.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    // A periodic chore, not a wait for anything.
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the metrics upkeep thread; histograms are folded only on scrape");
        }
        handle
    })
}

/// The admin endpoint's handler.
pub struct AdminEndpoint {
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
}

impl AdminEndpoint {
    /// `ready` is set once every listener serves.
    pub fn new(registry: Arc<Registry>, ready: Arc<AtomicBool>) -> Self {
        metrics_handle();
        Self { registry, ready }
    }

    /// Answer one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>> {
        match (req.method().as_str(), req.uri().path()) {
            ("GET", "/healthz") => {
                let (status, text) = if !self.ready.load(Ordering::Acquire) {
                    (StatusCode::SERVICE_UNAVAILABLE, "starting")
                } else if let Err(e) = self.registry.store().ping().await {
                    tracing::warn!(error = %e, "health check: registry unavailable");
                    if self.registry.cache_in_use() {
                        // Within the outage grace: requests are answered from the cache, so a
                        // load balancer keeps sending them (writes are refused meanwhile).
                        (
                            StatusCode::OK,
                            "degraded: registry unavailable, serving from cache",
                        )
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "registry unavailable")
                    }
                } else {
                    (StatusCode::OK, "ok")
                };
                let body =
                    serde_json::json!({ "status": text, "engine": self.registry.store().engine() });
                respond(
                    status,
                    "application/json",
                    serde_json::to_vec(&body).unwrap_or_default(),
                )
            }
            ("GET", "/metrics") => {
                let handle = metrics_handle();
                handle.run_upkeep();
                respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    handle.render().into_bytes(),
                )
            }
            (_, "/healthz" | "/metrics") => respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                b"method not allowed\n".to_vec(),
            ),
            _ => respond(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
