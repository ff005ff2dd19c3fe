//! A device key that lives in a PKCS#11 token (an HSM, a smart card, SoftHSM2, or a TPM 2.0
//! through tpm2-pkcs11), used through `cryptoki`. The private key never leaves the token: TLS
//! handshakes and CSRs are signed by the token (`C_Sign`), the agent only hashes the message.
//!
//! Mechanisms: `CKM_ECDSA` (P-256, P-384) on a SHA-256/384 digest, `CKM_RSA_PKCS_PSS` (TLS 1.3)
//! and `CKM_RSA_PKCS` with a DigestInfo (TLS 1.2) for RSA: the single-part, pre-hashed forms
//! every module implements, tpm2-pkcs11 included. One session per key, serialised by a mutex;
//! a session the token dropped (removed, reset) is reopened once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use rustls::SignatureScheme;
use rustls::sign::{Signer, SigningKey};
use rustls_pki_types::SubjectPublicKeyInfoDer;

use super::der;
use super::uri::Pkcs11Uri;

/// Why a token key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The URI is not usable as written.
    #[error("{0}")]
    Config(String),
    /// The module or token said no.
    #[error("{what}: {source}")]
    Token {
        /// What was being done.
        what: String,
        /// The module's answer.
        source: CkError,
    },
}

fn token_err(what: impl Into<String>) -> impl FnOnce(CkError) -> Pkcs11Error {
    let what = what.into();
    move |source| Pkcs11Error::Token { what, source }
}

/// Directories searched for `module-name=NAME` (`NAME.so`, `libNAME.so`).
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib/arm-linux-gnueabihf/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/softhsm",
    "/usr/local/lib/pkcs11",
];

fn module_path(uri: &Pkcs11Uri) -> Result<PathBuf, Pkcs11Error> {
    if let Some(p) = &uri.module_path {
        return Ok(PathBuf::from(p));
    }
    if let Some(name) = &uri.module_name {
        if name.contains('/') {
            return Err(Pkcs11Error::Config(format!(
                "module-name={name} must be a bare name; use module-path= for a path"
            )));
        }
        for dir in MODULE_DIRS {
            for file in [format!("{name}.so"), format!("lib{name}.so")] {
                let p = Path::new(dir).join(file);
                if p.exists() {
                    return Ok(p);
                }
            }
        }
        return Err(Pkcs11Error::Config(format!(
            "module-name={name}: no {name}.so or lib{name}.so in {}",
            MODULE_DIRS.join(", ")
        )));
    }
    Err(Pkcs11Error::Config(
        "the PKCS#11 URI names no module: add ?module-path=/path/to/module.so (e.g. /usr/lib/softhsm/libsofthsm2.so or /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so)".into(),
    ))
}

/// One initialised context per module for the whole process (C_Initialize once).
fn context(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(path) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(path).map_err(token_err(format!(
        "loading the PKCS#11 module {}",
        path.display()
    )))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(token_err(format!("initialising {}", path.display()))(e)),
    }
    map.insert(path.to_owned(), ctx.clone());
    Ok(ctx)
}

fn read_pin(uri: &Pkcs11Uri) -> Result<Option<AuthPin>, Pkcs11Error> {
    if let Some(v) = &uri.pin_value {
        return Ok(Some(AuthPin::from(v.clone())));
    }
    let Some(src) = &uri.pin_source else {
        return Ok(None);
    };
    let path = src
        .strip_prefix("file://")
        .or_else(|| src.strip_prefix("file:"))
        .unwrap_or(src);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Pkcs11Error::Config(format!("reading the PIN file pin-source={path}: {e}")))?;
    Ok(Some(AuthPin::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    )))
}

/// The kind of key, from its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKeyKind {
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
    /// RSA.
    Rsa,
}

struct Opened {
    session: Session,
    key: ObjectHandle,
}

struct Inner {
    shown: String,
    uri: Pkcs11Uri,
    ctx: Pkcs11,
    pin: Option<AuthPin>,
    kind: TokenKeyKind,
    spki: Vec<u8>,
    public_raw: Vec<u8>,
    session: Mutex<Option<Opened>>,
}

/// A private key in a PKCS#11 token.
#[derive(Clone)]
pub struct TokenKey {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({})", self.inner.shown)
    }
}

fn text_matches(want: &Option<String>, have: &str) -> bool {
    want.as_deref().is_none_or(|w| w == have.trim_end())
}

/// The slots whose token matches the URI's token, slot and library attributes.
fn matching_slots(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Vec<Slot>, Pkcs11Error> {
    if uri.library_manufacturer.is_some()
        || uri.library_description.is_some()
        || uri.library_version.is_some()
    {
        let info = ctx
            .get_library_info()
            .map_err(token_err("reading the module's information"))?;
        let v = info.library_version();
        let version_ok = uri.library_version.as_deref().is_none_or(|want| {
            let have = format!("{}.{}", v.major(), v.minor());
            want == have || want == v.major().to_string()
        });
        if !text_matches(&uri.library_manufacturer, info.manufacturer_id())
            || !text_matches(&uri.library_description, info.library_description())
            || !version_ok
        {
            return Ok(Vec::new());
        }
    }
    let mut out = Vec::new();
    for slot in ctx
        .get_slots_with_token()
        .map_err(token_err("listing the module's slots"))?
    {
        if uri.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        if uri.slot_description.is_some() || uri.slot_manufacturer.is_some() {
            let s = ctx
                .get_slot_info(slot)
                .map_err(token_err("reading a slot's information"))?;
            if !text_matches(&uri.slot_description, s.slot_description())
                || !text_matches(&uri.slot_manufacturer, s.manufacturer_id())
            {
                continue;
            }
        }
        let t = ctx
            .get_token_info(slot)
            .map_err(token_err("reading a token's information"))?;
        if text_matches(&uri.token, t.label())
            && text_matches(&uri.manufacturer, t.manufacturer_id())
            && text_matches(&uri.model, t.model())
            && text_matches(&uri.serial, t.serial_number())
        {
            out.push(slot);
        }
    }
    Ok(out)
}

fn key_template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &uri.object {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

fn login(session: &Session, pin: Option<&AuthPin>, shown: &str) -> Result<(), Pkcs11Error> {
    let Some(pin) = pin else { return Ok(()) };
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(token_err(format!("logging in to the token of {shown}"))(e)),
    }
}

/// Open a session on the one slot holding the one private key the URI names.
fn open(
    ctx: &Pkcs11,
    uri: &Pkcs11Uri,
    pin: Option<&AuthPin>,
    shown: &str,
) -> Result<Opened, Pkcs11Error> {
    let slots = matching_slots(ctx, uri)?;
    if slots.is_empty() {
        return Err(Pkcs11Error::Config(format!(
            "{shown}: no token matches (check token=, serial=, slot-id=; `pkcs11-tool --module … --list-slots` lists them)"
        )));
    }
    let mut found: Option<Opened> = None;
    for slot in slots {
        let session = ctx
            .open_ro_session(slot)
            .map_err(token_err(format!("opening a session on {shown}")))?;
        let needs_login = ctx
            .get_token_info(slot)
            .map(|t| t.login_required())
            .unwrap_or(false);
        if needs_login && pin.is_none() {
            return Err(Pkcs11Error::Config(format!(
                "{shown}: the token needs a PIN; add ?pin-source=/path/to/pin-file to the URI"
            )));
        }
        login(&session, pin, shown)?;
        let keys = session
            .find_objects(&key_template(uri, ObjectClass::PRIVATE_KEY))
            .map_err(token_err(format!("searching {shown}")))?;
        match (keys.len(), &found) {
            (0, _) => {}
            (1, None) => {
                found = Some(Opened {
                    session,
                    key: keys[0],
                })
            }
            _ => {
                return Err(Pkcs11Error::Config(format!(
                    "{shown}: more than one private key matches; add object= or id= to the URI"
                )));
            }
        }
    }
    found.ok_or_else(|| {
        Pkcs11Error::Config(format!(
            "{shown}: no private key matches (check object= and id=; `pkcs11-tool --module … --login --list-objects` lists them)"
        ))
    })
}

fn attr_bytes(attrs: &[Attribute], f: impl Fn(&Attribute) -> Option<&Vec<u8>>) -> Option<Vec<u8>> {
    attrs.iter().find_map(|a| f(a).cloned())
}

impl TokenKey {
    /// Find the key the URI names, log in, and read its public half.
    pub fn open(uri: &Pkcs11Uri) -> Result<Self, Pkcs11Error> {
        let shown = uri.to_string();
        let ctx = context(&module_path(uri)?)?;
        let pin = read_pin(uri)?;
        let opened = open(&ctx, uri, pin.as_ref(), &shown)?;
        let attrs = opened
            .session
            .get_attributes(
                opened.key,
                &[
                    AttributeType::KeyType,
                    AttributeType::Sign,
                    AttributeType::AlwaysAuthenticate,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                    AttributeType::EcParams,
                ],
            )
            .map_err(token_err(format!(
                "reading the key's attributes on {shown}"
            )))?;
        let key_type = attrs.iter().find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k),
            _ => None,
        });
        if attrs.iter().any(|a| matches!(a, Attribute::Sign(false))) {
            return Err(Pkcs11Error::Config(format!(
                "{shown}: the key may not sign (CKA_SIGN is false)"
            )));
        }
        if attrs
            .iter()
            .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)))
        {
            return Err(Pkcs11Error::Config(format!(
                "{shown}: keys that need a PIN for every signature (CKA_ALWAYS_AUTHENTICATE) are not supported"
            )));
        }
        let (kind, spki, public_raw) = match key_type {
            Some(KeyType::EC) => {
                let params = attr_bytes(&attrs, |a| match a {
                    Attribute::EcParams(v) => Some(v),
                    _ => None,
                })
                .ok_or_else(|| {
                    Pkcs11Error::Config(format!("{shown}: the EC key has no CKA_EC_PARAMS"))
                })?;
                let kind = if params == der::P256 {
                    TokenKeyKind::EcP256
                } else if params == der::P384 {
                    TokenKeyKind::EcP384
                } else {
                    return Err(Pkcs11Error::Config(format!(
                        "{shown}: only P-256 and P-384 EC keys are supported"
                    )));
                };
                // The point is on the public key object beside it (same id and label).
                let mut template = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
                for a in &attrs {
                    match a {
                        Attribute::Id(v) if !v.is_empty() => {
                            template.push(Attribute::Id(v.clone()))
                        }
                        Attribute::Label(v) if !v.is_empty() => {
                            template.push(Attribute::Label(v.clone()))
                        }
                        _ => {}
                    }
                }
                let publics = opened
                    .session
                    .find_objects(&template)
                    .map_err(token_err(format!("searching {shown} for the public key")))?;
                let point = publics
                    .first()
                    .and_then(|p| {
                        opened
                            .session
                            .get_attributes(*p, &[AttributeType::EcPoint])
                            .ok()
                    })
                    .and_then(|a| {
                        attr_bytes(&a, |x| match x {
                            Attribute::EcPoint(v) => Some(v),
                            _ => None,
                        })
                    })
                    .and_then(|v| der::unwrap_ec_point(&v))
                    .ok_or_else(|| {
                        Pkcs11Error::Config(format!(
                            "{shown}: no public key object with the private key's id and label (needed to check it against the certificate)"
                        ))
                    })?;
                (kind, der::ec_spki(&params, &point), point)
            }
            Some(KeyType::RSA) => {
                let m = attr_bytes(&attrs, |a| match a {
                    Attribute::Modulus(v) => Some(v),
                    _ => None,
                });
                let e = attr_bytes(&attrs, |a| match a {
                    Attribute::PublicExponent(v) => Some(v),
                    _ => None,
                });
                let (Some(m), Some(e)) = (m, e) else {
                    return Err(Pkcs11Error::Config(format!(
                        "{shown}: the RSA key does not show its modulus and public exponent"
                    )));
                };
                if m.len() < 256 {
                    return Err(Pkcs11Error::Config(format!(
                        "{shown}: RSA keys must have at least 2048 bits"
                    )));
                }
                (
                    TokenKeyKind::Rsa,
                    der::rsa_spki(&m, &e),
                    der::rsa_public_key(&m, &e),
                )
            }
            _ => {
                return Err(Pkcs11Error::Config(format!(
                    "{shown}: only EC (P-256, P-384) and RSA keys are supported"
                )));
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                shown,
                uri: uri.clone(),
                ctx,
                pin,
                kind,
                spki,
                public_raw,
                session: Mutex::new(Some(opened)),
            }),
        })
    }

    /// The key's kind.
    pub fn kind(&self) -> TokenKeyKind {
        self.inner.kind
    }

    /// SubjectPublicKeyInfo (DER).
    pub fn spki(&self) -> &[u8] {
        &self.inner.spki
    }

    /// Sign `message` (not pre-hashed) with `scheme`.
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        use aws_lc_rs::digest;
        let (alg, mech_hash, mgf, info) = match scheme {
            SignatureScheme::ECDSA_NISTP256_SHA256
            | SignatureScheme::RSA_PSS_SHA256
            | SignatureScheme::RSA_PKCS1_SHA256 => (
                &digest::SHA256,
                MechanismType::SHA256,
                PkcsMgfType::MGF1_SHA256,
                der::SHA256_DIGEST_INFO,
            ),
            SignatureScheme::ECDSA_NISTP384_SHA384
            | SignatureScheme::RSA_PSS_SHA384
            | SignatureScheme::RSA_PKCS1_SHA384 => (
                &digest::SHA384,
                MechanismType::SHA384,
                PkcsMgfType::MGF1_SHA384,
                der::SHA384_DIGEST_INFO,
            ),
            SignatureScheme::RSA_PSS_SHA512 | SignatureScheme::RSA_PKCS1_SHA512 => (
                &digest::SHA512,
                MechanismType::SHA512,
                PkcsMgfType::MGF1_SHA512,
                der::SHA512_DIGEST_INFO,
            ),
            other => {
                return Err(Pkcs11Error::Config(format!(
                    "signature scheme {other:?} is not supported"
                )));
            }
        };
        let hash = digest::digest(alg, message);
        let hash = hash.as_ref();
        let (mechanism, input) = match scheme {
            SignatureScheme::ECDSA_NISTP256_SHA256 | SignatureScheme::ECDSA_NISTP384_SHA384 => {
                (Mechanism::Ecdsa, hash.to_vec())
            }
            SignatureScheme::RSA_PSS_SHA256
            | SignatureScheme::RSA_PSS_SHA384
            | SignatureScheme::RSA_PSS_SHA512 => (
                Mechanism::RsaPkcsPss(PkcsPssParams {
                    hash_alg: mech_hash,
                    mgf,
                    s_len: (hash.len() as u64).into(),
                }),
                hash.to_vec(),
            ),
            _ => {
                let mut v = info.to_vec();
                v.extend_from_slice(hash);
                (Mechanism::RsaPkcs, v)
            }
        };
        let raw = self.with_session(|s, key| s.sign(&mechanism, key, &input))?;
        if matches!(self.inner.kind, TokenKeyKind::EcP256 | TokenKeyKind::EcP384) {
            der::ecdsa_raw_to_der(&raw).ok_or_else(|| {
                Pkcs11Error::Config("the token returned a malformed ECDSA signature".into())
            })
        } else {
            Ok(raw)
        }
    }

    /// Run `f` on the key's session, reopening it once if the token dropped it.
    fn with_session<T>(
        &self,
        f: impl Fn(&Session, ObjectHandle) -> Result<T, CkError>,
    ) -> Result<T, Pkcs11Error> {
        let inner = &self.inner;
        let mut guard = inner.session.lock().unwrap_or_else(|e| e.into_inner());
        for attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(open(
                    &inner.ctx,
                    &inner.uri,
                    inner.pin.as_ref(),
                    &inner.shown,
                )?);
            }
            let opened = guard.as_ref().expect("opened above");
            match f(&opened.session, opened.key) {
                Ok(v) => return Ok(v),
                Err(CkError::Pkcs11(
                    RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::UserNotLoggedIn
                    | RvError::DeviceRemoved
                    | RvError::TokenNotPresent
                    | RvError::ObjectHandleInvalid
                    | RvError::KeyHandleInvalid,
                    _,
                )) if attempt == 0 => {
                    *guard = None;
                }
                Err(e) => return Err(token_err(format!("signing with {}", inner.shown))(e)),
            }
        }
        Err(Pkcs11Error::Config(format!(
            "{}: the token keeps dropping the session",
            inner.shown
        )))
    }
}

/// The schemes a key offers TLS, best first.
fn schemes(kind: TokenKeyKind) -> &'static [SignatureScheme] {
    match kind {
        TokenKeyKind::EcP256 => &[SignatureScheme::ECDSA_NISTP256_SHA256],
        TokenKeyKind::EcP384 => &[SignatureScheme::ECDSA_NISTP384_SHA384],
        TokenKeyKind::Rsa => &[
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA512,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
        ],
    }
}

impl SigningKey for TokenKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = schemes(self.inner.kind)
            .iter()
            .find(|s| offered.contains(s))?;
        Some(Box::new(TokenSigner {
            key: self.clone(),
            scheme: *scheme,
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.inner.spki.as_slice()))
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        match self.inner.kind {
            TokenKeyKind::Rsa => rustls::SignatureAlgorithm::RSA,
            _ => rustls::SignatureAlgorithm::ECDSA,
        }
    }
}

struct TokenSigner {
    key: TokenKey,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSigner({:?}, {:?})", self.key, self.scheme)
    }
}

impl Signer for TokenSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        // A token may take a while (a TPM: tens of ms); on a multi-threaded runtime let the
        // other tasks move off this worker meanwhile.
        let run = || {
            self.key.sign(self.scheme, message).map_err(|e| {
                tracing::warn!(error = %e, "the PKCS#11 token could not sign the TLS handshake");
                rustls::Error::General(format!("PKCS#11 signing failed: {e}"))
            })
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

impl rcgen::PublicKeyData for TokenKey {
    fn der_bytes(&self) -> &[u8] {
        &self.inner.public_raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.inner.kind {
            TokenKeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            TokenKeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            TokenKeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl rcgen::SigningKey for TokenKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let scheme = match self.inner.kind {
            TokenKeyKind::EcP256 => SignatureScheme::ECDSA_NISTP256_SHA256,
            TokenKeyKind::EcP384 => SignatureScheme::ECDSA_NISTP384_SHA384,
            TokenKeyKind::Rsa => SignatureScheme::RSA_PKCS1_SHA256,
        };
        TokenKey::sign(self, scheme, msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
