//! CA certificates: `RegisterCACertificate`, `GetRegistrationCode`, `UpdateCACertificate`,
//! `DescribeCACertificate`, `ListCACertificates`, `DeleteCACertificate`.
//!
//! Registration in `DEFAULT` mode proves possession of the CA key with a verification
//! certificate signed by it whose common name is the account's registration code; `SNI_ONLY`
//! registration needs no proof. Just-in-time provisioning (`registrationConfig`) is not
//! offered; requests that set it are refused rather than silently half-applied. Tags given
//! at registration are stored (see `TagResource` in `tags.rs`).

use crate::tag_keys::insert_request_tags;
use iotcreds_pki::chain::verify_registration;
use iotcreds_pki::inspect::CertInfo;
use iotcreds_pki::pem_to_der;
use iotcreds_store::{CaCertificate, PageRequest, StoreError};
use iotcreds_types::{AutoRegistrationStatus, CaCertificateStatus, CertificateMode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::certificates::{certificate_id, parse_pem};
use super::errors::{
    already_exists, certificate_validation, invalid, not_found, registration_code as code_error,
    store,
};
use super::json::{
    TagInput, check_tags, compact, marker_page, marker_to_wire, ok, ok_empty, parse_enum, required,
    timestamp,
};
use super::{Reply, Req, lookup};
use crate::resource;
use crate::{ApiError, Resource};

/// Every registered ACTIVE CA with its DER, for path validation.
pub(super) async fn active_cas(req: &Req<'_>) -> Result<Vec<(CaCertificate, Vec<u8>)>, ApiError> {
    let mut out = Vec::new();
    let mut page = PageRequest::default();
    loop {
        let p = req
            .store()
            .list_ca_certificates(&page)
            .await
            .map_err(store)?;
        for ca in p.items {
            if ca.status != CaCertificateStatus::Active {
                continue;
            }
            match pem_to_der(&ca.pem) {
                Ok(der) => out.push((ca, der)),
                Err(e) => {
                    tracing::error!(ca = %ca.id, error = %e, "stored CA certificate does not parse")
                }
            }
        }
        match p.next_marker {
            Some(m) => page.marker = Some(m),
            None => return Ok(out),
        }
    }
}

fn refuse_registration_config(config: Option<&Value>) -> Result<(), ApiError> {
    if config.is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "registrationConfig (just-in-time provisioning) is not supported by this server.",
        ));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterInput {
    ca_certificate: Option<String>,
    verification_certificate: Option<String>,
    registration_config: Option<Value>,
    tags: Option<Vec<TagInput>>,
    certificate_mode: Option<String>,
}

/// `POST /cacertificate?setAsActive=&allowAutoRegistration=`
pub(super) async fn register(req: &Req<'_>) -> Reply {
    let input: RegisterInput = req.json()?;
    let ca_pem = required("caCertificate", input.ca_certificate)?;
    let (ca, _) = parse_pem("caCertificate", &ca_pem)?;
    let verification = match &input.verification_certificate {
        Some(v) => Some(parse_pem("verificationCertificate", v)?.0),
        None => None,
    };
    let mode = match input.certificate_mode.as_deref() {
        Some(m) => parse_enum::<CertificateMode>("certificateMode", m)?,
        None => CertificateMode::Default,
    };
    refuse_registration_config(input.registration_config.as_ref())?;
    let tags = check_tags(input.tags)?;
    let status = if req.query.bool("setAsActive")? == Some(true) {
        CaCertificateStatus::Active
    } else {
        CaCertificateStatus::Inactive
    };
    let auto_registration = if req.query.bool("allowAutoRegistration")? == Some(true) {
        AutoRegistrationStatus::Enable
    } else {
        AutoRegistrationStatus::Disable
    };
    if mode == CertificateMode::Default && verification.is_none() {
        return Err(invalid(
            "verificationCertificate is required to register a CA certificate in DEFAULT mode.",
        ));
    }
    req.authorize_with(&Resource::any(), |ctx| insert_request_tags(ctx, &tags))?;

    check_ca(&ca, req.now_ms())?;
    if let Some(v) = &verification {
        check_verification(&ca, v, req.registry().registration_code(), req.now_ms())?;
    }
    let now = req.now_ms();
    let row = CaCertificate {
        id: ca.id.clone(),
        pem: iotcreds_pki::der_to_pem(&ca.der),
        status,
        auto_registration,
        mode,
        subject: ca.subject_dn.clone(),
        not_before: ca.not_before_ms,
        not_after: ca.not_after_ms,
        created_at: now,
        modified_at: now,
        customer_version: 1,
        generation_id: uuid::Uuid::new_v4().to_string(),
        owned_by: req.account().to_owned(),
        crl: None,
        revocation: Default::default(),
    };
    let arn = req.ca_cert_arn(&row.id);
    match req
        .write(req.store().insert_ca_certificate(&row, &tags))
        .await
    {
        Ok(()) => Ok(ok(json!({"certificateArn": arn, "certificateId": row.id}))),
        Err(StoreError::AlreadyExists { .. }) => Err(already_exists(
            "The CA certificate is already registered",
            &row.id,
            &arn,
        )),
        Err(e) => Err(store(e)),
    }
}

/// The CA certificate itself: a CA, valid now.
fn check_ca(ca: &CertInfo, now_ms: i64) -> Result<(), ApiError> {
    if !ca.is_ca {
        return Err(certificate_validation(
            "The certificate is not a CA certificate (basicConstraints CA:TRUE is required)",
        ));
    }
    if !ca.is_valid_at(now_ms) {
        return Err(certificate_validation(
            "The CA certificate is not valid at this time (outside its validity period)",
        ));
    }
    Ok(())
}

/// The proof of possession: CN = registration code, signed by the CA's key.
fn check_verification(
    ca: &CertInfo,
    verification: &CertInfo,
    registration_code: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let cn = verification
        .subject
        .iter()
        .find(|(n, _)| *n == "CommonName")
        .map(|(_, v)| v.as_str());
    if cn != Some(registration_code) {
        return Err(code_error(
            "The verification certificate's common name is not this account's registration code",
        ));
    }
    verify_registration(&ca.der, &verification.der, registration_code, now_ms)
        .map_err(|e| certificate_validation(e.to_string()))
}

/// `GET /registrationcode`
pub(super) async fn registration_code(req: &Req<'_>) -> Reply {
    req.authorize(&Resource::any())?;
    Ok(ok(
        json!({"registrationCode": req.registry().registration_code()}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    registration_config: Option<Value>,
}

/// `PUT /cacertificate/{caCertificateId}?newStatus=&newAutoRegistrationStatus=`
/// (`removeAutoRegistration` has nothing to remove here and is accepted as is).
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let input: UpdateInput = req.json()?;
    refuse_registration_config(input.registration_config.as_ref())?;
    let status = match req.query.get("newStatus") {
        Some(s) => Some(parse_enum::<CaCertificateStatus>("newStatus", s)?),
        None => None,
    };
    let auto = match req.query.get("newAutoRegistrationStatus") {
        Some(s) => Some(parse_enum::<AutoRegistrationStatus>(
            "newAutoRegistrationStatus",
            s,
        )?),
        None => None,
    };
    let current = authorized(req, &id).await?;
    let id = current.id.clone();
    let changes = status.is_some_and(|s| s != current.status)
        || auto.is_some_and(|a| a != current.auto_registration);
    if changes {
        let generation = uuid::Uuid::new_v4().to_string();
        req.write(
            req.store()
                .update_ca_certificate(&id, status, auto, &generation, req.now_ms()),
        )
        .await
        .map_err(store)?;
    }
    Ok(ok_empty())
}

/// The CA certificate `id`, authorised for the operation's action on its ARN, then required
/// to exist.
pub(super) async fn authorized(req: &Req<'_>, id: &str) -> Result<CaCertificate, ApiError> {
    let ca = lookup(resource::ca_certificate(req.registry(), id).await)?;
    req.authorize(ca.resource())?;
    ca.require(|| not_found(format!("CA certificate {id} does not exist")))
}

/// `GET /cacertificate/{caCertificateId}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let c = authorized(req, &id).await?;
    let arn = req.ca_cert_arn(&c.id);
    Ok(ok(json!({
        "certificateDescription": {
            "certificateArn": arn,
            "certificateId": c.id,
            "status": c.status.as_str(),
            "certificatePem": c.pem,
            "ownedBy": c.owned_by,
            "creationDate": timestamp(c.created_at),
            "autoRegistrationStatus": c.auto_registration.as_str(),
            "lastModifiedDate": timestamp(c.modified_at),
            "customerVersion": c.customer_version,
            "generationId": c.generation_id,
            "validity": {
                "notBefore": timestamp(c.not_before),
                "notAfter": timestamp(c.not_after),
            },
            "certificateMode": c.mode.as_str(),
            "iotcredsCrl": super::ca_crls::describe(&c),
            "iotcredsRevocationConfig": super::ca_revocation::describe(&c),
        },
    })))
}

/// `GET /cacertificates?pageSize=&marker=&isAscendingOrder=&templateName=`. No CA has a
/// provisioning template here, so filtering by one lists nothing.
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let page = marker_page(&req.query)?;
    let template = req.query.get("templateName");
    req.authorize(&Resource::any())?;
    if template.is_some() {
        return Ok(ok(json!({"certificates": []})));
    }
    let page = req
        .store()
        .list_ca_certificates(&page)
        .await
        .map_err(store)?;
    let certs: Vec<Value> = page
        .items
        .iter()
        .map(|c| {
            json!({
                "certificateArn": req.ca_cert_arn(&c.id),
                "certificateId": c.id,
                "status": c.status.as_str(),
                "creationDate": timestamp(c.created_at),
            })
        })
        .collect();
    Ok(ok(compact(
        json!({"certificates": certs, "nextMarker": marker_to_wire(&page)}),
    )))
}

/// `DELETE /cacertificate/{caCertificateId}`: refused while ACTIVE.
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let ca = authorized(req, &id).await?;
    req.write(req.store().delete_ca_certificate(&ca.id))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotcreds_pki::CertificateAuthority;
    use iotcreds_pki::ca::{KeyKind, aws_device_not_after};

    fn now() -> (time::OffsetDateTime, i64) {
        let t = time::OffsetDateTime::now_utc();
        (t, iotcreds_types::time_fmt::to_millis(t))
    }

    #[test]
    fn verification_certificates() {
        let (t, ms) = now();
        let code = "0123456789abcdef".repeat(4);
        let ca = CertificateAuthority::generate("Fleet CA", "o", t, 1).unwrap();
        let ca_info = CertInfo::from_der(ca.cert_der()).unwrap();
        assert!(check_ca(&ca_info, ms).is_ok());

        let good = ca.issue_verification(&code, t).unwrap();
        let good = CertInfo::from_der(&good.cert_der).unwrap();
        assert!(check_verification(&ca_info, &good, &code, ms).is_ok());

        let wrong_cn = ca.issue_verification("nope", t).unwrap();
        let wrong_cn = CertInfo::from_der(&wrong_cn.cert_der).unwrap();
        let e = check_verification(&ca_info, &wrong_cn, &code, ms).unwrap_err();
        assert_eq!(e.code, "RegistrationCodeValidationException");

        let other = CertificateAuthority::generate("Other", "o", t, 1).unwrap();
        let wrong_key = other.issue_verification(&code, t).unwrap();
        let wrong_key = CertInfo::from_der(&wrong_key.cert_der).unwrap();
        let e = check_verification(&ca_info, &wrong_key, &code, ms).unwrap_err();
        assert_eq!(e.code, "CertificateValidationException");

        // A device certificate is not a CA.
        let dev = ca
            .issue_device(KeyKind::EcdsaP256, "d", t, aws_device_not_after())
            .unwrap();
        let dev = CertInfo::from_der(&dev.cert_der).unwrap();
        assert_eq!(
            check_ca(&dev, ms).unwrap_err().code,
            "CertificateValidationException"
        );
    }

    #[test]
    fn registration_config_is_refused() {
        assert!(refuse_registration_config(None).is_ok());
        assert!(refuse_registration_config(Some(&Value::Null)).is_ok());
        let cfg = json!({"templateBody": "{}"});
        assert_eq!(
            refuse_registration_config(Some(&cfg)).unwrap_err().code,
            "InvalidRequestException"
        );
    }
}
