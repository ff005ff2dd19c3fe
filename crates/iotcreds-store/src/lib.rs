//! The registry storage trait, its row models and errors.
//!
//! The registry (certificates, things, IoT policies, IAM roles, users and policies, role aliases,
//! sealing keys, account settings) lives behind [`Store`]. One crate per engine implements it
//! (`iotcreds-store-sqlite`, the embedded default; `iotcreds-store-postgres`, for scale-out), and
//! `iotcreds-store-tests` holds the conformance suite every engine must pass.
//!
//! # Contract
//!
//! - **Atomic operations.** Every method is one transaction. Methods that enforce a rule
//!   ("a policy can't be deleted while attached", "at most 5 versions") check and write in the
//!   same transaction, so concurrent callers cannot break the rule.
//! - **The store keeps, the server decides.** The store validates nothing about names or
//!   documents (the server does that before calling); it enforces identity (unique keys),
//!   referential rules and the count limits named on each method, and reports them as
//!   [`StoreError`]s that carry no HTTP or AWS wire detail.
//! - **Generation.** Every successful write increments a registry-wide generation counter in the
//!   same transaction ([`Store::generation`]); a call that turns out to change nothing
//!   (such as attaching what is attached, or `init_setting` of a set key) leaves
//!   it. Caches remember the generation they were filled at and drop everything when it moves;
//!   engines that can push changes (PostgreSQL `LISTEN/NOTIFY`) also expose
//!   [`Store::subscribe`].
//! - **Names.** Thing, thing type, IoT policy and role alias names are case-sensitive. IAM role,
//!   user and managed policy names are unique *regardless of case*, as in IAM, and looked up
//!   regardless of case; the stored name keeps the case it was created with.
//! - **Paging.** Lists are sorted by their key (name, ARN, or creation time then id for
//!   certificates; IAM names regardless of case) and paged with an opaque marker; see
//!   [`PageRequest`].

mod console;
mod error;
pub mod model;

use async_trait::async_trait;
use std::collections::BTreeMap;

pub use console::{CredentialEvent, CredentialEventFilter, LoginProfile, LoginProfileUpdate};
pub use error::{ConflictReason, Entity, LimitKind, StateReason, StoreError};
pub use model::*;

use iotcreds_types::{
    AccessKeyStatus, AutoRegistrationStatus, CaCertificateStatus, CertificateStatus,
};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which page of a list to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next_marker` of the previous page, or `None` for the first page. A marker the store
    /// did not issue is refused with [`StoreError::InvalidMarker`].
    pub marker: Option<String>,
    /// Maximum number of items (1..=1000; the store clamps).
    pub limit: u32,
    /// Sort order of the key; `true` is ascending (the default everywhere).
    pub ascending: bool,
}

impl PageRequest {
    /// The first page of `limit` items, ascending.
    pub fn first(limit: u32) -> Self {
        Self {
            marker: None,
            limit,
            ascending: true,
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(1000)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Pass back as `PageRequest::marker` to get the next page; `None` when this is the last.
    pub next_marker: Option<String>,
}

/// Filters of `ListThings`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingFilter {
    /// Only things whose attribute `name` equals `value`.
    pub attribute: Option<(String, String)>,
    /// Only things of this type.
    pub thing_type: Option<String>,
    /// Only things whose name starts with this.
    pub name_prefix: Option<String>,
}

/// A change to a thing made by `UpdateThing`: the whole new state, written only if the stored
/// version still equals `expected_version` (compare-and-swap). The store sets
/// `version = expected_version + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingUpdate {
    /// New thing type (`None` = no type).
    pub thing_type: Option<String>,
    /// New attributes, complete.
    pub attributes: BTreeMap<String, String>,
    /// Last change (ms).
    pub modified_at: i64,
}

/// A change to a role made by `UpdateRole` (fields left `None` are unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleUpdate {
    /// New description (`Some("")` clears it).
    pub description: Option<String>,
    /// New maximum session duration.
    pub max_session_duration: Option<i64>,
}

/// A change to a role alias made by `UpdateRoleAlias` (fields left `None` are unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAliasUpdate {
    /// New role ARN.
    pub role_arn: Option<String>,
    /// New duration.
    pub credential_duration_seconds: Option<i64>,
    /// New session-tag mapping (empty: none).
    pub session_tags: Option<std::collections::BTreeMap<String, String>>,
    /// Last change (ms).
    pub modified_at: i64,
}

/// Filters of IAM `ListPolicies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedPolicyFilter {
    /// Only policies whose path starts with this.
    pub path_prefix: Option<String>,
    /// Only policies attached to at least one role or user.
    pub only_attached: bool,
}

/// Where a managed policy is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyHolder<'a> {
    /// An IAM role, by name.
    Role(&'a str),
    /// An IAM user, by name.
    User(&'a str),
}

/// Limits the store enforces atomically. The server passes AWS's quotas; tests pass small ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Versions per IoT policy and per managed policy (AWS: 5).
    pub policy_versions: usize,
    /// IoT policies attached to one target (AWS: 10).
    pub iot_policies_per_target: usize,
    /// Managed policies attached to one role or user (AWS: 10 by default, up to 20).
    pub managed_policies_per_holder: usize,
    /// Access keys per user (AWS: 2).
    pub access_keys_per_user: usize,
    /// Tags per IAM role, user and managed policy, and per taggable IoT resource (AWS: 50 each).
    pub tags_per_role: usize,
    /// CA certificates with the same subject (AWS: 10).
    pub ca_certificates_per_subject: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            policy_versions: 5,
            iot_policies_per_target: 10,
            managed_policies_per_holder: 10,
            access_keys_per_user: 2,
            tags_per_role: 50,
            ca_certificates_per_subject: 10,
        }
    }
}

/// The registry's persistence. See the crate docs for the contract every engine keeps.
///
/// Errors named on a method are the *rule* errors it reports; any method may also return
/// [`StoreError::Unavailable`] (the database cannot be reached) or [`StoreError::Backend`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- engine -------------------------------------------------------------------------

    /// The engine's name (`sqlite`, `postgres`), for logs and health output.
    fn engine(&self) -> &'static str;

    /// The registry-wide generation: a counter incremented by every successful write.
    async fn generation(&self) -> StoreResult<i64>;

    /// A stream of generations pushed by the database when another process writes, if the
    /// engine can push (PostgreSQL); `None` otherwise, and callers poll [`Store::generation`].
    /// Each item is the new generation (or `None` when the push channel was lost and
    /// re-established: the caller must assume anything changed).
    async fn subscribe(&self) -> StoreResult<Option<tokio_stream_like::ChangeStream>>;

    /// Check the database answers (for health checks and readiness).
    async fn ping(&self) -> StoreResult<()>;

    // ---- account settings ---------------------------------------------------------------

    /// The value of an account setting (`account_id`, `registration_code`, ...), if set.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;

    /// Set `key` to `value` unless it is already set; returns the value now stored. Used at
    /// first start so that concurrent instances agree on one account id.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;

    /// Set `key` to `value`, replacing any value.
    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    // ---- sealing keys -------------------------------------------------------------------

    /// Every stored sealing key, oldest first.
    async fn sealing_keys(&self) -> StoreResult<Vec<SealingKey>>;

    /// Add a key. `AlreadyExists` if the id is taken.
    async fn insert_sealing_key(&self, key: &SealingKey) -> StoreResult<()>;

    /// Mark every unretired key other than `except` as retired at `at` (ms).
    async fn retire_sealing_keys(&self, except: u16, at: i64) -> StoreResult<()>;

    /// Delete the key `id`. `NotFound` if absent.
    async fn delete_sealing_key(&self, id: u16) -> StoreResult<()>;

    /// Revoke the key `id` at `at` (ms): erase its material, mark it revoked and, unless it
    /// already was, retired. `NotFound` if absent; revoking a revoked key changes nothing.
    async fn revoke_sealing_key(&self, id: u16, at: i64) -> StoreResult<()>;

    // ---- CA certificates ----------------------------------------------------------------

    /// Register a CA with its tags. `AlreadyExists` if the id is taken; `LimitExceeded` if
    /// `ca_certificates_per_subject` CAs with the same subject exist.
    async fn insert_ca_certificate(&self, ca: &CaCertificate, tags: &[Tag]) -> StoreResult<()>;

    /// A CA by id.
    async fn ca_certificate(&self, id: &str) -> StoreResult<Option<CaCertificate>>;

    /// CAs, by id.
    async fn list_ca_certificates(&self, page: &PageRequest) -> StoreResult<Page<CaCertificate>>;

    /// Change a CA's status and/or auto-registration; bumps `customer_version`, replaces
    /// `generation_id` with `generation_id`, sets `modified_at`. `NotFound` if absent.
    async fn update_ca_certificate(
        &self,
        id: &str,
        status: Option<CaCertificateStatus>,
        auto_registration: Option<AutoRegistrationStatus>,
        generation_id: &str,
        modified_at: i64,
    ) -> StoreResult<CaCertificate>;

    /// Delete a CA. `NotFound` if absent; `InvalidState` if it is `ACTIVE`.
    async fn delete_ca_certificate(&self, id: &str) -> StoreResult<()>;

    /// Replace the CA's CRL (`None` removes it). `NotFound` if the CA is absent; `Conflict`
    /// (`NewerCrl`) if the stored CRL has a later `thisUpdate` than `crl`, so an old CRL cannot
    /// be replayed to un-revoke certificates.
    async fn set_ca_crl(&self, id: &str, crl: Option<&CaCrl>) -> StoreResult<CaCertificate>;

    /// Replace the CA's online revocation settings. `NotFound` if the CA is absent.
    async fn set_ca_revocation_config(
        &self,
        id: &str,
        config: &CaRevocationConfig,
    ) -> StoreResult<CaCertificate>;

    // ---- certificates -------------------------------------------------------------------

    /// Register a certificate. `AlreadyExists` if the id is taken; `NotFound` (entity
    /// `CaCertificate`) if `ca_certificate_id` names no registered CA.
    async fn insert_certificate(&self, cert: &Certificate) -> StoreResult<()>;

    /// A certificate by id.
    async fn certificate(&self, id: &str) -> StoreResult<Option<Certificate>>;

    /// Certificates by creation time then id (ascending or not), optionally only those issued
    /// by the CA `ca_id`.
    async fn list_certificates(
        &self,
        ca_id: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<Certificate>>;

    /// Change a certificate's status; bumps `customer_version`, replaces `generation_id`, sets
    /// `modified_at`. `NotFound` if absent.
    async fn update_certificate_status(
        &self,
        id: &str,
        status: CertificateStatus,
        generation_id: &str,
        modified_at: i64,
    ) -> StoreResult<Certificate>;

    /// Delete a certificate whose ARN is `arn`. `NotFound` if absent; `InvalidState` if it is
    /// `ACTIVE`; `Conflict` if a thing or an IoT policy is still attached to `arn`.
    async fn delete_certificate(&self, id: &str, arn: &str) -> StoreResult<()>;

    // ---- thing types ----------------------------------------------------------------------

    /// Create a thing type with its tags. `AlreadyExists` if the name is taken.
    async fn insert_thing_type(&self, thing_type: &ThingType, tags: &[Tag]) -> StoreResult<()>;

    /// A thing type by name.
    async fn thing_type(&self, name: &str) -> StoreResult<Option<ThingType>>;

    /// Thing types, by name.
    async fn list_thing_types(&self, page: &PageRequest) -> StoreResult<Page<ThingType>>;

    /// Deprecate (`Some(at)`) or undeprecate (`None`) a thing type. `NotFound` if absent.
    async fn deprecate_thing_type(&self, name: &str, at: Option<i64>) -> StoreResult<()>;

    /// Delete a thing type. `NotFound` if absent; `Conflict` if a thing still has the type.
    async fn delete_thing_type(&self, name: &str) -> StoreResult<()>;

    // ---- things -------------------------------------------------------------------------

    /// Create a thing. `AlreadyExists` if the name is taken; `NotFound` (entity `ThingType`)
    /// if its type does not exist; `InvalidState` if its type is deprecated.
    async fn insert_thing(&self, thing: &Thing) -> StoreResult<()>;

    /// A thing by name.
    async fn thing(&self, name: &str) -> StoreResult<Option<Thing>>;

    /// Things, by name, filtered.
    async fn list_things(
        &self,
        filter: &ThingFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Thing>>;

    /// Replace a thing's type and attributes if its version is still `expected_version`.
    /// `NotFound` if absent; `VersionConflict` if the version moved; `NotFound` (entity
    /// `ThingType`) if the new type does not exist. Returns the thing as stored.
    async fn update_thing(
        &self,
        name: &str,
        expected_version: i64,
        update: &ThingUpdate,
    ) -> StoreResult<Thing>;

    /// Delete a thing. `NotFound` if absent; `VersionConflict` if `expected_version` is given
    /// and differs; `Conflict` if principals are still attached.
    async fn delete_thing(&self, name: &str, expected_version: Option<i64>) -> StoreResult<()>;

    /// Refuse the sessions issued to a thing before `before_ms` (kept if a later time is
    /// already set). Returns the time now in force. `NotFound` if the thing is absent.
    async fn revoke_thing_sessions(&self, name: &str, before_ms: i64) -> StoreResult<i64>;

    // ---- thing principals ---------------------------------------------------------------

    /// Attach a principal to a thing; attaching again is a no-op (with the other kind, the
    /// attachment's kind changes, under the same rules). `NotFound` (entity `Thing`)
    /// if the thing does not exist; `Conflict` if the attachment is exclusive and the
    /// principal is attached to another thing, or the principal is already attached
    /// exclusively elsewhere.
    async fn attach_thing_principal(&self, attachment: &ThingPrincipal) -> StoreResult<()>;

    /// Detach; `NotFound` (entity `ThingPrincipal`) if not attached.
    async fn detach_thing_principal(&self, thing_name: &str, principal: &str) -> StoreResult<()>;

    /// The principals attached to a thing, by principal.
    async fn list_thing_principals(
        &self,
        thing_name: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ThingPrincipal>>;

    /// The things a principal is attached to, by thing name.
    async fn list_principal_things(
        &self,
        principal: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ThingPrincipal>>;

    /// Whether `thing_name` is attached to `principal` (the credentials endpoint's check).
    async fn is_thing_attached(&self, thing_name: &str, principal: &str) -> StoreResult<bool>;

    // ---- IoT policies -------------------------------------------------------------------

    /// Create a policy with version 1 (default) holding `document`, and its tags.
    /// `AlreadyExists` if taken.
    async fn insert_iot_policy(
        &self,
        name: &str,
        document: &str,
        generation_id: &str,
        at: i64,
        tags: &[Tag],
    ) -> StoreResult<IotPolicy>;

    /// A policy with its default version's document.
    async fn iot_policy(&self, name: &str) -> StoreResult<Option<IotPolicy>>;

    /// Policies, by name.
    async fn list_iot_policies(&self, page: &PageRequest) -> StoreResult<Page<IotPolicy>>;

    /// One version. `None` if the policy or the version does not exist.
    async fn iot_policy_version(
        &self,
        name: &str,
        version_id: i64,
    ) -> StoreResult<Option<IotPolicyVersion>>;

    /// Every version of a policy, newest first. `NotFound` if the policy does not exist.
    async fn list_iot_policy_versions(&self, name: &str) -> StoreResult<Vec<IotPolicyVersion>>;

    /// Add a version (id = highest ever + 1), default if `set_default`. `NotFound` if the
    /// policy does not exist; `LimitExceeded` if it already has `policy_versions` versions.
    async fn insert_iot_policy_version(
        &self,
        name: &str,
        document: &str,
        set_default: bool,
        generation_id: &str,
        at: i64,
    ) -> StoreResult<IotPolicyVersion>;

    /// Make a version the default. `NotFound` if the policy or version does not exist.
    async fn set_default_iot_policy_version(
        &self,
        name: &str,
        version_id: i64,
        generation_id: &str,
        at: i64,
    ) -> StoreResult<()>;

    /// Delete a non-default version. `NotFound` if absent; `InvalidState` if it is the default.
    async fn delete_iot_policy_version(&self, name: &str, version_id: i64) -> StoreResult<()>;

    /// Delete a policy. `NotFound` if absent; `Conflict` if attached to any target or if it
    /// has versions other than the default.
    async fn delete_iot_policy(&self, name: &str) -> StoreResult<()>;

    /// Attach a policy to a target (a certificate or thing-group ARN); attaching again is a
    /// no-op. `NotFound` if the policy does not exist; `LimitExceeded` if the target already
    /// has `iot_policies_per_target` policies.
    async fn attach_iot_policy(&self, name: &str, target: &str) -> StoreResult<()>;

    /// Detach. `NotFound` (entity `IotPolicy`) if the policy does not exist; detaching a
    /// policy that is not attached is a no-op (as in IoT).
    async fn detach_iot_policy(&self, name: &str, target: &str) -> StoreResult<()>;

    /// The policies attached to a target, by name.
    async fn list_target_iot_policies(
        &self,
        target: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<IotPolicy>>;

    /// The targets of a policy, sorted. `NotFound` if the policy does not exist.
    async fn list_iot_policy_targets(
        &self,
        name: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<String>>;

    /// Every policy attached to any of `targets` with its default document (the credentials
    /// endpoint's hot path; one query), by name, without duplicates.
    async fn attached_iot_policies(&self, targets: &[&str]) -> StoreResult<Vec<AttachedIotPolicy>>;

    // ---- IAM roles ----------------------------------------------------------------------

    /// Create a role. `AlreadyExists` if a role with the same name regardless of case exists.
    async fn insert_role(&self, role: &Role) -> StoreResult<()>;

    /// A role by name, regardless of case.
    async fn role(&self, name: &str) -> StoreResult<Option<Role>>;

    /// Roles by name, optionally only those whose path starts with `path_prefix`.
    async fn list_roles(
        &self,
        path_prefix: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<Role>>;

    /// Change description and/or maximum session duration. `NotFound` if absent.
    async fn update_role(&self, name: &str, update: &RoleUpdate) -> StoreResult<()>;

    /// Replace the trust policy. `NotFound` if absent.
    async fn update_role_trust_policy(&self, name: &str, document: &str) -> StoreResult<()>;

    /// Delete a role. `NotFound` if absent; `Conflict` if it has inline or attached policies.
    async fn delete_role(&self, name: &str) -> StoreResult<()>;

    /// Add or replace tags (by key). `NotFound` if absent; `LimitExceeded` if the role would
    /// have more than `tags_per_role` tags.
    async fn tag_role(&self, name: &str, tags: &[Tag]) -> StoreResult<()>;

    /// Remove tags by key (absent keys are ignored). `NotFound` if the role is absent.
    async fn untag_role(&self, name: &str, keys: &[String]) -> StoreResult<()>;

    /// Set (`Some(arn)`) or remove (`None`) a role's permissions boundary. `NotFound` if the
    /// role is absent. (The server checks that the policy exists.)
    async fn set_role_permissions_boundary(
        &self,
        name: &str,
        boundary: Option<&str>,
    ) -> StoreResult<()>;

    /// Add or replace an inline policy of a role. `NotFound` if the role is absent.
    async fn put_role_policy(&self, role: &str, policy: &InlinePolicy) -> StoreResult<()>;

    /// An inline policy of a role. `NotFound` (entity `Role`) if the role is absent; `None`
    /// if it has no such policy.
    async fn role_policy(&self, role: &str, policy_name: &str)
    -> StoreResult<Option<InlinePolicy>>;

    /// Delete an inline policy. `NotFound` (entity `Role` or `InlinePolicy`) if absent.
    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> StoreResult<()>;

    /// The inline policies of a role, by name. `NotFound` if the role is absent.
    async fn list_role_policies(
        &self,
        role: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<InlinePolicy>>;

    // ---- IAM managed policies -----------------------------------------------------------

    /// Create a managed policy with version `v1` (default) holding `document`.
    /// `AlreadyExists` if a policy with the same name regardless of case exists.
    async fn insert_managed_policy(
        &self,
        policy: &ManagedPolicy,
        document: &str,
    ) -> StoreResult<()>;

    /// A managed policy by ARN (the name part compared regardless of case).
    async fn managed_policy(&self, arn: &str) -> StoreResult<Option<ManagedPolicy>>;

    /// Managed policies by name, filtered.
    async fn list_managed_policies(
        &self,
        filter: &ManagedPolicyFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<ManagedPolicy>>;

    /// One version. `None` if the policy or version does not exist.
    async fn managed_policy_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> StoreResult<Option<ManagedPolicyVersion>>;

    /// Every version, newest first. `NotFound` if the policy does not exist.
    async fn list_managed_policy_versions(
        &self,
        arn: &str,
    ) -> StoreResult<Vec<ManagedPolicyVersion>>;

    /// Add version `v<highest ever + 1>`, default if `set_default`. `NotFound` if the policy
    /// does not exist; `LimitExceeded` if it already has `policy_versions` versions.
    async fn insert_managed_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        at: i64,
    ) -> StoreResult<ManagedPolicyVersion>;

    /// Make a version the default. `NotFound` if absent.
    async fn set_default_managed_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        at: i64,
    ) -> StoreResult<()>;

    /// Delete a non-default version. `NotFound` if absent; `Conflict` if it is the default.
    async fn delete_managed_policy_version(&self, arn: &str, version_id: &str) -> StoreResult<()>;

    /// Delete a policy. `NotFound` if absent; `Conflict` if attached anywhere or if it has
    /// versions other than the default.
    async fn delete_managed_policy(&self, arn: &str) -> StoreResult<()>;

    /// Add or replace tags of a managed policy (by key). `NotFound` if absent;
    /// `LimitExceeded` if it would have more than `tags_per_role` tags.
    async fn tag_managed_policy(&self, arn: &str, tags: &[Tag]) -> StoreResult<()>;

    /// Remove tags of a managed policy by key (absent keys are ignored). `NotFound` if the
    /// policy is absent.
    async fn untag_managed_policy(&self, arn: &str, keys: &[String]) -> StoreResult<()>;

    /// Attach a managed policy to a role or user; attaching again is a no-op.
    /// `NotFound` (entity `Role`/`User` or `ManagedPolicy`) if either is absent;
    /// `LimitExceeded` if the holder already has `managed_policies_per_holder` policies.
    async fn attach_managed_policy(&self, holder: PolicyHolder<'_>, arn: &str) -> StoreResult<()>;

    /// Detach. `NotFound` if the holder or policy is absent or the policy is not attached.
    async fn detach_managed_policy(&self, holder: PolicyHolder<'_>, arn: &str) -> StoreResult<()>;

    /// The managed policies attached to a holder, by name. `NotFound` if the holder is absent.
    async fn list_attached_managed_policies(
        &self,
        holder: PolicyHolder<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ManagedPolicy>>;

    /// The holders a managed policy is attached to (`(kind, name)` with kind `role`/`user`).
    async fn list_managed_policy_holders(&self, arn: &str) -> StoreResult<Vec<(String, String)>>;

    /// Every permission policy of a holder (inline ones, then the default version of every
    /// attached managed policy), for evaluation; one round trip. `NotFound` if absent.
    async fn effective_policies(
        &self,
        holder: PolicyHolder<'_>,
    ) -> StoreResult<Vec<EffectivePolicy>>;

    // ---- IAM users and access keys --------------------------------------------------------

    /// Create a user. `AlreadyExists` if a user with the same name regardless of case exists.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;

    /// A user by name, regardless of case.
    async fn user(&self, name: &str) -> StoreResult<Option<User>>;

    /// Users by name, optionally only those whose path starts with `path_prefix`.
    async fn list_users(
        &self,
        path_prefix: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<User>>;

    /// Delete a user. `NotFound` if absent; `Conflict` if it has access keys, a login
    /// profile, inline or attached policies.
    async fn delete_user(&self, name: &str) -> StoreResult<()>;

    /// Add or replace tags of a user (by key). `NotFound` if absent; `LimitExceeded` if the
    /// user would have more than `tags_per_role` tags.
    async fn tag_user(&self, name: &str, tags: &[Tag]) -> StoreResult<()>;

    /// Remove tags of a user by key (absent keys are ignored). `NotFound` if the user is
    /// absent.
    async fn untag_user(&self, name: &str, keys: &[String]) -> StoreResult<()>;

    /// Rename a user and/or move it to another path (`UpdateUser`), keeping its id, access
    /// keys, console password, policies and tags. `NotFound` if absent; `AlreadyExists` if
    /// another user has the new name (regardless of case).
    async fn update_user(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> StoreResult<()>;

    /// Set (`Some(arn)`) or remove (`None`) a user's permissions boundary. `NotFound` if the
    /// user is absent. (The server checks that the policy exists.)
    async fn set_user_permissions_boundary(
        &self,
        name: &str,
        boundary: Option<&str>,
    ) -> StoreResult<()>;

    /// Add or replace an inline policy of a user. `NotFound` if the user is absent.
    async fn put_user_policy(&self, user: &str, policy: &InlinePolicy) -> StoreResult<()>;

    /// An inline policy of a user. `NotFound` (entity `User`) if absent; `None` if no such policy.
    async fn user_policy(&self, user: &str, policy_name: &str)
    -> StoreResult<Option<InlinePolicy>>;

    /// Delete an inline policy of a user. `NotFound` if absent.
    async fn delete_user_policy(&self, user: &str, policy_name: &str) -> StoreResult<()>;

    /// The inline policies of a user, by name. `NotFound` if the user is absent.
    async fn list_user_policies(
        &self,
        user: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<InlinePolicy>>;

    /// Add an access key. `NotFound` (entity `User`) if the user is absent; `AlreadyExists`
    /// if the id is taken; `LimitExceeded` if the user already has `access_keys_per_user` keys.
    async fn insert_access_key(&self, key: &AccessKey) -> StoreResult<()>;

    /// An access key by id (for signature verification).
    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKey>>;

    /// A user's access keys, by id. `NotFound` if the user is absent.
    async fn list_access_keys(&self, user: &str) -> StoreResult<Vec<AccessKey>>;

    /// Change a key's status. `NotFound` if the user or key is absent (or the key is another
    /// user's).
    async fn update_access_key(
        &self,
        user: &str,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> StoreResult<()>;

    /// Record verified uses of access keys: each key keeps its latest use (a use older than the
    /// recorded one is ignored; unknown keys are skipped). Does not move the generation.
    async fn record_access_key_uses(&self, uses: &[AccessKeyUse]) -> StoreResult<()>;

    /// The recorded last use of an access key (`None`: never used, or no such key).
    async fn access_key_last_used(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyUse>>;

    /// Delete a key of `user`. `NotFound` if absent (or another user's).
    async fn delete_access_key(&self, user: &str, access_key_id: &str) -> StoreResult<()>;

    // ---- role aliases -------------------------------------------------------------------

    /// Create a role alias. `AlreadyExists` if the name is taken.
    async fn insert_role_alias(&self, alias: &RoleAlias) -> StoreResult<()>;

    /// A role alias by name.
    async fn role_alias(&self, name: &str) -> StoreResult<Option<RoleAlias>>;

    /// Role aliases by name (ascending or descending).
    async fn list_role_aliases(&self, page: &PageRequest) -> StoreResult<Page<RoleAlias>>;

    /// Change a role alias. `NotFound` if absent. Returns it as stored.
    async fn update_role_alias(
        &self,
        name: &str,
        update: &RoleAliasUpdate,
    ) -> StoreResult<RoleAlias>;

    /// Delete a role alias (and its tags). `NotFound` if absent.
    async fn delete_role_alias(&self, name: &str) -> StoreResult<()>;

    // ---- tags of IoT resources ----------------------------------------------------------

    /// The tags of an IoT resource, sorted by key; `None` if the resource does not exist.
    async fn iot_resource_tags(&self, resource: IotTagged<'_>) -> StoreResult<Option<Vec<Tag>>>;

    /// Add or replace tags on an IoT resource. `NotFound` (the resource's entity) if absent;
    /// `LimitExceeded` if it would have more than `tags_per_role` tags.
    async fn tag_iot_resource(&self, resource: IotTagged<'_>, tags: &[Tag]) -> StoreResult<()>;

    /// Remove tags from an IoT resource by key (absent keys are ignored). `NotFound` if the
    /// resource is absent.
    async fn untag_iot_resource(&self, resource: IotTagged<'_>, keys: &[String])
    -> StoreResult<()>;

    // ---- console: login profiles and credential events ------------------------------------

    /// Give a user a console password. `NotFound` (entity `User`) if the user is absent;
    /// `AlreadyExists` (entity `LoginProfile`) if it has one.
    async fn insert_login_profile(&self, profile: &LoginProfile) -> StoreResult<()>;

    /// A user's login profile. `NotFound` (entity `User`) if the user is absent; `None` if
    /// it has no password.
    async fn login_profile(&self, user: &str) -> StoreResult<Option<LoginProfile>>;

    /// Change a login profile. `NotFound` (entity `User` or `LoginProfile`) if absent.
    async fn update_login_profile(
        &self,
        user: &str,
        update: &LoginProfileUpdate,
    ) -> StoreResult<()>;

    /// Remove a user's console password. `NotFound` (entity `User` or `LoginProfile`).
    async fn delete_login_profile(&self, user: &str) -> StoreResult<()>;

    /// Append credential events and keep only the newest `keep` of all stored events. The
    /// events are a log, not registry state: appending does not move the generation (caches
    /// are not dropped for it).
    async fn append_credential_events(
        &self,
        events: &[CredentialEvent],
        keep: u64,
    ) -> StoreResult<()>;

    /// Stored credential events matching `filter`, newest first.
    async fn credential_events(
        &self,
        filter: &CredentialEventFilter,
    ) -> StoreResult<Vec<CredentialEvent>>;
}

/// The stream type of [`Store::subscribe`], kept free of any particular stream crate.
pub mod tokio_stream_like {
    /// A receiver of change notifications: `Some(generation)` for a change, `None` when the
    /// channel was re-established and anything may have changed.
    pub type ChangeStream = tokio::sync::mpsc::Receiver<Option<i64>>;
}
