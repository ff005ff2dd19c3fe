//! The agent's Prometheus metrics (`GET /metrics` on its listener). Labels are role alias names
//! (from the configuration), protocols and outcomes: never a credential, token or key.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (tests); keep serving ours.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// A refresh ended (`outcome`: `success`, `refused`, `unavailable`).
pub fn refresh(alias: &str, outcome: &'static str) {
    metrics::counter!("iotcreds_agent_refreshes_total", "role_alias" => alias.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// The held credentials of `alias` expire at `epoch_secs`.
pub fn expiry(alias: &str, epoch_secs: f64) {
    metrics::gauge!("iotcreds_agent_credentials_expiry_timestamp_seconds", "role_alias" => alias.to_owned())
        .set(epoch_secs);
}

/// A local request was answered.
pub fn served(protocol: &'static str, outcome: &'static str) {
    metrics::counter!("iotcreds_agent_requests_total", "protocol" => protocol, "outcome" => outcome)
        .increment(1);
}

/// Live IMDS session tokens.
pub fn imds_tokens(n: usize) {
    metrics::gauge!("iotcreds_agent_imds_tokens").set(n as f64);
}

/// An identity reload (`outcome`: `changed`, `error`).
pub fn identity_reload(outcome: &'static str) {
    metrics::counter!("iotcreds_agent_identity_reloads_total", "outcome" => outcome).increment(1);
}

/// The certificate in use expires at `epoch_secs`.
pub fn certificate_not_after(epoch_secs: f64) {
    metrics::gauge!("iotcreds_agent_certificate_not_after_timestamp_seconds").set(epoch_secs);
}

/// A local connection was refused because the limit was reached.
pub fn connection_refused() {
    metrics::counter!("iotcreds_agent_connections_refused_total").increment(1);
}
