//! The built-in certificate authority.
//!
//! On first start the server creates a root CA (ECDSA P-256, self-signed, 20 years) and signs
//! the credentials endpoint's server certificate with it; `DATA/root-ca.pem` is what devices
//! trust. The same CA issues device certificates (`CreateKeysAndCertificate`, the CLI) and
//! signs CSRs (`CreateCertificateFromCsr`).
//!
//! Device certificates look like AWS IoT's (`../shared/spec/aws-credentials-provider.md` §7.1):
//! basicConstraints CA:FALSE and keyUsage digitalSignature (both critical), no EKU, a 20-byte
//! random serial, notAfter `2049-12-31T23:59:59Z` unless told otherwise.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, PublicKeyData, RsaKeySize, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::PkiError;

/// Which key a new device certificate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 (fast handshakes; the CLI's default).
    EcdsaP256,
    /// RSA 2048 (what AWS's `CreateKeysAndCertificate` returns).
    Rsa2048,
}

/// A certificate the CA issued, with its key pair when the CA generated it.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8 PEM) when the CA generated the key; never logged.
    pub private_key_pem: Option<String>,
    /// The public key (SubjectPublicKeyInfo PEM).
    pub public_key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// `2049-12-31T23:59:59Z`, the notAfter of AWS IoT-issued device certificates.
pub fn aws_device_not_after() -> OffsetDateTime {
    // A valid constant date; the fallback is unreachable.
    OffsetDateTime::from_unix_timestamp(2_524_607_999).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A CA certificate and its signing key.
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: Vec<u8>,
    key: KeyPair,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn gen_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Generation(e.to_string())
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 20];
    // The system RNG failing is unrecoverable for a PKI.
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator failed");
    b[0] &= 0x7f; // positive
    b[0] |= 0x01; // and 20 bytes long
    SerialNumber::from_slice(&b)
}

impl CertificateAuthority {
    /// A new self-signed root CA: ECDSA P-256, `CN=<common_name>`, valid from an hour ago for
    /// `years` years, basicConstraints CA:TRUE pathlen 1, keyUsage keyCertSign + cRLSign.
    pub fn generate(
        common_name: &str,
        organization: &str,
        now: OffsetDateTime,
        years: i64,
    ) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, organization);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365 * years);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key,
        })
    }

    /// Load a CA from its certificate and PKCS#8 private key, both PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let cert_der = crate::pem_to_der(cert_pem)?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| PkiError::Malformed(format!("CA private key: {e}")))?;
        // Check the key belongs to the certificate.
        let info = crate::inspect::CertInfo::from_der(&cert_der)?;
        if info.public_key_der != key.subject_public_key_info() {
            return Err(PkiError::Malformed(
                "the CA private key does not match the CA certificate".into(),
            ));
        }
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            key,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA private key, PKCS#8 PEM. Secret: write it with mode 0600, never log it.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, PkiError> {
        Issuer::from_ca_cert_der(&self.cert_der.as_slice().into(), &self.key).map_err(gen_err)
    }

    /// A TLS server certificate (ECDSA P-256) for `hosts` (DNS names or IP addresses; the
    /// first is also the CN), valid from an hour ago for `days` days, EKU serverAuth.
    pub fn issue_server(
        &self,
        hosts: &[String],
        now: OffsetDateTime,
        days: i64,
    ) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(gen_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hosts.first().map(String::as_str).unwrap_or("localhost"),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days);
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(gen_err)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            private_key_pem: Some(key.serialize_pem()),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// A device certificate with a freshly generated key pair, `CN=<common_name>`, valid from
    /// `now` (minus an hour of clock-skew slack) until `not_after`.
    pub fn issue_device(
        &self,
        kind: KeyKind,
        common_name: &str,
        now: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let key = match kind {
            KeyKind::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyKind::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
        }
        .map_err(gen_err)?;
        let mut params = device_params(now, not_after);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(gen_err)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            private_key_pem: Some(key.serialize_pem()),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// Sign a PKCS#10 CSR (PEM): the CSR's signature is verified, its subject and SANs are
    /// kept, everything else is set as for [`issue_device`](Self::issue_device).
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        now: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
            PkiError::Malformed(format!("The certificate signing request is not valid: {e}"))
        })?;
        let sans: Vec<SanType> = std::mem::take(&mut csr.params.subject_alt_names);
        let dn = csr.params.distinguished_name.clone();
        csr.params = device_params(now, not_after);
        csr.params.distinguished_name = dn;
        csr.params.subject_alt_names = sans;
        let cert = csr.signed_by(&self.issuer()?).map_err(gen_err)?;
        let public_key_pem = crate::inspect::CertInfo::from_der(cert.der())?.public_key_pem();
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            private_key_pem: None,
            public_key_pem,
        })
    }

    /// A certificate revocation list signed by this CA, PEM: `serials_hex` (lowercase hex, as
    /// [`crate::CertInfo::serial_hex`] spells them) revoked, CRL number `number`, issued at
    /// `this_update`, the next one due at `next_update`.
    pub fn issue_crl(
        &self,
        serials_hex: &[&str],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let revoked_certs = serials_hex
            .iter()
            .map(|s| {
                let bytes = hex::decode(s)
                    .map_err(|_| PkiError::Malformed(format!("serial {s} is not hex")))?;
                Ok(rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: this_update,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer()?)
            .and_then(|crl| crl.pem())
            .map_err(gen_err)
    }

    /// A certificate with `CN=<common_name>` signed by this CA for a fresh P-256 key: the
    /// "verification certificate" of `RegisterCACertificate` when `common_name` is the
    /// registration code.
    pub fn issue_verification(
        &self,
        common_name: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        self.issue_device(
            KeyKind::EcdsaP256,
            common_name,
            now,
            now + Duration::days(30),
        )
    }

    /// A subordinate CA signed by this one (for operators' chains and for tests).
    pub fn issue_intermediate(
        &self,
        common_name: &str,
        now: OffsetDateTime,
        years: i64,
    ) -> Result<CertificateAuthority, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365 * years);
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer()?).map_err(gen_err)?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key,
        })
    }
}

fn device_params(now: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = now - Duration::hours(1);
    params.not_after = not_after;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::CertInfo;

    #[test]
    fn root_server_device_and_csr() {
        let now = OffsetDateTime::now_utc();
        let ca = CertificateAuthority::generate("iotcreds root CA", "iotcreds", now, 20).unwrap();
        let ca_info = CertInfo::from_pem(ca.cert_pem()).unwrap();
        assert!(ca_info.is_ca);
        let reloaded = CertificateAuthority::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(reloaded.cert_der(), ca.cert_der());

        let server = ca
            .issue_server(&["localhost".into(), "127.0.0.1".into()], now, 825)
            .unwrap();
        let s = CertInfo::from_pem(&server.cert_pem).unwrap();
        assert_eq!(s.sans.dns, vec!["localhost".to_string()]);
        assert_eq!(s.sans.ip, vec!["127.0.0.1".to_string()]);

        let dev = ca
            .issue_device(
                KeyKind::EcdsaP256,
                "AWS IoT Certificate",
                now,
                aws_device_not_after(),
            )
            .unwrap();
        let d = CertInfo::from_pem(&dev.cert_pem).unwrap();
        assert!(!d.is_ca);
        assert_eq!(d.issuer_dn, ca_info.subject_dn);
        assert_eq!(d.not_after_ms, 2_524_607_999_000);
        assert_eq!(d.serial_hex.len(), 40);
        assert!(
            dev.private_key_pem
                .as_deref()
                .unwrap()
                .contains("PRIVATE KEY")
        );

        // A CSR made by the device keeps its subject and key.
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(vec!["dev.example".to_string()]).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "ADCTestThing");
        let csr = p.serialize_request(&key).unwrap().pem().unwrap();
        let signed = ca.sign_csr(&csr, now, aws_device_not_after()).unwrap();
        let info = CertInfo::from_pem(&signed.cert_pem).unwrap();
        assert_eq!(info.public_key_der, key.subject_public_key_info());
        assert!(info.subject_dn.contains("ADCTestThing"));
        assert!(signed.private_key_pem.is_none());
        assert!(
            ca.sign_csr(
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                now,
                aws_device_not_after()
            )
            .is_err()
        );
    }

    #[test]
    fn mismatched_ca_key_is_refused() {
        let now = OffsetDateTime::now_utc();
        let a = CertificateAuthority::generate("a", "o", now, 1).unwrap();
        let b = CertificateAuthority::generate("b", "o", now, 1).unwrap();
        assert!(CertificateAuthority::from_pem(a.cert_pem(), &b.key_pem()).is_err());
    }

    #[test]
    fn rsa_device_certificates() {
        let now = OffsetDateTime::now_utc();
        let ca = CertificateAuthority::generate("root", "o", now, 1).unwrap();
        let dev = ca
            .issue_device(
                KeyKind::Rsa2048,
                "AWS IoT Certificate",
                now,
                aws_device_not_after(),
            )
            .unwrap();
        let info = CertInfo::from_pem(&dev.cert_pem).unwrap();
        assert!(info.public_key_pem().contains("PUBLIC KEY"));
    }
}
