//! A registered CA's certificate revocation list (iotcreds extensions; AWS IoT checks no CRL):
//! `ImportCACertificateCrl` (`PUT /cacertificate/{caCertificateId}/crl`, body
//! `{"crlPem": "-----BEGIN X509 CRL-----…"}`) and `DeleteCACertificateCrl` (`DELETE` on the same
//! path), each authorised as its own `iot:` action on the CA's ARN. `DescribeCACertificate`
//! shows the imported CRL as `iotcredsCrl`.
//!
//! A CRL is accepted only if it verifies against the CA (`iotcreds_pki::crl::verify`: issuer,
//! signature, dates) and is not older than the one it replaces, so a replayed old CRL cannot
//! un-revoke a certificate. Once imported, a serial on it is refused at the credentials
//! endpoint and the sessions already issued to it are refused on every service path; a CRL past
//! its `nextUpdate` refuses every certificate of the CA at issuance until a newer one is
//! imported (fail closed).

use iotcreds_pki::crl;
use iotcreds_pki::pem_to_der;
use iotcreds_store::{CaCertificate, CaCrl, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ca_certificates::authorized;
use super::certificates::certificate_id;
use super::errors::{invalid, store};
use super::json::{ok, required, timestamp};
use super::{Reply, Req};

/// The largest CRL accepted, PEM (the control plane's body limit is larger; a CRL of this
/// size lists about 20 000 serials).
const MAX_CRL_PEM_BYTES: usize = 1 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportInput {
    crl_pem: Option<String>,
}

/// `iotcredsCrl` of a CA description: what was imported, never the CRL itself.
pub(super) fn describe(ca: &CaCertificate) -> Option<Value> {
    let crl = ca.crl.as_ref()?;
    Some(json!({
        "thisUpdate": timestamp(crl.this_update),
        "nextUpdate": crl.next_update.map(timestamp),
        "revokedCount": crl.revoked_serials.len(),
        "importedDate": timestamp(crl.imported_at),
    }))
}

/// `PUT /cacertificate/{caCertificateId}/crl`
pub(super) async fn import(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let input: ImportInput = req.json()?;
    let pem = required("crlPem", input.crl_pem)?;
    if pem.len() > MAX_CRL_PEM_BYTES {
        return Err(invalid(format!(
            "crlPem is longer than {MAX_CRL_PEM_BYTES} bytes"
        )));
    }
    let ca = authorized(req, &id).await?;
    let ca_der = pem_to_der(&ca.pem).map_err(|e| invalid(e.to_string()))?;
    let now = req.now_ms();
    let der = crl::crl_der(pem.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    let verified = crl::verify(&der, &ca_der, now).map_err(|e| invalid(e.to_string()))?;
    let row = CaCrl {
        der: verified.der,
        this_update: verified.this_update_ms,
        number: verified.number,
        next_update: verified.next_update_ms,
        revoked_serials: verified.revoked_serials,
        imported_at: now,
    };
    // The CRL already held: nothing to change (importing is idempotent).
    let held = ca.crl.as_ref().is_some_and(|c| c.der == row.der);
    let stored = if held {
        Ok(ca)
    } else {
        req.write(req.store().set_ca_crl(&id, Some(&row))).await
    };
    match stored {
        Ok(ca) => {
            tracing::info!(
                ca_certificate_id = id.as_str(),
                revoked = row.revoked_serials.len(),
                "imported a CA certificate revocation list"
            );
            Ok(ok(json!({
                "certificateId": id,
                "certificateArn": req.ca_cert_arn(&id),
                "iotcredsCrl": describe(&ca),
            })))
        }
        Err(StoreError::Conflict { .. }) => Err(invalid(
            "A CRL issued later is already imported for this CA certificate; importing an older one would un-revoke certificates",
        )),
        Err(e) => Err(store(e)),
    }
}

/// `DELETE /cacertificate/{caCertificateId}/crl`
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let ca = authorized(req, &id).await?;
    if ca.crl.is_some() {
        req.write(req.store().set_ca_crl(&id, None))
            .await
            .map_err(store)?;
    }
    Ok(super::json::ok_empty())
}
