//! First start and every start: the account id, the built-in CA, the root credentials, the
//! registration code and the first sealing key, all kept in the registry so that every
//! instance sharing it agrees on them.
//!
//! Each value is created with `init_setting` (insert unless present, return what is stored),
//! so two instances starting together on an empty PostgreSQL database still end up with one
//! account id, one CA and one root key.

use std::sync::Arc;

use arc_swap::ArcSwap;
use iotcreds_pki::CertificateAuthority;
use iotcreds_store::{SealingKey, Store, StoreError};
use iotcreds_token::{KeyRing, Secret};
use iotcreds_types::ids;

use super::{Registry, RegistryCache, RootCredentials};

const ACCOUNT_ID: &str = "account_id";
const BUILTIN_CA: &str = "builtin_ca";
const ROOT_CREDENTIALS: &str = "root_credentials";
/// Most bytes of SigV4 signing keys remembered (about 800 bytes each: some 15,000 keys).
const SIGNING_KEYS_MAX_BYTES: usize = 12 << 20;
const REGISTRATION_CODE: &str = "registration_code";

/// Why the registry could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value is corrupt.
    #[error("registry setting {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// The account id asked for is not the registry's.
    #[error(
        "the registry's account id is {stored}, not {requested}: an account id is chosen once, at first start (ARNs in policies and issued credentials name it); drop --account-id / IOTCREDS_ACCOUNT_ID / account_id, or use a new registry"
    )]
    AccountIdMismatch {
        /// The registry's account id.
        stored: String,
        /// The one asked for.
        requested: String,
    },
    /// The account id asked for is not 12 digits.
    #[error("'{0}' is not an account id (12 digits)")]
    InvalidAccountId(String),
}

/// Choices of the first start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// The account id of a new registry (12 digits); `None` draws one at random. A registry
    /// that already has another account id refuses to open.
    pub account_id: Option<String>,
}

/// What the first start created, for the operator's log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BootstrapOutcome {
    /// A new account id was created.
    pub created_account: bool,
    /// A new built-in CA was created.
    pub created_ca: bool,
    /// New root credentials were created.
    pub created_root_credentials: bool,
}

fn random(buf: &mut [u8]) {
    // The system RNG failing is unrecoverable for a credentials service.
    aws_lc_rs::rand::fill(buf).expect("system random number generator failed");
}

/// A 40-character secret access key (base64 alphabet, like AWS's).
pub fn new_secret_access_key() -> String {
    use base64::Engine as _;
    let mut b = [0u8; 30];
    random(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A long-term access key id: `AKIA` + 16 base-32 characters.
pub fn new_long_term_access_key_id() -> String {
    let mut b = [0u8; 10];
    random(&mut b);
    format!("{}{}", ids::LONG_TERM_KEY_PREFIX, ids::base32(&b))
}

/// Open the registry service over `store`, creating what a first start needs.
pub async fn open(
    store: Arc<dyn Store>,
    region: &str,
    now_ms: i64,
) -> Result<(Registry, BootstrapOutcome), BootstrapError> {
    open_with(store, region, now_ms, &OpenOptions::default()).await
}

/// [`open`] with the first start's choices.
pub async fn open_with(
    store: Arc<dyn Store>,
    region: &str,
    now_ms: i64,
    options: &OpenOptions,
) -> Result<(Registry, BootstrapOutcome), BootstrapError> {
    let mut outcome = BootstrapOutcome::default();

    let (account_id, created) = match store.setting(ACCOUNT_ID).await? {
        Some(stored) => (stored, false),
        None => {
            let candidate = match &options.account_id {
                Some(id) if ids::is_account_id(id) => id.clone(),
                Some(id) => return Err(BootstrapError::InvalidAccountId(id.clone())),
                None => ids::account_id(random),
            };
            // Insert unless present: of instances starting together, the first decides.
            let stored = store.init_setting(ACCOUNT_ID, &candidate).await?;
            let created = stored == candidate;
            (stored, created)
        }
    };
    outcome.created_account = created;
    if !ids::is_account_id(&account_id) {
        return Err(BootstrapError::Corrupt(ACCOUNT_ID, "not 12 digits".into()));
    }
    if let Some(requested) = &options.account_id
        && *requested != account_id
    {
        return Err(BootstrapError::AccountIdMismatch {
            stored: account_id,
            requested: requested.clone(),
        });
    }

    let ca = match store.setting(BUILTIN_CA).await? {
        Some(v) => v,
        None => {
            let now = iotcreds_types::time_fmt::from_millis(now_ms);
            let ca = CertificateAuthority::generate(
                "iotcreds root CA",
                &format!("iotcreds account {account_id}"),
                now,
                20,
            )
            .map_err(|e| BootstrapError::Corrupt(BUILTIN_CA, e.to_string()))?;
            let value = format!("{}{}", ca.cert_pem(), ca.key_pem());
            let stored = store.init_setting(BUILTIN_CA, &value).await?;
            outcome.created_ca = stored == value;
            stored
        }
    };
    let split = ca
        .find("-----BEGIN PRIVATE KEY-----")
        .ok_or_else(|| BootstrapError::Corrupt(BUILTIN_CA, "no private key".into()))?;
    let ca = CertificateAuthority::from_pem(&ca[..split], &ca[split..])
        .map_err(|e| BootstrapError::Corrupt(BUILTIN_CA, e.to_string()))?;

    let candidate = format!(
        "{}:{}",
        new_long_term_access_key_id(),
        new_secret_access_key()
    );
    let root = store.init_setting(ROOT_CREDENTIALS, &candidate).await?;
    outcome.created_root_credentials = root == candidate;
    let (akid, secret) = root
        .split_once(':')
        .ok_or_else(|| BootstrapError::Corrupt(ROOT_CREDENTIALS, "not AKID:SECRET".into()))?;
    let root = RootCredentials {
        access_key_id: akid.to_owned(),
        secret: Secret::new(secret.to_owned()),
    };

    let mut code = [0u8; 32];
    random(&mut code);
    let registration_code = store
        .init_setting(REGISTRATION_CODE, &hex::encode(code))
        .await?;

    if store.sealing_keys().await?.is_empty() {
        let key = SealingKey {
            id: 1,
            material: KeyRing::generate_material(),
            created_at: now_ms,
            retired_at: None,
            revoked_at: None,
        };
        match store.insert_sealing_key(&key).await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let ring = super::keys::load_ring(store.as_ref()).await?;

    let registry = Registry {
        store,
        account_id,
        region: region.to_owned(),
        cache: RegistryCache::default(),
        keyring: ArcSwap::from_pointee(ring),
        keyring_miss_reload: std::sync::Mutex::new(None),
        signing_keys: iotcreds_sigv4::KeyCache::new(SIGNING_KEYS_MAX_BYTES),
        key_uses: Arc::new(crate::key_use::KeyUses::default()),
        ca: Arc::new(ca),
        root,
        registration_code,
        health: super::Health::new(),
    };
    Ok((registry, outcome))
}
