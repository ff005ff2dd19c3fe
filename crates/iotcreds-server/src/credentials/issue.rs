//! The credentials decision, in AWS's order (`../shared/spec/aws-credentials-provider.md` §4 and
//! §10): certificate → thing → IoT policy → role alias → role trust → duration → issue.
//!
//! This module knows no HTTP: it returns [`Issued`] or a [`Refusal`], and the edge
//! ([`super`], `credentials/mod.rs`) maps refusals to statuses and messages.

use iotcreds_policy::{Context, Decision, RequestPrincipal};
use iotcreds_store::StoreError;
use iotcreds_token::{Claims, SessionKind};
use iotcreds_types::{CaCertificateStatus, CertificateMode, CertificateStatus, arn, time_fmt};

use iotcreds_registry::authz::{self, CompiledSet};
use iotcreds_registry::session_tags;
use iotcreds_registry::sessions::{self, NewSession, OversizedTags, SessionError};
use iotcreds_registry::{CachedCertificate, KeyUse, Registry};

use super::ocsp::{OcspChecker, Verdict};
use super::throttle::{Throttle, Throttled};

/// The service principal that assumes roles for the credentials provider.
pub const CREDENTIALS_SERVICE_PRINCIPAL: &str = "credentials.iot.amazonaws.com";

/// The largest claims record we seal, so the response body stays under 2048 bytes.
const MAX_CLAIMS_BYTES: usize = 1_150;

/// What the device presented.
pub struct CredentialsRequest<'a> {
    /// The leaf certificate's id (hex SHA-256 of its DER), if the client sent one.
    pub certificate_id: Option<&'a str>,
    /// The TLS server name the client asked for.
    pub sni: Option<&'a str>,
    /// The role alias from the path.
    pub role_alias: &'a str,
    /// `x-amzn-iot-thingname`, if sent.
    pub thing_name: Option<&'a str>,
    /// The client's IP address.
    pub source_ip: std::net::IpAddr,
    /// Now, ms since the epoch.
    pub now_ms: i64,
}

/// Temporary credentials, issued.
pub struct Issued {
    /// The session's claims (for the audit line).
    pub claims: Claims,
    /// `ASIA…`.
    pub access_key_id: String,
    /// The derived secret.
    pub secret_access_key: iotcreds_token::Secret,
    /// The sealed token.
    pub session_token: String,
    /// Expiry, ms since the epoch.
    pub expiration_ms: i64,
    /// Expiry as the body writes it, `YYYY-MM-DDTHH:MM:SSZ`.
    pub expiration: String,
    /// Session tags dropped to keep the token small.
    pub dropped_tags: usize,
}

/// Why credentials were refused. Each variant is one row of the error table.
#[derive(Debug)]
pub enum Refusal {
    /// No client certificate in the handshake.
    NoClientCertificate,
    /// The certificate is not registered.
    UnknownCertificate { certificate_id: String },
    /// Registered but not ACTIVE.
    CertificateNotActive {
        certificate_id: String,
        status: CertificateStatus,
    },
    /// Outside its validity period.
    CertificateOutsideValidity { certificate_id: String },
    /// Its CA is not registered or not ACTIVE.
    CaNotActive {
        certificate_id: String,
        ca_id: String,
    },
    /// Its serial is on its CA's CRL.
    RevokedByCrl {
        certificate_id: String,
        ca_id: String,
    },
    /// Its CA's CRL is past its nextUpdate.
    CrlOutOfDate {
        certificate_id: String,
        ca_id: String,
        next_update_ms: i64,
    },
    /// The OCSP responder of its CA says it is revoked.
    RevokedByOcsp {
        certificate_id: String,
        ca_id: String,
    },
    /// The OCSP responder of its CA does not know it.
    OcspUnknown {
        certificate_id: String,
        ca_id: String,
    },
    /// No OCSP answer could be had, and its CA fails closed.
    OcspUnavailable {
        certificate_id: String,
        ca_id: String,
        reason: String,
    },
    /// Registered without a CA, and the client sent no (or the wrong) SNI.
    SniRequired { certificate_id: String },
    /// The thing named in the header does not exist or is not attached.
    InvalidThingName {
        certificate_id: String,
        thing: String,
    },
    /// The IoT policies do not allow `iot:AssumeRoleWithCertificate` on the alias.
    AccessDenied {
        certificate_id: String,
        decision: Decision,
    },
    /// The role alias does not exist.
    AliasNotFound { certificate_id: String },
    /// The role does not exist or does not trust the credentials provider.
    RoleNotAssumable {
        certificate_id: String,
        reason: String,
    },
    /// The alias asks for more than the role's MaxSessionDuration.
    DurationExceedsMax {
        certificate_id: String,
        duration: i64,
        max: i64,
    },
    /// The alias's session-tag mapping gives a value that is not a valid tag value, or tags
    /// that do not fit the session token.
    SessionTags {
        certificate_id: String,
        reason: String,
    },
    /// An issuance rate limit (per certificate or for the account) is exhausted.
    Throttled {
        certificate_id: String,
        throttled: Throttled,
    },
    /// The registry cannot be reached.
    Unavailable(String),
    /// Anything else (a bug or a corrupt registry).
    Internal(String),
}

impl Refusal {
    /// The certificate id, when the refusal got that far.
    pub fn certificate_id(&self) -> Option<&str> {
        match self {
            Refusal::NoClientCertificate | Refusal::Unavailable(_) | Refusal::Internal(_) => None,
            Refusal::UnknownCertificate { certificate_id }
            | Refusal::CertificateNotActive { certificate_id, .. }
            | Refusal::CertificateOutsideValidity { certificate_id }
            | Refusal::CaNotActive { certificate_id, .. }
            | Refusal::RevokedByCrl { certificate_id, .. }
            | Refusal::CrlOutOfDate { certificate_id, .. }
            | Refusal::RevokedByOcsp { certificate_id, .. }
            | Refusal::OcspUnknown { certificate_id, .. }
            | Refusal::OcspUnavailable { certificate_id, .. }
            | Refusal::SniRequired { certificate_id }
            | Refusal::InvalidThingName { certificate_id, .. }
            | Refusal::AccessDenied { certificate_id, .. }
            | Refusal::AliasNotFound { certificate_id }
            | Refusal::RoleNotAssumable { certificate_id, .. }
            | Refusal::DurationExceedsMax { certificate_id, .. }
            | Refusal::Throttled { certificate_id, .. }
            | Refusal::SessionTags { certificate_id, .. } => Some(certificate_id),
        }
    }

    /// A short machine-friendly reason for the audit line.
    pub fn reason(&self) -> String {
        match self {
            Refusal::NoClientCertificate => "no client certificate".into(),
            Refusal::UnknownCertificate { .. } => "certificate not registered".into(),
            Refusal::CertificateNotActive { status, .. } => format!("certificate status {status}"),
            Refusal::CertificateOutsideValidity { .. } => {
                "certificate outside its validity period".into()
            }
            Refusal::CaNotActive { ca_id, .. } => {
                format!("CA certificate {ca_id} not registered or not ACTIVE")
            }
            Refusal::RevokedByCrl { ca_id, .. } => {
                format!("certificate revoked by the CRL of CA {ca_id}")
            }
            Refusal::CrlOutOfDate {
                ca_id,
                next_update_ms,
                ..
            } => format!(
                "the CRL of CA {ca_id} is out of date (nextUpdate {}); import a newer one",
                time_fmt::iso8601_seconds(*next_update_ms)
            ),
            Refusal::RevokedByOcsp { ca_id, .. } => {
                format!("certificate revoked, says the OCSP responder of CA {ca_id}")
            }
            Refusal::OcspUnknown { ca_id, .. } => {
                format!("certificate unknown to the OCSP responder of CA {ca_id}")
            }
            Refusal::OcspUnavailable { ca_id, reason, .. } => {
                format!("{reason}; CA {ca_id} fails closed")
            }
            Refusal::SniRequired { .. } => {
                "certificate registered without a CA requires SNI of the credentials host".into()
            }
            Refusal::InvalidThingName { thing, .. } => {
                format!("thing {thing:?} not attached to the certificate")
            }
            Refusal::AccessDenied { decision, .. } => authz::explain(decision),
            Refusal::AliasNotFound { .. } => "role alias does not exist".into(),
            Refusal::RoleNotAssumable { reason, .. } => reason.clone(),
            Refusal::DurationExceedsMax { duration, max, .. } => {
                format!(
                    "credentialDurationSeconds {duration} exceeds the role's MaxSessionDuration {max}"
                )
            }
            Refusal::SessionTags { reason, .. } => format!("session tags: {reason}"),
            Refusal::Throttled { throttled, .. } => format!(
                "{} issuance rate limit exceeded; next in {} ms",
                throttled.scope.as_str(),
                throttled.retry_after.as_millis()
            ),
            Refusal::Unavailable(e) => format!("registry unavailable: {e}"),
            Refusal::Internal(e) => format!("internal error: {e}"),
        }
    }
}

fn store_err(e: StoreError) -> Refusal {
    if e.is_unavailable() {
        Refusal::Unavailable(e.to_string())
    } else {
        Refusal::Internal(e.to_string())
    }
}

/// The IoT policy context of a request: certificate variables, thing variables (only when
/// the thing-name header was verified), and the global keys — each group only when the
/// certificate's policies refer to it (a key no policy mentions cannot change the decision).
fn iot_context(
    cert: &CachedCertificate,
    thing: Option<&iotcreds_store::Thing>,
    req: &CredentialsRequest<'_>,
    keys: &KeyUse,
) -> Context {
    let mut ctx = Context::new();
    if keys.any("iot:certificate.") {
        for (key, values) in cert.info.iot_variables() {
            if key.ends_with(".List") {
                ctx.insert_multi(&key, values);
            } else if let Some(v) = values.into_iter().next() {
                ctx.insert(&key, v);
            }
        }
    }
    if let Some(thing) = thing.filter(|_| keys.any("iot:connection.thing.")) {
        ctx.insert("iot:Connection.Thing.ThingName", thing.name.clone());
        ctx.insert("iot:Connection.Thing.IsAttached", "true");
        if let Some(t) = &thing.thing_type {
            ctx.insert("iot:Connection.Thing.ThingTypeName", t.clone());
        }
        for (k, v) in &thing.attributes {
            ctx.insert(&format!("iot:Connection.Thing.Attributes[{k}]"), v.clone());
        }
    }
    if keys.any("aws:") {
        authz::insert_global_keys(&mut ctx, req.now_ms, Some(req.source_ip), true);
    }
    ctx
}

/// What OCSP says of a device of `ca`, as a refusal when it refuses. A revoked certificate is
/// also marked `REVOKED` in the registry, so the sessions it already holds end on every service
/// path and every instance, as a CRL's serials do.
async fn ocsp_check(
    registry: &Registry,
    ocsp: &OcspChecker,
    ca: &iotcreds_store::CaCertificate,
    cert: &CachedCertificate,
    now_ms: i64,
) -> Result<(), Refusal> {
    let certificate_id = cert.cert.id.clone();
    let ca_id = ca.id.clone();
    match ocsp.check(ca, cert, now_ms).await {
        Verdict::NotChecked | Verdict::Good { .. } => Ok(()),
        Verdict::FailedOpen(reason) => {
            tracing::warn!(
                target: "iotcreds::audit",
                event = "ocsp",
                decision = "fail_open",
                certificate_id = certificate_id.as_str(),
                ca_certificate_id = ca_id.as_str(),
                reason = reason.as_str(),
            );
            Ok(())
        }
        Verdict::Unavailable(reason) => Err(Refusal::OcspUnavailable {
            certificate_id,
            ca_id,
            reason,
        }),
        Verdict::Unknown => Err(Refusal::OcspUnknown {
            certificate_id,
            ca_id,
        }),
        Verdict::Revoked { .. } => {
            let generation = uuid::Uuid::new_v4().to_string();
            let marked = registry
                .mutate(registry.store().update_certificate_status(
                    &certificate_id,
                    CertificateStatus::Revoked,
                    &generation,
                    now_ms,
                ))
                .await;
            match marked {
                Ok(_) => tracing::info!(
                    target: "iotcreds::audit",
                    event = "ocsp",
                    decision = "revoke",
                    certificate_id = certificate_id.as_str(),
                    ca_certificate_id = ca_id.as_str(),
                    reason = "the CA's OCSP responder says the certificate is revoked; marked REVOKED",
                ),
                Err(e) => tracing::warn!(
                    certificate_id = certificate_id.as_str(),
                    error = %e,
                    "could not mark a certificate its OCSP responder revoked as REVOKED"
                ),
            }
            Err(Refusal::RevokedByOcsp {
                certificate_id,
                ca_id,
            })
        }
    }
}

/// Decide and, if allowed, issue; `throttle` is taken from once the certificate is known good,
/// `ocsp` asked last.
pub async fn issue(
    registry: &Registry,
    throttle: &Throttle,
    ocsp: &OcspChecker,
    credentials_host: &str,
    req: &CredentialsRequest<'_>,
) -> Result<Issued, Refusal> {
    // 1. The certificate: registered, ACTIVE, valid now, its CA ACTIVE.
    let certificate_id = req
        .certificate_id
        .ok_or(Refusal::NoClientCertificate)?
        .to_owned();
    let cert = registry
        .certificate(&certificate_id)
        .await
        .map_err(store_err)?;
    let Some(cert) = cert else {
        return Err(Refusal::UnknownCertificate { certificate_id });
    };
    if !cert.cert.status.authenticates() {
        return Err(Refusal::CertificateNotActive {
            certificate_id,
            status: cert.cert.status,
        });
    }
    if !cert.info.is_valid_at(req.now_ms) {
        return Err(Refusal::CertificateOutsideValidity { certificate_id });
    }
    let mut issuer = None;
    if let Some(ca_id) = &cert.cert.ca_certificate_id {
        let ca = registry.ca_certificate(ca_id).await.map_err(store_err)?;
        let Some(ca) = ca.filter(|ca| ca.status == CaCertificateStatus::Active) else {
            return Err(Refusal::CaNotActive {
                certificate_id,
                ca_id: ca_id.clone(),
            });
        };
        // The CA's CRL, when one was imported: a revoked serial is refused, and so is every
        // certificate of the CA once the CRL is past its nextUpdate (fail closed: a newer CRL
        // may revoke more).
        if let Some(crl) = &ca.crl {
            if crl.revoked_serials.contains(&cert.info.serial_hex) {
                return Err(Refusal::RevokedByCrl {
                    certificate_id,
                    ca_id: ca_id.clone(),
                });
            }
            if let Some(next) = crl.next_update.filter(|n| *n <= req.now_ms) {
                return Err(Refusal::CrlOutOfDate {
                    certificate_id,
                    ca_id: ca_id.clone(),
                    next_update_ms: next,
                });
            }
        }
        issuer = Some(ca);
    }
    if cert.cert.mode == CertificateMode::SniOnly && req.sni != Some(credentials_host) {
        return Err(Refusal::SniRequired { certificate_id });
    }
    // Rate limits, only for certificates the registry accepts (so what anonymous clients
    // present never gets a bucket), before the costlier steps.
    if let Err(throttled) = throttle.take(&certificate_id, std::time::Instant::now()) {
        return Err(Refusal::Throttled {
            certificate_id,
            throttled,
        });
    }

    // 2. The thing, when named: exists and attached to this certificate.
    let thing = match req.thing_name {
        None => None,
        Some(name) => {
            let thing = registry.thing(name).await.map_err(store_err)?;
            let attached = match &thing {
                Some(_) => registry
                    .is_attached(name, &cert.arn)
                    .await
                    .map_err(store_err)?,
                None => false,
            };
            match thing {
                Some(t) if attached => Some(t),
                _ => {
                    return Err(Refusal::InvalidThingName {
                        certificate_id,
                        thing: name.to_owned(),
                    });
                }
            }
        }
    };

    // 3. The certificate's IoT policies allow iot:AssumeRoleWithCertificate on the alias ARN.
    let alias_arn = registry.role_alias_arn(req.role_alias);
    let policies = registry.iot_policies(&cert.arn).await.map_err(store_err)?;
    let ctx = iot_context(&cert, thing.as_deref(), req, &policies.keys);
    let set = CompiledSet::new(&policies.policies);
    let decision = set.evaluate_identity("iot:AssumeRoleWithCertificate", &alias_arn, &ctx);
    if !decision.is_allowed() {
        return Err(Refusal::AccessDenied {
            certificate_id,
            decision,
        });
    }

    // 4. The alias (checked after the policy, so unauthorised callers cannot probe aliases).
    let alias = registry
        .role_alias(req.role_alias)
        .await
        .map_err(store_err)?;
    let Some(alias) = alias else {
        return Err(Refusal::AliasNotFound { certificate_id });
    };

    // 5. The role exists and trusts the credentials provider.
    let not_assumable = |reason: String| Refusal::RoleNotAssumable {
        certificate_id: certificate_id.clone(),
        reason,
    };
    let Some((_, role_name)) = arn::split_iam(&alias.role_arn, "role", Some(registry.account_id()))
    else {
        return Err(not_assumable(format!(
            "role ARN {} is not a role of this account",
            alias.role_arn
        )));
    };
    let role = registry.role(role_name).await.map_err(store_err)?;
    let role = match role {
        Some(r) if r.arn == alias.role_arn => r,
        _ => {
            return Err(not_assumable(format!(
                "role {} does not exist",
                alias.role_arn
            )));
        }
    };
    let principal = RequestPrincipal::Service(CREDENTIALS_SERVICE_PRINCIPAL.to_owned());
    let mut trust_ctx = Context::new();
    if !role.trust_keys.is_empty() {
        authz::insert_global_keys(&mut trust_ctx, req.now_ms, None, true);
    }
    let trust_allows = |action: &str| role.trusts(&principal, action, &trust_ctx);
    if !trust_allows("sts:AssumeRole") {
        return Err(not_assumable(format!(
            "the trust policy of {} does not allow {CREDENTIALS_SERVICE_PRINCIPAL} to perform sts:AssumeRole",
            role.arn
        )));
    }

    // 6. The session tags. With the alias's mapping: the facts it names, which need
    //    sts:TagSession in the trust policy (as STS requires for any session tag) and must all
    //    fit (a dropped tag could turn a Deny into an Allow). Without one: the thing's
    //    attributes, when the trust policy allows sts:TagSession, dropped from the end if they
    //    do not fit.
    let (tags, oversized_tags) = if alias.session_tags.is_empty() {
        let tags = match &thing {
            Some(t) if !t.attributes.is_empty() && trust_allows("sts:TagSession") => t
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => Vec::new(),
        };
        (tags, OversizedTags::Drop)
    } else {
        if !trust_allows("sts:TagSession") {
            return Err(not_assumable(format!(
                "the trust policy of {} does not allow {CREDENTIALS_SERVICE_PRINCIPAL} to perform sts:TagSession, which the session tags of role alias {} need",
                role.arn, alias.name
            )));
        }
        let variables = cert.info.iot_variables();
        let device = session_tags::Device {
            certificate_id: &certificate_id,
            certificate_variables: &variables,
            thing: thing.as_deref(),
        };
        let tags = session_tags::evaluate(&alias.session_tags, &device).map_err(|reason| {
            Refusal::SessionTags {
                certificate_id: certificate_id.clone(),
                reason,
            }
        })?;
        (tags, OversizedTags::Refuse)
    };

    // The CA's OCSP responder, when the CA asks for it: last, as it may cost a round trip.
    if let Some(ca) = &issuer {
        ocsp_check(registry, ocsp, ca, &cert, req.now_ms).await?;
    }

    // 7. The duration fits the role, and 8. issue (the shared session pipeline); the session
    //    ends with the certificate at the latest.
    let session = sessions::issue(
        registry,
        NewSession {
            kind: SessionKind::IotCertificate,
            role: &role,
            session_name: certificate_id.clone(),
            now_ms: req.now_ms,
            duration_secs: alias.credential_duration_seconds,
            not_after_ms: Some(cert.info.not_after_ms),
            certificate_id: Some(certificate_id.clone()),
            thing_name: thing.as_ref().map(|t| t.name.clone()),
            thing_type: thing.as_ref().and_then(|t| t.thing_type.clone()),
            source_arn: None,
            tags,
            transitive_keys: Vec::new(),
            max_claims_bytes: MAX_CLAIMS_BYTES,
            oversized_tags,
        },
    )
    .map_err(|e| match e {
        SessionError::DurationExceedsMax { duration, max } => Refusal::DurationExceedsMax {
            certificate_id: certificate_id.clone(),
            duration,
            max,
        },
        SessionError::TagsTooLarge { bytes, max } => Refusal::SessionTags {
            certificate_id: certificate_id.clone(),
            reason: format!(
                "the session tags take the session token to {bytes} bytes of claims, more than its {max}"
            ),
        },
        SessionError::Internal(e) => Refusal::Internal(e),
    })?;
    let expiration_ms = session.claims.expires_at_ms;
    Ok(Issued {
        claims: session.claims,
        access_key_id: session.access_key_id,
        secret_access_key: session.secret_access_key,
        session_token: session.session_token,
        expiration_ms,
        expiration: time_fmt::iso8601_seconds(expiration_ms),
        dropped_tags: session.dropped_tags,
    })
}

/// The success body: exactly the four fields, in AWS's order, `YYYY-MM-DDTHH:MM:SSZ` expiration.
///
/// Written directly rather than through serde: every value is base 32 (the access key id),
/// base 64 (the secret and the token) or a timestamp, so nothing in it needs JSON escaping, and
/// scanning a kilobyte of token for characters to escape cost more than the rest of the body.
pub fn success_body(issued: &Issued) -> Vec<u8> {
    body(
        &issued.access_key_id,
        issued.secret_access_key.expose(),
        &issued.session_token,
        &issued.expiration,
    )
}

fn body(access_key_id: &str, secret: &str, token: &str, expiration: &str) -> Vec<u8> {
    let fields = [
        ("{\"credentials\":{\"accessKeyId\":\"", access_key_id),
        ("\",\"secretAccessKey\":\"", secret),
        ("\",\"sessionToken\":\"", token),
        ("\",\"expiration\":\"", expiration),
    ];
    let len = fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + 3;
    let mut out = Vec::with_capacity(len);
    for (key, value) in fields {
        debug_assert!(value.bytes().all(needs_no_escape), "{key}");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"\"}}");
    out
}

/// The characters of base 32, base 64 and timestamps.
fn needs_no_escape(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=:-".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_the_json_serde_would_write() {
        let b = body(
            "ASIAABCDEFGHIJKLMNOP",
            "abc+/def0123456789ABCDEFGHIJKLMNOPQRSTUV",
            "AQID+/==",
            "2020-08-26T12:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        let want = serde_json::json!({"credentials": {
            "accessKeyId": "ASIAABCDEFGHIJKLMNOP",
            "secretAccessKey": "abc+/def0123456789ABCDEFGHIJKLMNOPQRSTUV",
            "sessionToken": "AQID+/==",
            "expiration": "2020-08-26T12:00:00Z",
        }});
        assert_eq!(v, want);
        // Field order as AWS writes it, no white space.
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            "{\"credentials\":{\"accessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\
             \"secretAccessKey\":\"abc+/def0123456789ABCDEFGHIJKLMNOPQRSTUV\",\
             \"sessionToken\":\"AQID+/==\",\"expiration\":\"2020-08-26T12:00:00Z\"}}"
        );
    }
}
