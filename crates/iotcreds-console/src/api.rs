//! The console as a client of the control plane, in process: each call is built as the wire
//! request an SDK would send (rest-json for IoT, a query-protocol form for IAM) and answered by
//! the very handlers of the service endpoint (`iotcreds_control::iot::handle`,
//! `iotcreds_control::iam::handle`) with a [`Caller`] for the signed-in principal. So every
//! console action is validated, authorised and audited exactly as the same API call, and its
//! errors are the API's errors (AWS's `AccessDenied` message included). Only the SigV4 step is
//! replaced: the console session authenticated the principal.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use iotcreds_control::{Caller, ControlContext};
use serde_json::Value;

use crate::url::enc;
use crate::xml::Node;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: StatusCode,
    /// The AWS error code (`AccessDeniedException`, `NoSuchEntity`, …).
    pub code: String,
    /// The message.
    pub message: String,
}

impl Failure {
    /// A failure the console itself found (for example a form field it cannot parse).
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `Code: message`, as the console shows it.
    pub fn display(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }

    /// Whether this is a not-found answer.
    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
    }
}

/// Calls on behalf of one signed-in principal.
pub struct Api<'a> {
    /// The control plane's context (registry, region, endpoints).
    pub ctx: &'a ControlContext,
    /// The principal, its address and this request's id.
    pub caller: &'a Caller,
}

impl Api<'_> {
    /// An IoT call: `method` on `path` (already encoded) with `query` pairs and an optional
    /// JSON body and extra headers. Returns the JSON answer (`null` for an empty one).
    pub async fn iot_full(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut uri = path.to_owned();
        for (i, (k, v)) in query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(k);
            uri.push('=');
            uri.push_str(&enc(v));
        }
        let mut builder = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let bytes = match body {
            Some(v) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v).unwrap_or_default())
            }
            None => Bytes::new(),
        };
        let (parts, ()) = builder
            .body(())
            .map_err(|e| Failure::local("InvalidRequestException", e.to_string()))?
            .into_parts();
        let resp = iotcreds_control::iot::handle(self.ctx, self.caller, &parts, bytes).await;
        let status = resp.status();
        let code = resp
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(':').next().unwrap_or(s).to_owned());
        let body = resp.into_body();
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        if status.is_success() {
            return Ok(json);
        }
        Err(Failure {
            status,
            code: code.unwrap_or_else(|| "UnknownError".into()),
            message: json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
    }

    /// An IoT call without extra headers.
    pub async fn iot(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        self.iot_full(method, path, query, &[], body).await
    }

    /// An IAM call: `Action` with `params`. Returns the answer's root element.
    pub async fn iam(&self, action: &str, params: &[(&str, &str)]) -> Result<Node, Failure> {
        let mut form = format!(
            "Action={}&Version={}",
            enc(action),
            iotcreds_control::iam::VERSION
        );
        for (k, v) in params {
            form.push('&');
            form.push_str(&enc(k));
            form.push('=');
            form.push_str(&enc(v));
        }
        let (parts, ()) = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(())
            .map_err(|e| Failure::local("InvalidInput", e.to_string()))?
            .into_parts();
        let resp =
            iotcreds_control::iam::handle(self.ctx, self.caller, &parts, Bytes::from(form)).await;
        let status = resp.status();
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        let node = Node::parse(&text).map_err(|e| Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServiceFailure".into(),
            message: e,
        })?;
        if status.is_success() {
            return Ok(node);
        }
        Err(Failure {
            status,
            code: node.text_of("Code").to_owned(),
            message: node.text_of("Message").to_owned(),
        })
    }

    /// Every page of an IAM list (`Marker`/`IsTruncated`), up to `max` items: the members of
    /// `list`.
    pub async fn iam_all(
        &self,
        action: &str,
        params: &[(&str, &str)],
        list: &str,
        max: usize,
    ) -> Result<Vec<Node>, Failure> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            if let Some(m) = &marker {
                p.push(("Marker", m));
            }
            let n = self.iam(action, &p).await?;
            out.extend(n.members(list).into_iter().cloned());
            let truncated = n.text_of("IsTruncated") == "true";
            let next = n.text_of("Marker").to_owned();
            if !truncated || next.is_empty() || out.len() >= max {
                break;
            }
            marker = Some(next);
        }
        out.truncate(max);
        Ok(out)
    }

    /// Every page of an IoT list (`nextMarker`), up to `max` items of the array `key`.
    pub async fn iot_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        key: &str,
        max: usize,
    ) -> Result<Vec<Value>, Failure> {
        let mut out = Vec::new();
        let mut next: Option<(&str, String)> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some((k, v)) = &next {
                q.push((k, v));
            }
            let v = self.iot(Method::GET, path, &q, None).await?;
            if let Some(items) = v.get(key).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            next = match (s(&v, "nextMarker"), s(&v, "nextToken")) {
                (m, _) if !m.is_empty() => Some(("marker", m.to_owned())),
                (_, t) if !t.is_empty() => Some(("nextToken", t.to_owned())),
                _ => None,
            };
            if next.is_none() || out.len() >= max {
                break;
            }
        }
        out.truncate(max);
        Ok(out)
    }
}

/// A string field of a JSON answer, or `""`.
pub fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A time field of an IoT answer (epoch seconds, fractional) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time_of(v: &Value, key: &str) -> String {
    match v.get(key).and_then(Value::as_f64) {
        Some(secs) => crate::pages::fmt_ms((secs * 1000.0) as i64),
        None => String::new(),
    }
}
