//! What the control plane checks before it reads a request body.
//!
//! The signature of an IoT, IAM or STS request covers the SHA-256 of its body, so it can only
//! be verified once the body is in. Everything else can be checked first, and is, so that a
//! client without credentials is refused before it costs a buffered body: the Authorization
//! header or presigned query parses, the scope names this service and an accepted region, the
//! request time is within 15 minutes, the access key exists and is active (and a session
//! token opens, belongs to it and has not expired).
//!
//! When the client declares the body's hash in a signed `x-amz-content-sha256` header (the AWS
//! SDKs for Rust, Go v2 and Java v2 do), the signature itself is verified against that hash
//! before the body is read; [`iotcreds_registry::auth::authenticate`] verifies it again over
//! the body's actual hash afterwards, so a body that does not match is refused.

use iotcreds_registry::Registry;
use iotcreds_registry::auth::{self, AuthError};
use iotcreds_sigv4::{Mode, ParsedAuth, RequestParts, SigV4Error, VerifyOptions};

/// Run every check of [`auth::authenticate`] that does not need the body.
pub async fn before_body(
    registry: &Registry,
    parts: &http::request::Parts,
    service: &str,
    regions: &[&str],
    now: time::OffsetDateTime,
) -> Result<(), AuthError> {
    let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
    let mut headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(a) = authority.as_deref()
    {
        headers.push(("host", a.as_bytes()));
    }
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let auth = ParsedAuth::parse(&req)?;
    let opts = VerifyOptions {
        service: Some(service),
        ..VerifyOptions::default()
    };
    // Generic mode's payload line is the caller's hash, unknown yet: `check` does not use it.
    auth.check(&req, Mode::Generic { payload_sha256: "" }, &opts, now)?;
    let region = auth.scope().region;
    if !regions.contains(&region) {
        return Err(SigV4Error::InvalidScope(
            format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                region.chars().take(64).collect::<String>()
            )
            .into(),
        )
        .into());
    }
    let now_ms = iotcreds_types::time_fmt::to_millis(now);
    let (_, secret) =
        auth::resolve(registry, auth.access_key_id(), auth.session_token(), now_ms).await?;
    if let Some(declared) = signed_payload_hash(parts, &auth) {
        auth.verify_cached(
            &req,
            secret.expose(),
            registry.signing_keys(),
            Mode::Generic {
                payload_sha256: declared,
            },
            &opts,
            now,
        )?;
    }
    Ok(())
}

/// The body hash the client signed in `x-amz-content-sha256`, if it is a lowercase hex SHA-256.
fn signed_payload_hash<'a>(
    parts: &'a http::request::Parts,
    auth: &ParsedAuth<'_>,
) -> Option<&'a str> {
    if !auth.is_signed("x-amz-content-sha256") {
        return None;
    }
    let mut values = parts.headers.get_all("x-amz-content-sha256").iter();
    let value = values.next()?.to_str().ok()?;
    let hex = value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex && values.next().is_none()).then_some(value)
}
