//! The plain GetObject fast path: a whole-object GET, header-signed, with no query string and
//! none of the optional request headers, served without s3s's generic request machinery
//! (routing, input DTO, ordered-header copies, a second SigV4 parse in the access hook).
//! That request is what devices and the benchmarks send most; the rest of S3 goes through
//! s3s unchanged. Both backends have it ([`FastBackend`]).
//!
//! The fast path runs the same checks as the s3s path, in the same order, with the same
//! code: SigV4 verification (our SigV4 crate, S3 mode: region, clock, every `x-amz-*` header
//! signed, the session token signed), the session token (bound, unexpired), principal
//! resolution, policy evaluation with the same condition keys, then the same backend call. If
//! any check does not succeed, or the request has anything the fast path does not model (a
//! `Range`, conditionals, a virtual-hosted bucket…), it returns `None` and the request takes
//! the s3s path from the start, which gives the AWS-shaped error and the audit line. So the
//! fast path cannot change an answer; it can only produce the same answer with less work. On
//! the embedded store it answers only a success it models (an object with user metadata, say,
//! goes down the s3s path too).
//!
//! On the upstream backend the object is asked for once: once the backend has been called,
//! its answer is given here whatever it is, rendered as s3s renders it (the output's fields,
//! then the upstream headers the backend passed on; an error as s3s serialises it), because
//! falling back would send the same request upstream a second time. So there the fast path
//! answers errors too (`NoSuchKey`, `ServiceUnavailable`…), with the s3s path's bytes. The
//! interop test `test_fast_get_matches_the_s3s_path` compares the two answers header by header
//! on both backends.

use std::sync::Arc;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use iotcreds_objects::fs::FsBackend;
use iotcreds_objects_upstream::UpstreamBackend;
use iotcreds_registry::Registry;
use iotcreds_registry::auth::{resolve_principal, secret_of};
use iotcreds_sigv4::{AuthKind, Mode, ParsedAuth, RequestParts, VerifyOptions};
use iotcreds_types::percent::{self, Plus};
use s3s::dto::{ChecksumMode, GetObjectInput, GetObjectOutput, Timestamp};
use s3s::{S3, S3Error, S3Request, S3Response};

use super::{actions, policy_context};
use crate::net::ConnInfo;

/// SHA-256 of the empty payload.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Request headers that do not change a GetObject's answer. Any other header sends the
/// request down the s3s path.
const NEUTRAL_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "user-agent",
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "x-amz-user-agent",
    // Only `ENABLED` (what the AWS SDKs send by default since 2025): asks for the stored
    // checksum headers, which the fast path renders like s3s.
    "x-amz-checksum-mode",
];

/// The backend a fast GET reads from.
pub enum FastBackend {
    /// The embedded store: an answer the fast path does not model (an error, user metadata…)
    /// sends the request down the s3s path, which reads the local file again.
    Embedded(FsBackend),
    /// An upstream cluster: every answer of the backend is rendered here, so the upstream is
    /// asked once (see the module docs).
    Upstream(UpstreamBackend),
}

/// The fast path's state: the registry (keys, tokens, roles), the backend, the endpoint's
/// region.
pub struct FastGet {
    registry: Arc<Registry>,
    backend: FastBackend,
    region: String,
    /// `iotcreds_s3_fast_get_total`: GETs answered here.
    served: metrics::Counter,
}

impl FastGet {
    /// A fast path for `backend`. Only for path-style addressing: build it only when no
    /// virtual-host domain is configured.
    pub fn new(registry: Arc<Registry>, backend: FastBackend, region: &str) -> Self {
        crate::admin::metrics_handle();
        Self {
            registry,
            backend,
            region: region.to_owned(),
            served: metrics::counter!("iotcreds_s3_fast_get_total"),
        }
    }

    /// Serve `parts` if it is a plain GetObject that succeeds; `None` sends it down the s3s
    /// path (see the module docs).
    pub async fn try_serve(
        &self,
        conn: &ConnInfo,
        parts: &http::request::Parts,
    ) -> Option<Response<s3s::Body>> {
        if parts.method != Method::GET
            || parts.uri.query().is_some()
            || parts.version > http::Version::HTTP_11
        {
            return None;
        }
        let mut checksum_mode = false;
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let n = name.as_str();
            if !NEUTRAL_HEADERS.contains(&n) {
                return None;
            }
            let v = value.as_bytes();
            match n {
                "content-length" if v != b"0" => return None,
                "x-amz-checksum-mode" if v != b"ENABLED" => return None,
                "x-amz-checksum-mode" => checksum_mode = true,
                "x-amz-content-sha256"
                    if v != b"UNSIGNED-PAYLOAD" && v != EMPTY_SHA256.as_bytes() =>
                {
                    return None;
                }
                _ => {}
            }
            headers.push((n, v));
        }
        let req = RequestParts {
            method: "GET",
            path: parts.uri.path(),
            query: "",
            headers: &headers,
        };
        let auth = ParsedAuth::parse(&req).ok()?;
        if auth.kind() != AuthKind::Header {
            return None;
        }
        let access_key = auth.access_key_id();
        if access_key.starts_with(iotcreds_types::ids::TEMPORARY_KEY_PREFIX)
            && auth.session_token().is_none()
        {
            return None;
        }
        let now = time::OffsetDateTime::now_utc();
        let opts = VerifyOptions {
            region: Some(&self.region),
            service: Some("s3"),
            ..VerifyOptions::default()
        };
        if self.registry.keyring().revoked_key_of(access_key).is_some() {
            // Refused, and audited once, on the s3s path.
            return None;
        }
        let secret = secret_of(&self.registry, access_key).await.ok()?;
        auth.verify_cached(
            &req,
            secret.expose(),
            self.registry.signing_keys(),
            Mode::S3,
            &opts,
            now,
        )
        .ok()?;
        let now_ms = crate::credentials::now_ms();
        let principal = resolve_principal(&self.registry, access_key, auth.session_token(), now_ms)
            .await
            .ok()?;
        self.registry
            .note_key_use(&principal, "s3", self.registry.region(), now_ms);

        // The object, addressed path-style exactly as s3s reads it.
        let decoded = percent::decode(parts.uri.path().as_bytes(), Plus::Literal)?;
        let s3s::path::S3Path::Object { bucket, key } =
            s3s::path::parse_path_style(&decoded).ok()?
        else {
            return None;
        };
        if principal.refers_to(actions::EXISTING_TAG_KEYS) {
            // The decision needs the object's tags: the s3s path asks the backend for them.
            return None;
        }
        let context = policy_context(
            &principal,
            now_ms,
            Some(conn),
            "GetObject",
            &[],
            &parts.headers,
            false,
        );
        let requirement = actions::requirement("GetObject", Some(&bucket), Some(&key), false);
        if !principal
            .authorize(&requirement.action, &requirement.resource, &context)
            .is_allowed()
        {
            return None;
        }

        let input = GetObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            checksum_mode: checksum_mode.then(|| ChecksumMode::from_static(ChecksumMode::ENABLED)),
            ..GetObjectInput::default()
        };
        let mut extensions = http::Extensions::new();
        if conn.sendfile {
            extensions.insert(iotcreds_objects::zerocopy::Sendfile);
        }
        let s3_req = S3Request {
            input,
            method: Method::GET,
            uri: parts.uri.clone(),
            headers: http::HeaderMap::new(),
            extensions,
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        };
        let resp = match &self.backend {
            FastBackend::Embedded(fs) => {
                let out = fs.get_object(s3_req).await.ok()?;
                if out.status.is_some() || !out.headers.is_empty() {
                    return None;
                }
                render(out.output)?
            }
            FastBackend::Upstream(up) => match up.get_object(s3_req).await {
                Ok(out) => render_passed(out),
                Err(e) => render_error(e),
            },
        };
        self.served.increment(1);
        Some(resp)
    }
}

/// The upstream backend's answer as s3s's GetObject renders it: the output's fields, then the
/// headers the backend passed on (`merge_custom_headers`: they replace a field's header of the
/// same name, and a chunked answer loses its `Content-Length`). The backend sets only the
/// body, the length and the range in the output (`iotcreds_objects_upstream::wire`); anything
/// [`render`] cannot write is an internal error, as a failed serialisation is on the s3s path.
fn render_passed(out: S3Response<GetObjectOutput>) -> Response<s3s::Body> {
    let Some(mut resp) = render(out.output) else {
        tracing::error!("the upstream GetObject output has a field the fast path cannot render");
        return internal_error();
    };
    let h = resp.headers_mut();
    h.extend(out.headers);
    if h.get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"chunked")
    {
        h.remove(header::CONTENT_LENGTH);
    }
    resp
}

/// An error of the backend, serialised as the s3s path serialises it.
fn render_error(e: S3Error) -> Response<s3s::Body> {
    e.to_http_response().unwrap_or_else(|_| internal_error())
}

fn internal_error() -> Response<s3s::Body> {
    crate::service::s3_xml_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
    )
}

/// The response s3s's GetObject serializer writes for the fields the embedded backend sets on
/// a whole-object read; `None` if the output has anything else (then s3s renders it).
fn render(o: GetObjectOutput) -> Option<Response<s3s::Body>> {
    let GetObjectOutput {
        body,
        accept_ranges,
        cache_control,
        content_disposition,
        content_encoding,
        content_language,
        content_length,
        content_range,
        content_type,
        e_tag,
        expires,
        last_modified,
        metadata,
        parts_count,
        website_redirect_location,
        checksum_crc32,
        checksum_crc32c,
        checksum_crc64nvme,
        checksum_sha1,
        checksum_sha256,
        checksum_type,
        bucket_key_enabled: None,
        delete_marker: None,
        expiration: None,
        missing_meta: None,
        object_lock_legal_hold_status: None,
        object_lock_mode: None,
        object_lock_retain_until_date: None,
        replication_status: None,
        request_charged: None,
        restore: None,
        sse_customer_algorithm: None,
        sse_customer_key_md5: None,
        ssekms_key_id: None,
        server_side_encryption: None,
        storage_class: None,
        tag_count: None,
        version_id: None,
        ..
    } = o
    else {
        return None;
    };
    if metadata.as_ref().is_some_and(|m| !m.is_empty()) {
        return None;
    }
    let mut resp = Response::new(s3s::Body::from(body?));
    *resp.status_mut() = if content_range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let text = |v: Option<String>| -> Option<Option<HeaderValue>> {
        v.map(|v| HeaderValue::try_from(v).ok())
            .map_or(Some(None), |v| v.map(Some))
    };
    let date = |t: Option<Timestamp>| -> Option<Option<HeaderValue>> {
        t.map(|t| http_date(&t)).map_or(Some(None), |v| v.map(Some))
    };
    let fields = [
        (header::ACCEPT_RANGES, text(accept_ranges)?),
        (header::CACHE_CONTROL, text(cache_control)?),
        (
            HeaderName::from_static("x-amz-checksum-crc32"),
            text(checksum_crc32)?,
        ),
        (
            HeaderName::from_static("x-amz-checksum-crc32c"),
            text(checksum_crc32c)?,
        ),
        (
            HeaderName::from_static("x-amz-checksum-crc64nvme"),
            text(checksum_crc64nvme)?,
        ),
        (
            HeaderName::from_static("x-amz-checksum-sha1"),
            text(checksum_sha1)?,
        ),
        (
            HeaderName::from_static("x-amz-checksum-sha256"),
            text(checksum_sha256)?,
        ),
        (
            HeaderName::from_static("x-amz-checksum-type"),
            text(checksum_type.map(|t| t.as_str().to_owned()))?,
        ),
        (header::CONTENT_DISPOSITION, text(content_disposition)?),
        (header::CONTENT_ENCODING, text(content_encoding)?),
        (header::CONTENT_LANGUAGE, text(content_language)?),
        (
            header::CONTENT_LENGTH,
            content_length.map(HeaderValue::from),
        ),
        (header::CONTENT_RANGE, text(content_range)?),
        (header::CONTENT_TYPE, text(content_type)?),
        (
            header::ETAG,
            e_tag
                .map(|e| e.to_http_header().ok())
                .map_or(Some(None), |v| v.map(Some))?,
        ),
        (header::EXPIRES, date(expires)?),
        (header::LAST_MODIFIED, date(last_modified)?),
        (
            HeaderName::from_static("x-amz-mp-parts-count"),
            parts_count.map(HeaderValue::from),
        ),
        (
            HeaderName::from_static("x-amz-website-redirect-location"),
            text(website_redirect_location)?,
        ),
    ];
    let h = resp.headers_mut();
    for (name, value) in fields {
        if let Some(v) = value {
            h.insert(name, v);
        }
    }
    Some(resp)
}

fn http_date(t: &Timestamp) -> Option<HeaderValue> {
    let ms = iotcreds_types::time_fmt::to_millis(time::OffsetDateTime::from(t.clone()));
    HeaderValue::from_str(&iotcreds_types::time_fmt::http_date(ms)).ok()
}
