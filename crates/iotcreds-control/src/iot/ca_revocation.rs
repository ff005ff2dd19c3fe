//! A registered CA's online revocation settings (iotcreds extensions; AWS IoT checks neither
//! OCSP nor CRLs): `UpdateCACertificateRevocationConfig`
//! (`PUT /cacertificate/{caCertificateId}/revocation-config`, body
//! `{"ocsp": "OFF"|"FAIL_OPEN"|"FAIL_CLOSED", "ocspResponderUrl": "http://…", "crlUrl": "http://…"}`,
//! each optional, the whole setting replaced), authorised as its own `iot:` action on the CA's
//! ARN. `DescribeCACertificate` shows it as `iotcredsRevocationConfig`.
//!
//! With OCSP on, the credentials endpoint asks the responder (the one given here, else the one
//! the device certificate's Authority Information Access names) about each device of the CA,
//! caching the answer until its `nextUpdate`. `FAIL_CLOSED` refuses a device while no answer can
//! be had; `FAIL_OPEN` issues then. With a `crlUrl`, every instance fetches the CA's CRL from it
//! on a schedule and imports it as `ImportCACertificateCrl` would. Both URLs are plain HTTP:
//! what they serve is signed by the CA, and HTTP is what RFC 5280 and RFC 6960 use.

use iotcreds_store::{CaCertificate, CaRevocationConfig};
use iotcreds_types::{OcspMode, ValidationError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ca_certificates::authorized;
use super::certificates::certificate_id;
use super::errors::{invalid, store};
use super::json::ok;
use super::{Reply, Req};

/// The longest URL accepted.
const MAX_URL_BYTES: usize = 2048;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Input {
    ocsp: Option<String>,
    ocsp_responder_url: Option<String>,
    crl_url: Option<String>,
}

/// `iotcredsRevocationConfig` of a CA description.
pub(super) fn describe(ca: &CaCertificate) -> Value {
    let c = &ca.revocation;
    json!({
        "ocsp": c.ocsp.as_str(),
        "ocspResponderUrl": c.ocsp_responder_url,
        "crlUrl": c.crl_url,
    })
}

/// An absolute `http://` URL with a host, or a validation error naming `field`.
pub fn http_url(field: &str, url: &str) -> Result<(), String> {
    let bad = |why: &str| format!("{field} {why}");
    if url.len() > MAX_URL_BYTES {
        return Err(bad(&format!("is longer than {MAX_URL_BYTES} bytes")));
    }
    let uri: http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(
            "must be an http:// URL (what it serves is signed by the CA; RFC 5280 and RFC 6960 use HTTP)",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    Ok(())
}

/// `PUT /cacertificate/{caCertificateId}/revocation-config`
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let id = certificate_id("caCertificateId", req.label(0))?;
    let input: Input = req.json()?;
    let ocsp = match input.ocsp.as_deref() {
        None => OcspMode::Off,
        Some(s) => s
            .parse::<OcspMode>()
            .map_err(|e| invalid(ValidationError::new("ocsp", s, e.constraint).to_string()))?,
    };
    for (field, url) in [
        ("ocspResponderUrl", &input.ocsp_responder_url),
        ("crlUrl", &input.crl_url),
    ] {
        if let Some(url) = url {
            http_url(field, url).map_err(invalid)?;
        }
    }
    authorized(req, &id).await?;
    let config = CaRevocationConfig {
        ocsp,
        ocsp_responder_url: input.ocsp_responder_url,
        crl_url: input.crl_url,
    };
    let ca = req
        .write(req.store().set_ca_revocation_config(&id, &config))
        .await
        .map_err(store)?;
    tracing::info!(
        ca_certificate_id = id.as_str(),
        ocsp = config.ocsp.as_str(),
        crl_fetch = config.crl_url.is_some(),
        "changed a CA certificate's revocation checking"
    );
    Ok(ok(json!({
        "certificateId": id,
        "certificateArn": req.ca_cert_arn(&id),
        "iotcredsRevocationConfig": describe(&ca),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(http_url("crlUrl", "http://127.0.0.1:8080/fleet.crl").is_ok());
        assert!(http_url("crlUrl", "http://pki.example").is_ok());
        for bad in [
            "https://pki.example/fleet.crl",
            "ftp://pki.example/fleet.crl",
            "/fleet.crl",
            "pki.example/fleet.crl",
            "http://",
            "http://exa mple/",
            "",
        ] {
            assert!(http_url("crlUrl", bad).is_err(), "{bad}");
        }
        let long = format!("http://pki.example/{}", "a".repeat(MAX_URL_BYTES));
        assert!(http_url("crlUrl", &long).unwrap_err().contains("longer"));
    }
}
