//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): canonical requests, signing, verification and
//! the S3 aws-chunked signature chain. Pure: no I/O, no async, no HTTP types.
//!
//! # Verifying a request
//!
//! Verification has two phases so the caller can look the secret up in between:
//!
//! ```
//! use iotcreds_sigv4::{Mode, ParsedAuth, RequestParts, VerifyOptions, payload_sha256};
//! # fn lookup(_akid: &str) -> Option<String> { None }
//! # fn handle(method: &str, path: &str, query: &str, headers: &[(&str, &[u8])], body: &[u8])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let req = RequestParts { method, path, query, headers };
//! let auth = ParsedAuth::parse(&req)?;                  // no secret needed
//! let opts = VerifyOptions { service: Some("sts"), ..VerifyOptions::default() };
//! let body_hash = payload_sha256(body);
//! let mode = Mode::Generic { payload_sha256: body_hash.as_str() };
//! auth.check(&req, mode, &opts, time::OffsetDateTime::now_utc())?; // optional early exit
//! let secret = lookup(auth.access_key_id()).ok_or("InvalidClientTokenId")?;
//! let verified = auth.verify(&req, &secret, mode, &opts, time::OffsetDateTime::now_utc())?;
//! # let _ = verified; Ok(()) }
//! ```
//!
//! [`RequestParts`] is a borrowed view: the path and query exactly as received on the wire
//! (still percent-encoded), and the headers as `(name, value bytes)`. Header values are bytes
//! because HTTP allows non-UTF-8 (obs-text) values: they are canonicalised byte for byte
//! (only ASCII whitespace is trimmed and collapsed), never rejected for their encoding. Values
//! this crate must *interpret* (`Authorization`, `X-Amz-Date`, `Date`, `X-Amz-Security-Token`,
//! `x-amz-content-sha256`) must be ASCII/UTF-8 or the request is rejected. Over HTTP/2 the caller
//! passes the `:authority` as a `host` header.
//!
//! # Modes
//!
//! - [`Mode::Generic`] (IoT rest-json, IAM and STS query protocol, every non-S3 service): the
//!   payload hash is the SHA-256 of the body as received, computed by the caller
//!   ([`payload_sha256`]); the canonical URI is the wire path URI-encoded once more (so each
//!   segment ends up encoded twice, as AWS specifies for non-S3 services: `/my%3Athing` is
//!   canonicalised as `/my%253Athing`), after removing `.`/`..` segments and collapsing `//`
//!   when [`VerifyOptions::normalize_path`] is on (the default). A session token appended after
//!   signing is accepted unless [`VerifyOptions::allow_unsigned_session_token`] is off.
//! - [`Mode::S3`]: no path normalisation; each path segment is percent-decoded and encoded once
//!   (`/test$file.text` and `/test%24file.text` both give `/test%24file.text`); header
//!   authentication requires a signed `x-amz-content-sha256` (a hex SHA-256,
//!   `UNSIGNED-PAYLOAD` or a `STREAMING-…` value) which is the payload-hash line; presigned
//!   requests use `UNSIGNED-PAYLOAD`, unless the URL carries an `X-Amz-Content-Sha256` query
//!   parameter (part of the signed canonical query) or signed that header; the session token
//!   must be signed. The body is checked against the declared hash with
//!   [`Verified::check_body`], or chunk by chunk with [`chunked`].
//!
//! # What is checked
//!
//! [`ParsedAuth::parse`]: exactly one mechanism (header or query); algorithm
//! `AWS4-HMAC-SHA256` (SigV2 and SigV4a are `UnsupportedAlgorithm`); all parameters present
//! once; credential `AKID/YYYYMMDD/region/service/aws4_request`; `host` signed; `X-Amz-Date`
//! (or `Date`) well-formed and on the scope's day; signature 64 lowercase hex digits;
//! `X-Amz-Expires` in `1..=604800`.
//!
//! [`ParsedAuth::check`] / [`ParsedAuth::verify`]: region and service against
//! [`VerifyOptions`]; header authentication within 15 minutes of `now` either way
//! (`RequestTimeTooSkewed`); presigned requests not dated more than the skew into the future and
//! `now < X-Amz-Date + X-Amz-Expires` (`RequestExpired`); every signed header present; every
//! `x-amz-*` header signed (`UnsignedAmzHeader`; exempt: `x-amz-content-sha256` on presigned
//! requests, and the session token where unsigned tokens are allowed); the S3 payload rules;
//! then the signature, compared in constant time.
//!
//! # Security
//!
//! - Signatures are compared with `aws_lc_rs::constant_time::verify_slices_are_equal` on the
//!   64-byte lowercase hex form; uppercase hex is rejected at parse time so one signature has
//!   exactly one accepted spelling.
//! - No error carries a secret, a signing key, a signature, a session token or a header value;
//!   [`Signature`], [`ParsedAuth`] and [`SigningParams`] redact those in `Debug`, and
//!   [`SigningKey`] has no `Debug` at all. Its key material lives in aws-lc's HMAC context,
//!   which aws-lc cleanses on drop; the `AWS4`+secret buffer is overwritten after use.
//! - The access key id is not covered by the signature (it only selects the secret). A caller
//!   that accepts unsigned session tokens must check that the token belongs to the access key
//!   id and that the secret it uses came from that token or key.
//! - Time checks run before the signature so an expired request costs no key derivation.
//! - Parsing is allocation-light and panic-free on any input (fuzzed: `fuzz/fuzz_targets/sigv4_verify.rs`).
//!
//! # Browser-form uploads
//!
//! An S3 `POST Object` form is signed over its POST policy rather than over the request:
//! [`PostAuth`] checks the form's SigV4 fields (`x-amz-algorithm`, `x-amz-credential`,
//! `x-amz-date`, `x-amz-signature`, `policy`) and verifies `hex(HMAC(signing key, policy))` in
//! constant time; [`PostPolicy`] parses the base64 JSON document and checks a form against its
//! expiration, conditions and size range, with S3's error codes and messages. Known answers: the
//! S3 API Reference's POST example (unit tests in `post/tests.rs`).
//!
//! # Signing
//!
//! [`sign`] and [`presign`] produce the headers or the query string for the CLI and tests;
//! they share the canonicalisation code with the verifier.

mod canonical;
pub mod chunked;
mod error;
mod key;
mod key_cache;
mod parse;
mod post;
mod query;
mod sign;
mod timestamp;
mod verify;

/// Re-exported: the time types of this crate's API.
pub use time;

pub use canonical::Rules;
pub use error::SigV4Error;
pub use key::{Signature, SigningKey};
pub use key_cache::KeyCache;
pub use parse::{AuthKind, CredentialScope, ParsedAuth};
pub use post::{
    Bound, Condition, MAX_SIGNATURE_AGE, PolicyError, PostAuth, PostAuthError, PostFields,
    PostPolicy, PostViolation, post_signature,
};
pub use sign::{PresignedRequest, SignedRequest, SigningParams, presign, sign, sign_cached};
pub use verify::{Mode, SignedPayload, Verified, VerifyOptions};

/// The only algorithm implemented.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Payload hash of an unsigned payload (S3, presigned URLs).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// aws-chunked upload with a signature per chunk.
pub const STREAMING_SIGNED_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// aws-chunked upload with chunk signatures and a signed trailer.
pub const STREAMING_SIGNED_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// aws-chunked upload without signatures, with a checksum trailer.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// The longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_PRESIGNED_EXPIRES: u32 = 604_800;
/// How far a header-signed request's time may be from the server clock.
pub const DEFAULT_MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// A borrowed view of the parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: &'a str,
    /// The path as on the wire: percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string without `?` (empty when there is none).
    pub query: &'a str,
    /// All request headers in wire order, names in any case, values as bytes. Repeated headers
    /// appear repeatedly.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// A lowercase hex SHA-256, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    /// The 64 hex characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The generic-mode payload hash: lowercase hex SHA-256 of the body.
#[must_use]
pub fn payload_sha256(body: &[u8]) -> Sha256Hex {
    Sha256Hex(canonical::sha256_hex(body))
}

/// The canonical request for `req` as a signer would build it, for diagnostics and tests.
///
/// `signed_headers` is the `a;b;c` list; `presigned` leaves `X-Amz-Signature` out of the
/// canonical query string.
///
/// # Errors
/// `IncompleteSignature` when a signed header is absent from `req`.
pub fn canonical_request(
    req: &RequestParts<'_>,
    rules: Rules,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(512);
    let spec = canonical::CanonicalSpec {
        rules,
        exclusion: if presigned {
            canonical::QueryExclusion::Signature
        } else {
            canonical::QueryExclusion::None
        },
        signed_headers,
        payload_hash,
    };
    canonical::write_canonical_request(&mut out, req, &spec)?;
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex(sha256(canonical_request))>`.
#[must_use]
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    canonical::write_string_to_sign(&mut out, amz_date, scope, canonical_request);
    out
}
