//! Path validation of device certificates against registered CA certificates, and the
//! proof-of-possession check of `RegisterCACertificate`.

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyPurposeIdIter};

use crate::PkiError;

/// A registered CA certificate offered as a trust anchor.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredCa<'a> {
    /// The CA's certificate id.
    pub id: &'a str,
    /// The CA certificate, DER.
    pub der: &'a [u8],
}

/// Accepts any (or no) extended key usage: AWS IoT device certificates carry none, and IoT
/// does not require one; the signature chain and validity are what matter here.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        // Still refuse a malformed EKU extension.
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

fn unix_time(now_ms: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_millis(
        u64::try_from(now_ms).unwrap_or(0),
    ))
}

/// The id of the first CA in `cas` that `leaf_der` (with optional `intermediates`) chains to
/// at `now_ms`, checking signatures, validity and CA constraints.
pub fn find_issuer<'a>(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    cas: &[RegisteredCa<'a>],
    now_ms: i64,
) -> Result<&'a str, PkiError> {
    let leaf = CertificateDer::from(leaf_der);
    let ee = EndEntityCert::try_from(&leaf)
        .map_err(|e| PkiError::Malformed(format!("The certificate is not valid: {e}")))?;
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let mut last = None;
    for ca in cas {
        let ca_der = CertificateDer::from(ca.der);
        let Ok(anchor) = webpki::anchor_from_trusted_cert(&ca_der) else {
            continue;
        };
        match ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            std::slice::from_ref(&anchor),
            &inter,
            unix_time(now_ms),
            AnyUsage,
            None,
            None,
        ) {
            Ok(_) => return Ok(ca.id),
            Err(e) => last = Some(e),
        }
    }
    Err(PkiError::Untrusted(match last {
        Some(e) => format!("The certificate is not signed by a registered CA certificate ({e})"),
        None => "The certificate is not signed by a registered CA certificate".into(),
    }))
}

/// Check a `RegisterCACertificate` proof: `verification_der` must be signed by the key of
/// `ca_der`, be valid at `now_ms`, and carry `registration_code` as its subject common name.
pub fn verify_registration(
    ca_der: &[u8],
    verification_der: &[u8],
    registration_code: &str,
    now_ms: i64,
) -> Result<(), PkiError> {
    let info = crate::inspect::CertInfo::from_der(verification_der)?;
    let cn = info
        .subject
        .iter()
        .find(|(n, _)| *n == "CommonName")
        .map(|(_, v)| v.as_str());
    if cn != Some(registration_code) {
        return Err(PkiError::Untrusted(
            "The verification certificate's common name is not the registration code".into(),
        ));
    }
    find_issuer(
        verification_der,
        &[],
        &[RegisteredCa {
            id: "",
            der: ca_der,
        }],
        now_ms,
    )
    .map(|_| ())
    .map_err(|_| {
        PkiError::Untrusted(
            "The verification certificate is not signed by the CA certificate".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CertificateAuthority, KeyKind, aws_device_not_after};

    #[test]
    fn chains_to_the_right_ca() {
        let now = time::OffsetDateTime::now_utc();
        let now_ms = crate::tests_now_ms();
        let a = CertificateAuthority::generate("A", "o", now, 1).unwrap();
        let b = CertificateAuthority::generate("B", "o", now, 1).unwrap();
        let dev = b
            .issue_device(KeyKind::EcdsaP256, "d", now, aws_device_not_after())
            .unwrap();
        let cas = [
            RegisteredCa {
                id: "a",
                der: a.cert_der(),
            },
            RegisteredCa {
                id: "b",
                der: b.cert_der(),
            },
        ];
        assert_eq!(find_issuer(&dev.cert_der, &[], &cas, now_ms).unwrap(), "b");
        assert!(find_issuer(&dev.cert_der, &[], &cas[..1], now_ms).is_err());
        // Outside its validity.
        let year_3000 = 32_503_680_000_000;
        assert!(find_issuer(&dev.cert_der, &[], &cas, year_3000).is_err());

        // Through an intermediate.
        let inter = a.issue_intermediate("A1", now, 1).unwrap();
        let dev2 = inter
            .issue_device(KeyKind::EcdsaP256, "d2", now, aws_device_not_after())
            .unwrap();
        assert!(find_issuer(&dev2.cert_der, &[], &cas, now_ms).is_err());
        assert_eq!(
            find_issuer(&dev2.cert_der, &[inter.cert_der().to_vec()], &cas, now_ms).unwrap(),
            "a"
        );
    }

    #[test]
    fn registration_proof() {
        let now = time::OffsetDateTime::now_utc();
        let now_ms = crate::tests_now_ms();
        let ca = CertificateAuthority::generate("CA", "o", now, 1).unwrap();
        let other = CertificateAuthority::generate("other", "o", now, 1).unwrap();
        let code = "ab".repeat(32);
        let good = ca.issue_verification(&code, now).unwrap();
        assert!(verify_registration(ca.cert_der(), &good.cert_der, &code, now_ms).is_ok());
        let wrong_cn = ca.issue_verification("nope", now).unwrap();
        assert!(verify_registration(ca.cert_der(), &wrong_cn.cert_der, &code, now_ms).is_err());
        let wrong_key = other.issue_verification(&code, now).unwrap();
        assert!(verify_registration(ca.cert_der(), &wrong_key.cert_der, &code, now_ms).is_err());
    }
}
