//! Authentication on the service endpoint: an access key id (and session token) to a
//! [`Principal`] and its secret, and SigV4 verification of non-S3 requests.
//!
//! - `ASIA…` keys are temporary: the secret is derived from the key id by the token key ring,
//!   and the session token is required, must open, must belong to that key id and must not
//!   have expired; the principal is the session's role *as it is now* (a deleted role denies).
//! - `AKIA…` keys are long-term: the account's root key, or an ACTIVE key of an IAM user.
//! - Anything else, and any id outside AWS's 16–128 characters of `[\w]`, is unknown without a
//!   look-up ([`secret_of`] and [`resolve_principal`], which every path calls, check the shape
//!   first).
//!
//! S3 requests are verified by s3s (which calls [`resolve`] through `S3Auth` and the access
//! hook); IoT, IAM and STS requests by [`authenticate`], with the SigV4 crate in generic mode.

use iotcreds_sigv4::{Mode, ParsedAuth, RequestParts, SigV4Error, VerifyOptions, payload_sha256};
use iotcreds_store::StoreError;
use iotcreds_token::{AccessKeyKind, Secret, TokenError, access_key_kind};
use iotcreds_types::AccessKeyStatus;

use crate::Registry;
use crate::authz::Principal;

/// Why a request was not authenticated. The edges map each to their protocol's error.
#[derive(Debug)]
pub enum AuthError {
    /// The signature check failed (or there was none).
    Sig(SigV4Error),
    /// The access key id is unknown or inactive.
    UnknownAccessKey,
    /// A temporary key without a session token, or a token that does not open or belongs to
    /// another key.
    InvalidToken,
    /// The session token has expired.
    ExpiredToken,
    /// The session's role no longer exists.
    RoleGone,
    /// The registry cannot be reached.
    Unavailable(String),
    /// Anything else.
    Internal(String),
}

impl From<SigV4Error> for AuthError {
    fn from(e: SigV4Error) -> Self {
        AuthError::Sig(e)
    }
}

fn store_err(e: StoreError) -> AuthError {
    if e.is_unavailable() {
        AuthError::Unavailable(e.to_string())
    } else {
        AuthError::Internal(e.to_string())
    }
}

/// The kind of key `access_key_id` names, if it has the shape of one this server issues
/// (see [`iotcreds_token::access_key_kind`]). Every look-up by access key id starts here, so a
/// made-up id of any size is refused as unknown before it reaches a cache, the key ring or the
/// database.
fn shape(access_key_id: &str) -> Result<AccessKeyKind, AuthError> {
    access_key_kind(access_key_id).ok_or(AuthError::UnknownAccessKey)
}

/// The secret of an access key id, without resolving the principal (S3's `S3Auth` needs only
/// this; the session token is checked by the access hook through [`resolve`]).
pub async fn secret_of(registry: &Registry, access_key_id: &str) -> Result<Secret, AuthError> {
    if shape(access_key_id)? == AccessKeyKind::Temporary {
        let ring = registry.keyring_for(access_key_id).await;
        if let Some(id) = ring.revoked_key_of(access_key_id) {
            return Err(refuse_revoked(access_key_id, id));
        }
        return ring
            .secret_for(access_key_id)
            .map_err(|_| AuthError::UnknownAccessKey);
    }
    let root = registry.root();
    if access_key_id == root.access_key_id {
        return Ok(root.secret.clone());
    }
    match registry
        .access_key(access_key_id)
        .await
        .map_err(store_err)?
    {
        Some(k) if k.status == AccessKeyStatus::Active => Ok(Secret::new(k.secret.clone())),
        _ => Err(AuthError::UnknownAccessKey),
    }
}

/// Resolve an access key id and session token to a principal and the key's secret.
pub async fn resolve(
    registry: &Registry,
    access_key_id: &str,
    session_token: Option<&str>,
    now_ms: i64,
) -> Result<(Principal, Secret), AuthError> {
    let principal = resolve_principal(registry, access_key_id, session_token, now_ms).await?;
    let secret = secret_of(registry, access_key_id).await?;
    Ok((principal, secret))
}

/// Resolve an access key id and session token to a principal, without the key's secret (the
/// S3 access hook: s3s has verified the signature with [`secret_of`] already). A session token
/// opened before is not opened again (see `KeyRing::open_cached`).
pub async fn resolve_principal(
    registry: &Registry,
    access_key_id: &str,
    session_token: Option<&str>,
    now_ms: i64,
) -> Result<Principal, AuthError> {
    let kind = shape(access_key_id)?;
    let account = registry.account_id().to_owned();
    if kind == AccessKeyKind::Temporary {
        let ring = registry.keyring_for(access_key_id).await;
        // The key id first, as `secret_of` would: an unknown key is an unknown key, whatever
        // the token says.
        match iotcreds_token::KeyRing::key_id_of(access_key_id) {
            Ok(id) if ring.contains(id) => {}
            Ok(id) if ring.is_revoked(id) => return Err(refuse_revoked(access_key_id, id)),
            _ => return Err(AuthError::UnknownAccessKey),
        }
        let token = session_token.ok_or(AuthError::InvalidToken)?;
        let claims = ring
            .open_cached(token, access_key_id, now_ms)
            .map_err(|e| match e {
                TokenError::Expired => AuthError::ExpiredToken,
                _ => AuthError::InvalidToken,
            })?;
        let role = registry
            .role(&claims.role_name)
            .await
            .map_err(store_err)?
            .ok_or(AuthError::RoleGone)?;
        if let Some(reason) = device_revocation(registry, &claims).await? {
            tracing::info!(
                target: "iotcreds::audit",
                event = "authenticate",
                decision = "deny",
                access_key_id,
                certificate_id = claims.certificate_id.as_deref().unwrap_or_default(),
                thing = claims.thing_name.as_deref().unwrap_or_default(),
                reason = %reason,
            );
            return Err(AuthError::InvalidToken);
        }
        return Ok(Principal::Session { claims, role });
    }
    let root = registry.root();
    if access_key_id == root.access_key_id {
        return Ok(Principal::Root {
            account,
            access_key_id: access_key_id.to_owned(),
        });
    }
    let key = match registry
        .access_key(access_key_id)
        .await
        .map_err(store_err)?
    {
        Some(k) if k.status == AccessKeyStatus::Active => k,
        _ => return Err(AuthError::UnknownAccessKey),
    };
    let user = registry
        .user(&key.user_name)
        .await
        .map_err(store_err)?
        .ok_or(AuthError::UnknownAccessKey)?;
    Ok(Principal::User {
        user,
        account,
        access_key_id: access_key_id.to_owned(),
    })
}

/// Why the credentials issued to a device are no longer honoured, if they are not: its
/// certificate was deleted (or deleted and registered again after the session was issued), is
/// no longer ACTIVE, or was detached from the thing named at issuance, or the thing's sessions
/// issued before a time were revoked (`RevokeThingSessions`). The reads are the registry's
/// cached ones (dropped on every registry change, on every instance), so the check costs a few
/// map look-ups per request and a change takes effect with the next request.
async fn device_revocation(
    registry: &Registry,
    claims: &iotcreds_token::Claims,
) -> Result<Option<String>, AuthError> {
    let Some(certificate_id) = &claims.certificate_id else {
        return Ok(None);
    };
    let Some(cert) = registry
        .certificate(certificate_id)
        .await
        .map_err(store_err)?
    else {
        return Ok(Some(
            "the certificate was deleted after the session was issued".into(),
        ));
    };
    if cert.cert.created_at > claims.issued_at_ms {
        return Ok(Some(
            "the certificate was registered again after the session was issued".into(),
        ));
    }
    if !cert.cert.status.authenticates() {
        return Ok(Some(format!(
            "the certificate is {} (sessions issued to it are revoked)",
            cert.cert.status.as_str()
        )));
    }
    if let Some(ca_id) = &cert.cert.ca_certificate_id
        && let Some(ca) = registry.ca_certificate(ca_id).await.map_err(store_err)?
        && ca
            .crl
            .as_ref()
            .is_some_and(|crl| crl.revoked_serials.contains(&cert.info.serial_hex))
    {
        return Ok(Some(format!(
            "the certificate's serial {} is revoked by the CRL of CA {ca_id}",
            cert.info.serial_hex
        )));
    }
    if let Some(thing) = &claims.thing_name {
        if !registry
            .is_attached(thing, &cert.arn)
            .await
            .map_err(store_err)?
        {
            return Ok(Some(format!(
                "the certificate was detached from thing {thing} named at issuance"
            )));
        }
        let revoked_before = registry
            .thing(thing)
            .await
            .map_err(store_err)?
            .and_then(|t| t.sessions_revoked_before);
        if let Some(before) = revoked_before
            && claims.issued_at_ms < before
        {
            return Ok(Some(format!(
                "the sessions of thing {thing} issued before {} were revoked",
                iotcreds_types::time_fmt::iso8601_millis(before)
            )));
        }
    }
    Ok(None)
}

/// Authenticate a buffered non-S3 request signed for `service`: parse, check the clock and
/// scope, resolve the key, verify the signature (generic mode, payload = SHA-256 of `body`).
/// `regions` lists the regions the scope may name.
pub async fn authenticate(
    registry: &Registry,
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
    regions: &[&str],
    now: time::OffsetDateTime,
) -> Result<Principal, AuthError> {
    let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
    let mut headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    if !parts.headers.contains_key(http::header::HOST) {
        // HTTP/2 carries the host in :authority.
        if let Some(a) = authority.as_deref() {
            headers.push(("host", a.as_bytes()));
        }
    }
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let auth = ParsedAuth::parse(&req)?;
    let hash = payload_sha256(body);
    let mode = Mode::Generic {
        payload_sha256: hash.as_str(),
    };
    let opts = VerifyOptions {
        service: Some(service),
        ..VerifyOptions::default()
    };
    auth.check(&req, mode, &opts, now)?;
    let region = auth.scope().region;
    if !regions.contains(&region) {
        return Err(SigV4Error::InvalidScope(
            format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                truncate(region)
            )
            .into(),
        )
        .into());
    }
    let now_ms = iotcreds_types::time_fmt::to_millis(now);
    let (principal, secret) =
        resolve(registry, auth.access_key_id(), auth.session_token(), now_ms).await?;
    auth.verify_cached(
        &req,
        secret.expose(),
        registry.signing_keys(),
        mode,
        &opts,
        now,
    )?;
    registry.note_key_use(&principal, service, region, now_ms);
    Ok(principal)
}

/// Credentials of a revoked sealing key: an invalid token (what AWS answers for an invalidated
/// session), with the reason in the audit log. The access key id is public; the token is not
/// logged.
fn refuse_revoked(access_key_id: &str, key_id: u16) -> AuthError {
    tracing::info!(
        target: "iotcreds::audit",
        event = "authenticate",
        decision = "deny",
        access_key_id,
        reason = %format!("the session token's sealing key {key_id} is revoked"),
        revoked_key_id = key_id,
    );
    AuthError::InvalidToken
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The service named in a request's SigV4 credential scope (`s3`, `iot`, `iam`, `sts`), read
/// without verifying anything: it only routes the request to the code that verifies it.
pub fn signed_service(parts: &http::request::Parts) -> Option<String> {
    let credential = if let Some(h) = parts.headers.get(http::header::AUTHORIZATION) {
        let h = h.to_str().ok()?;
        let i = h.find("Credential=")?;
        h[i + "Credential=".len()..]
            .split([',', ' '])
            .next()?
            .to_owned()
    } else {
        use iotcreds_types::percent::{self, Plus};
        let q = parts.uri.query()?;
        let (_, v) = percent::pairs(q.as_bytes()).find(|(k, _)| *k == b"X-Amz-Credential")?;
        percent::decode(v, Plus::Literal)?.into_owned()
    };
    let mut it = credential.split('/');
    let service = it.nth(3)?;
    Some(service.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn service_from_scope() {
        let p = parts(
            http::Request::get("/")
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x",
                )
                .body(())
                .unwrap(),
        );
        assert_eq!(signed_service(&p).as_deref(), Some("iam"));
        let p = parts(
            http::Request::get("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs3%2Faws4_request")
                .body(())
                .unwrap(),
        );
        assert_eq!(signed_service(&p).as_deref(), Some("s3"));
        assert_eq!(
            signed_service(&parts(http::Request::get("/").body(()).unwrap())),
            None
        );
    }
}
