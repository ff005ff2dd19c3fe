//! The hot operations (GetObject, HeadObject, PutObject, UploadPart) sent by hand: a request
//! built from the typed input, signed with `iotcreds-sigv4` with the gateway's key, sent over
//! the pooled [`Transport`]; the response's headers passed on through an allow-list and its
//! body streamed. The AWS SDK's generic pipeline costs several times the work the gateway does
//! for a small object; the other operations still go through it (`crate::backend`).
//!
//! * **Requests**: path-style `/{bucket}/{key}` (or virtual-hosted `bucket.host/{key}`), the
//!   key URI-encoded byte for byte (every byte but `A-Za-z0-9-._~/` becomes `%XY`, so `..`,
//!   `//`, `%` and non-ASCII keys arrive exactly as the device named them); headers rebuilt
//!   from the typed input (conditionals, range, content headers, metadata, checksums); every
//!   header but `Content-Length` signed; `x-amz-content-sha256: UNSIGNED-PAYLOAD`, or
//!   `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a checksum trailer ([`chunked`]).
//! * **Retries**: reads (GetObject, HeadObject) are retried on an I/O error, 5xx or throttling,
//!   up to `max_attempts`, with exponential back-off (25 ms doubling, at most 1 s, jittered).
//!   Uploads stream from the device and are sent once.
//! * **Timeouts**: `first_byte_timeout` from sending the request (for uploads: from handing
//!   over its last byte) to the response headers; `idle_timeout` for an upstream that stops
//!   taking an upload ([`progress`]) or stops sending a download ([`download`]). Both answer
//!   `ServiceUnavailable`, logged as the upstream's fault.

pub(crate) mod chunked;
pub(crate) mod download;
mod objects;
pub(crate) mod progress;
mod response;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http::{HeaderName, HeaderValue, Method};
use hyper::body::Incoming;
use iotcreds_sigv4::{RequestParts, Rules, SigningParams};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::{S3Error, StdError};

use crate::config::{ChecksumCalculation, ChecksumValidation, UpstreamConfig};
use crate::errors::{self, Ctx};
use crate::transport::{OutBody, Transport};

pub(crate) use self::response::read_error;

/// Bytes kept as they are in a path (SigV4's unreserved set and `/`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Bytes kept as they are in a query component (SigV4's unreserved set).
const QUERY: &AsciiSet = &PATH.add(b'/');

/// The signing-key cache's budget: one key (the gateway's own) and room to spare.
const KEY_CACHE_BYTES: usize = 4096;

/// Back-off before retry `n` (1-based): 25 ms doubling, capped at 1 s.
const BACKOFF_BASE_MS: u64 = 25;
const BACKOFF_MAX_MS: u64 = 1000;

/// The hand-written client of the upstream.
pub(crate) struct Wire {
    transport: Arc<Transport>,
    scheme: &'static str,
    /// `host[:port]`, the default port left out (what hyper sends as `Host`).
    authority: String,
    path_style: bool,
    access_key_id: String,
    secret_access_key: String,
    /// The gateway's signing key, derived once a day rather than on every request.
    keys: iotcreds_sigv4::KeyCache,
    region: String,
    pub(crate) first_byte: Duration,
    pub(crate) idle: Duration,
    max_attempts: u32,
    /// Add a CRC32 trailer to uploads without a device checksum.
    pub(crate) gateway_crc32: bool,
    /// Check whole-object GetObject bodies against the upstream's checksum.
    pub(crate) validate: bool,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

/// One request to build: `query` is already encoded and sorted (`a=b&c=d`).
pub(crate) struct Call<'a> {
    pub method: Method,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub payload: &'static str,
}

/// Appends `name=value` (encoded) to a query under construction. Callers add parameters in
/// sorted order, as the canonical query wants them.
pub(crate) fn push_query(q: &mut String, name: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    q.extend(utf8_percent_encode(name, QUERY));
    q.push('=');
    q.extend(utf8_percent_encode(value, QUERY));
}

/// A small pseudo-random number for back-off jitter (no cryptographic use).
fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

fn backoff(retry: u32) -> Duration {
    let full = BACKOFF_BASE_MS
        .saturating_mul(1u64 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_MAX_MS);
    // between half and all of it
    Duration::from_millis(full / 2 + jitter() % (full / 2 + 1))
}

impl Wire {
    pub(crate) fn new(config: &UpstreamConfig, transport: Arc<Transport>) -> Self {
        let endpoint = config.endpoint.trim_end_matches('/');
        let (scheme, rest, default_port) = match endpoint.strip_prefix("https://") {
            Some(rest) => ("https", rest, ":443"),
            None => ("http", endpoint.trim_start_matches("http://"), ":80"),
        };
        let authority = rest.strip_suffix(default_port).unwrap_or(rest).to_owned();
        Self {
            transport,
            scheme,
            authority,
            path_style: config.force_path_style,
            access_key_id: config.access_key_id.clone(),
            secret_access_key: config.secret_access_key.clone(),
            keys: iotcreds_sigv4::KeyCache::new(KEY_CACHE_BYTES),
            region: config.region.clone(),
            first_byte: config.first_byte_timeout(),
            idle: config.idle_timeout(),
            max_attempts: config.max_attempts,
            gateway_crc32: config.checksum_calculation == ChecksumCalculation::WhenSupported,
            validate: config.checksum_validation == ChecksumValidation::WhenSupported,
        }
    }

    /// The signed request.
    fn build(
        &self,
        call: &Call<'_>,
        body: OutBody,
        len: Option<u64>,
    ) -> Result<http::Request<OutBody>, S3Error> {
        let key = utf8_percent_encode(call.key, PATH);
        let (host, path) = if self.path_style {
            (self.authority.clone(), format!("/{}/{key}", call.bucket))
        } else {
            (
                format!("{}.{}", call.bucket, self.authority),
                format!("/{key}"),
            )
        };
        let mut to_sign: Vec<(&str, &[u8])> = Vec::with_capacity(call.headers.len() + 1);
        to_sign.push(("host", host.as_bytes()));
        for (n, v) in &call.headers {
            to_sign.push((n.as_str(), v.as_bytes()));
        }
        let signed = iotcreds_sigv4::sign_cached(
            &RequestParts {
                method: call.method.as_str(),
                path: &path,
                query: &call.query,
                headers: &to_sign,
            },
            &SigningParams {
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
                session_token: None,
                region: &self.region,
                service: "s3",
                time: time::OffsetDateTime::now_utc(),
                rules: Rules::S3,
                payload_hash: call.payload,
                content_sha256_header: true,
            },
            &self.keys,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "signing the upstream request failed");
            errors::internal()
        })?;
        let uri = if call.query.is_empty() {
            format!("{}://{host}{path}", self.scheme)
        } else {
            format!("{}://{host}{path}?{}", self.scheme, call.query)
        };
        let mut req = http::Request::new(body);
        *req.method_mut() = call.method.clone();
        *req.uri_mut() = uri.parse().map_err(|e| {
            tracing::error!(error = %e, "building the upstream URI failed");
            errors::internal()
        })?;
        let h = req.headers_mut();
        h.reserve(call.headers.len() + signed.headers.len() + 1);
        for (n, v) in &call.headers {
            h.append(n.clone(), v.clone());
        }
        for (n, v) in signed.headers {
            let v = HeaderValue::try_from(v).map_err(|_| errors::internal())?;
            h.insert(n, v);
        }
        if let Some(len) = len {
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        Ok(req)
    }

    /// Sends a read (no body), retrying what is worth retrying; resolves with a 2xx response
    /// or the device's error.
    pub(crate) async fn read(
        &self,
        cx: &Ctx<'_>,
        call: &Call<'_>,
    ) -> Result<http::Response<Incoming>, S3Error> {
        let mut attempt = 1;
        loop {
            let req = self.build(call, OutBody::Empty, None)?;
            let last = attempt >= self.max_attempts;
            match tokio::time::timeout(self.first_byte, self.transport.send(req)).await {
                Err(_) => {
                    tracing::warn!(op = cx.op, timeout = ?self.first_byte, "upstream sent no response headers in time (first_byte_timeout_secs)");
                    return Err(errors::unavailable());
                }
                Ok(Err(e)) => {
                    if last {
                        tracing::warn!(op = cx.op, attempts = attempt, error = %ErrorChain(&e), "upstream unreachable");
                        return Err(errors::unavailable());
                    }
                    tracing::debug!(op = cx.op, attempt, error = %ErrorChain(&e), "upstream unreachable; retrying");
                }
                Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
                Ok(Ok(resp)) => {
                    let failed = read_error(self, resp).await;
                    let class = errors::classify(failed.status, failed.code.as_deref());
                    let retry =
                        matches!(class, errors::Class::SlowDown | errors::Class::Unavailable);
                    if !retry || last {
                        return Err(errors::from_answer(cx, &failed.answer()));
                    }
                    tracing::debug!(
                        op = cx.op,
                        attempt,
                        status = failed.status,
                        code = failed.code.as_deref(),
                        "upstream failed; retrying"
                    );
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// Sends an upload once, its body streaming from the device; resolves with a 2xx response or
    /// the device's error (the device's own body error first).
    pub(crate) async fn upload(
        &self,
        cx: &Ctx<'_>,
        call: &Call<'_>,
        stream: impl Stream<Item = Result<Bytes, StdError>> + Send + Sync + 'static,
        len: u64,
    ) -> Result<http::Response<Incoming>, S3Error> {
        let progress = Arc::new(progress::Progress::new());
        if len == 0 {
            // an empty body is not polled: the request is whole once its headers are sent
            progress.sent();
        }
        let body = OutBody::Upload {
            stream: Box::pin(stream),
            len,
            sent: 0,
            progress: Arc::clone(&progress),
        };
        let req = self.build(call, body, Some(len))?;
        let device_error = || cx.body.and_then(crate::body::BodyFailure::take);
        tokio::select! {
            r = self.transport.send(req) => match r {
                Ok(resp) if resp.status().is_success() => Ok(resp),
                Ok(resp) => {
                    if let Some(e) = device_error() {
                        return Err(e);
                    }
                    let failed = read_error(self, resp).await;
                    Err(errors::from_answer(cx, &failed.answer()))
                }
                Err(e) => {
                    if let Some(e) = device_error() {
                        tracing::debug!(op = cx.op, code = %e.code().as_str(), "device request body rejected");
                        return Err(e);
                    }
                    tracing::warn!(op = cx.op, error = %ErrorChain(&e), "upstream unreachable");
                    Err(errors::unavailable())
                }
            },
            () = progress.stalled(self.idle, self.first_byte) => {
                if let Some(e) = device_error() {
                    return Err(e);
                }
                tracing::warn!(op = cx.op, idle = ?self.idle, first_byte = ?self.first_byte, "upstream stalled during an upload (idle_timeout_secs / first_byte_timeout_secs)");
                Err(errors::unavailable())
            }
        }
    }
}

/// An error with its sources, for log lines (`a: b: c`).
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_byte_for_byte() {
        let enc = |k: &str| utf8_percent_encode(k, PATH).to_string();
        assert_eq!(enc("a/b/c.txt"), "a/b/c.txt");
        assert_eq!(enc("../x//y/./"), "../x//y/./");
        assert_eq!(enc("100%25 sure+?#"), "100%2525%20sure%2B%3F%23");
        assert_eq!(enc("été/日本"), "%C3%A9t%C3%A9/%E6%97%A5%E6%9C%AC");
        let mut q = String::new();
        push_query(&mut q, "partNumber", "1");
        push_query(&mut q, "uploadId", "a/b+c=");
        assert_eq!(q, "partNumber=1&uploadId=a%2Fb%2Bc%3D");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..50 {
            let b1 = backoff(1).as_millis();
            assert!((12..=25).contains(&b1), "{b1}");
            let b10 = backoff(10).as_millis();
            assert!((500..=1000).contains(&b10), "{b10}");
        }
    }

    #[test]
    fn default_ports_are_left_out_of_the_authority() {
        let t = Arc::new(
            Transport::new(&UpstreamConfig::new("http://h:80", "a", "b")).expect("transport"),
        );
        assert_eq!(
            Wire::new(
                &UpstreamConfig::new("http://h:80", "a", "b"),
                Arc::clone(&t)
            )
            .authority,
            "h"
        );
        assert_eq!(
            Wire::new(
                &UpstreamConfig::new("http://h:9000/", "a", "b"),
                Arc::clone(&t)
            )
            .authority,
            "h:9000"
        );
        assert_eq!(
            Wire::new(&UpstreamConfig::new("https://h:443", "a", "b"), t).authority,
            "h"
        );
    }
}
