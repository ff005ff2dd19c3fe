//! The AWS-compatible control plane: IoT (rest-json), IAM and STS (query protocol).
//!
//! This crate is an HTTP edge: it owns the status codes and wire shapes of these three APIs. It
//! reads and writes the registry through [`Registry`] (writes wrapped in [`Registry::mutate`] so
//! the cache drops), and authorises every action with [`Caller::authorize`].
//!
//! Every call arrives authenticated (a [`Caller`] holding the [`Principal`]) and is authorised
//! per action against the caller's policies before it reads or changes the registry, on the
//! canonical ARN of the resource it acts on: [`Caller::authorize`] takes a [`Resource`], which
//! only the look-ups of [`resource`] make (see there for the rule). Errors
//! are [`ApiError`]s, rendered in the protocol's shape by [`render_json_error`] (IoT) and
//! [`render_query_error`] (IAM, STS).

pub mod iam;
pub mod iot;
pub mod query;
pub mod resource;
pub mod sts;
mod tag_keys;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use iotcreds_policy::{Context, Decision, Effect};

use iotcreds_registry::Registry;
use iotcreds_registry::authz::{self, Principal};

pub use resource::Resource;

/// What every control-plane handler can reach.
pub struct ControlContext {
    /// The registry service.
    pub registry: Arc<Registry>,
    /// The region.
    pub region: String,
    /// `DescribeEndpoint(iot:CredentialProvider)`: the credentials host, with its port unless 443.
    pub credentials_endpoint: String,
    /// `DescribeEndpoint(iot:Data-ATS|iot:Data)`: a data-plane host name.
    pub data_endpoint: String,
}

/// Who is calling, from where, and when.
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// The client's IP address.
    pub source_ip: IpAddr,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// This request's id (`x-amzn-RequestId`, `<RequestId>`).
    pub request_id: String,
    /// Now, ms since the epoch.
    pub now_ms: i64,
}

impl Caller {
    /// The request context for policy evaluation: global keys and the principal's keys.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        authz::insert_global_keys(&mut ctx, self.now_ms, Some(self.source_ip), self.secure);
        self.principal.insert_keys(&mut ctx);
        ctx
    }

    /// Authorise `action` on `resource`, or explain the denial as AWS does. `extra` adds
    /// action-specific condition keys (for example `iam:PassedToService`). Every refusal writes
    /// an audit line naming the resource.
    pub fn authorize_with(
        &self,
        action: &str,
        resource: &Resource,
        extra: impl FnOnce(&mut Context),
    ) -> Result<(), ApiError> {
        let resource = resource.arn();
        let mut ctx = self.context();
        extra(&mut ctx);
        let decision = self.principal.authorize(action, resource, &ctx);
        if decision.is_allowed() {
            tracing::debug!(target: "iotcreds::audit", event = "authorize", decision = "allow", principal = %self.principal.arn(), action, resource);
            return Ok(());
        }
        tracing::info!(
            target: "iotcreds::audit",
            event = "authorize",
            decision = decision.effect.as_str(),
            request_id = %self.request_id,
            principal = %self.principal.arn(),
            access_key_id = %self.principal.access_key_id(),
            action,
            resource,
            reason = %authz::explain(&decision),
        );
        Err(ApiError::access_denied(
            &self.principal.arn(),
            action,
            resource,
            &decision,
        ))
    }

    /// Authorise `action` on `resource` with the standard context.
    pub fn authorize(&self, action: &str, resource: &Resource) -> Result<(), ApiError> {
        self.authorize_with(action, resource, |_| {})
    }

    /// Write the audit line of a refusal that carries our explanation ([`ApiError::detail`]):
    /// the client got AWS's wording, the operator gets what exactly was wrong.
    pub fn audit_refusal(&self, err: &ApiError) {
        if let Some(detail) = &err.detail {
            tracing::info!(
                target: "iotcreds::audit",
                event = "refused",
                request_id = %self.request_id,
                principal = %self.principal.arn(),
                code = err.code,
                message = %err.message,
                detail = %detail,
            );
        }
    }
}

/// An error answer of the control plane, in protocol-neutral form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The AWS error code (`ResourceNotFoundException`, `NoSuchEntity`, ...).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// IoT `ResourceAlreadyExistsException`: the existing resource's id and ARN.
    pub resource: Option<(String, String)>,
    /// Our explanation when the message is AWS's short wording (for example what exactly is
    /// wrong with a refused policy document): written to the audit line, never sent.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            resource: None,
            detail: None,
        }
    }

    /// Add our explanation for the audit line (see [`ApiError::detail`]).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The denial AWS sends when policies do not allow an action. The code is `AccessDenied`;
    /// the IoT edge renders it as `AccessDeniedException`.
    pub fn access_denied(
        principal_arn: &str,
        action: &str,
        resource: &str,
        decision: &Decision,
    ) -> Self {
        let why = match decision.effect {
            Effect::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
            _ => format!("because no identity-based policy allows the {action} action"),
        };
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
            ),
        )
    }

    /// 500 with the protocol's internal-failure code (`InternalFailureException` for IoT,
    /// `ServiceFailure` for IAM); the detail is logged, not sent.
    pub fn internal(code: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "An internal error occurred.",
        )
    }
}

/// Render an IoT (rest-json) error: `x-amzn-ErrorType` and `{"message": …}`.
pub fn render_json_error(err: &ApiError, request_id: &str) -> Response<Bytes> {
    let code = if err.code == "AccessDenied" {
        "AccessDeniedException"
    } else {
        err.code
    };
    let mut body = serde_json::json!({ "message": err.message });
    if let Some((id, arn)) = &err.resource {
        body["resourceId"] = serde_json::Value::String(id.clone());
        body["resourceArn"] = serde_json::Value::String(arn.clone());
    }
    let mut resp = Response::new(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = err.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

/// Render a query-protocol (IAM, STS) error:
/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn render_query_error(err: &ApiError, request_id: &str, xmlns: &str) -> Response<Bytes> {
    let kind = if err.status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(err.code),
        xml_escape(&err.message),
        xml_escape(request_id)
    );
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = err.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

/// Escape text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (control characters other than tab, line feed and carriage return; U+FFFE, U+FFFF) become
/// U+FFFD, so an echoed input can never make an answer unparseable.
pub fn xml_escape(s: &str) -> std::borrow::Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
    }
    if s.chars().all(allowed) {
        return quick_xml::escape::escape(s);
    }
    let cleaned: String = s
        .chars()
        .map(|c| if allowed(c) { c } else { '\u{fffd}' })
        .collect();
    std::borrow::Cow::Owned(quick_xml::escape::escape(&cleaned).into_owned())
}
