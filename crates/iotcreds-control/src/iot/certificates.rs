//! Device certificates: `CreateKeysAndCertificate`, `CreateCertificateFromCsr`,
//! `RegisterCertificate`, `RegisterCertificateWithoutCA`, `UpdateCertificate`,
//! `DescribeCertificate`, `ListCertificates`, `ListCertificatesByCA`, `DeleteCertificate`.
//!
//! Certificates the built-in CA issues look like AWS IoT's (RSA 2048 for
//! `CreateKeysAndCertificate`, `CN=AWS IoT Certificate`, valid until 2049-12-31). Their id is
//! the SHA-256 of the DER. They are not tied to a registered CA, so the credentials endpoint
//! accepts them by registry status alone, as AWS does for its own certificates. The private
//! key is returned once, as AWS writes it (`-----BEGIN RSA PRIVATE KEY-----`, PKCS#1), and
//! never stored or logged.

use std::sync::Arc;

use iotcreds_pki::ca::{KeyKind, aws_device_not_after};
use iotcreds_pki::chain::{RegisteredCa, find_issuer};
use iotcreds_pki::inspect::CertInfo;
use iotcreds_pki::{IssuedCertificate, PkiError, der_to_pem, pem_chain_to_der};
use iotcreds_store::{Certificate, ConflictReason, PageRequest, StoreError};
use iotcreds_types::{
    CaCertificateStatus, CertificateMode, CertificateStatus, ValidationError, time_fmt,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ca_certificates::active_cas;
use super::errors::{
    already_exists, certificate_state, certificate_validation, delete_conflict, invalid, not_found,
    store, validation,
};
use super::json::{
    check_length, compact, marker_page, marker_to_wire, ok, ok_empty, parse_enum, required,
    timestamp,
};
use super::pkcs8;
use super::{Reply, Req, lookup};
use crate::resource;
use crate::{ApiError, Resource};

/// The subject CN of certificates from `CreateKeysAndCertificate`.
const AWS_DEVICE_CN: &str = "AWS IoT Certificate";
/// `CertificatePem`: 1–65536 characters.
const MAX_PEM: usize = 65536;
/// `CertificateSigningRequest`: 1–4096 characters.
const MAX_CSR: usize = 4096;

/// A certificate id from the path: 64 hex digits, answered in lower case.
pub(super) fn certificate_id(field: &str, value: &str) -> Result<String, ApiError> {
    check_length(field, value, 64, 64)?;
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(validation(ValidationError::new(
            field,
            value,
            "Member must satisfy regular expression pattern: (0x)?[a-fA-F0-9]+",
        )));
    }
    Ok(value.to_ascii_lowercase())
}

/// A new registry row for a parsed certificate.
fn row(
    req: &Req<'_>,
    info: &CertInfo,
    status: CertificateStatus,
    ca_certificate_id: Option<String>,
    mode: CertificateMode,
) -> Certificate {
    let now = req.now_ms();
    Certificate {
        id: info.id.clone(),
        pem: der_to_pem(&info.der),
        status,
        ca_certificate_id,
        mode,
        not_before: info.not_before_ms,
        not_after: info.not_after_ms,
        created_at: now,
        modified_at: now,
        customer_version: 1,
        generation_id: uuid::Uuid::new_v4().to_string(),
        owned_by: req.account().to_owned(),
    }
}

/// Insert a certificate; an existing id is `ResourceAlreadyExistsException` with its ARN.
async fn insert(req: &Req<'_>, cert: &Certificate) -> Result<String, ApiError> {
    let arn = req.cert_arn(&cert.id);
    match req.write(req.store().insert_certificate(cert)).await {
        Ok(()) => Ok(arn),
        Err(StoreError::AlreadyExists { .. }) => Err(already_exists(
            "The certificate is already provisioned or registered",
            &cert.id,
            &arn,
        )),
        Err(e) => Err(store(e)),
    }
}

fn issued_status(set_as_active: Option<bool>) -> CertificateStatus {
    if set_as_active == Some(true) {
        CertificateStatus::Active
    } else {
        CertificateStatus::Inactive
    }
}

fn generation_failed(e: PkiError) -> ApiError {
    ApiError::internal("InternalFailureException", e)
}

/// `POST /keys-and-certificate?setAsActive=`
pub(super) async fn create_keys_and_certificate(req: &Req<'_>) -> Reply {
    let status = issued_status(req.query.bool("setAsActive")?);
    req.authorize(&Resource::any())?;
    let now = time_fmt::from_millis(req.now_ms());
    // RSA key generation takes tens to hundreds of milliseconds of CPU: not on an async worker.
    let ca = Arc::clone(req.registry().ca());
    let issued: IssuedCertificate = tokio::task::spawn_blocking(move || {
        ca.issue_device(KeyKind::Rsa2048, AWS_DEVICE_CN, now, aws_device_not_after())
    })
    .await
    .map_err(|e| ApiError::internal("InternalFailureException", e))?
    .map_err(generation_failed)?;
    let info = CertInfo::from_der(&issued.cert_der).map_err(generation_failed)?;
    let private_key = issued
        .private_key_pem
        .as_deref()
        .map(|k| pkcs8::rsa_pkcs1_pem(k).unwrap_or_else(|| k.to_owned()))
        .unwrap_or_default();
    let cert = row(req, &info, status, None, CertificateMode::Default);
    let arn = insert(req, &cert).await?;
    tracing::info!(certificate_id = %cert.id, %status, "certificate and key pair created");
    Ok(ok(json!({
        "certificateArn": arn,
        "certificateId": cert.id,
        "certificatePem": cert.pem,
        "keyPair": {
            "PublicKey": issued.public_key_pem,
            "PrivateKey": private_key,
        },
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsrInput {
    certificate_signing_request: Option<String>,
}

/// `POST /certificates?setAsActive=` with `{"certificateSigningRequest": PEM}`.
pub(super) async fn create_from_csr(req: &Req<'_>) -> Reply {
    let input: CsrInput = req.json()?;
    let csr = required(
        "certificateSigningRequest",
        input.certificate_signing_request,
    )?;
    check_length("certificateSigningRequest", &csr, 1, MAX_CSR)?;
    let status = issued_status(req.query.bool("setAsActive")?);
    req.authorize(&Resource::any())?;
    let now = time_fmt::from_millis(req.now_ms());
    let issued = req
        .registry()
        .ca()
        .sign_csr(&csr, now, aws_device_not_after())
        .map_err(|e| match e {
            PkiError::Malformed(m) => invalid(m),
            other => generation_failed(other),
        })?;
    let info = CertInfo::from_der(&issued.cert_der).map_err(generation_failed)?;
    let cert = row(req, &info, status, None, CertificateMode::Default);
    let arn = insert(req, &cert).await?;
    Ok(ok(json!({
        "certificateArn": arn,
        "certificateId": cert.id,
        "certificatePem": cert.pem,
    })))
}

/// Parse a PEM input: the leaf and any further certificates (intermediates).
pub(super) fn parse_pem(field: &str, pem: &str) -> Result<(CertInfo, Vec<Vec<u8>>), ApiError> {
    check_length(field, pem, 1, MAX_PEM)?;
    let mut ders = pem_chain_to_der(pem).map_err(|_| {
        certificate_validation(format!(
            "{field} is not a valid PEM-encoded X.509 certificate"
        ))
    })?;
    let leaf = ders.remove(0);
    let info = CertInfo::from_der(&leaf).map_err(|e| certificate_validation(e.to_string()))?;
    Ok((info, ders))
}

/// The status a registration asks for: `status` if given, else `setAsActive`, else INACTIVE.
fn registration_status(req: &Req<'_>, status: Option<&str>) -> Result<CertificateStatus, ApiError> {
    let status = match status {
        Some(s) => parse_enum::<CertificateStatus>("status", s)?,
        None => issued_status(req.query.bool("setAsActive")?),
    };
    if matches!(
        status,
        CertificateStatus::PendingTransfer | CertificateStatus::PendingActivation
    ) {
        return Err(invalid(format!(
            "A certificate cannot be registered with status {status}."
        )));
    }
    Ok(status)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterInput {
    certificate_pem: Option<String>,
    ca_certificate_pem: Option<String>,
    status: Option<String>,
}

/// `POST /certificate/register?setAsActive=`: a certificate signed by a registered CA (named
/// by `caCertificatePem`, or found among the ACTIVE registered CAs).
pub(super) async fn register(req: &Req<'_>) -> Reply {
    let input: RegisterInput = req.json()?;
    let pem = required("certificatePem", input.certificate_pem)?;
    let (leaf, intermediates) = parse_pem("certificatePem", &pem)?;
    let ca_given = match &input.ca_certificate_pem {
        Some(ca_pem) => Some(parse_pem("caCertificatePem", ca_pem)?.0),
        None => None,
    };
    let status = registration_status(req, input.status.as_deref())?;
    req.authorize(&Resource::any())?;

    let candidates = match &ca_given {
        Some(ca) => match req.store().ca_certificate(&ca.id).await.map_err(store)? {
            None => {
                return Err(certificate_validation(format!(
                    "The CA certificate {} is not registered",
                    ca.id
                )));
            }
            Some(c) if c.status != CaCertificateStatus::Active => {
                return Err(certificate_state(format!(
                    "The CA certificate {} is not ACTIVE",
                    ca.id
                )));
            }
            Some(c) => vec![(c, ca.der.clone())],
        },
        None => active_cas(req).await?,
    };
    let anchors: Vec<RegisteredCa<'_>> = candidates
        .iter()
        .map(|(c, der)| RegisteredCa { id: &c.id, der })
        .collect();
    let ca_id = find_issuer(&leaf.der, &intermediates, &anchors, req.now_ms())
        .map_err(|e| certificate_validation(e.to_string()))?
        .to_owned();
    let mode = candidates
        .iter()
        .find(|(c, _)| c.id == ca_id)
        .map(|(c, _)| c.mode)
        .unwrap_or(CertificateMode::Default);
    let cert = row(req, &leaf, status, Some(ca_id), mode);
    let arn = insert(req, &cert).await?;
    Ok(ok(json!({"certificateArn": arn, "certificateId": cert.id})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterWithoutCaInput {
    certificate_pem: Option<String>,
    status: Option<String>,
}

/// `POST /certificate/register-no-ca`: an `SNI_ONLY` certificate of any issuer.
pub(super) async fn register_without_ca(req: &Req<'_>) -> Reply {
    let input: RegisterWithoutCaInput = req.json()?;
    let pem = required("certificatePem", input.certificate_pem)?;
    let (leaf, _) = parse_pem("certificatePem", &pem)?;
    if !leaf.is_valid_at(req.now_ms()) {
        return Err(certificate_validation(
            "The certificate is not valid at this time (outside its validity period)",
        ));
    }
    let status = match input.status.as_deref() {
        Some(s) => registration_status(req, Some(s))?,
        None => CertificateStatus::Inactive,
    };
    req.authorize(&Resource::any())?;
    let cert = row(req, &leaf, status, None, CertificateMode::SniOnly);
    let arn = insert(req, &cert).await?;
    Ok(ok(json!({"certificateArn": arn, "certificateId": cert.id})))
}

/// The certificate `id`, authorised for the operation's action on its ARN, then required to
/// exist.
async fn authorized(req: &Req<'_>, id: &str) -> Result<Certificate, ApiError> {
    let cert = lookup(resource::certificate(req.registry(), id).await)?;
    req.authorize(cert.resource())?;
    cert.require(|| not_found(format!("Certificate {id} does not exist")))
}

/// Whether `from` may move to `to` (`UpdateCertificate`): a REVOKED certificate's status
/// cannot be changed (AWS IoT developer guide, "Revoke a client certificate"), nor can a
/// certificate's in the middle of a transfer.
fn check_transition(
    id: &str,
    from: CertificateStatus,
    to: CertificateStatus,
) -> Result<(), ApiError> {
    match from {
        CertificateStatus::Revoked if to != CertificateStatus::Revoked => {
            Err(certificate_state(format!(
                "Certificate {id} is REVOKED; the status of a revoked certificate cannot be changed."
            )))
        }
        CertificateStatus::PendingTransfer => Err(certificate_state(format!(
            "Certificate {id} is PENDING_TRANSFER."
        ))),
        _ => Ok(()),
    }
}

/// `PUT /certificates/{certificateId}?newStatus=`
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let id = certificate_id("certificateId", req.label(0))?;
    let new_status = required("newStatus", req.query.get("newStatus"))?;
    let new_status: CertificateStatus = parse_enum("newStatus", new_status)?;
    if matches!(
        new_status,
        CertificateStatus::PendingTransfer | CertificateStatus::PendingActivation
    ) {
        return Err(invalid(format!(
            "The status {new_status} is used internally by AWS IoT and cannot be set."
        )));
    }
    let cert = authorized(req, &id).await?;
    let id = cert.id.clone();
    check_transition(&id, cert.status, new_status)?;
    if cert.status != new_status {
        let generation = uuid::Uuid::new_v4().to_string();
        req.write(req.store().update_certificate_status(
            &id,
            new_status,
            &generation,
            req.now_ms(),
        ))
        .await
        .map_err(store)?;
        tracing::info!(certificate_id = %id, from = %cert.status, to = %new_status, "certificate status changed");
    }
    Ok(ok_empty())
}

/// `CertificateDescription`.
fn description_json(req: &Req<'_>, c: &Certificate) -> Value {
    compact(json!({
        "certificateArn": req.cert_arn(&c.id),
        "certificateId": c.id,
        "caCertificateId": c.ca_certificate_id,
        "status": c.status.as_str(),
        "certificatePem": c.pem,
        "ownedBy": c.owned_by,
        "creationDate": timestamp(c.created_at),
        "lastModifiedDate": timestamp(c.modified_at),
        "customerVersion": c.customer_version,
        "generationId": c.generation_id,
        "validity": {
            "notBefore": timestamp(c.not_before),
            "notAfter": timestamp(c.not_after),
        },
        "certificateMode": c.mode.as_str(),
    }))
}

/// `GET /certificates/{certificateId}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let id = certificate_id("certificateId", req.label(0))?;
    let cert = authorized(req, &id).await?;
    Ok(ok(
        json!({"certificateDescription": description_json(req, &cert)}),
    ))
}

async fn list_page(req: &Req<'_>, ca: Option<&str>, page: PageRequest) -> Reply {
    let page = req
        .store()
        .list_certificates(ca, &page)
        .await
        .map_err(store)?;
    let certs: Vec<Value> = page
        .items
        .iter()
        .map(|c| {
            json!({
                "certificateArn": req.cert_arn(&c.id),
                "certificateId": c.id,
                "status": c.status.as_str(),
                "certificateMode": c.mode.as_str(),
                "creationDate": timestamp(c.created_at),
            })
        })
        .collect();
    Ok(ok(compact(
        json!({"certificates": certs, "nextMarker": marker_to_wire(&page)}),
    )))
}

/// `GET /certificates?pageSize=&marker=&isAscendingOrder=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let page = marker_page(&req.query)?;
    req.authorize(&Resource::any())?;
    list_page(req, None, page).await
}

/// `GET /certificates-by-ca/{caCertificateId}`
pub(super) async fn list_by_ca(req: &Req<'_>) -> Reply {
    let ca = certificate_id("caCertificateId", req.label(0))?;
    let page = marker_page(&req.query)?;
    req.authorize(&Resource::any())?;
    list_page(req, Some(&ca), page).await
}

/// `DELETE /certificates/{certificateId}?forceDelete=`: refused while ACTIVE or attached to
/// a thing; attached policies refuse it too unless `forceDelete`, which detaches them.
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let id = certificate_id("certificateId", req.label(0))?;
    let force = req.query.bool("forceDelete")?.unwrap_or(false);
    let cert = authorized(req, &id).await?;
    let (id, arn) = (cert.id.clone(), req.cert_arn(&cert.id));
    if cert.status == CertificateStatus::Active {
        // AWS's wording, word for word; the certificate id is in the audit line.
        return Err(certificate_state(CERTIFICATE_ACTIVE));
    }
    if force {
        let things = req
            .store()
            .list_principal_things(&arn, &PageRequest::first(1))
            .await
            .map_err(store)?;
        if !things.items.is_empty() {
            return Err(delete_conflict(things_attached(&arn)));
        }
        let policies = req
            .store()
            .list_target_iot_policies(&arn, &PageRequest::default())
            .await
            .map_err(store)?;
        for p in &policies.items {
            match req
                .write(req.store().detach_iot_policy(&p.name, &arn))
                .await
            {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(store(e)),
            }
        }
    }
    match req.write(req.store().delete_certificate(&id, &arn)).await {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::Conflict {
            reason: ConflictReason::CertificatePolicies,
            ..
        }) => Err(delete_conflict(format!(
            "Certificate policies must be detached before deletion (arn: {arn})"
        ))),
        Err(StoreError::Conflict { .. }) => Err(delete_conflict(things_attached(&arn))),
        Err(e) => Err(store(e)),
    }
}

/// What DeleteCertificate answers for an ACTIVE certificate (AWS's wording).
pub(super) const CERTIFICATE_ACTIVE: &str =
    "Certificate must be deactivated (not ACTIVE) before deletion.";

/// What DeleteCertificate answers while things are attached (AWS's wording).
fn things_attached(arn: &str) -> String {
    format!("Things must be detached before deletion (arn: {arn})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids() {
        let id = "AB".repeat(32);
        assert_eq!(
            certificate_id("certificateId", &id).unwrap(),
            "ab".repeat(32)
        );
        assert!(certificate_id("certificateId", "abc").is_err());
        let e = certificate_id("certificateId", &"zz".repeat(32)).unwrap_err();
        assert!(e.message.contains("(0x)?[a-fA-F0-9]+"), "{}", e.message);
    }

    #[test]
    fn status_transitions() {
        use CertificateStatus::*;
        assert!(check_transition("c", Active, Inactive).is_ok());
        assert!(check_transition("c", Inactive, Revoked).is_ok());
        assert!(check_transition("c", Revoked, Revoked).is_ok());
        let e = check_transition("c", Revoked, Active).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code),
            (406, "CertificateStateException")
        );
        assert!(check_transition("c", PendingTransfer, Active).is_err());
    }

    #[test]
    fn pem_inputs() {
        let e = parse_pem("certificatePem", "not a pem").unwrap_err();
        assert_eq!(e.code, "CertificateValidationException");
        assert!(parse_pem("certificatePem", "").is_err());
    }
}
