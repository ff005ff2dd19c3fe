//! The one session pipeline: every way of obtaining temporary credentials (the credentials
//! endpoint's `AssumeRoleWithCertificate`, STS `AssumeRole`) decides *whether* in its own
//! module, in its own API's order and wording, and then calls [`issue`] for the *how*: the
//! duration against the role's maximum, the expiry (capped where the caller says, such as at
//! the device certificate's notAfter), the session tags against the token budget, the key id,
//! the sealed token and the derived secret. Rules that apply to every session live here once.

use iotcreds_token::{Claims, Secret, SessionKind, session_expiry};

use crate::{CachedRole, Registry};

/// What to do with session tags that do not fit the token budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizedTags {
    /// Drop tags from the end until the claims fit (the credentials endpoint: its answer must
    /// stay under AWS's 2048 bytes, and the tags come from the registry, not the caller).
    Drop,
    /// Refuse the session (STS: the caller chose the tags).
    Refuse,
}

/// A session to issue, once the caller's API has decided that it may be.
pub struct NewSession<'a> {
    /// How it was obtained.
    pub kind: SessionKind,
    /// The role it assumes.
    pub role: &'a CachedRole,
    /// `RoleSessionName` (the certificate id for the credentials endpoint).
    pub session_name: String,
    /// Now, ms since the epoch.
    pub now_ms: i64,
    /// The requested duration (s).
    pub duration_secs: i64,
    /// The session ends no later than this (ms), whatever the duration.
    pub not_after_ms: Option<i64>,
    /// The device certificate, for sessions issued to one.
    pub certificate_id: Option<String>,
    /// The thing named at issuance.
    pub thing_name: Option<String>,
    /// Its thing type.
    pub thing_type: Option<String>,
    /// The ARN of the principal that called `AssumeRole`.
    pub source_arn: Option<String>,
    /// Session tags, in the order they are kept when some must be dropped.
    pub tags: Vec<(String, String)>,
    /// The keys of `tags` that are transitive (STS `TransitiveTagKeys`, and those inherited
    /// in a role chain).
    pub transitive_keys: Vec<String>,
    /// The largest encoded claims record to seal.
    pub max_claims_bytes: usize,
    /// What to do when the tags do not fit it.
    pub oversized_tags: OversizedTags,
}

/// Temporary credentials, issued.
pub struct Session {
    /// The session's claims (sealed in the token; for the audit line).
    pub claims: Claims,
    /// `ASIA…`.
    pub access_key_id: String,
    /// The derived secret.
    pub secret_access_key: Secret,
    /// The sealed token.
    pub session_token: String,
    /// Session tags dropped to fit the budget ([`OversizedTags::Drop`]).
    pub dropped_tags: usize,
}

/// Why a session was not issued.
#[derive(Debug)]
pub enum SessionError {
    /// The duration exceeds the role's `MaxSessionDuration`.
    DurationExceedsMax {
        /// Requested (s).
        duration: i64,
        /// The role's maximum (s).
        max: i64,
    },
    /// The tags do not fit the token ([`OversizedTags::Refuse`]): the encoded claims would
    /// take `bytes` of at most `max`.
    TagsTooLarge {
        /// The encoded claims with every tag.
        bytes: usize,
        /// The budget.
        max: usize,
    },
    /// The key ring could not mint or seal (no active key).
    Internal(String),
}

/// Issue the session `s` with the registry's key ring.
pub fn issue(registry: &Registry, s: NewSession<'_>) -> Result<Session, SessionError> {
    let max = s.role.role.max_session_duration;
    if s.duration_secs > max {
        return Err(SessionError::DurationExceedsMax {
            duration: s.duration_secs,
            max,
        });
    }
    let ring = registry.keyring();
    let access_key_id = ring
        .new_access_key_id()
        .map_err(|e| SessionError::Internal(e.to_string()))?;
    let expires_at_ms = session_expiry(
        s.now_ms,
        s.duration_secs,
        s.not_after_ms.unwrap_or(i64::MAX),
    );
    let mut claims = Claims {
        access_key_id: access_key_id.clone(),
        kind: s.kind,
        account: registry.account_id().to_owned(),
        role_name: s.role.role.name.clone(),
        role_id: s.role.role.id.clone(),
        role_path: s.role.role.path.clone(),
        session_name: s.session_name,
        issued_at_ms: s.now_ms,
        expires_at_ms,
        certificate_id: s.certificate_id,
        thing_name: s.thing_name,
        thing_type: s.thing_type,
        source_arn: s.source_arn,
        tags: Vec::new(),
        transitive_keys: s.transitive_keys,
    };
    let dropped_tags = fit_tags(&mut claims, s.tags, s.max_claims_bytes, s.oversized_tags)?;
    let session_token = ring
        .seal(&claims)
        .map_err(|e| SessionError::Internal(e.to_string()))?;
    let secret_access_key = ring
        .secret_for(&access_key_id)
        .map_err(|e| SessionError::Internal(e.to_string()))?;
    Ok(Session {
        claims,
        access_key_id,
        secret_access_key,
        session_token,
        dropped_tags,
    })
}

/// Put `tags` into `claims` within `max` encoded bytes: all of them, or (dropping from the
/// end) as many as fit, or a refusal. Returns how many were dropped.
fn fit_tags(
    claims: &mut Claims,
    mut tags: Vec<(String, String)>,
    max: usize,
    oversized: OversizedTags,
) -> Result<usize, SessionError> {
    tags.truncate(iotcreds_token::claims::MAX_TAGS);
    let size = |c: &Claims| c.encode().map(|b| b.len()).unwrap_or(usize::MAX);
    let mut dropped = 0;
    while !tags.is_empty() {
        claims.tags = tags;
        // A dropped tag is no longer transitive either.
        let kept = &claims.tags;
        claims
            .transitive_keys
            .retain(|k| kept.iter().any(|(t, _)| t == k));
        let bytes = size(claims);
        if bytes <= max {
            return Ok(dropped);
        }
        if oversized == OversizedTags::Refuse {
            claims.tags.clear();
            return Err(SessionError::TagsTooLarge { bytes, max });
        }
        tags = std::mem::take(&mut claims.tags);
        tags.pop();
        dropped += 1;
    }
    claims.tags = tags;
    claims.transitive_keys.clear();
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            access_key_id: "ASIAADCTESTSESSION01".into(),
            kind: SessionKind::IotCertificate,
            account: "123456789012".into(),
            role_name: "ADCTestRole".into(),
            role_id: "AROAADCTESTROLE".into(),
            role_path: "/".into(),
            session_name: "a".repeat(64),
            issued_at_ms: 1,
            expires_at_ms: 2,
            certificate_id: Some("a".repeat(64)),
            thing_name: Some("ADCTestThing".into()),
            thing_type: None,
            source_arn: None,
            tags: Vec::new(),
            transitive_keys: Vec::new(),
        }
    }

    fn tags(n: usize, value_len: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("k{i:02}"), "v".repeat(value_len)))
            .collect()
    }

    #[test]
    fn tags_that_fit_are_kept_in_order() {
        let mut c = claims();
        assert_eq!(
            fit_tags(&mut c, tags(3, 10), 1_150, OversizedTags::Drop).unwrap(),
            0
        );
        assert_eq!(c.tags, tags(3, 10));
    }

    #[test]
    fn oversized_tags_are_dropped_from_the_end_or_refused() {
        let base = claims().encode().unwrap().len();
        let mut c = claims();
        let dropped = fit_tags(&mut c, tags(10, 100), base + 450, OversizedTags::Drop).unwrap();
        assert!(dropped > 0 && dropped < 10, "{dropped}");
        assert_eq!(c.tags, tags(10 - dropped, 100));
        assert!(c.encode().unwrap().len() <= base + 450);

        let mut c = claims();
        match fit_tags(&mut c, tags(10, 100), base + 450, OversizedTags::Refuse) {
            Err(SessionError::TagsTooLarge { bytes, max }) => {
                assert!(bytes > max);
                assert_eq!(max, base + 450);
            }
            other => panic!("expected TagsTooLarge, got {:?}", other.map(|_| ())),
        }
        assert!(c.tags.is_empty());
    }

    #[test]
    fn at_most_fifty_tags_are_considered() {
        let mut c = claims();
        fit_tags(&mut c, tags(60, 1), usize::MAX, OversizedTags::Refuse).unwrap();
        assert_eq!(c.tags.len(), iotcreds_token::claims::MAX_TAGS);
    }
}
