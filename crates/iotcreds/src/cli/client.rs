//! The SigV4-signing HTTP client of the administration commands: IoT (rest-json, signing name
//! `iot`), IAM (query protocol, `iam`) and STS (query protocol, `sts`), all on the service
//! endpoint.
//!
//! Requests are signed with `iotcreds-sigv4` over exactly the bytes and headers that are sent
//! (the `Host` header is set explicitly to the value that was signed). Answers are returned as
//! JSON values shaped like botocore's parsed output: IoT bodies as they come, IAM and STS XML
//! converted by [`super::xml`]. Error answers become [`ApiError`], carrying the AWS error code
//! and message from either protocol's error shape.

use std::fmt;

use anyhow::Context as _;
use iotcreds_sigv4::{RequestParts, Rules, SigningParams, payload_sha256};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::config::Settings;
use super::xml;

/// Everything but SigV4's unreserved characters `A-Za-z0-9-._~` is percent-encoded.
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode one path segment or query value the way AWS SDKs do.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, AWS_ENCODE).to_string()
}

/// Owned `(name, value)` pairs for [`Client::query`].
pub fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Add `(name, value)` to query parameters when `value` is `Some`.
pub fn push_opt(params: &mut Vec<(String, String)>, name: &str, value: Option<impl ToString>) {
    if let Some(v) = value {
        params.push((name.to_owned(), v.to_string()));
    }
}

/// An error answer of the service: the AWS error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The operation called (`CreateThing`, `GetRole`, …).
    pub operation: String,
    /// The HTTP status.
    pub status: u16,
    /// The AWS error code (`ResourceNotFoundException`, `NoSuchEntity`, …).
    pub code: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "An error occurred ({}) when calling the {} operation: {}",
            self.code, self.operation, self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// One IoT (rest-json) request.
#[derive(Debug, Clone)]
pub struct Rest {
    operation: &'static str,
    method: reqwest::Method,
    path: String,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Rest {
    /// A request for `operation`: `method` on `path`, whose variable segments the caller has
    /// passed through [`encode`].
    pub fn new(operation: &'static str, method: reqwest::Method, path: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `GET path`.
    pub fn get(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, reqwest::Method::GET, path)
    }

    /// `POST path`.
    pub fn post(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, reqwest::Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, reqwest::Method::PUT, path)
    }

    /// `PATCH path`.
    pub fn patch(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, reqwest::Method::PATCH, path)
    }

    /// `DELETE path`.
    pub fn delete(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, reqwest::Method::DELETE, path)
    }

    /// Add a query parameter (the value is encoded here).
    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// Add a query parameter when `value` is `Some`.
    pub fn query_opt(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Set the JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// One request as it goes on the wire, before signing.
struct Wire<'a> {
    /// For messages.
    operation: &'a str,
    /// The signing name: `iot`, `iam`, `sts`.
    service: &'a str,
    method: reqwest::Method,
    /// Percent-encoded, below the endpoint's base path.
    path: &'a str,
    /// Percent-encoded, without `?`.
    query: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Vec<u8>,
}

/// A signing client of one service endpoint.
pub struct Client {
    http: reqwest::Client,
    /// `scheme://authority`, no trailing slash.
    origin: String,
    /// The `Host` header: the authority as sent.
    host: String,
    /// A path prefix of the endpoint URL (empty or `/prefix`).
    base_path: String,
    settings: Settings,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.origin)
            .field("region", &self.settings.region)
            .finish_non_exhaustive()
    }
}

/// The parts of an endpoint URL the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://authority`.
    pub origin: String,
    /// Authority for the `Host` header.
    pub host: String,
    /// Path prefix without a trailing slash.
    pub base_path: String,
}

/// Split `--endpoint-url` into origin, `Host` and base path.
pub fn parse_endpoint(url: &str) -> anyhow::Result<Endpoint> {
    let bad = || {
        anyhow::anyhow!(
            "--endpoint-url {url:?} is not an http:// or https:// URL (for example http://127.0.0.1:9000)"
        )
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    if rest.contains(['?', '#']) {
        return Err(anyhow::anyhow!(
            "--endpoint-url {url:?} must not carry a query or fragment"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let host = authority
        .strip_suffix(default_port)
        .unwrap_or(authority)
        .to_owned();
    Ok(Endpoint {
        origin: format!("{scheme}://{authority}"),
        host,
        base_path: path.trim_end_matches('/').to_owned(),
    })
}

impl Client {
    /// A client for `settings` (endpoint, region, credentials).
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let endpoint = parse_endpoint(&settings.endpoint_url)?;
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("iotcreds-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(bundle) = &settings.ca_bundle {
            let pem = std::fs::read(bundle)
                .with_context(|| format!("reading --ca-bundle {}", bundle.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--ca-bundle {} is not PEM", bundle.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().context("building the HTTP client")?;
        Ok(Self {
            http,
            origin: endpoint.origin,
            host: endpoint.host,
            base_path: endpoint.base_path,
            settings,
        })
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.settings.region
    }

    /// Send an IoT request; the parsed JSON answer (`{}` for an empty body).
    pub async fn iot(&self, req: Rest) -> anyhow::Result<Value> {
        let body = match &req.body {
            Some(v) => serde_json::to_vec(v)?,
            None => Vec::new(),
        };
        let mut query: Vec<(&str, String)> =
            req.query.iter().map(|(k, v)| (*k, encode(v))).collect();
        query.sort();
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers: Vec<(&str, String)> = req.headers.clone();
        if req.body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        let (status, text) = self
            .send(Wire {
                operation: req.operation,
                service: "iot",
                method: req.method.clone(),
                path: &req.path,
                query: &query,
                headers,
                body,
            })
            .await?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Object(serde_json::Map::new()));
            }
            return serde_json::from_str(&text).with_context(|| {
                format!(
                    "the {} answer is not JSON: {}",
                    req.operation,
                    snippet(&text)
                )
            });
        }
        Err(error_from(req.operation, status, &text).into())
    }

    /// Send a paginated IoT list request until the last page: the items of every page under
    /// `list`, as one answer. `token_out` names the answer's next-page token (`nextToken`,
    /// `nextMarker`), `token_in` the query parameter that passes it back.
    pub async fn iot_all(
        &self,
        req: Rest,
        list: &str,
        token_out: &str,
        token_in: &'static str,
    ) -> anyhow::Result<Value> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = match &token {
                Some(t) => req.clone().query(token_in, t),
                None => req.clone(),
            };
            let v = self.iot(page).await?;
            if let Some(a) = v.get(list).and_then(Value::as_array) {
                items.extend(a.iter().cloned());
            }
            match v.get(token_out).and_then(Value::as_str) {
                Some(t) if !t.is_empty() && token.as_deref() != Some(t) => {
                    token = Some(t.to_owned())
                }
                _ => break,
            }
        }
        let mut out = serde_json::Map::new();
        out.insert(list.to_owned(), Value::Array(items));
        Ok(Value::Object(out))
    }

    /// A paginated IAM list call (`Marker` / `IsTruncated`) until the last page, the items of
    /// every page under `list`.
    pub async fn iam_all(
        &self,
        action: &'static str,
        params: &[(String, String)],
        list: &str,
    ) -> anyhow::Result<Value> {
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut p = params.to_vec();
            if let Some(m) = &marker {
                p.push(("Marker".into(), m.clone()));
            }
            let v = self.query("iam", action, &p).await?;
            if let Some(a) = v.get(list).and_then(Value::as_array) {
                items.extend(a.iter().cloned());
            }
            let truncated = v.get("IsTruncated").and_then(Value::as_bool) == Some(true);
            match v.get("Marker").and_then(Value::as_str) {
                Some(m) if truncated && marker.as_deref() != Some(m) => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        let mut out = serde_json::Map::new();
        out.insert(list.to_owned(), Value::Array(items));
        Ok(Value::Object(out))
    }

    /// Send a query-protocol request (`iam` or `sts`): `Action=<action>&Version=<version>` plus
    /// `params`. The answer's `<ActionResult>` as JSON (`{}` when there is none).
    pub async fn query(
        &self,
        service: &'static str,
        action: &'static str,
        params: &[(String, String)],
    ) -> anyhow::Result<Value> {
        let version = match service {
            "iam" => "2010-05-08",
            _ => "2011-06-15",
        };
        let mut body = format!("Action={action}&Version={version}");
        for (k, v) in params {
            body.push('&');
            body.push_str(&encode(k));
            body.push('=');
            body.push_str(&encode(v));
        }
        let headers = vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        let (status, text) = self
            .send(Wire {
                operation: action,
                service,
                method: reqwest::Method::POST,
                path: "/",
                query: "",
                headers,
                body: body.into_bytes(),
            })
            .await?;
        if (200..300).contains(&status) {
            return xml::parse_result(&text, action)
                .map_err(|e| anyhow::anyhow!("the {action} answer is not the expected XML: {e}"));
        }
        Err(error_from(action, status, &text).into())
    }

    /// Sign and send; `(status, body text)`.
    async fn send(&self, wire: Wire<'_>) -> anyhow::Result<(u16, String)> {
        let Wire {
            operation,
            service,
            method,
            path,
            query,
            mut headers,
            body,
        } = wire;
        let full_path = format!("{}{path}", self.base_path);
        headers.push(("host", self.host.clone()));
        let creds = &self.settings.credentials;
        let payload = payload_sha256(&body);
        let signed = {
            let header_refs: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            let parts = RequestParts {
                method: method.as_str(),
                path: &full_path,
                query,
                headers: &header_refs,
            };
            let params = SigningParams {
                access_key_id: &creds.access_key_id,
                secret_access_key: creds.secret_access_key.expose(),
                session_token: creds.session_token.as_ref().map(|t| t.expose()),
                region: &self.settings.region,
                service,
                time: time::OffsetDateTime::now_utc(),
                rules: Rules::GENERIC,
                payload_hash: payload.as_str(),
                content_sha256_header: false,
            };
            iotcreds_sigv4::sign(&parts, &params)
                .map_err(|e| anyhow::anyhow!("cannot sign the {operation} request: {e}"))?
        };
        let mut url = format!("{}{full_path}", self.origin);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let mut request = self.http.request(method, &url).body(body);
        for (name, value) in headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain(signed.headers.iter().map(|(n, v)| (*n, v.as_str())))
        {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| {
            let detail = error_chain(&e);
            let hint = if detail.contains("certificate") {
                "trust the server's CA with --ca-bundle FILE (IOTCREDS_CA_BUNDLE)"
            } else {
                "is `iotcreds serve` running there? Set --endpoint-url or IOTCREDS_ENDPOINT_URL"
            };
            anyhow::anyhow!(
                "cannot reach the service endpoint {} ({detail}); {hint}",
                self.origin
            )
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut text = response
            .text()
            .await
            .with_context(|| format!("reading the {operation} answer"))?;
        if let Some(code) = error_type.filter(|_| status >= 300) {
            // Carry the header into the body parser: it is where rest-json puts the code.
            text = merge_error_type(&text, &code);
        }
        Ok((status, text))
    }
}

/// `e` and its sources, `: `-separated (reqwest's top-level message alone is vague).
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

/// Put the `x-amzn-ErrorType` header's code (text before any `:`) into a JSON error body as
/// `__type`, so that [`error_from`] sees one document.
fn merge_error_type(text: &str, header: &str) -> String {
    let code = header.split(':').next().unwrap_or(header).trim();
    let mut body = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        _ => {
            let mut m = serde_json::Map::new();
            if !text.trim().is_empty() {
                m.insert("message".into(), Value::String(text.trim().to_owned()));
            }
            m
        }
    };
    body.insert("__type".into(), Value::String(code.to_owned()));
    Value::Object(body).to_string()
}

/// The first 200 characters of a body, for messages.
fn snippet(text: &str) -> String {
    let t: String = text.trim().chars().take(200).collect();
    if t.is_empty() { "(empty)".into() } else { t }
}

/// Build an [`ApiError`] from an error answer in any of the shapes the endpoint uses: a
/// rest-json body (`__type` / `code` + `message`), a query-protocol `<ErrorResponse>`, or an
/// S3-style `<Error>`.
pub fn error_from(operation: &str, status: u16, text: &str) -> ApiError {
    let mut code = None;
    let mut message = None;
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        code = s("__type")
            .or_else(|| s("code"))
            .or_else(|| s("Code"))
            .map(|c| c.rsplit('#').next().unwrap_or(&c).to_owned());
        message = s("message").or_else(|| s("Message"));
    } else if let Some((c, m)) = xml::parse_error(text) {
        code = c;
        message = m;
    }
    let fallback_code = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        500 => "InternalError",
        501 => "NotImplemented",
        503 => "ServiceUnavailable",
        _ => "Unknown",
    };
    ApiError {
        operation: operation.to_owned(),
        status,
        code: code.unwrap_or_else(|| fallback_code.to_owned()),
        message: message.unwrap_or_else(|| format!("HTTP {status}: {}", snippet(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        let e = parse_endpoint("http://127.0.0.1:9000").unwrap();
        assert_eq!(e.origin, "http://127.0.0.1:9000");
        assert_eq!(e.host, "127.0.0.1:9000");
        assert_eq!(e.base_path, "");
        let e = parse_endpoint("https://iot.example.com:443/base/").unwrap();
        assert_eq!(e.host, "iot.example.com");
        assert_eq!(e.base_path, "/base");
        for bad in [
            "127.0.0.1:9000",
            "ftp://x",
            "http://",
            "http://u@h",
            "http://h/?a",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding_is_sigv4s() {
        assert_eq!(encode("iot:CredentialProvider"), "iot%3ACredentialProvider");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a b/c+"), "a%20b%2Fc%2B");
    }

    #[test]
    fn errors_in_every_shape() {
        let e = error_from(
            "DescribeThing",
            404,
            &merge_error_type(
                r#"{"message":"Thing x does not exist"}"#,
                "ResourceNotFoundException:http://internal.amazon.com/",
            ),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Thing x does not exist");
        assert_eq!(
            e.to_string(),
            "An error occurred (ResourceNotFoundException) when calling the DescribeThing operation: Thing x does not exist"
        );
        let e = error_from(
            "GetRole",
            404,
            "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>The role with name x cannot be found.</Message></Error></ErrorResponse>",
        );
        assert_eq!(e.code, "NoSuchEntity");
        assert_eq!(e.message, "The role with name x cannot be found.");
        let e = error_from("X", 502, "bad gateway");
        assert_eq!(e.code, "Unknown");
        assert_eq!(e.message, "HTTP 502: bad gateway");
        let e = error_from("X", 400, r#"{"__type":"com.amazon#ValidationException"}"#);
        assert_eq!(e.code, "ValidationException");
    }
}
