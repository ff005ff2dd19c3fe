//! Phase two: check a parsed authentication against the request, the clock and the secret.

use std::borrow::Cow;

use time::{Duration, OffsetDateTime};

use crate::canonical::{
    CanonicalSpec, QueryExclusion, Rules, write_canonical_request, write_string_to_sign,
};
use crate::key::{Signature, SigningKey};
use crate::parse::{AuthKind, ParsedAuth};
use crate::{
    DEFAULT_MAX_CLOCK_SKEW, RequestParts, STREAMING_SIGNED_PAYLOAD,
    STREAMING_SIGNED_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER, SigV4Error,
    UNSIGNED_PAYLOAD,
};

/// Which service rules a request is verified under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    /// IoT, IAM, STS and every other non-S3 service: the payload hash is the SHA-256 of the body
    /// as received, computed by the caller ([`crate::payload_sha256`]), so a client that signed
    /// `UNSIGNED-PAYLOAD` is rejected; the path is double encoded and normalised (see
    /// [`VerifyOptions::normalize_path`]).
    Generic {
        /// Lowercase hex SHA-256 of the request body.
        payload_sha256: &'a str,
    },
    /// S3: single path encoding, no normalisation; the payload hash is the signed
    /// `x-amz-content-sha256` header (required for header authentication); for presigned
    /// requests an `X-Amz-Content-Sha256` query parameter, else a signed
    /// `x-amz-content-sha256` header, else `UNSIGNED-PAYLOAD`; the session token must be signed.
    S3,
}

/// Server-side policy for verification. `Default` is what an AWS endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions<'a> {
    /// Generic mode: normalise the path (`.`/`..`/`//`) before encoding. Default `true`.
    /// Ignored in S3 mode.
    pub normalize_path: bool,
    /// The region this endpoint serves; `None` accepts any region in the scope.
    pub region: Option<&'a str>,
    /// The service this endpoint expects in the scope; `None` accepts any.
    pub service: Option<&'a str>,
    /// Maximum distance between the request time and `now` for header authentication, and how far
    /// in the future a presigned request may be dated. Default 15 minutes.
    pub max_clock_skew: Duration,
    /// Every `x-amz-*` header present must be signed. Default `true`. Exemptions:
    /// `x-amz-content-sha256` on presigned requests (the client cannot have signed what it adds
    /// when it uses a URL; its value is then not used for the payload hash), and
    /// `x-amz-security-token` when [`Self::allow_unsigned_session_token`] applies.
    pub require_signed_amz_headers: bool,
    /// Generic mode only: accept a session token that was added after signing (an unsigned
    /// `X-Amz-Security-Token` header, or a presigned URL whose canonical query left the token
    /// out), as AWS does for services that document appending the token after signing. Default
    /// `true`. S3 mode always requires the token to be signed.
    pub allow_unsigned_session_token: bool,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        Self {
            normalize_path: true,
            region: None,
            service: None,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            require_signed_amz_headers: true,
            allow_unsigned_session_token: true,
        }
    }
}

/// What the signed payload-hash line said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedPayload {
    /// A SHA-256 (generic mode: the caller's hash of the body; S3: the declared hash, to be
    /// checked against the body with [`Verified::check_body`]).
    Sha256([u8; 64]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: chunk signatures follow ([`crate::chunked`]).
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: chunk signatures and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned aws-chunked body with a checksum trailer.
    StreamingUnsignedTrailer,
}

/// A successfully verified request.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Verified {
    /// Whether a session token was covered by the signature (`false` also when there is none).
    pub session_token_signed: bool,
    /// The payload-hash line that was signed.
    pub payload: SignedPayload,
    /// The request's signature: the seed of an aws-chunked signature chain.
    pub signature: Signature,
}

impl Verified {
    /// S3 mode, buffered body: checks the body against the declared `x-amz-content-sha256`.
    ///
    /// # Errors
    /// `ContentSha256Mismatch` when the hashes differ; `InvalidContentSha256` for a streaming
    /// payload, whose chunks must be checked with [`crate::chunked`] instead.
    pub fn check_body(&self, body: &[u8]) -> Result<(), SigV4Error> {
        match self.payload {
            SignedPayload::Unsigned => Ok(()),
            SignedPayload::Sha256(declared) => {
                if crate::canonical::sha256_hex(body) == declared {
                    Ok(())
                } else {
                    Err(SigV4Error::ContentSha256Mismatch)
                }
            }
            _ => Err(SigV4Error::InvalidContentSha256),
        }
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Classifies an `x-amz-content-sha256` value.
fn classify_payload(value: &str) -> Result<SignedPayload, SigV4Error> {
    Ok(match value {
        UNSIGNED_PAYLOAD => SignedPayload::Unsigned,
        STREAMING_SIGNED_PAYLOAD => SignedPayload::StreamingSigned,
        STREAMING_SIGNED_PAYLOAD_TRAILER => SignedPayload::StreamingSignedTrailer,
        STREAMING_UNSIGNED_PAYLOAD_TRAILER => SignedPayload::StreamingUnsignedTrailer,
        v if crate::key::is_signature_syntax(v) => {
            let mut out = [0u8; 64];
            out.copy_from_slice(v.as_bytes());
            SignedPayload::Sha256(out)
        }
        _ => return Err(SigV4Error::InvalidContentSha256),
    })
}

impl ParsedAuth<'_> {
    /// The checks that need neither the secret nor the signature, so a caller can run them
    /// before looking the secret up ([`Self::verify`] runs them again): scope region/service,
    /// the clock, signed headers present, `x-amz-*` headers signed, and the S3 payload and
    /// session-token rules.
    ///
    /// # Errors
    /// `InvalidScope`, `RequestTimeTooSkewed`, `RequestExpired`, `IncompleteSignature`,
    /// `UnsignedAmzHeader`, `MissingContentSha256`, `InvalidContentSha256`.
    pub fn check(
        &self,
        req: &RequestParts<'_>,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<(), SigV4Error> {
        self.check_scope(opts)?;
        self.check_time(opts, now)?;
        self.check_headers(req, mode, opts)?;
        self.payload_line(req, mode).map(|_| ())
    }

    fn check_scope(&self, opts: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
        let scope = self.scope();
        if let Some(region) = opts.region
            && scope.region != region
        {
            return Err(SigV4Error::scope(
                "Credential should be scoped to a valid region.",
            ));
        }
        if let Some(service) = opts.service
            && scope.service != service
        {
            return Err(SigV4Error::InvalidScope(Cow::Owned(format!(
                "Credential should be scoped to correct service: '{service}'."
            ))));
        }
        Ok(())
    }

    fn check_time(&self, opts: &VerifyOptions<'_>, now: OffsetDateTime) -> Result<(), SigV4Error> {
        let now = now.unix_timestamp();
        let t = self.date.unix();
        let skew = opts.max_clock_skew.whole_seconds().max(0);
        match self.expires {
            None if (now - t).abs() > skew => Err(SigV4Error::RequestTimeTooSkewed),
            None => Ok(()),
            Some(_) if t - now > skew => Err(SigV4Error::RequestTimeTooSkewed),
            Some(expires) if now >= t + i64::from(expires) => Err(SigV4Error::RequestExpired),
            Some(_) => Ok(()),
        }
    }

    fn check_headers(
        &self,
        req: &RequestParts<'_>,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
    ) -> Result<(), SigV4Error> {
        for name in self.signed_headers() {
            if !req
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(SigV4Error::incomplete(
                    "A header listed in SignedHeaders is not present in the request.",
                ));
            }
        }
        let s3 = matches!(mode, Mode::S3);
        for (name, _) in req.headers {
            if !starts_with_ignore_case(name, "x-amz-") || self.is_signed(name) {
                continue;
            }
            if name.eq_ignore_ascii_case("x-amz-security-token") {
                if s3 || !opts.allow_unsigned_session_token {
                    return Err(SigV4Error::UnsignedAmzHeader(
                        "x-amz-security-token".to_owned(),
                    ));
                }
                continue;
            }
            if self.kind == AuthKind::Presigned && name.eq_ignore_ascii_case("x-amz-content-sha256")
            {
                continue;
            }
            if opts.require_signed_amz_headers {
                return Err(SigV4Error::UnsignedAmzHeader(name.to_ascii_lowercase()));
            }
        }
        Ok(())
    }

    /// The payload-hash line of the canonical request.
    fn payload_line<'r>(
        &'r self,
        req: &RequestParts<'r>,
        mode: Mode<'r>,
    ) -> Result<(&'r str, SignedPayload), SigV4Error> {
        let declared = || -> Result<Option<&'r str>, SigV4Error> {
            let mut found = None;
            for (n, v) in req.headers {
                if n.eq_ignore_ascii_case("x-amz-content-sha256") && found.replace(*v).is_some() {
                    return Err(SigV4Error::InvalidContentSha256);
                }
            }
            found
                .map(|v| {
                    std::str::from_utf8(v.trim_ascii())
                        .map_err(|_| SigV4Error::InvalidContentSha256)
                })
                .transpose()
        };
        match (mode, self.kind) {
            (Mode::Generic { payload_sha256 }, _) => {
                let mut line = [0u8; 64];
                let n = payload_sha256.len().min(64);
                line[..n].copy_from_slice(&payload_sha256.as_bytes()[..n]);
                Ok((payload_sha256, SignedPayload::Sha256(line)))
            }
            (Mode::S3, AuthKind::Header) => {
                let value = declared()?.ok_or(SigV4Error::MissingContentSha256)?;
                Ok((value, classify_payload(value)?))
            }
            (Mode::S3, AuthKind::Presigned) => {
                if let Some(value) = self.query_content_sha256.as_deref() {
                    // Part of the canonical query, hence signed.
                    return Ok((value, classify_payload(value)?));
                }
                if self.is_signed("x-amz-content-sha256")
                    && let Some(value) = declared()?
                {
                    return Ok((value, classify_payload(value)?));
                }
                Ok((UNSIGNED_PAYLOAD, SignedPayload::Unsigned))
            }
        }
    }

    /// The canonical request the server computes for this request (for diagnostics and tests;
    /// [`Self::verify`] builds the same bytes). A presigned request's canonical query includes the
    /// session token (the signed form).
    ///
    /// # Errors
    /// When a signed header is missing, or S3 payload rules fail.
    pub fn canonical_request(
        &self,
        req: &RequestParts<'_>,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
    ) -> Result<Vec<u8>, SigV4Error> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out, req, mode, opts, self.default_exclusion())?;
        Ok(out)
    }

    /// The string to sign for a canonical request under this request's date and scope.
    #[must_use]
    pub fn string_to_sign(&self, canonical_request: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        write_string_to_sign(
            &mut out,
            self.amz_date(),
            self.scope_str(),
            canonical_request,
        );
        out
    }

    fn default_exclusion(&self) -> QueryExclusion {
        match self.kind {
            AuthKind::Header => QueryExclusion::None,
            AuthKind::Presigned => QueryExclusion::Signature,
        }
    }

    fn write_canonical(
        &self,
        out: &mut Vec<u8>,
        req: &RequestParts<'_>,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
        exclusion: QueryExclusion,
    ) -> Result<SignedPayload, SigV4Error> {
        let (payload_hash, payload) = self.payload_line(req, mode)?;
        let rules = match mode {
            Mode::Generic { .. } => Rules::Generic {
                normalize_path: opts.normalize_path,
            },
            Mode::S3 => Rules::S3,
        };
        let spec = CanonicalSpec {
            rules,
            exclusion,
            signed_headers: &self.signed_headers,
            payload_hash,
        };
        write_canonical_request(out, req, &spec)?;
        Ok(payload)
    }

    /// Verifies the request with the secret access key looked up for
    /// [`Self::access_key_id`] (the key is derived on every call; see
    /// [`Self::verify_with_key`] to reuse one).
    ///
    /// # Errors
    /// Everything [`Self::check`] reports, then `SignatureDoesNotMatch`.
    pub fn verify(
        &self,
        req: &RequestParts<'_>,
        secret_access_key: &str,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, SigV4Error> {
        self.check(req, mode, opts, now)?;
        let scope = self.scope();
        let key = SigningKey::derive(secret_access_key, scope.date, scope.region, scope.service);
        self.verify_signature(req, &key, mode, opts)
    }

    /// Like [`Self::verify`], taking the signing key from `cache` (derived and remembered on a
    /// miss). The request is checked before the cache is consulted.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub fn verify_cached(
        &self,
        req: &RequestParts<'_>,
        secret_access_key: &str,
        cache: &crate::KeyCache,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, SigV4Error> {
        self.check(req, mode, opts, now)?;
        let scope = self.scope();
        let key = cache.key(
            self.access_key_id(),
            secret_access_key,
            scope.date,
            scope.region,
            scope.service,
        );
        self.verify_signature(req, &key, mode, opts)
    }

    /// Like [`Self::verify`] with a cached [`SigningKey`]. A key derived for another scope
    /// (date, region, service) cannot match and yields `SignatureDoesNotMatch`.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub fn verify_with_key(
        &self,
        req: &RequestParts<'_>,
        key: &SigningKey,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<Verified, SigV4Error> {
        self.check(req, mode, opts, now)?;
        let scope = self.scope();
        if !key.is_for(scope.date, scope.region, scope.service) {
            return Err(SigV4Error::SignatureDoesNotMatch);
        }
        self.verify_signature(req, key, mode, opts)
    }

    fn verify_signature(
        &self,
        req: &RequestParts<'_>,
        key: &SigningKey,
        mode: Mode<'_>,
        opts: &VerifyOptions<'_>,
    ) -> Result<Verified, SigV4Error> {
        let mut creq = Vec::with_capacity(512);
        let mut sts = Vec::with_capacity(160);
        let attempt = |creq: &mut Vec<u8>, sts: &mut Vec<u8>, exclusion| {
            let payload = self.write_canonical(creq, req, mode, opts, exclusion)?;
            write_string_to_sign(sts, self.amz_date(), self.scope_str(), creq);
            let computed = key.sign(sts);
            computed
                .verify(&self.signature)
                .map(|()| (computed, payload))
        };
        let token = self.session_token.is_some();
        match attempt(&mut creq, &mut sts, self.default_exclusion()) {
            Ok((signature, payload)) => {
                let session_token_signed =
                    token && (self.token_in_query || self.is_signed("x-amz-security-token"));
                return Ok(Verified {
                    session_token_signed,
                    payload,
                    signature,
                });
            }
            Err(SigV4Error::SignatureDoesNotMatch) => {}
            Err(e) => return Err(e),
        }
        // A presigned URL whose token was appended after signing (generic services only).
        if self.token_in_query
            && matches!(mode, Mode::Generic { .. })
            && opts.allow_unsigned_session_token
        {
            let (signature, payload) =
                attempt(&mut creq, &mut sts, QueryExclusion::SignatureAndToken)?;
            return Ok(Verified {
                session_token_signed: false,
                payload,
                signature,
            });
        }
        Err(SigV4Error::SignatureDoesNotMatch)
    }
}
