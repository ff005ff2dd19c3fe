//! The TLS client configuration toward an `https://` upstream: which CAs are trusted
//! (`ca_bundle`, else the system's trust store) and the gateway's client certificate
//! (`client_cert`/`client_key`), if the upstream asks for one.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, UpstreamConfig};

fn file_error(setting: &'static str, path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::TlsFile {
        setting,
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read_certs(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = std::fs::read(path).map_err(|e| file_error(setting, path, e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(setting, path, format!("not PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(file_error(setting, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The trust anchors: the CA bundle's certificates, or the system's.
fn roots(config: &UpstreamConfig) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = &config.ca_bundle {
        for cert in read_certs("ca_bundle", path)? {
            roots.add(cert).map_err(|e| {
                file_error("ca_bundle", path, format!("unusable CA certificate ({e})"))
            })?;
        }
        return Ok(roots);
    }
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "reading the system's trust store");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system trust store for the upstream");
    Ok(roots)
}

/// The rustls configuration for the upstream connections (ALPN is added by the connector).
pub(crate) fn client_config(config: &UpstreamConfig) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error("endpoint", Path::new(&config.endpoint), e.to_string()))?
        .with_root_certificates(roots(config)?);
    match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs("client_cert", cert)?;
            let pem =
                std::fs::read(key).map_err(|e| file_error("client_key", key, e.to_string()))?;
            // The parse error could quote key bytes: say only that it is not a key.
            let key_der = PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|_| file_error("client_key", key, "holds no PEM private key"))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                file_error("client_key", key, format!("does not fit client_cert ({e})"))
            })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}
