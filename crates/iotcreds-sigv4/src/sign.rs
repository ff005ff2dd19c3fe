//! Signing, for the CLI, the upstream object backend and tests: header authentication and
//! presigned URLs.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::canonical::{
    CanonicalSpec, QueryExclusion, Rules, uri_encode, write_canonical_request, write_string_to_sign,
};
use crate::key::{Signature, SigningKey};
use crate::key_cache::KeyCache;
use crate::query::{query_content_sha256, query_has_auth_params, query_looks_presigned};
use crate::timestamp::AmzDate;
use crate::{ALGORITHM, MAX_PRESIGNED_EXPIRES, RequestParts, SigV4Error, TERMINATOR};

/// Headers a signer never signs: they are set or rewritten by proxies and HTTP stacks.
const UNSIGNABLE: [&str; 10] = [
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// Everything needed to sign one request.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key. Never copied anywhere but into the key derivation.
    pub secret_access_key: &'a str,
    /// A session token for temporary credentials; always signed.
    pub session_token: Option<&'a str>,
    /// The region of the scope.
    pub region: &'a str,
    /// The service of the scope (`s3`, `iot`, `iam`, `sts`, …).
    pub service: &'a str,
    /// The signing time.
    pub time: OffsetDateTime,
    /// Canonical URI rules: [`Rules::S3`] for S3, [`Rules::GENERIC`] otherwise.
    pub rules: Rules,
    /// The payload-hash line: [`crate::payload_sha256`] of the body, [`crate::UNSIGNED_PAYLOAD`],
    /// or a `STREAMING-…` value.
    pub payload_hash: &'a str,
    /// Header signing: also add (and sign) `x-amz-content-sha256: <payload_hash>` (S3 requires
    /// it). Ignored when presigning.
    pub content_sha256_header: bool,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("rules", &self.rules)
            .field("payload_hash", &self.payload_hash)
            .finish_non_exhaustive()
    }
}

/// The result of [`sign`]: headers to set on the request (replacing any of the same name).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// `X-Amz-Date`, then `X-Amz-Security-Token` and `x-amz-content-sha256` when applicable, then
    /// `Authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The signature (also inside `Authorization`); the seed of an aws-chunked upload.
    pub signature: Signature,
}

/// The result of [`presign`].
#[derive(Debug, Clone)]
pub struct PresignedRequest {
    /// The complete query string to use (without `?`): the original parameters followed by the
    /// `X-Amz-*` authentication parameters, `X-Amz-Signature` last.
    pub query: String,
    /// The signature.
    pub signature: Signature,
}

fn check_params(p: &SigningParams<'_>) -> Result<AmzDate, SigV4Error> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    // Other S3 servers (MinIO, Ceph) accept keys such as `iotcreds-gateway`: anything that
    // cannot break the `Credential=` syntax is signed.
    if p.access_key_id.is_empty()
        || !p
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'='))
    {
        return Err(SigV4Error::incomplete(
            "The access key id must be non-empty printable ASCII without '/', ',' or '='.",
        ));
    }
    if !name_ok(p.region) || !name_ok(p.service) {
        return Err(SigV4Error::scope(
            "Region and service must be non-empty lowercase names.",
        ));
    }
    AmzDate::from_time(p.time)
        .map_err(|()| SigV4Error::incomplete("The signing time must be within years 0000-9999."))
}

/// The sorted, deduplicated, lowercase names of the headers to sign, plus `extra`.
fn signed_header_list(headers: &[(&str, &[u8])], extra: &[&str]) -> Result<String, SigV4Error> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !UNSIGNABLE.contains(&n.as_str()))
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SigV4Error::incomplete(
            "The request must have a Host header to be signed.",
        ));
    }
    Ok(names.join(";"))
}

fn signature_for(
    req: &RequestParts<'_>,
    p: &SigningParams<'_>,
    key: &SigningKey,
    date: &AmzDate,
    signed_headers: &str,
    payload_hash: &str,
    exclusion: QueryExclusion,
) -> Result<(Signature, String), SigV4Error> {
    let mut creq = Vec::with_capacity(512);
    let spec = CanonicalSpec {
        rules: p.rules,
        exclusion,
        signed_headers,
        payload_hash,
    };
    write_canonical_request(&mut creq, req, &spec)?;
    let mut sts = Vec::with_capacity(160);
    write_string_to_sign(&mut sts, date.as_str(), key.scope(), &creq);
    Ok((key.sign(&sts), key.scope().to_owned()))
}

/// Signs a request with an `Authorization` header.
///
/// Every header in `req.headers` is signed except hop-by-hop and proxy-managed ones
/// (`authorization`, `connection`, `expect`, `keep-alive`, `proxy-authorization`, `te`,
/// `trailer`, `transfer-encoding`, `upgrade`, `user-agent`); `host` is required. The headers
/// this function produces (`X-Amz-Date` always, `X-Amz-Security-Token` with a session token,
/// `x-amz-content-sha256` when asked) replace any the caller passed under those names.
///
/// # Errors
/// `IncompleteSignature` without a `host` header or with a bad access key id, `InvalidScope`
/// for a malformed region or service, `AuthorizationQueryParametersError` when the query
/// already carries `X-Amz-Algorithm`/`X-Amz-Credential`/`X-Amz-Signature`.
pub fn sign(req: &RequestParts<'_>, p: &SigningParams<'_>) -> Result<SignedRequest, SigV4Error> {
    header_sign(req, p, None)
}

/// [`sign`] with the signing key taken from `keys` (derived once a day per access key id,
/// secret and scope): for a client that signs many requests with one key, such as the
/// upstream object backend.
///
/// # Errors
/// As [`sign`].
pub fn sign_cached(
    req: &RequestParts<'_>,
    p: &SigningParams<'_>,
    keys: &KeyCache,
) -> Result<SignedRequest, SigV4Error> {
    header_sign(req, p, Some(keys))
}

fn header_sign(
    req: &RequestParts<'_>,
    p: &SigningParams<'_>,
    keys: Option<&KeyCache>,
) -> Result<SignedRequest, SigV4Error> {
    let date = check_params(p)?;
    if query_looks_presigned(req.query) {
        return Err(SigV4Error::query_param(
            "The query carries presigned-URL parameters; it cannot also be header-signed.",
        ));
    }
    let ours = |n: &str| {
        n.eq_ignore_ascii_case("x-amz-date")
            || (p.session_token.is_some() && n.eq_ignore_ascii_case("x-amz-security-token"))
            || (p.content_sha256_header && n.eq_ignore_ascii_case("x-amz-content-sha256"))
    };
    let mut headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .filter(|(n, _)| !ours(n))
        .copied()
        .collect();
    let mut added: Vec<(&'static str, String)> = vec![("X-Amz-Date", date.as_str().to_owned())];
    if let Some(token) = p.session_token {
        added.push(("X-Amz-Security-Token", token.to_owned()));
    }
    if p.content_sha256_header {
        added.push(("x-amz-content-sha256", p.payload_hash.to_owned()));
    }
    headers.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
    let signed_headers = signed_header_list(&headers, &[])?;
    let view = RequestParts {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: &headers,
    };
    let key = match keys {
        Some(cache) => cache.key(
            p.access_key_id,
            p.secret_access_key,
            date.day(),
            p.region,
            p.service,
        ),
        None => Arc::new(SigningKey::derive(
            p.secret_access_key,
            date.day(),
            p.region,
            p.service,
        )),
    };
    let (signature, scope) = signature_for(
        &view,
        p,
        &key,
        &date,
        &signed_headers,
        p.payload_hash,
        QueryExclusion::None,
    )?;
    added.push((
        "Authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
            p.access_key_id,
            signature.as_str()
        ),
    ));
    Ok(SignedRequest {
        headers: added,
        signature,
    })
}

/// Presigns a request: returns the query string carrying the signature, valid for
/// `expires_in` seconds (1 to 604800).
///
/// Signed headers are `host` plus every other header in `req.headers` (minus the unsignable
/// ones); whoever uses the URL must send them unchanged. For S3 pass
/// [`crate::UNSIGNED_PAYLOAD`] as `payload_hash`.
///
/// # Errors
/// `AuthorizationQueryParametersError` for `expires_in` out of range or a query that already
/// has authentication parameters; otherwise as [`sign`].
pub fn presign(
    req: &RequestParts<'_>,
    p: &SigningParams<'_>,
    expires_in: u32,
) -> Result<PresignedRequest, SigV4Error> {
    let date = check_params(p)?;
    if !(1..=MAX_PRESIGNED_EXPIRES).contains(&expires_in) {
        return Err(SigV4Error::query_param(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    if query_has_auth_params(req.query) {
        return Err(SigV4Error::query_param(
            "The query already contains X-Amz-* authentication parameters.",
        ));
    }
    if p.rules == Rules::S3
        && query_content_sha256(req.query).map_or(true, |v| v.is_some_and(|v| v != p.payload_hash))
    {
        // S3 takes a presigned URL's payload hash from this parameter.
        return Err(SigV4Error::query_param(
            "An X-Amz-Content-Sha256 query parameter must equal the payload hash being signed.",
        ));
    }
    let signed_headers = signed_header_list(req.headers, &[])?;
    let mut query = String::with_capacity(req.query.len() + 256);
    if !req.query.is_empty() {
        query.push_str(req.query);
        query.push('&');
    }
    let credential = format!(
        "{}/{}/{}/{}/{TERMINATOR}",
        p.access_key_id,
        date.day(),
        p.region,
        p.service
    );
    query.push_str(&format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={expires_in}&X-Amz-SignedHeaders={}",
        uri_encode(&credential),
        date.as_str(),
        uri_encode(&signed_headers)
    ));
    if let Some(token) = p.session_token {
        query.push_str("&X-Amz-Security-Token=");
        query.push_str(&uri_encode(token));
    }
    let view = RequestParts {
        method: req.method,
        path: req.path,
        query: &query,
        headers: req.headers,
    };
    let key = SigningKey::derive(p.secret_access_key, date.day(), p.region, p.service);
    let (signature, _) = signature_for(
        &view,
        p,
        &key,
        &date,
        &signed_headers,
        p.payload_hash,
        QueryExclusion::Signature,
    )?;
    query.push_str("&X-Amz-Signature=");
    query.push_str(signature.as_str());
    Ok(PresignedRequest { query, signature })
}
