//! The registry service: the store behind a cache, the account's identity, the built-in CA and
//! the token key ring; and who a caller is ([`authz::Principal`], resolved by [`auth`]).
//!
//! No HTTP status codes and no SQL here: the store crates know SQL, the endpoints know HTTP.
//!
//! Every read on a hot path (credentials issuance, request authentication, authorisation) goes
//! through [`Registry`]'s cached accessors; every write goes through [`Registry::mutate`], which
//! empties the cache as soon as the write returns, so a change takes effect on the very next
//! request. Changes made by other instances reach this one through [`watch`].

pub mod activity;
pub mod auth;
pub mod authz;
mod bootstrap;
mod cache;
pub mod key_use;
mod keys;
pub mod password;
pub mod session_tags;
pub mod sessions;
mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use arc_swap::ArcSwap;
use iotcreds_pki::CertificateAuthority;
use iotcreds_pki::inspect::CertInfo;
use iotcreds_policy::{Policy, PolicyKind};
use iotcreds_store::{
    AccessKey, CaCertificate, Certificate, PolicyHolder, RoleAlias, Store, StoreError, StoreResult,
    Thing, User,
};
use iotcreds_token::{KeyRing, Secret};
use iotcreds_types::{CaCertificateStatus, arn};

pub use bootstrap::{
    BootstrapError, BootstrapOutcome, OpenOptions, new_long_term_access_key_id,
    new_secret_access_key, open, open_with,
};
use cache::{Epoch, Map};
pub use cache::{MAX_BYTES_PER_MAP, Maps};
pub use keys::Revoked;
pub use watch::watch;

/// A policy compiled for evaluation, with what identifies it in explanations.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// The policy's name or ARN.
    pub id: String,
    /// Its version (`1`, `v3`, `inline`).
    pub version: String,
    /// The compiled policy; `None` when the stored document no longer compiles, which callers
    /// must treat as an explicit deny (fail closed).
    pub policy: Option<Arc<Policy>>,
}

impl CompiledPolicy {
    fn compile(id: String, version: String, document: &str, kind: PolicyKind) -> Self {
        let policy = match Policy::parse(document, kind) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::error!(policy = %id, version = %version, error = %e, "stored policy does not compile; denying");
                None
            }
        };
        Self {
            id,
            version,
            policy,
        }
    }
}

/// Which request-context keys a set of policies refers to (condition keys and policy
/// variables, lower-cased), so a hot path builds only the context it needs: a key no policy
/// mentions cannot change a decision.
#[derive(Debug, Clone, Default)]
pub struct KeyUse {
    keys: Vec<String>,
}

impl KeyUse {
    /// The keys referred to by `policies`.
    pub fn of<'a>(policies: impl IntoIterator<Item = &'a CompiledPolicy>) -> Self {
        let mut keys: Vec<String> = Vec::new();
        for p in policies {
            if let Some(policy) = &p.policy {
                keys.extend(
                    policy
                        .context_keys()
                        .into_iter()
                        .map(|k| k.to_ascii_lowercase()),
                );
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Self { keys }
    }

    /// Whether the policies refer to no key at all (then no context needs building).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether any referred key starts with `prefix` (lower case, e.g. `iot:certificate.`).
    pub fn any(&self, prefix: &str) -> bool {
        self.keys.iter().any(|k| k.starts_with(prefix))
    }
}

/// The IoT policies attached to a target, compiled, with the keys they use.
#[derive(Debug)]
pub struct IotPolicySet {
    /// The policies, by name.
    pub policies: Vec<CompiledPolicy>,
    /// The context keys they refer to.
    pub keys: KeyUse,
}

/// A certificate with its parsed form and ARN.
#[derive(Debug)]
pub struct CachedCertificate {
    /// The registry row.
    pub cert: Certificate,
    /// The parsed certificate (validity, subject, variables).
    pub info: CertInfo,
    /// `arn:aws:iot:REGION:ACCOUNT:cert/ID`.
    pub arn: String,
}

/// A role with its compiled trust and permission policies.
#[derive(Debug)]
pub struct CachedRole {
    /// The registry row.
    pub role: iotcreds_store::Role,
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub arn: String,
    /// The trust policy.
    pub trust: CompiledPolicy,
    /// The context keys the trust policy refers to.
    pub trust_keys: KeyUse,
    /// Inline policies, then attached managed policies (default versions).
    pub permissions: Vec<CompiledPolicy>,
    /// The permissions boundary's default version, if the role has one.
    pub boundary: Option<CompiledPolicy>,
    /// The context keys the permission and boundary policies refer to.
    pub keys: KeyUse,
}

impl CachedRole {
    /// Whether the role's trust policy allows `principal` to perform `action` (`sts:AssumeRole`,
    /// `sts:TagSession`, …) on this role with `context`. A trust policy that no longer compiles
    /// allows nothing.
    pub fn trusts(
        &self,
        principal: &iotcreds_policy::RequestPrincipal,
        action: &str,
        context: &iotcreds_policy::Context,
    ) -> bool {
        let Some(policy) = &self.trust.policy else {
            return false;
        };
        let refs = [iotcreds_policy::PolicyRef {
            id: &self.trust.id,
            policy,
        }];
        iotcreds_policy::evaluate(&iotcreds_policy::EvalInput {
            identity: &[],
            resource: &refs,
            session: None,
            boundary: None,
            request: iotcreds_policy::Request {
                action,
                resource: &self.arn,
                principal: Some(principal),
                context,
            },
        })
        .is_allowed()
    }
}

/// A user with its compiled permission policies.
#[derive(Debug)]
pub struct CachedUser {
    /// The registry row.
    pub user: User,
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    pub arn: String,
    /// Inline policies, then attached managed policies (default versions).
    pub permissions: Vec<CompiledPolicy>,
    /// The permissions boundary's default version, if the user has one.
    pub boundary: Option<CompiledPolicy>,
    /// The context keys the permission and boundary policies refer to.
    pub keys: KeyUse,
}

/// The account's root credentials: full rights, like an AWS account's root user.
pub struct RootCredentials {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret: Secret,
}

#[derive(Default)]
struct RegistryCache {
    epoch: Epoch,
    certificates: Map<String, Option<Arc<CachedCertificate>>>,
    ca_certificates: Map<String, Option<Arc<CaCertificate>>>,
    things: Map<String, Option<Arc<Thing>>>,
    attachments: Map<(String, String), bool>,
    iot_policies: Map<String, Arc<IotPolicySet>>,
    aliases: Map<String, Option<Arc<RoleAlias>>>,
    roles: Map<String, Option<Arc<CachedRole>>>,
    users: Map<String, Option<Arc<CachedUser>>>,
    access_keys: Map<String, Option<Arc<AccessKey>>>,
}

impl RegistryCache {
    fn bytes(&self) -> usize {
        self.certificates.bytes()
            + self.ca_certificates.bytes()
            + self.things.bytes()
            + self.attachments.bytes()
            + self.iot_policies.bytes()
            + self.aliases.bytes()
            + self.roles.bytes()
            + self.users.bytes()
            + self.access_keys.bytes()
    }
}

impl Maps for RegistryCache {
    fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    fn clear_all(&self) {
        cache::clear(&self.certificates);
        cache::clear(&self.ca_certificates);
        cache::clear(&self.things);
        cache::clear(&self.attachments);
        cache::clear(&self.iot_policies);
        cache::clear(&self.aliases);
        cache::clear(&self.roles);
        cache::clear(&self.users);
        cache::clear(&self.access_keys);
    }
}

/// The registry service. Cheap to share behind an `Arc`.
pub struct Registry {
    store: Arc<dyn Store>,
    account_id: String,
    region: String,
    cache: RegistryCache,
    keyring: ArcSwap<KeyRing>,
    /// When an unknown key id last made [`Registry::keyring_for`] reload the ring.
    keyring_miss_reload: std::sync::Mutex<Option<std::time::Instant>>,
    /// SigV4 signing keys derived for recent requests (a memo keyed by the secret's digest, so
    /// it needs no invalidation).
    signing_keys: iotcreds_sigv4::KeyCache,
    /// Verified uses of IAM users' access keys not yet written (see [`key_use`]).
    key_uses: Arc<key_use::KeyUses>,
    ca: Arc<CertificateAuthority>,
    root: RootCredentials,
    registration_code: String,
    health: Health,
}

/// What the registry knows about its database's reachability (see [`watch`]).
struct Health {
    /// When the database stopped answering (ms), or 0 while it answers.
    unavailable_since_ms: AtomicI64,
    /// Set once the outage outlasted the grace period: the cache is not used any more.
    cache_disabled: AtomicBool,
    /// How long to keep serving from the cache during an outage (ms).
    grace_ms: AtomicI64,
}

impl Health {
    fn new() -> Self {
        Self {
            unavailable_since_ms: AtomicI64::new(0),
            cache_disabled: AtomicBool::new(false),
            grace_ms: AtomicI64::new(DEFAULT_OUTAGE_GRACE_MS),
        }
    }
}

/// How long the cache keeps serving while the database is unreachable, by default.
pub const DEFAULT_OUTAGE_GRACE_MS: i64 = 5 * 60 * 1000;

/// Load through the cache: return the cached value, or load it and cache it unless the
/// registry changed meanwhile.
macro_rules! cached {
    // `$key` is borrowed for the look-up; `$owned` (the map's key type) is made only on a miss,
    // so a hit allocates nothing.
    ($self:ident, $map:ident, $key:expr => $owned:expr, $load:expr) => {{
        if !$self.health.cache_disabled.load(Ordering::Relaxed) {
            if let Some(v) = $self.cache.$map.get($key) {
                return Ok(v);
            }
        }
        let seen = $self.cache.epoch.current();
        let value = $load;
        $self
            .cache
            .epoch
            .insert(&$self.cache.$map, $owned, value.clone(), seen);
        Ok(value)
    }};
}

/// `name` folded to lower case, borrowed when it already is.
fn lower(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

impl Registry {
    /// The store, for the control plane's writes (wrap them in [`Registry::mutate`]).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The configured region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The bytes the registry's cache is charged for, all maps together (each map is bounded
    /// by [`MAX_BYTES_PER_MAP`]).
    pub fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Signing keys already derived (see [`iotcreds_sigv4::KeyCache`]).
    pub fn signing_keys(&self) -> &iotcreds_sigv4::KeyCache {
        &self.signing_keys
    }

    /// The access keys' last uses noted on this instance (see [`key_use`]).
    pub fn key_uses(&self) -> &Arc<key_use::KeyUses> {
        &self.key_uses
    }

    /// Note a verified request of `principal` for `service` in `region` (IAM users' access keys
    /// only: the root key and temporary credentials have no last-use record).
    pub fn note_key_use(
        &self,
        principal: &authz::Principal,
        service: &str,
        region: &str,
        now_ms: i64,
    ) {
        if let authz::Principal::User { access_key_id, .. } = principal {
            self.key_uses.note(access_key_id, service, region, now_ms);
        }
    }

    /// The built-in CA.
    pub fn ca(&self) -> &Arc<CertificateAuthority> {
        &self.ca
    }

    /// The account's root credentials.
    pub fn root(&self) -> &RootCredentials {
        &self.root
    }

    /// The account's CA registration code (`GetRegistrationCode`).
    pub fn registration_code(&self) -> &str {
        &self.registration_code
    }

    /// The current token key ring.
    pub fn keyring(&self) -> Arc<KeyRing> {
        self.keyring.load_full()
    }

    /// Run a write and then drop the cache, whatever the outcome (a failed write may still
    /// have raced with another change; dropping the cache is always safe).
    pub async fn mutate<T>(&self, write: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let result = write.await;
        self.changed();
        result
    }

    /// Drop every cached entry (a change happened somewhere).
    pub fn changed(&self) {
        self.cache.invalidate();
    }

    /// How long cached entries keep being served while the database is unreachable; after
    /// that every look-up goes to the database (and fails, so requests are refused) until it
    /// answers again.
    pub fn set_outage_grace(&self, grace: std::time::Duration) {
        let ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.health.grace_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether cached registry entries are still served (the database answers, or its outage
    /// has not yet outlasted the grace period).
    pub fn cache_in_use(&self) -> bool {
        !self.health.cache_disabled.load(Ordering::Relaxed)
    }

    /// Whether the database answered the last check.
    pub fn is_reachable(&self) -> bool {
        self.health.unavailable_since_ms.load(Ordering::Relaxed) == 0
    }

    /// Record the outcome of a database check at `now_ms` (called by [`watch`]). Returns
    /// `true` when the database came back after an outage (the caller flushes the cache:
    /// anything may have changed meanwhile).
    pub(crate) fn record_reachability(&self, reachable: bool, now_ms: i64) -> bool {
        let h = &self.health;
        let since = h.unavailable_since_ms.load(Ordering::Relaxed);
        if reachable {
            if since != 0 {
                h.unavailable_since_ms.store(0, Ordering::Relaxed);
                h.cache_disabled.store(false, Ordering::Relaxed);
                tracing::info!(
                    outage_ms = now_ms - since,
                    "registry database reachable again"
                );
                return true;
            }
            return false;
        }
        if since == 0 {
            h.unavailable_since_ms
                .store(now_ms.max(1), Ordering::Relaxed);
            tracing::warn!("registry database unreachable: serving from cache, refusing writes");
        } else if now_ms - since > h.grace_ms.load(Ordering::Relaxed)
            && !h.cache_disabled.swap(true, Ordering::Relaxed)
        {
            self.cache.invalidate();
            tracing::error!(
                "registry database unreachable for longer than the grace period: refusing requests"
            );
        }
        false
    }

    /// `arn:aws:iot:REGION:ACCOUNT:cert/ID`.
    pub fn certificate_arn(&self, id: &str) -> String {
        arn::iot_certificate(&self.region, &self.account_id, id)
    }

    /// `arn:aws:iot:REGION:ACCOUNT:rolealias/NAME`.
    pub fn role_alias_arn(&self, name: &str) -> String {
        arn::iot_role_alias(&self.region, &self.account_id, name)
    }

    /// A certificate, parsed, by id.
    pub async fn certificate(&self, id: &str) -> StoreResult<Option<Arc<CachedCertificate>>> {
        cached!(self, certificates, id => id.to_owned(), {
            match self.store.certificate(id).await? {
                None => None,
                Some(cert) => {
                    let info = CertInfo::from_pem(&cert.pem).map_err(|e| {
                        StoreError::Backend(format!("stored certificate {id} does not parse: {e}"))
                    })?;
                    let arn = self.certificate_arn(&cert.id);
                    Some(Arc::new(CachedCertificate { cert, info, arn }))
                }
            }
        })
    }

    /// A CA certificate by id.
    pub async fn ca_certificate(&self, id: &str) -> StoreResult<Option<Arc<CaCertificate>>> {
        cached!(
            self,
            ca_certificates,
            id => id.to_owned(),
            self.store.ca_certificate(id).await?.map(Arc::new)
        )
    }

    /// Whether the CA `id` is registered and ACTIVE.
    pub async fn ca_is_active(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .ca_certificate(id)
            .await?
            .is_some_and(|ca| ca.status == CaCertificateStatus::Active))
    }

    /// A thing by name.
    pub async fn thing(&self, name: &str) -> StoreResult<Option<Arc<Thing>>> {
        cached!(
            self,
            things,
            name => name.to_owned(),
            self.store.thing(name).await?.map(Arc::new)
        )
    }

    /// Whether `thing` is attached to `principal` (a certificate ARN).
    pub async fn is_attached(&self, thing: &str, principal: &str) -> StoreResult<bool> {
        let key = (thing.to_owned(), principal.to_owned());
        cached!(
            self,
            attachments,
            &key => key,
            self.store.is_thing_attached(thing, principal).await?
        )
    }

    /// The IoT policies attached to `target` (a certificate ARN), compiled.
    pub async fn iot_policies(&self, target: &str) -> StoreResult<Arc<IotPolicySet>> {
        cached!(self, iot_policies, target => target.to_owned(), {
            let rows = self.store.attached_iot_policies(&[target]).await?;
            let policies: Vec<CompiledPolicy> = rows
                .into_iter()
                .map(|p| {
                    CompiledPolicy::compile(
                        p.name,
                        p.version_id.to_string(),
                        &p.document,
                        PolicyKind::Iot,
                    )
                })
                .collect();
            Arc::new(IotPolicySet {
                keys: KeyUse::of(&policies),
                policies,
            })
        })
    }

    /// A role alias by name.
    pub async fn role_alias(&self, name: &str) -> StoreResult<Option<Arc<RoleAlias>>> {
        cached!(
            self,
            aliases,
            name => name.to_owned(),
            self.store.role_alias(name).await?.map(Arc::new)
        )
    }

    /// A role by name (regardless of case), with its compiled policies.
    pub async fn role(&self, name: &str) -> StoreResult<Option<Arc<CachedRole>>> {
        let key = lower(name);
        cached!(self, roles, &*key => key.into_owned(), {
            match self.store.role(name).await? {
                None => None,
                Some(role) => {
                    let permissions = match self
                        .store
                        .effective_policies(PolicyHolder::Role(&role.name))
                        .await
                    {
                        Ok(p) => p,
                        // Deleted between the two reads: treat as absent.
                        Err(StoreError::NotFound { .. }) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let boundary = self.boundary(role.permissions_boundary.as_deref()).await?;
                    let permissions: Vec<CompiledPolicy> = permissions
                        .into_iter()
                        .map(|p| {
                            CompiledPolicy::compile(
                                p.id,
                                p.version,
                                &p.document,
                                PolicyKind::Identity,
                            )
                        })
                        .collect();
                    let keys = KeyUse::of(permissions.iter().chain(boundary.iter()));
                    let trust = CompiledPolicy::compile(
                        format!("{}#trust", role.name),
                        "trust".into(),
                        &role.trust_policy,
                        PolicyKind::Trust,
                    );
                    Some(Arc::new(CachedRole {
                        arn: arn::iam_role(&self.account_id, &role.path, &role.name),
                        trust_keys: KeyUse::of(std::iter::once(&trust)),
                        trust,
                        permissions,
                        boundary,
                        keys,
                        role,
                    }))
                }
            }
        })
    }

    /// A user by name (regardless of case), with its compiled policies.
    pub async fn user(&self, name: &str) -> StoreResult<Option<Arc<CachedUser>>> {
        let key = lower(name);
        cached!(self, users, &*key => key.into_owned(), {
            match self.store.user(name).await? {
                None => None,
                Some(user) => {
                    let permissions = match self
                        .store
                        .effective_policies(PolicyHolder::User(&user.name))
                        .await
                    {
                        Ok(p) => p,
                        Err(StoreError::NotFound { .. }) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let permissions: Vec<CompiledPolicy> = permissions
                        .into_iter()
                        .map(|p| {
                            CompiledPolicy::compile(
                                p.id,
                                p.version,
                                &p.document,
                                PolicyKind::Identity,
                            )
                        })
                        .collect();
                    let boundary = self.boundary(user.permissions_boundary.as_deref()).await?;
                    Some(Arc::new(CachedUser {
                        arn: arn::iam_user(&self.account_id, &user.path, &user.name),
                        keys: KeyUse::of(permissions.iter().chain(boundary.iter())),
                        permissions,
                        boundary,
                        user,
                    }))
                }
            }
        })
    }

    /// The default version of a role's or user's permissions boundary, compiled. A boundary
    /// whose policy is gone (or no longer compiles) is kept as a policy that allows nothing:
    /// the boundary still limits, to nothing, rather than silently lifting.
    async fn boundary(&self, arn: Option<&str>) -> StoreResult<Option<CompiledPolicy>> {
        let Some(arn) = arn else {
            return Ok(None);
        };
        let Some(mp) = self.store.managed_policy(arn).await? else {
            return Ok(Some(CompiledPolicy {
                id: arn.to_owned(),
                version: String::new(),
                policy: None,
            }));
        };
        let doc = self
            .store
            .managed_policy_version(arn, &mp.default_version_id)
            .await?
            .map(|v| v.document)
            .unwrap_or_default();
        Ok(Some(CompiledPolicy::compile(
            arn.to_owned(),
            mp.default_version_id,
            &doc,
            PolicyKind::Identity,
        )))
    }

    /// A long-term access key by id.
    pub async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<Arc<AccessKey>>> {
        cached!(
            self,
            access_keys,
            access_key_id => access_key_id.to_owned(),
            self.store.access_key(access_key_id).await?.map(Arc::new)
        )
    }
}
