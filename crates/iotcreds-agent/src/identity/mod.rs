//! The device's identity: certificate chain and private key (a PEM file, or a key inside a
//! PKCS#11 token), reloaded when the files change.
//!
//! Several identities may be configured at once (a rotation writes the next certificate beside
//! the current one). Among the ones that load and whose key matches their certificate, the
//! **newest valid** certificate wins: the latest notBefore among those within their validity
//! (if none is, the newest, and the server judges). The identity in use is swapped atomically;
//! a fetch in flight finishes with the identity it started with, so no request is dropped.

pub mod der;
pub mod pkcs11;
pub mod uri;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use iotcreds_pki::inspect::CertInfo;
use rustls::SignatureScheme;
use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use uri::Pkcs11Uri;

/// Where the private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A PEM file (PKCS#8, SEC1 or PKCS#1).
    File(PathBuf),
    /// A key in a PKCS#11 token.
    Token(Box<Pkcs11Uri>),
}

impl KeySource {
    /// A path, or a `pkcs11:` URI.
    pub fn parse(s: &str) -> Result<Self, uri::UriError> {
        if Pkcs11Uri::is_uri(s) {
            Pkcs11Uri::parse(s).map(|u| Self::Token(Box::new(u)))
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Token(u) => write!(f, "{u}"),
        }
    }
}

/// One configured certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySource {
    /// The certificate (PEM, leaf first, may carry its chain).
    pub cert: PathBuf,
    /// The private key.
    pub key: KeySource,
}

/// Why an identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Something is wrong with the contents.
    #[error("{0}")]
    Invalid(String),
    /// The token refused.
    #[error(transparent)]
    Token(#[from] pkcs11::Pkcs11Error),
}

/// A loaded identity.
pub struct Identity {
    /// What TLS presents and signs with.
    pub certified: Arc<CertifiedKey>,
    /// The leaf certificate, parsed.
    pub info: CertInfo,
    /// Where it came from (no PIN).
    pub source: String,
    /// The token key, for CSRs.
    pub token_key: Option<pkcs11::TokenKey>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificate_id", &self.info.id)
            .field("source", &self.source)
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|source| IdentityError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Load a PEM private key file; refused when every user may read it.
pub fn load_pem_key(
    path: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<dyn SigningKey>, IdentityError> {
    let meta = std::fs::metadata(path).map_err(|source| IdentityError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if meta.permissions().mode() & 0o004 != 0 {
        return Err(IdentityError::Invalid(format!(
            "the key file {} is readable by every user; `chmod o-rwx` it",
            path.display()
        )));
    }
    let pem = read(path)?;
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        IdentityError::Invalid(format!("{} is not a PEM private key", path.display()))
    })?;
    provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| IdentityError::Invalid(format!("{}: {e}", path.display())))
}

/// Sign a challenge with `key` and verify it against the certificate: the key works (PIN,
/// token present) and belongs to the certificate.
fn proves_possession(
    key: &dyn SigningKey,
    leaf: &CertificateDer<'_>,
    provider: &CryptoProvider,
) -> Result<(), String> {
    const OFFER: &[SignatureScheme] = &[
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::ED25519,
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PKCS1_SHA256,
    ];
    let signer = key
        .choose_scheme(OFFER)
        .ok_or("the key supports none of the TLS signature schemes")?;
    let mut challenge = [0u8; 32];
    aws_lc_rs::rand::fill(&mut challenge).map_err(|_| "no random numbers")?;
    let sig = signer.sign(&challenge).map_err(|e| e.to_string())?;
    let ee = webpki::EndEntityCert::try_from(leaf).map_err(|e| format!("certificate: {e}"))?;
    let algs = provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(s, _)| *s == signer.scheme())
        .map(|(_, a)| *a)
        .unwrap_or(&[]);
    if algs
        .iter()
        .any(|alg| ee.verify_signature(*alg, &challenge, &sig).is_ok())
    {
        Ok(())
    } else {
        Err("the private key does not belong to the certificate".into())
    }
}

impl IdentitySource {
    /// Load and check the certificate and key.
    pub fn load(&self, provider: &CryptoProvider) -> Result<Identity, IdentityError> {
        let pem = read(&self.cert)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|_| {
                IdentityError::Invalid(format!("{} is not PEM certificates", self.cert.display()))
            })?;
        let leaf = chain.first().ok_or_else(|| {
            IdentityError::Invalid(format!("{} holds no certificate", self.cert.display()))
        })?;
        let info = CertInfo::from_der(leaf)
            .map_err(|e| IdentityError::Invalid(format!("{}: {e}", self.cert.display())))?;
        let (key, token_key): (Arc<dyn SigningKey>, _) = match &self.key {
            KeySource::File(p) => (load_pem_key(p, provider)?, None),
            KeySource::Token(u) => {
                let k = pkcs11::TokenKey::open(u)?;
                (Arc::new(k.clone()), Some(k))
            }
        };
        let certified = CertifiedKey::new(chain.clone(), key);
        if let Err(e) = certified.keys_match()
            && !matches!(
                e,
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)
            )
        {
            return Err(IdentityError::Invalid(format!(
                "{} and {} do not belong together: the key is not the certificate's",
                self.cert.display(),
                self.key
            )));
        }
        proves_possession(certified.key.as_ref(), leaf, provider).map_err(|e| {
            IdentityError::Invalid(format!("{} with {}: {e}", self.cert.display(), self.key))
        })?;
        Ok(Identity {
            certified: Arc::new(certified),
            info,
            source: format!("{} + {}", self.cert.display(), self.key),
            token_key,
        })
    }

    /// What the files look like now: a change means reload.
    pub fn stamp(&self) -> Stamp {
        let key = match &self.key {
            KeySource::File(p) => file_stamp(p),
            KeySource::Token(_) => None,
        };
        Stamp(file_stamp(&self.cert), key)
    }
}

/// Identity of a file's current contents as the file system shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// The stamp of `path` (None when it cannot be read).
pub fn file_stamp(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
    })
}

/// The stamps of a source's certificate and key files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(Option<FileStamp>, Option<FileStamp>);

/// The newest valid of `candidates` at `now_ms`: the latest notBefore among those valid now,
/// else the latest notBefore of all.
pub fn newest_valid(candidates: &[Arc<Identity>], now_ms: i64) -> Option<Arc<Identity>> {
    let key = |i: &&Arc<Identity>| (i.info.not_before_ms, i.info.not_after_ms);
    candidates
        .iter()
        .filter(|i| i.info.is_valid_at(now_ms))
        .max_by_key(key)
        .or_else(|| candidates.iter().max_by_key(key))
        .cloned()
}

struct Slot {
    stamp: Option<Stamp>,
    loaded: Option<Arc<Identity>>,
    error: Option<String>,
}

/// The configured identities and the one in use.
pub struct Identities {
    sources: Vec<IdentitySource>,
    provider: Arc<CryptoProvider>,
    slots: std::sync::Mutex<Vec<Slot>>,
    current: RwLock<Option<Arc<Identity>>>,
}

/// What a reload found.
#[derive(Debug, Default)]
pub struct Reload {
    /// The identity in use changed (to this one).
    pub changed: Option<Arc<Identity>>,
    /// Sources that failed to load this time (source, error).
    pub errors: Vec<(String, String)>,
}

impl Identities {
    /// Sources, not yet loaded.
    pub fn new(sources: Vec<IdentitySource>, provider: Arc<CryptoProvider>) -> Self {
        let slots = sources
            .iter()
            .map(|_| Slot {
                stamp: None,
                loaded: None,
                error: None,
            })
            .collect();
        Self {
            sources,
            provider,
            slots: std::sync::Mutex::new(slots),
            current: RwLock::new(None),
        }
    }

    /// The identity in use.
    pub fn current(&self) -> Option<Arc<Identity>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last load error of each source that has one.
    pub fn errors(&self) -> Vec<(String, String)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        self.sources
            .iter()
            .zip(slots.iter())
            .filter_map(|(s, slot)| {
                slot.error
                    .clone()
                    .map(|e| (s.cert.display().to_string(), e))
            })
            .collect()
    }

    /// Reload the sources whose files changed (all of them the first time), then pick the
    /// newest valid identity. Blocking (file reads, token calls): run it off the async workers.
    pub fn reload(&self, now_ms: i64) -> Reload {
        let mut out = Reload::default();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for (source, slot) in self.sources.iter().zip(slots.iter_mut()) {
            let stamp = source.stamp();
            if slot.stamp == Some(stamp) {
                continue;
            }
            slot.stamp = Some(stamp);
            match source.load(&self.provider) {
                Ok(identity) => {
                    slot.loaded = Some(Arc::new(identity));
                    slot.error = None;
                }
                Err(e) => {
                    // Keep what was loaded before: a rotation half-written (new certificate,
                    // old key) must not take the working identity away.
                    let msg = e.to_string();
                    out.errors
                        .push((source.cert.display().to_string(), msg.clone()));
                    slot.error = Some(msg);
                }
            }
        }
        let mut candidates: Vec<Arc<Identity>> =
            slots.iter().filter_map(|s| s.loaded.clone()).collect();
        drop(slots);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = current.as_ref() {
            candidates.push(c.clone());
        }
        if let Some(best) = newest_valid(&candidates, now_ms)
            && current.as_ref().is_none_or(|c| !Arc::ptr_eq(c, &best))
        {
            *current = Some(best.clone());
            out.changed = Some(best);
        }
        out
    }
}
