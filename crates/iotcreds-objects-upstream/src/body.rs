//! The device's upload body on its way to the upstream: [`UploadBody`].
//!
//! s3s hands PutObject/UploadPart a [`StreamingBlob`] (the HTTP body, or the decoded aws-chunked
//! stream whose chunk signatures s3s checks). `UploadBody` wraps it and is passed on as the
//! SDK's request body, chunk by chunk, so at most one chunk from the device is held here:
//!
//! * its length is exactly the request's `Content-Length` (decoded length for aws-chunked), which
//!   is what the SDK announces upstream;
//! * it holds back the most recent chunk until the next one arrives, so that the checks below run
//!   *before* the last byte goes upstream: a failed check ends the stream with an error, the SDK
//!   aborts the upstream request, and the upstream never sees a complete body (so never stores
//!   the object);
//! * at the end it checks that the device sent exactly `Content-Length` bytes and, when the
//!   device announced a trailing checksum (`x-amz-trailer: x-amz-checksum-*`), computes that
//!   checksum over the bytes and compares it with the trailer s3s decoded. Checksums sent as
//!   *headers* are not checked here: they are forwarded, and the upstream verifies them.
//!
//! When it fails, it records the device's error (`BadDigest`, `IncompleteBody`,
//! `SignatureDoesNotMatch`, …) in a [`BodyFailure`] that the caller reports instead of the
//! SDK's dispatch error.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::Stream;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::dto::{ChecksumAlgorithm, StreamingBlob};
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, S3Result, StdError, TrailingHeaders, s3_error};

/// The device's error for a rejected body, shared between the body and the caller.
#[derive(Clone, Default)]
pub(crate) struct BodyFailure(Arc<Mutex<Option<S3Error>>>);

impl BodyFailure {
    fn set(&self, e: S3Error) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    /// The recorded error, if the body failed.
    pub(crate) fn take(&self) -> Option<S3Error> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The stream error the SDK sees; the device's error is in the [`BodyFailure`].
#[derive(Debug, thiserror::Error)]
#[error("the device's request body was rejected")]
struct Rejected;

/// A flexible checksum algorithm, as named in `x-amz-trailer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algo {
    pub(crate) const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub(crate) fn header(self) -> String {
        format!("x-amz-checksum-{}", self.name().to_ascii_lowercase())
    }

    pub(crate) fn from_header(h: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(h.trim()))
    }

    pub(crate) fn hasher(self) -> ChecksumHasher {
        let mut h = ChecksumHasher::default();
        match self {
            Self::Crc32 => h.crc32 = Some(s3s::crypto::Crc32::new()),
            Self::Crc32c => h.crc32c = Some(s3s::crypto::Crc32c::new()),
            Self::Crc64Nvme => h.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
            Self::Sha1 => h.sha1 = Some(s3s::crypto::Sha1::new()),
            Self::Sha256 => h.sha256 = Some(s3s::crypto::Sha256::new()),
        }
        h
    }

    pub(crate) fn finish(self, h: ChecksumHasher) -> Option<String> {
        let c = h.finalize();
        match self {
            Self::Crc32 => c.checksum_crc32,
            Self::Crc32c => c.checksum_crc32c,
            Self::Crc64Nvme => c.checksum_crc64nvme,
            Self::Sha1 => c.checksum_sha1,
            Self::Sha256 => c.checksum_sha256,
        }
    }
}

/// The checksum announced by `x-amz-trailer`, if any. Other trailers are not checksums and are
/// ignored; two checksums are refused as AWS does.
pub(crate) fn trailer_algo(headers: &http::HeaderMap) -> S3Result<Option<Algo>> {
    let mut found = None;
    for v in headers.get_all("x-amz-trailer") {
        let v = v
            .to_str()
            .map_err(|_| s3_error!(InvalidRequest, "Invalid x-amz-trailer header."))?;
        for name in v.split(',') {
            let name = name.trim();
            if let Some(a) = Algo::from_header(name) {
                if found.is_some() {
                    return Err(s3_error!(
                        InvalidRequest,
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    ));
                }
                found = Some(a);
            } else if name.to_ascii_lowercase().starts_with("x-amz-checksum-") {
                return Err(s3_error!(
                    InvalidRequest,
                    "The value specified in the x-amz-trailer header is not supported"
                ));
            }
        }
    }
    Ok(found)
}

/// AWS's largest single PUT or part: 5 GiB.
pub(crate) const MAX_UPLOAD: u64 = 5 * 1024 * 1024 * 1024;

/// An upload body ready to forward: the wrapped device stream and what the gateway sends with
/// it.
pub(crate) struct Prepared {
    pub body: UploadBody,
    pub failure: BodyFailure,
    /// The decoded length (what the upstream stores).
    pub declared: u64,
    /// The checksum the gateway computes while streaming and sends upstream as an aws-chunked
    /// trailer: the device's trailing checksum (verified first), or the gateway's own CRC32.
    pub trailer: Option<Algo>,
}

/// Prepares the body of a PutObject or UploadPart for forwarding: checks the declared length,
/// works out the trailing checksum, and wraps the device's stream.
/// `header_checksum`: the request carries an `x-amz-checksum-*` header (forwarded as it is).
/// `checksum_algorithm`: the device's `x-amz-sdk-checksum-algorithm`. `gateway_crc32`: with no
/// checksum from the device, have the gateway compute a CRC32 for the upstream to verify
/// (`checksum_calculation = "when_supported"`).
pub(crate) fn prepare_upload(
    headers: &http::HeaderMap,
    trailing: Option<TrailingHeaders>,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    header_checksum: bool,
    checksum_algorithm: Option<&ChecksumAlgorithm>,
    gateway_crc32: bool,
) -> S3Result<Prepared> {
    let declared = match content_length {
        Some(n) => u64::try_from(n)
            .map_err(|_| s3_error!(InvalidArgument, "Content-Length must not be negative."))?,
        // HTTP/1.1 without Content-Length or Transfer-Encoding: the request has no body.
        None if body
            .as_ref()
            .is_none_or(|b| b.remaining_length().exact() == Some(0)) =>
        {
            0
        }
        // a chunked body of unknown length cannot be forwarded without buffering it
        None => {
            return Err(s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header."
            ));
        }
    };
    if declared > MAX_UPLOAD {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size."
        ));
    }
    let device_trailer = trailer_algo(headers)?;
    if let Some(algo) = device_trailer {
        if header_checksum {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        if checksum_algorithm.is_some_and(|a| !a.as_str().eq_ignore_ascii_case(algo.name())) {
            return Err(s3_error!(
                InvalidRequest,
                "Value for x-amz-sdk-checksum-algorithm header is invalid."
            ));
        }
    }
    let failure = BodyFailure::default();
    let (checksum, trailer) = match device_trailer {
        Some(algo) => (Some(Checksum::Verify(algo, trailing)), Some(algo)),
        // the device's own algorithm when it names one without sending the value
        None if gateway_crc32 && !header_checksum => {
            let algo = checksum_algorithm
                .and_then(|a| {
                    Algo::ALL
                        .into_iter()
                        .find(|x| a.as_str().eq_ignore_ascii_case(x.name()))
                })
                .unwrap_or(Algo::Crc32);
            (Some(Checksum::Compute(algo)), Some(algo))
        }
        None => (None, None),
    };
    let body = UploadBody::new(body, declared, checksum, failure.clone());
    Ok(Prepared {
        body,
        failure,
        declared,
        trailer,
    })
}

/// What [`UploadBody`] does with a checksum of the bytes.
pub(crate) enum Checksum {
    /// Compute it and compare it with the device's trailer (s3s puts the decoded trailers in
    /// the `TrailingHeaders`).
    Verify(Algo, Option<TrailingHeaders>),
    /// Compute it (for the gateway's own trailer toward the upstream).
    Compute(Algo),
}

/// A checksum computed over the body: verified against the device's trailer when `verify`.
struct Trailer {
    algo: Algo,
    hasher: ChecksumHasher,
    verify: bool,
    headers: Option<TrailingHeaders>,
}

/// See the module docs.
pub(crate) struct UploadBody {
    /// `None` once the device's stream has ended (or failed).
    inner: Option<StreamingBlob>,
    declared: u64,
    received: u64,
    yielded: u64,
    held: Option<Bytes>,
    trailer: Option<Trailer>,
    /// The checksum of the whole body, once the device's stream has ended and passed the checks.
    computed: Option<(Algo, String)>,
    failure: BodyFailure,
    failed: bool,
}

impl UploadBody {
    /// `checksum`: what to compute over the bytes (and verify against the device's trailer).
    pub(crate) fn new(
        inner: Option<StreamingBlob>,
        declared: u64,
        checksum: Option<Checksum>,
        failure: BodyFailure,
    ) -> Self {
        Self {
            // an absent body is an empty one (and still has to match `declared`)
            inner: Some(inner.unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty()))),
            declared,
            received: 0,
            yielded: 0,
            held: None,
            trailer: checksum.map(|c| match c {
                Checksum::Verify(algo, headers) => Trailer {
                    algo,
                    hasher: algo.hasher(),
                    verify: true,
                    headers,
                },
                Checksum::Compute(algo) => Trailer {
                    algo,
                    hasher: algo.hasher(),
                    verify: false,
                    headers: None,
                },
            }),
            computed: None,
            failure,
            failed: false,
        }
    }

    /// The checksum of the whole body: set once the stream has ended without error.
    pub(crate) fn computed(&self) -> Option<(Algo, &str)> {
        self.computed.as_ref().map(|(a, v)| (*a, v.as_str()))
    }

    fn fail(&mut self, e: S3Error) -> Poll<Option<Result<Bytes, StdError>>> {
        self.failure.set(e);
        self.failed = true;
        self.held = None;
        self.inner = None;
        Poll::Ready(Some(Err(Box::new(Rejected))))
    }

    fn emit(&mut self, chunk: Bytes) -> Poll<Option<Result<Bytes, StdError>>> {
        self.yielded += chunk.len() as u64;
        Poll::Ready(Some(Ok(chunk)))
    }

    /// The device's stream ended: check length and trailer, then release the last chunk.
    fn finish(&mut self) -> Poll<Option<Result<Bytes, StdError>>> {
        self.inner = None;
        if self.received != self.declared {
            return self.fail(incomplete());
        }
        if let Some(t) = self.trailer.take() {
            let value = t.algo.finish(t.hasher);
            if !t.verify {
                self.computed = value.map(|v| (t.algo, v));
                return match self.held.take() {
                    Some(last) => self.emit(last),
                    None => Poll::Ready(None),
                };
            }
            let name = t.algo.header();
            let sent = t
                .headers
                .as_ref()
                .and_then(|h| {
                    h.read(|m| {
                        m.get(&name)
                            .and_then(|v| v.to_str().ok())
                            .map(|v| v.trim().to_owned())
                    })
                })
                .flatten();
            let Some(sent) = sent else {
                return self.fail(s3_error!(
                    InvalidRequest,
                    "The trailing {} checksum was not received.",
                    name
                ));
            };
            if value.as_deref() != Some(sent.as_str()) {
                return self.fail(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    t.algo.name()
                ));
            }
            self.computed = Some((t.algo, sent));
        }
        match self.held.take() {
            Some(last) => self.emit(last),
            None => Poll::Ready(None),
        }
    }
}

impl Stream for UploadBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            let Some(inner) = this.inner.as_mut() else {
                // finished: `finish` released the last chunk
                return Poll::Ready(None);
            };
            match ready!(Pin::new(inner).poll_next(cx)) {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    this.received += chunk.len() as u64;
                    if this.received > this.declared {
                        return this.fail(incomplete());
                    }
                    if let Some(t) = this.trailer.as_mut() {
                        t.hasher.update(&chunk);
                    }
                    if let Some(prev) = this.held.replace(chunk) {
                        return this.emit(prev);
                    }
                }
                Some(Err(e)) => return this.fail(device_stream_error(&*e)),
                None => return this.finish(),
            }
        }
    }
}

impl ByteStream for UploadBody {
    fn remaining_length(&self) -> RemainingLength {
        if self.failed {
            return RemainingLength::new_exact(0);
        }
        usize::try_from(self.declared.saturating_sub(self.yielded))
            .map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact)
    }
}

fn incomplete() -> S3Error {
    s3_error!(
        IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )
}

/// The device's error for a failing request stream (s3s's aws-chunked decoder, or the
/// connection). s3s does not export its error type, so the decoder's variants are recognised
/// by name, as the embedded backend does.
fn device_stream_error(e: &(dyn std::error::Error + Send + Sync)) -> S3Error {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided."
        )
    } else if text.contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        err
    } else {
        tracing::debug!(error = %text, "device request body ended with an error");
        incomplete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    fn blob(chunks: Vec<Result<&'static [u8], &'static str>>) -> StreamingBlob {
        let items: Vec<Result<Bytes, std::io::Error>> = chunks
            .into_iter()
            .map(|c| c.map(Bytes::from_static).map_err(std::io::Error::other))
            .collect();
        StreamingBlob::wrap(futures::stream::iter(items))
    }

    async fn drain(mut b: UploadBody) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        while let Some(item) = b.next().await {
            match item {
                Ok(c) => out.extend_from_slice(&c),
                Err(_) => return (out, true),
            }
        }
        (out, false)
    }

    #[tokio::test]
    async fn passes_bytes_through_and_holds_back_one_chunk() {
        let f = BodyFailure::default();
        let mut b = UploadBody::new(
            Some(blob(vec![Ok(b"ab"), Ok(b""), Ok(b"cd"), Ok(b"e")])),
            5,
            None,
            f.clone(),
        );
        assert_eq!(b.remaining_length().exact(), Some(5));
        // the first chunk comes out only when the second has arrived
        assert_eq!(
            b.next().await.map(|r| r.ok()),
            Some(Some(Bytes::from_static(b"ab")))
        );
        assert_eq!(b.remaining_length().exact(), Some(3));
        let (rest, err) = drain(b).await;
        assert_eq!((rest.as_slice(), err), (&b"cde"[..], false));
        assert!(f.take().is_none());
    }

    #[tokio::test]
    async fn short_and_long_bodies_fail_before_the_last_chunk() {
        for (chunks, declared) in [
            (vec![Ok(&b"abc"[..]), Ok(b"d")], 5),
            (vec![Ok(&b"abc"[..]), Ok(b"def")], 5),
        ] {
            let f = BodyFailure::default();
            let (out, err) = drain(UploadBody::new(
                Some(blob(chunks)),
                declared,
                None,
                f.clone(),
            ))
            .await;
            assert!(err);
            assert!(out.len() < declared as usize, "{out:?}");
            assert_eq!(
                f.take().map(|e| e.code().as_str().to_owned()).as_deref(),
                Some("IncompleteBody")
            );
        }
    }

    #[tokio::test]
    async fn device_stream_errors() {
        let f = BodyFailure::default();
        let (_, err) = drain(UploadBody::new(
            Some(blob(vec![
                Ok(b"abc"),
                Err("AwsChunkedStreamError: SignatureMismatch"),
            ])),
            10,
            None,
            f.clone(),
        ))
        .await;
        assert!(err);
        assert_eq!(
            f.take().map(|e| e.code().as_str().to_owned()).as_deref(),
            Some("SignatureDoesNotMatch")
        );
    }

    #[tokio::test]
    async fn empty_body() {
        let (out, err) = drain(UploadBody::new(None, 0, None, BodyFailure::default())).await;
        assert!(out.is_empty() && !err);
        let f = BodyFailure::default();
        let (_, err) = drain(UploadBody::new(None, 3, None, f.clone())).await;
        assert!(err && f.take().is_some());
    }

    #[test]
    fn trailer_names() {
        let mut h = http::HeaderMap::new();
        assert_eq!(trailer_algo(&h).ok(), Some(None));
        h.insert(
            "x-amz-trailer",
            http::HeaderValue::from_static("x-amz-checksum-crc32c"),
        );
        assert_eq!(trailer_algo(&h).ok(), Some(Some(Algo::Crc32c)));
        h.insert(
            "x-amz-trailer",
            http::HeaderValue::from_static("x-amz-meta-a, X-Amz-Checksum-SHA256"),
        );
        assert_eq!(trailer_algo(&h).ok(), Some(Some(Algo::Sha256)));
        h.insert(
            "x-amz-trailer",
            http::HeaderValue::from_static("x-amz-checksum-crc32,x-amz-checksum-sha1"),
        );
        assert!(trailer_algo(&h).is_err());
        h.insert(
            "x-amz-trailer",
            http::HeaderValue::from_static("x-amz-checksum-md5"),
        );
        assert!(trailer_algo(&h).is_err());
    }

    #[test]
    fn known_answers() {
        // "hello world": CRC32 0x0d4a1185
        let mut h = Algo::Crc32.hasher();
        h.update(b"hello world");
        assert_eq!(Algo::Crc32.finish(h).as_deref(), Some("DUoRhQ=="));
    }
}
