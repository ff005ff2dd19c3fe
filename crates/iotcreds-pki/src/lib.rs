//! X.509 for iotcreds.
//!
//! - [`ca`]: the built-in certificate authority (ECDSA P-256): the root created on first start,
//!   the credentials endpoint's server certificate, device certificates like
//!   `CreateKeysAndCertificate`, and CSR signing like `CreateCertificateFromCsr`.
//! - [`inspect`]: what the registry and the policy engine need to know about a certificate
//!   (id = SHA-256 of the DER, validity, subject and issuer attributes, SANs, serial).
//! - [`chain`]: does a device certificate chain to one of the registered CA certificates
//!   (rustls-webpki path validation), and does a verification certificate prove possession of
//!   a CA key for `RegisterCACertificate`.
//! - [`crl`]: a registered CA's certificate revocation list, verified against the CA.
//! - [`tls`]: the rustls server configuration of the credentials endpoint. It asks every client
//!   for a certificate and verifies the handshake signature (proof of possession of the private
//!   key), but accepts any well-formed certificate at the TLS layer: identity and status are
//!   decided afterwards by registry look-up, so certificates registered without a CA work as
//!   well as CA-issued ones (as on AWS IoT).
//!
//! No I/O and no async: callers read and write files.

pub mod ca;
pub mod chain;
pub mod crl;
mod der;
pub mod inspect;
pub mod ocsp;
pub mod tls;

pub use ca::{CertificateAuthority, IssuedCertificate, KeyKind};
pub use inspect::{CertInfo, certificate_id};

/// What went wrong with a certificate, key or CSR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    /// The input is not PEM of the expected kind, or not parseable DER.
    #[error("{0}")]
    Malformed(String),
    /// Generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generation(String),
    /// The certificate does not chain to any of the given CAs, or is outside its validity.
    #[error("{0}")]
    Untrusted(String),
}

/// Parse the first certificate of a PEM text into DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|_| {
            PkiError::Malformed(
                "The certificate is not a valid PEM-encoded X.509 certificate".into(),
            )
        })
}

/// Parse every certificate of a PEM text (a chain or bundle) into DER.
pub fn pem_chain_to_der(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect();
    match certs {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(PkiError::Malformed("no PEM certificate found".into())),
    }
}

/// DER to PEM (`-----BEGIN CERTIFICATE-----`, 64-column base64).
pub fn der_to_pem(der: &[u8]) -> String {
    pem_encode("CERTIFICATE", der)
}

/// `der` as PEM with `label` (RFC 7468: base64 in lines of 64 characters).
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
pub(crate) fn tests_now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
