//! The rustls server configuration of the credentials endpoint.
//!
//! Every connection is asked for a client certificate. The verifier checks that the
//! certificate parses and, in the handshake, that the client's signature verifies with the
//! certificate's key (proof of possession); whether the certificate is registered, ACTIVE,
//! within its validity, and issued by an ACTIVE registered CA is decided after the handshake by
//! registry look-up. A client that sends no certificate still completes the handshake, so it can
//! be told why in an HTTP 403 instead of a bare TLS alert.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use crate::PkiError;

/// Asks for a client certificate, proves possession of its key, defers trust to the registry.
#[derive(Debug)]
pub struct RegistryClientVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RegistryClientVerifier {
    /// A verifier using `provider`'s signature algorithms.
    pub fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for RegistryClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // A missing certificate is answered with an HTTP 403 after the handshake.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: devices send the certificate they have, whoever issued it.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Proof of possession: never stub this out.
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Load a certificate chain (PEM, leaf first) and its private key (PKCS#8, SEC1 or PKCS#1 PEM).
pub fn load_identity(
    chain_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PkiError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            PkiError::Malformed("server certificate: not a PEM certificate chain".into())
        })?;
    if chain.is_empty() {
        return Err(PkiError::Malformed(
            "server certificate: no certificate in the PEM file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| PkiError::Malformed("server key: not a PEM private key".into()))?;
    Ok((chain, key))
}

/// The credentials endpoint's server configuration: TLS 1.2 and 1.3, a client certificate
/// requested on every connection (see [`RegistryClientVerifier`]), ALPN `http/1.1`.
pub fn credentials_server_config(
    provider: Arc<CryptoProvider>,
    chain_pem: &str,
    key_pem: &str,
) -> Result<ServerConfig, PkiError> {
    let (chain, key) = load_identity(chain_pem, key_pem)?;
    let verifier = Arc::new(RegistryClientVerifier::new(&provider));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| PkiError::Generation(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| PkiError::Malformed(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A server configuration without client authentication (the service endpoint over HTTPS).
pub fn plain_server_config(
    provider: Arc<CryptoProvider>,
    chain_pem: &str,
    key_pem: &str,
) -> Result<ServerConfig, PkiError> {
    let (chain, key) = load_identity(chain_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| PkiError::Generation(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| PkiError::Malformed(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
