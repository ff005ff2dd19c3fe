//! Certificate revocation lists of registered CAs: parsed, and checked against the CA that is
//! to have issued them, before the registry keeps the revoked serials.
//!
//! What is checked at import: the CRL parses (PEM `X509 CRL` or DER, nothing after it), its
//! issuer is the CA's subject, its signature verifies with the CA's public key (x509-parser's
//! `verify-aws`, the aws-lc-rs provider the rest of the server uses), its `thisUpdate` is not in
//! the future (a minute of clock skew allowed), and its `nextUpdate`, when present, is not
//! already past. The caller adds what needs the registry: that it was issued after the CRL it
//! replaces (`CaCrl::supersedes` in the store: by `cRLNumber`, else `thisUpdate`; a replayed
//! older CRL would un-revoke certificates).

use std::collections::BTreeSet;

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::PkiError;

/// Clock skew allowed between the CA that signed a CRL and this server.
const SKEW_MS: i64 = 60_000;

/// What the registry keeps of a verified CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCrl {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// `thisUpdate`, ms since the epoch.
    pub this_update_ms: i64,
    /// The `cRLNumber` extension (RFC 5280 section 5.2.3), lowercase hex without leading zeros,
    /// if the CRL has one: what orders two CRLs of the same second.
    pub number: Option<String>,
    /// `nextUpdate`, ms since the epoch, if the CRL says when the next one is due.
    pub next_update_ms: Option<i64>,
    /// The revoked serial numbers, lowercase hex without leading zeros (as
    /// [`crate::CertInfo::serial_hex`] spells a certificate's).
    pub revoked_serials: BTreeSet<String>,
}

/// The DER of a CRL given as PEM (`-----BEGIN X509 CRL-----`) or DER.
pub fn crl_der(input: &[u8]) -> Result<Vec<u8>, PkiError> {
    use rustls_pki_types::CertificateRevocationListDer;
    use rustls_pki_types::pem::PemObject;
    if input.starts_with(b"-----") || input.trim_ascii_start().starts_with(b"-----") {
        return CertificateRevocationListDer::from_pem_slice(input)
            .map(|c| c.to_vec())
            .map_err(|_| {
                PkiError::Malformed("The CRL is not a valid PEM-encoded X.509 CRL".into())
            });
    }
    Ok(input.to_vec())
}

/// A CRL's DER as PEM (`-----BEGIN X509 CRL-----`).
pub fn to_pem(der: &[u8]) -> String {
    crate::pem_encode("X509 CRL", der)
}

/// Parse `crl_der` and check it against the CA certificate `ca_der` at `now_ms`.
pub fn verify(crl_der: &[u8], ca_der: &[u8], now_ms: i64) -> Result<VerifiedCrl, PkiError> {
    let (rest, crl) = CertificateRevocationList::from_der(crl_der)
        .map_err(|_| PkiError::Malformed("The CRL is not a valid X.509 CRL".into()))?;
    if !rest.is_empty() {
        return Err(PkiError::Malformed("The CRL has trailing data".into()));
    }
    let (_, ca) = X509Certificate::from_der(ca_der)
        .map_err(|_| PkiError::Malformed("The CA certificate is not valid X.509".into()))?;
    if crl.issuer().as_raw() != ca.subject().as_raw() {
        return Err(PkiError::Untrusted(format!(
            "The CRL's issuer ({}) is not the CA certificate's subject ({})",
            crl.issuer(),
            ca.subject()
        )));
    }
    crl.verify_signature(ca.public_key()).map_err(|_| {
        PkiError::Untrusted(
            "The CRL's signature does not verify with the CA certificate's key".into(),
        )
    })?;
    let this_update_ms = crl.last_update().timestamp().saturating_mul(1000);
    let next_update_ms = crl
        .next_update()
        .map(|t| t.timestamp().saturating_mul(1000));
    if this_update_ms > now_ms + SKEW_MS {
        return Err(PkiError::Untrusted(
            "The CRL's thisUpdate is in the future".into(),
        ));
    }
    if next_update_ms.is_some_and(|n| n <= now_ms) {
        return Err(PkiError::Untrusted(
            "The CRL is out of date: its nextUpdate has passed".into(),
        ));
    }
    let revoked_serials = crl
        .iter_revoked_certificates()
        .map(|r| serial_hex(r.raw_serial()))
        .collect();
    let number = crl.crl_number().map(|n| n.to_str_radix(16));
    Ok(VerifiedCrl {
        der: crl_der.to_vec(),
        this_update_ms,
        number,
        next_update_ms,
        revoked_serials,
    })
}

/// A serial as [`crate::CertInfo::serial_hex`] spells it.
fn serial_hex(raw: &[u8]) -> String {
    let first = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(&raw[first..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_spelled_as_certificates_spell_them() {
        assert_eq!(serial_hex(&[0x00, 0x0a, 0xbc]), "0abc");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x7f, 0x00]), "7f00");
    }

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }

    fn ms(t: time::OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// A CRL of the CA that issued the device: verified, with the device's serial spelled as
    /// the registry spells it; the same CRL against another CA with the same name, signed by
    /// another key, out of date or not yet valid: refused.
    #[test]
    fn a_crl_verifies_only_against_its_own_ca_and_dates() {
        use crate::ca::{CertificateAuthority, KeyKind, aws_device_not_after};
        let t = now();
        let ca = CertificateAuthority::generate("ADCTestCA", "o", t, 1).unwrap();
        let device = ca
            .issue_device(
                KeyKind::EcdsaP256,
                "ADCTestThing",
                t,
                aws_device_not_after(),
            )
            .unwrap();
        let serial = crate::CertInfo::from_der(&device.cert_der)
            .unwrap()
            .serial_hex;
        let day = time::Duration::days(1);
        let pem = ca.issue_crl(&[&serial], 1, t - day, t + day).unwrap();
        let der = crl_der(pem.as_bytes()).unwrap();
        let v = verify(&der, ca.cert_der(), ms(t)).unwrap();
        assert!(v.revoked_serials.contains(&serial), "{v:?}");
        assert_eq!(v.revoked_serials.len(), 1);
        assert_eq!(v.number.as_deref(), Some("1"));
        assert_eq!(v.this_update_ms / 1000, (t - day).unix_timestamp());
        let later = ca.issue_crl(&[], 4660, t - day, t + day).unwrap();
        let later = verify(&crl_der(later.as_bytes()).unwrap(), ca.cert_der(), ms(t)).unwrap();
        assert_eq!(later.number.as_deref(), Some("1234"));
        assert_eq!(
            v.next_update_ms.map(|n| n / 1000),
            Some((t + day).unix_timestamp())
        );

        let impostor = CertificateAuthority::generate("ADCTestCA", "o", t, 1).unwrap();
        let err = verify(&der, impostor.cert_der(), ms(t)).unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
        let other = CertificateAuthority::generate("OtherCA", "o", t, 1).unwrap();
        let err = verify(&der, other.cert_der(), ms(t)).unwrap_err();
        assert!(err.to_string().contains("issuer"), "{err}");

        let stale = ca.issue_crl(&[], 2, t - day * 2, t - day).unwrap();
        let err = verify(&crl_der(stale.as_bytes()).unwrap(), ca.cert_der(), ms(t)).unwrap_err();
        assert!(err.to_string().contains("nextUpdate"), "{err}");
        let future = ca.issue_crl(&[], 3, t + day, t + day * 2).unwrap();
        let err = verify(&crl_der(future.as_bytes()).unwrap(), ca.cert_der(), ms(t)).unwrap_err();
        assert!(err.to_string().contains("future"), "{err}");
        // Trailing bytes after the DER are refused.
        let mut long = der.clone();
        long.push(0);
        assert!(verify(&long, ca.cert_der(), ms(t)).is_err());
    }

    #[test]
    fn what_is_not_a_crl_is_refused() {
        let ca = crate::CertificateAuthority::generate(
            "ADCTestCA",
            "o",
            time::OffsetDateTime::now_utc(),
            1,
        )
        .unwrap();
        for bad in [&b""[..], b"not a crl", ca.cert_der()] {
            assert!(matches!(
                verify(bad, ca.cert_der(), 0),
                Err(PkiError::Malformed(_))
            ));
        }
        assert!(
            crl_der(b"-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n").is_err()
        );
        assert_eq!(crl_der(b"\x30\x00").unwrap(), b"\x30\x00");
    }
}
