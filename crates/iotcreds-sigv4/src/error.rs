//! The error type: one variant per AWS error code an edge sends for a failed SigV4 check.

use std::borrow::Cow;

/// Why a request was not authenticated.
///
/// Each variant corresponds to one AWS error code, given by [`SigV4Error::code`]. The `Display`
/// text is the AWS message where it is known. No variant ever carries a secret, a signing key,
/// a signature or a session token: messages are static or name only headers and parameters.
/// HTTP status codes are the edge's business, not this crate's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// The request carries no SigV4 authentication at all (no `Authorization` header and no
    /// `X-Amz-Algorithm`/`X-Amz-Credential`/`X-Amz-Signature` query parameter).
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header (or, for presigned requests, a structural rule that applies to
    /// both forms) is malformed: a parameter is missing, duplicated or badly formed, `host` is not
    /// signed, a signed header is absent, the date header is missing.
    #[error("{0}")]
    IncompleteSignature(Cow<'static, str>),

    /// The signature the server computed differs from the one in the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,

    /// Header authentication: `X-Amz-Date` (or `Date`) is further from the server clock than the
    /// allowed skew (15 minutes by default). Also used for presigned requests dated in the future
    /// beyond the skew.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed,

    /// Presigned request: `now` is not before `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    RequestExpired,

    /// Presigned request: a query authentication parameter is missing, duplicated or invalid
    /// (for example `X-Amz-Expires` outside `1..=604800`).
    #[error("{0}")]
    AuthorizationQueryParametersError(Cow<'static, str>),

    /// A header whose name starts with `x-amz-` is present on the request but not listed in the
    /// signed headers. Carries the lowercase header name (never its value).
    #[error("There were headers present in the request which were not signed: {0}")]
    UnsignedAmzHeader(String),

    /// The credential scope is not acceptable: wrong terminator, a region or service other than
    /// the one this endpoint serves, or a scope date that is not the day of `X-Amz-Date`.
    #[error("{0}")]
    InvalidScope(Cow<'static, str>),

    /// The request uses an authentication scheme this server does not implement (SigV2,
    /// SigV4a `AWS4-ECDSA-P256-SHA256`, another `AWS4-*` algorithm).
    #[error("{0}")]
    UnsupportedAlgorithm(Cow<'static, str>),

    /// S3 header authentication without an `x-amz-content-sha256` header.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,

    /// `x-amz-content-sha256` is neither a lowercase hex SHA-256 nor a recognised sentinel.
    #[error(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
    )]
    InvalidContentSha256,

    /// The body's SHA-256 differs from the `x-amz-content-sha256` the request declared and signed.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
}

impl SigV4Error {
    /// The AWS error code string for this error (`<Code>` in XML, `__type` in JSON).
    ///
    /// | variant | code |
    /// |---|---|
    /// | `MissingAuthenticationToken` | `MissingAuthenticationToken` |
    /// | `IncompleteSignature` | `IncompleteSignature` |
    /// | `SignatureDoesNotMatch` | `SignatureDoesNotMatch` |
    /// | `RequestTimeTooSkewed` | `RequestTimeTooSkewed` |
    /// | `RequestExpired` | `RequestExpired` |
    /// | `AuthorizationQueryParametersError` | `AuthorizationQueryParametersError` |
    /// | `UnsignedAmzHeader` | `AccessDenied` (S3's answer for unsigned `x-amz-*` headers) |
    /// | `InvalidScope` | `SignatureDoesNotMatch` (what IAM/STS answer for a wrongly scoped credential) |
    /// | `UnsupportedAlgorithm` | `InvalidRequest` (S3's answer for SigV2/SigV4a) |
    /// | `MissingContentSha256` | `InvalidRequest` |
    /// | `InvalidContentSha256` | `InvalidArgument` |
    /// | `ContentSha256Mismatch` | `XAmzContentSHA256Mismatch` |
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::SignatureDoesNotMatch | Self::InvalidScope(_) => "SignatureDoesNotMatch",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::RequestExpired => "RequestExpired",
            Self::AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            Self::UnsignedAmzHeader(_) => "AccessDenied",
            Self::UnsupportedAlgorithm(_) | Self::MissingContentSha256 => "InvalidRequest",
            Self::InvalidContentSha256 => "InvalidArgument",
            Self::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    pub(crate) fn incomplete(msg: &'static str) -> Self {
        Self::IncompleteSignature(Cow::Borrowed(msg))
    }

    pub(crate) fn query_param(msg: &'static str) -> Self {
        Self::AuthorizationQueryParametersError(Cow::Borrowed(msg))
    }

    pub(crate) fn scope(msg: &'static str) -> Self {
        Self::InvalidScope(Cow::Borrowed(msg))
    }
}
