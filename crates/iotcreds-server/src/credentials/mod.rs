//! The credentials endpoint: `GET /role-aliases/{alias}/credentials` over mutual TLS, exactly
//! as AWS IoT Core's credentials provider answers it.
//!
//! [`issue`] makes the decision; this module is the HTTP edge: routing, statuses, the
//! `{"message": …}` bodies and headers, the audit line and the metrics.

pub mod issue;
pub mod ocsp;
pub mod proxy;
pub mod throttle;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;

use crate::net::ConnInfo;
use iotcreds_registry::Registry;
use iotcreds_registry::activity::ActivityLog;
use iotcreds_store::CredentialEvent;
use issue::{CredentialsRequest, Refusal};

/// The thing-name header.
pub const THING_NAME_HEADER: &str = "x-amzn-iot-thingname";

/// `x-amzn-RequestId` (header names are case-insensitive; HTTP/1 writes them lowercase).
const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");
/// `x-amzn-ErrorType`.
const ERROR_TYPE: http::HeaderName = http::HeaderName::from_static("x-amzn-errortype");

/// The credentials endpoint's request handler.
pub struct CredentialsEndpoint {
    registry: Arc<Registry>,
    credentials_host: String,
    throttle: throttle::Throttle,
    ocsp: ocsp::OcspChecker,
    metrics: Metrics,
    /// Where each decision is also recorded for the console's Activity page.
    activity: Option<Arc<ActivityLog>>,
}

/// Metric handles, registered once (a look-up per request would cost more than the count).
struct Metrics {
    issued: metrics::Counter,
    refused: Vec<(&'static str, metrics::Counter)>,
    seconds: metrics::Histogram,
}

const OUTCOMES: [&str; 8] = [
    "bad_certificate",
    "throttled",
    "invalid_thing",
    "access_denied",
    "alias_not_found",
    "role_error",
    "unavailable",
    "internal_error",
];

impl Metrics {
    fn new() -> Self {
        Self {
            issued: metrics::counter!("iotcreds_credentials_requests_total", "outcome" => "issued"),
            refused: OUTCOMES
                .iter()
                .map(|o| {
                    (
                        *o,
                        metrics::counter!("iotcreds_credentials_requests_total", "outcome" => *o),
                    )
                })
                .collect(),
            seconds: metrics::histogram!("iotcreds_credentials_request_seconds"),
        }
    }

    fn refused(&self, outcome: &str) {
        if let Some((_, c)) = self.refused.iter().find(|(o, _)| *o == outcome) {
            c.increment(1);
        }
    }
}

/// A request id: a random (version 4) UUID from the user-space DRBG, without a system call.
fn request_id() -> String {
    let mut b = [0u8; 16];
    // The system RNG failing is unrecoverable for a credentials service.
    iotcreds_token::public_random::fill_public(&mut b).expect("random number generator failed");
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

impl CredentialsEndpoint {
    /// A handler issuing from `registry`; `credentials_host` is the name in the server
    /// certificate (required as SNI for certificates registered without a CA).
    pub fn new(registry: Arc<Registry>, credentials_host: String) -> Self {
        crate::admin::metrics_handle();
        Self {
            registry,
            credentials_host,
            throttle: throttle::Throttle::off(),
            ocsp: ocsp::OcspChecker::new(),
            metrics: Metrics::new(),
            activity: None,
        }
    }

    /// Limit issuance rates (default: no limits).
    pub fn with_throttle(mut self, throttle: throttle::Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// Also record every decision in `activity` (the console's Activity page).
    pub fn with_activity(mut self, activity: Arc<ActivityLog>) -> Self {
        self.activity = activity.is_enabled().then_some(activity);
        self
    }

    /// Answer one request.
    pub async fn handle<B>(&self, conn: &ConnInfo, req: Request<B>) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = request_id();
        let Some(alias) = role_alias_of(req.uri().path()) else {
            return error(
                &request_id,
                StatusCode::NOT_FOUND,
                "NotFoundException",
                "Not Found",
            );
        };
        if req.method() != Method::GET {
            let mut resp = error(
                &request_id,
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowedException",
                "Method Not Allowed",
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            return resp;
        }
        let thing_name = match req.headers().get(THING_NAME_HEADER) {
            None => None,
            Some(v) => match v.to_str() {
                Ok(s) => Some(s),
                // Not ASCII text: it cannot name a thing.
                Err(_) => Some("\u{fffd}"),
            },
        };
        let tls = conn.tls.as_ref();
        let request = CredentialsRequest {
            certificate_id: tls.and_then(|t| t.peer_certificate_id.as_deref()),
            sni: tls.and_then(|t| t.sni.as_deref()),
            role_alias: &alias,
            thing_name,
            source_ip: conn.remote.ip(),
            now_ms: now_ms(),
        };
        let result = issue::issue(
            &self.registry,
            &self.throttle,
            &self.ocsp,
            &self.credentials_host,
            &request,
        )
        .await;
        let elapsed = started.elapsed().as_secs_f64();
        match result {
            Ok(issued) => {
                tracing::info!(
                    target: "iotcreds::audit",
                    event = "credentials",
                    decision = "allow",
                    request_id = request_id.as_str(),
                    certificate_id = issued.claims.session_name.as_str(),
                    thing = issued.claims.thing_name.as_deref().unwrap_or(""),
                    role_alias = alias.as_str(),
                    role = issued.claims.role_name.as_str(),
                    access_key_id = issued.access_key_id.as_str(),
                    expiration = issued.expiration.as_str(),
                    dropped_session_tags = issued.dropped_tags,
                    source_ip = %conn.remote.ip(),
                );
                if let Some(log) = &self.activity {
                    log.record(CredentialEvent {
                        at: request.now_ms,
                        request_id: request_id.clone(),
                        issued: true,
                        status: 200,
                        certificate_id: issued.claims.session_name.clone(),
                        thing: issued.claims.thing_name.clone().unwrap_or_default(),
                        role_alias: alias.clone(),
                        role: issued.claims.role_name.clone(),
                        access_key_id: issued.access_key_id.clone(),
                        expiration: issued.expiration.clone(),
                        source_ip: conn.remote.ip().to_string(),
                        ..CredentialEvent::default()
                    });
                }
                self.metrics.issued.increment(1);
                self.metrics.seconds.record(elapsed);
                let mut resp = Response::new(Full::new(Bytes::from(issue::success_body(&issued))));
                common_headers(&mut resp, &request_id);
                resp
            }
            Err(refusal) => {
                let (status, error_type, message) = refusal_response(&refusal);
                tracing::info!(
                    target: "iotcreds::audit",
                    event = "credentials",
                    decision = "deny",
                    request_id = request_id.as_str(),
                    certificate_id = refusal.certificate_id().unwrap_or(""),
                    thing = thing_name.unwrap_or(""),
                    role_alias = alias.as_str(),
                    status = status.as_u16(),
                    reason = %refusal.reason(),
                    source_ip = %conn.remote.ip(),
                );
                if let Some(log) = &self.activity {
                    log.record(CredentialEvent {
                        at: request.now_ms,
                        request_id: request_id.clone(),
                        issued: false,
                        status: i64::from(status.as_u16()),
                        certificate_id: refusal.certificate_id().unwrap_or("").to_owned(),
                        thing: thing_name.unwrap_or("").to_owned(),
                        role_alias: alias.clone(),
                        reason: refusal.reason(),
                        statement: deciding_statements(&refusal),
                        source_ip: conn.remote.ip().to_string(),
                        ..CredentialEvent::default()
                    });
                }
                self.metrics.refused(outcome_label(&refusal));
                self.metrics.seconds.record(elapsed);
                let mut resp = error(&request_id, status, error_type, message);
                if let Refusal::Throttled { throttled, .. } = &refusal {
                    // Whole seconds, rounded up (RFC 9110 10.2.3).
                    let secs = throttled.retry_after.as_secs()
                        + u64::from(throttled.retry_after.subsec_nanos() > 0);
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                }
                resp
            }
        }
    }
}

impl CredentialsEndpoint {
    /// Answer one request that a trusted TLS-terminating proxy forwarded (trusted-proxy mode,
    /// [`proxy`]): refused unless the connection comes from a trusted proxy; then the client
    /// certificate, server name and address come from the proxy's headers, and the request is
    /// decided exactly as on the mutual-TLS listener.
    pub async fn handle_proxied<B>(
        &self,
        conn: &ConnInfo,
        settings: &proxy::ProxySettings,
        req: Request<B>,
    ) -> Response<Full<Bytes>> {
        let header = |name: &http::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let refuse = |reason: &str| {
            let request_id = request_id();
            tracing::info!(
                target: "iotcreds::audit",
                event = "credentials",
                decision = "deny",
                request_id = request_id.as_str(),
                status = 403,
                reason,
                source_ip = %conn.remote.ip(),
            );
            self.metrics.refused("bad_certificate");
            let mut resp = error(
                &request_id,
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                "Forbidden",
            );
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        };
        if !settings.trusts(conn.remote.ip()) {
            return refuse(
                "connection to the proxy listener from an address that is not a trusted proxy",
            );
        }
        let certificate = match header(&settings.client_cert_header).map(proxy::client_certificate)
        {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(der))) => Some(der),
            Some(Err(why)) => return refuse(why),
        };
        let remote_ip = settings
            .client_addr_header
            .as_ref()
            .and_then(header)
            .and_then(proxy::client_addr)
            .unwrap_or(conn.remote.ip());
        let info = ConnInfo {
            remote: std::net::SocketAddr::new(remote_ip, conn.remote.port()),
            tls: Some(crate::net::TlsInfo {
                peer_certificate_id: certificate.as_deref().map(iotcreds_pki::certificate_id),
                peer_certificates: certificate
                    .map(|d| vec![rustls::pki_types::CertificateDer::from(d)])
                    .unwrap_or_default(),
                sni: settings
                    .server_name_header
                    .as_ref()
                    .and_then(header)
                    .map(str::to_owned),
            }),
            sendfile: false,
        };
        self.handle(&info, req).await
    }
}

/// The alias of `/role-aliases/{alias}/credentials`, percent-decoded; `None` for other paths.
fn role_alias_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/role-aliases/")?;
    let alias = rest.strip_suffix("/credentials")?;
    if alias.is_empty() || alias.contains('/') {
        return None;
    }
    Some(iotcreds_types::percent::decode_lossy(
        alias.as_bytes(),
        iotcreds_types::percent::Plus::Literal,
    ))
}

/// Status, `x-amzn-ErrorType` and message of a refusal (spec §4.1; unconfirmed rows follow
/// the spec's recommendations).
fn refusal_response(r: &Refusal) -> (StatusCode, &'static str, &'static str) {
    const DENIED: &str = "AccessDeniedException";
    match r {
        Refusal::NoClientCertificate => {
            (StatusCode::FORBIDDEN, DENIED, "Missing client certificate")
        }
        Refusal::UnknownCertificate { .. } | Refusal::SniRequired { .. } => (
            StatusCode::FORBIDDEN,
            DENIED,
            "Certificate is invalid on this endpoint",
        ),
        Refusal::CertificateNotActive { .. }
        | Refusal::CertificateOutsideValidity { .. }
        | Refusal::CaNotActive { .. }
        | Refusal::RevokedByCrl { .. }
        | Refusal::CrlOutOfDate { .. }
        | Refusal::RevokedByOcsp { .. }
        | Refusal::OcspUnknown { .. }
        | Refusal::AccessDenied { .. } => (StatusCode::FORBIDDEN, DENIED, "Access Denied"),
        Refusal::InvalidThingName { .. } => {
            (StatusCode::FORBIDDEN, DENIED, "Invalid thing name passed")
        }
        Refusal::AliasNotFound { .. } => (
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Role alias does not exist",
        ),
        Refusal::RoleNotAssumable { .. } => (
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "Unable to assume the role, or the role to assume does not exist",
        ),
        Refusal::DurationExceedsMax { .. } => (
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "The requested CredentialDurationSeconds exceeds the MaxSessionDuration set for the role",
        ),
        // No AWS counterpart (the mapping is an iotcreds extension); shaped as the other
        // refusals caused by the alias's configuration.
        Refusal::SessionTags { .. } => (
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "The session tags of the role alias cannot be issued for this device",
        ),
        // AWS's throttling shape: 429 with ThrottlingException (spec §4.1 row 7; the text is
        // AWS's usual "Rate exceeded").
        Refusal::Throttled { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
        ),
        Refusal::Unavailable(_) | Refusal::OcspUnavailable { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            "Service Unavailable",
        ),
        Refusal::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailureException",
            "Internal Failure",
        ),
    }
}

/// The statements behind a policy refusal, as the Activity page shows them: the explicit
/// `Deny`s, or else the `Allow`s that applied but were not enough; empty for other refusals.
fn deciding_statements(r: &Refusal) -> String {
    let Refusal::AccessDenied { decision, .. } = r else {
        return String::new();
    };
    let list = if decision.matched.is_empty() {
        &decision.partial_allows
    } else {
        &decision.matched
    };
    let mut out = String::new();
    for (i, m) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!(
            "{} statement {} ({})",
            m.policy_id,
            m.index,
            m.effect.as_str()
        ));
        if let Some(sid) = &m.sid {
            out.push_str(&format!(" Sid {sid}"));
        }
    }
    out
}

fn outcome_label(r: &Refusal) -> &'static str {
    match r {
        Refusal::NoClientCertificate
        | Refusal::UnknownCertificate { .. }
        | Refusal::SniRequired { .. }
        | Refusal::CertificateNotActive { .. }
        | Refusal::CertificateOutsideValidity { .. }
        | Refusal::CaNotActive { .. }
        | Refusal::RevokedByCrl { .. }
        | Refusal::CrlOutOfDate { .. }
        | Refusal::RevokedByOcsp { .. }
        | Refusal::OcspUnknown { .. } => "bad_certificate",
        Refusal::InvalidThingName { .. } => "invalid_thing",
        Refusal::AccessDenied { .. } => "access_denied",
        Refusal::AliasNotFound { .. } => "alias_not_found",
        Refusal::RoleNotAssumable { .. }
        | Refusal::DurationExceedsMax { .. }
        | Refusal::SessionTags { .. } => "role_error",
        Refusal::Throttled { .. } => "throttled",
        Refusal::Unavailable(_) | Refusal::OcspUnavailable { .. } => "unavailable",
        Refusal::Internal(_) => "internal_error",
    }
}

fn common_headers(resp: &mut Response<Full<Bytes>>, request_id: &str) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID, v);
    }
    // `Date`: hyper adds it to every HTTP/1 response (formatted once per second).
}

/// A `{"message": …}` error with `x-amzn-ErrorType`.
fn error(
    request_id: &str,
    status: StatusCode,
    error_type: &'static str,
    message: &str,
) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    common_headers(&mut resp, request_id);
    resp.headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    resp
}

/// Now, ms since the epoch.
pub fn now_ms() -> i64 {
    iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            role_alias_of("/role-aliases/ADCTestRoleAlias/credentials").as_deref(),
            Some("ADCTestRoleAlias")
        );
        assert_eq!(
            role_alias_of("/role-aliases/a%40b/credentials").as_deref(),
            Some("a@b")
        );
        assert_eq!(role_alias_of("/role-aliases//credentials"), None);
        assert_eq!(role_alias_of("/role-aliases/a/b/credentials"), None);
        assert_eq!(role_alias_of("/role-aliases/a/credentials/"), None);
        assert_eq!(role_alias_of("/"), None);
    }
}
