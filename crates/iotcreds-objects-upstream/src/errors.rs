//! What the device is told when an upstream call fails.
//!
//! | upstream outcome | device sees | logged |
//! |---|---|---|
//! | 4xx with a device-meaningful code (NoSuchKey, NoSuchBucket, NoSuchUpload, InvalidRange, PreconditionFailed, EntityTooSmall, InvalidPart, InvalidPartOrder, BucketNotEmpty, BucketAlreadyOwnedByYou, BadDigest, InvalidArgument, …), 304, 501 | the same code, status and message (upstream bucket names in the message replaced by device names) | debug |
//! | 401/403 (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, …; except InvalidObjectState), other auth/endpoint codes (AuthorizationHeaderMalformed, RequestTimeTooSkewed, ExpiredToken, …), 3xx redirects | `InternalError` 500: the gateway's credentials, policy or configuration are wrong, which is not the device's business | error, with the upstream code and message |
//! | 503 SlowDown, 429 | `SlowDown` 503 | warn |
//! | other 5xx | `ServiceUnavailable` 503 | warn |
//! | connect failure, I/O error, timeout, unreadable response (also a 2xx the SDK cannot parse) | `ServiceUnavailable` 503 | warn |
//! | request could not be built (a gateway bug) | `InternalError` 500 | error |
//!
//! A failure of the device's own request body (bad chunk signature, wrong trailing checksum,
//! fewer bytes than announced) is decided by [`crate::body`] and reported as that error instead.
//!
//! The upstream's request ids are logged, never shown to the device; the log lines carry the
//! upstream's code and message but never credentials, request headers or the device's token.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::body::BodyFailure;

/// What an upstream answer means for the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The device's request is wrong or the object state says no: shown as the upstream said.
    Device,
    /// The gateway's credentials, permissions or configuration at the upstream are wrong.
    Gateway,
    /// The upstream asks for less traffic.
    SlowDown,
    /// The upstream is failing or unreachable.
    Unavailable,
}

/// Codes that describe the gateway's own relation with the upstream, whatever their status.
const GATEWAY_CODES: &[&str] = &[
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "CredentialsNotSupported",
    "ExpiredToken",
    "IncorrectEndpoint",
    "InvalidAccessKeyId",
    "InvalidPayer",
    "InvalidSecurity",
    "InvalidToken",
    "MissingSecurityHeader",
    "NotSignedUp",
    "PermanentRedirect",
    "Redirect",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "TemporaryRedirect",
    "TokenRefreshRequired",
    // the gateway's own payload hash did not match what it sent
    "XAmzContentSHA256Mismatch",
];

/// Does this code describe the gateway's own credentials, permissions or configuration?
pub(crate) fn is_gateway_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| GATEWAY_CODES.contains(&c))
}

/// Classifies an upstream error response by status and code.
pub(crate) fn classify(status: u16, code: Option<&str>) -> Class {
    if status == 304 {
        return Class::Device;
    }
    if is_gateway_code(code) {
        return Class::Gateway;
    }
    match status {
        401 | 403 | 407 if code == Some("InvalidObjectState") => Class::Device,
        401 | 403 | 407 | 300..=399 => Class::Gateway,
        429 => Class::SlowDown,
        // a success status the SDK could not read: an incompatible or truncated answer
        100..=299 => Class::Unavailable,
        503 if code == Some("SlowDown") => Class::SlowDown,
        501 => Class::Device,
        500..=599 => Class::Unavailable,
        _ => Class::Device,
    }
}

/// The device's error for the whole class (messages as AWS words them).
pub(crate) fn internal() -> S3Error {
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

pub(crate) fn unavailable() -> S3Error {
    s3_error!(ServiceUnavailable, "Service is unable to handle request.")
}

pub(crate) fn slow_down() -> S3Error {
    s3_error!(SlowDown, "Please reduce your request rate.")
}

/// What an error-mapping call knows about its request.
pub(crate) struct Ctx<'a> {
    /// Operation name, for logs.
    pub op: &'static str,
    /// Code for a 404 without a body (HEAD requests): `NoSuchKey` or `NoSuchBucket`.
    pub not_found: &'static str,
    /// `(upstream, device)` names of the buckets in the request.
    pub buckets: &'a [(String, String)],
    /// The device's request body, for uploads.
    pub body: Option<&'a BodyFailure>,
}

/// Turns the error of a forwarded call (an `S3Error` from `s3s_aws::Proxy`, whose source is the
/// SDK's `SdkError<E>`) into the device's error.
pub(crate) fn from_upstream<E>(cx: &Ctx<'_>, err: S3Error) -> S3Error
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
{
    if let Some(failure) = cx.body.and_then(BodyFailure::take) {
        tracing::debug!(op = cx.op, code = %failure.code().as_str(), "device request body rejected");
        return failure;
    }
    let op = cx.op;
    let Some(sdk) = err.source().and_then(|s| s.downcast_ref::<SdkError<E>>()) else {
        // s3s-aws could not convert a DTO: nothing was sent, or the answer was unusable.
        tracing::error!(op, error = ?err.message(), "upstream call failed in the SDK adapter");
        return internal();
    };
    match sdk {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            let mut headers = http::HeaderMap::new();
            for name in [http::header::ETAG, http::header::LAST_MODIFIED] {
                if let Some(v) = se
                    .raw()
                    .headers()
                    .get(name.as_str())
                    .and_then(|v| http::HeaderValue::from_str(v).ok())
                {
                    headers.insert(name, v);
                }
            }
            let answer = Answer {
                status,
                code: e.code(),
                message: e.message(),
                request_id: e.request_id(),
                headers: &headers,
            };
            from_answer(cx, &answer)
        }
        SdkError::TimeoutError(_) => {
            tracing::warn!(op, "upstream operation timed out");
            unavailable()
        }
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                "timeout"
            } else if d.is_io() {
                "io"
            } else {
                "other"
            };
            tracing::warn!(op, kind, error = %DisplayErrorContext(sdk), "upstream unreachable");
            unavailable()
        }
        SdkError::ResponseError(_) => {
            tracing::warn!(op, error = %DisplayErrorContext(sdk), "upstream response unreadable");
            unavailable()
        }
        _ => {
            tracing::error!(op, error = %DisplayErrorContext(sdk), "upstream request could not be built");
            internal()
        }
    }
}

/// An upstream error response, as read by either path.
pub(crate) struct Answer<'a> {
    pub status: u16,
    pub code: Option<&'a str>,
    pub message: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// The response headers (only `ETag` and `Last-Modified` are used).
    pub headers: &'a http::HeaderMap,
}

/// The device's error for an upstream error response (the table in the module docs).
pub(crate) fn from_answer(cx: &Ctx<'_>, a: &Answer<'_>) -> S3Error {
    let (op, status, code, message, request_id) =
        (cx.op, a.status, a.code, a.message, a.request_id);
    match classify(status, code) {
        Class::Device => {
            tracing::debug!(op, status, code, request_id, "upstream answered an error");
            device_error(cx, a)
        }
        Class::Gateway => {
            tracing::error!(
                op,
                status,
                code,
                message,
                request_id,
                "upstream refused the gateway's request: check objects.upstream credentials, permissions, region and endpoint"
            );
            internal()
        }
        Class::SlowDown => {
            tracing::warn!(op, status, code, request_id, "upstream is throttling");
            slow_down()
        }
        Class::Unavailable => {
            tracing::warn!(op, status, code, message, request_id, "upstream failed");
            unavailable()
        }
    }
}

/// The upstream's error as the device should see it.
fn device_error(cx: &Ctx<'_>, a: &Answer<'_>) -> S3Error {
    let status = a.status;
    let code = a.code.unwrap_or(match status {
        304 => "NotModified",
        404 => cx.not_found,
        405 => "MethodNotAllowed",
        411 => "MissingContentLength",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        _ => "InvalidRequest",
    });
    let code = S3ErrorCode::from_bytes(code.as_bytes())
        .unwrap_or_else(|| S3ErrorCode::Custom(code.to_owned().into()));
    let mut err = S3Error::new(code);
    if let Some(m) = a.message {
        let mut m = m.to_owned();
        for (upstream, device) in cx.buckets {
            if upstream != device {
                m = replace_name(&m, upstream, device);
            }
        }
        err.set_message(m);
    }
    if let Ok(s) = http::StatusCode::from_u16(status) {
        err.set_status_code(s);
    }
    // 304 and 412 carry the object's validators, as S3 sends them.
    if matches!(status, 304 | 412) {
        let mut h = http::HeaderMap::new();
        for name in [http::header::ETAG, http::header::LAST_MODIFIED] {
            if let Some(v) = a.headers.get(&name) {
                h.insert(name, v.clone());
            }
        }
        if !h.is_empty() {
            err.set_headers(h);
        }
    }
    err
}

/// Replaces whole-name occurrences of bucket `from` in `text` (not inside a longer name).
pub(crate) fn replace_name(text: &str, from: &str, to: &str) -> String {
    let is_name_byte =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, _) in text.match_indices(from) {
        let before_ok = i == 0 || !is_name_byte(bytes[i - 1]);
        let end = i + from.len();
        let after_ok = end == bytes.len() || !is_name_byte(bytes[end]);
        if before_ok && after_ok && i >= last {
            out.push_str(&text[last..i]);
            out.push_str(to);
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        use Class::*;
        let cases: &[(u16, Option<&str>, Class)] = &[
            (404, Some("NoSuchKey"), Device),
            (404, Some("NoSuchBucket"), Device),
            (404, Some("NoSuchUpload"), Device),
            (404, None, Device),
            (416, Some("InvalidRange"), Device),
            (412, Some("PreconditionFailed"), Device),
            (304, None, Device),
            (400, Some("EntityTooSmall"), Device),
            (400, Some("InvalidPart"), Device),
            (400, Some("InvalidPartOrder"), Device),
            (409, Some("BucketNotEmpty"), Device),
            (409, Some("BucketAlreadyOwnedByYou"), Device),
            (400, Some("BadDigest"), Device),
            (400, Some("InvalidArgument"), Device),
            (403, Some("InvalidObjectState"), Device),
            (501, Some("NotImplemented"), Device),
            (403, Some("AccessDenied"), Gateway),
            (403, Some("InvalidAccessKeyId"), Gateway),
            (403, Some("SignatureDoesNotMatch"), Gateway),
            (403, None, Gateway),
            (401, Some("Unauthorized"), Gateway),
            (400, Some("AuthorizationHeaderMalformed"), Gateway),
            (400, Some("ExpiredToken"), Gateway),
            (301, Some("PermanentRedirect"), Gateway),
            (307, None, Gateway),
            (503, Some("SlowDown"), SlowDown),
            (429, None, SlowDown),
            (503, Some("ServiceUnavailable"), Unavailable),
            (500, Some("InternalError"), Unavailable),
            (502, None, Unavailable),
            (504, None, Unavailable),
            (200, None, Unavailable),
        ];
        for (status, code, want) in cases {
            assert_eq!(classify(*status, *code), *want, "{status} {code:?}");
        }
    }

    #[test]
    fn names_in_messages() {
        assert_eq!(
            replace_name("Bucket fleet-logs does not exist", "fleet-logs", "logs"),
            "Bucket logs does not exist"
        );
        // not inside longer names
        assert_eq!(
            replace_name("fleet-logs2 and xfleet-logs", "fleet-logs", "logs"),
            "fleet-logs2 and xfleet-logs"
        );
        assert_eq!(
            replace_name("fleet-logs/key, fleet-logs", "fleet-logs", "l"),
            "l/key, l"
        );
        assert_eq!(replace_name("", "a", "b"), "");
    }

    #[test]
    fn device_messages_are_awss() {
        assert_eq!(internal().code().as_str(), "InternalError");
        assert_eq!(internal().status_code().map(|s| s.as_u16()), Some(500));
        assert_eq!(unavailable().status_code().map(|s| s.as_u16()), Some(503));
        assert_eq!(slow_down().status_code().map(|s| s.as_u16()), Some(503));
    }
}
