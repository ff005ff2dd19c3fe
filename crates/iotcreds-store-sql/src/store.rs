//! `impl Store for SqlStore`: each method opens the right kind of transaction and calls the
//! entity module that holds its SQL.
//!
//! The wiring is a table, one row per method:
//! `kind fn name(args) -> T => module::function[extra args];` where `kind` is
//! - `read_one`: one statement on a pooled connection (no explicit transaction);
//! - `read_tx`: several statements in one read transaction (one snapshot);
//! - `write_tx`: a write transaction that commits when the function returns `Ok`;
//! - `write_maybe`: a write transaction whose function returns an `Outcome`, rolled back when
//!   `Unchanged` (an idempotent repeat leaves the generation alone);
//! - `log_tx`: a write transaction that leaves the generation alone (the event log).
//!
//! The function is called with the connection first, then the extra args.

use async_trait::async_trait;
use iotcreds_store::tokio_stream_like::ChangeStream;
use iotcreds_store::*;
use iotcreds_types::{
    AccessKeyStatus, AutoRegistrationStatus, CaCertificateStatus, CertificateStatus,
};
use sqlx::AnyConnection;

use crate::db::{err, in_op};
use crate::iam_inline::Holder;
use crate::{
    SqlStore, ca_certificates, certificates, console, iam_inline, iam_managed, iam_managed_attach,
    iam_roles, iam_users, iot_policies, iot_policy_targets, iot_tags, role_aliases, settings,
    thing_principals, thing_types, things,
};

macro_rules! read_one {
    ($s:ident, $op:expr, |$c:ident| $body:expr) => {{
        let mut conn = $s.conn($op).await?;
        let $c: &mut AnyConnection = &mut conn;
        in_op($op, $body.await)
    }};
}

macro_rules! read_tx {
    ($s:ident, $op:expr, |$c:ident| $body:expr) => {{
        let mut tx = $s.read($op).await?;
        let r = {
            let $c = tx.conn();
            $body.await
        };
        tx.finish(r).await
    }};
}

macro_rules! write_tx {
    ($s:ident, $op:expr, |$c:ident| $body:expr) => {{
        let mut tx = $s.write($op).await?;
        let r = {
            let $c = tx.conn();
            $body.await
        };
        tx.finish(r).await
    }};
}

macro_rules! write_maybe {
    ($s:ident, $op:expr, |$c:ident| $body:expr) => {{
        let mut tx = $s.write($op).await?;
        let r = {
            let $c = tx.conn();
            $body.await
        };
        tx.finish_outcome(r).await
    }};
}

macro_rules! log_tx {
    ($s:ident, $op:expr, |$c:ident| $body:expr) => {{
        let mut tx = $s.write_log($op).await?;
        let r = {
            let $c = tx.conn();
            $body.await
        };
        tx.finish(r).await
    }};
}

/// Expand the table into `#[async_trait] impl Store for SqlStore` (the attribute runs after
/// the expansion, so it sees ordinary `async fn`s). `$s` is the caller's `self`, so that the
/// extra args of a row can use it.
macro_rules! store_impl {
    (
        $s:ident;
        { $($custom:tt)* }
        $( $kind:ident fn $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty
            => $f:path [ $( $a:expr ),* ] ; )*
    ) => {
        #[async_trait]
        impl Store for SqlStore {
            $($custom)*
            $(
                async fn $name(&$s, $( $arg: $ty ),*) -> StoreResult<$ret> {
                    $kind!($s, stringify!($name), |c| $f(c, $($a),*))
                }
            )*
        }
    };
}

store_impl! { self;
{
    fn engine(&self) -> &'static str {
        self.engine.name()
    }

    async fn generation(&self) -> StoreResult<i64> {
        self.read_generation().await
    }

    async fn subscribe(&self) -> StoreResult<Option<ChangeStream>> {
        match &self.changes {
            Some(source) => source.subscribe().await.map(Some),
            None => Ok(None),
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        let r = sqlx::query("SELECT 1").execute(&self.pool).await;
        in_op("ping", r.map(|_| ()).map_err(err))
    }
}

// ---- account settings and sealing keys ----------------------------------------------------
read_one fn setting(key: &str) -> Option<String> => settings::setting[key];
write_maybe fn init_setting(key: &str, value: &str) -> String => settings::init_setting[key, value];
write_tx fn put_setting(key: &str, value: &str) -> () => settings::put_setting[key, value];
read_one fn sealing_keys() -> Vec<SealingKey> => settings::sealing_keys[];
write_tx fn insert_sealing_key(key: &SealingKey) -> () => settings::insert_sealing_key[key];
write_maybe fn retire_sealing_keys(except: u16, at: i64) -> () => settings::retire_sealing_keys[except, at];
write_tx fn delete_sealing_key(id: u16) -> () => settings::delete_sealing_key[id];
write_maybe fn revoke_sealing_key(id: u16, at: i64) -> () => settings::revoke_sealing_key[id, at];

// ---- CA certificates and certificates -----------------------------------------------------
write_tx fn insert_ca_certificate(ca: &CaCertificate, tags: &[Tag]) -> ()
    => ca_certificates::insert[ca, tags, self.limits.ca_certificates_per_subject];
read_one fn ca_certificate(id: &str) -> Option<CaCertificate> => ca_certificates::get[id];
read_one fn list_ca_certificates(page: &PageRequest) -> Page<CaCertificate> => ca_certificates::list[page];
write_tx fn update_ca_certificate(
    id: &str,
    status: Option<CaCertificateStatus>,
    auto_registration: Option<AutoRegistrationStatus>,
    generation_id: &str,
    modified_at: i64
) -> CaCertificate => ca_certificates::update[id, status, auto_registration, generation_id, modified_at];
write_tx fn delete_ca_certificate(id: &str) -> () => ca_certificates::delete[id];
write_tx fn set_ca_crl(id: &str, crl: Option<&CaCrl>) -> CaCertificate => ca_certificates::set_crl[id, crl];
write_tx fn set_ca_revocation_config(id: &str, config: &CaRevocationConfig) -> CaCertificate
    => ca_certificates::set_revocation_config[id, config];
write_tx fn insert_certificate(cert: &Certificate) -> () => certificates::insert[cert];
read_one fn certificate(id: &str) -> Option<Certificate> => certificates::get[id];
read_one fn list_certificates(ca_id: Option<&str>, page: &PageRequest) -> Page<Certificate>
    => certificates::list[ca_id, page];
write_tx fn update_certificate_status(id: &str, status: CertificateStatus, generation_id: &str, modified_at: i64)
    -> Certificate => certificates::update_status[id, status, generation_id, modified_at];
write_tx fn delete_certificate(id: &str, arn: &str) -> () => certificates::delete[id, arn];

// ---- thing types, things, thing principals ------------------------------------------------
write_tx fn insert_thing_type(thing_type: &ThingType, tags: &[Tag]) -> () => thing_types::insert[thing_type, tags];
read_tx fn thing_type(name: &str) -> Option<ThingType> => thing_types::get[name];
read_tx fn list_thing_types(page: &PageRequest) -> Page<ThingType> => thing_types::list[page];
write_tx fn deprecate_thing_type(name: &str, at: Option<i64>) -> () => thing_types::deprecate[name, at];
write_tx fn delete_thing_type(name: &str) -> () => thing_types::delete[name];
write_tx fn insert_thing(thing: &Thing) -> () => things::insert[thing];
read_tx fn thing(name: &str) -> Option<Thing> => things::get[name];
read_tx fn list_things(filter: &ThingFilter, page: &PageRequest) -> Page<Thing> => things::list[filter, page];
write_tx fn update_thing(name: &str, expected_version: i64, update: &ThingUpdate) -> Thing
    => things::update[name, expected_version, update];
write_tx fn revoke_thing_sessions(name: &str, before_ms: i64) -> i64
    => things::revoke_sessions[name, before_ms];
write_tx fn delete_thing(name: &str, expected_version: Option<i64>) -> () => things::delete[name, expected_version];
write_maybe fn attach_thing_principal(attachment: &ThingPrincipal) -> () => thing_principals::attach[attachment];
write_tx fn detach_thing_principal(thing_name: &str, principal: &str) -> ()
    => thing_principals::detach[thing_name, principal];
read_one fn list_thing_principals(thing_name: &str, page: &PageRequest) -> Page<ThingPrincipal>
    => thing_principals::list_by_thing[thing_name, page];
read_one fn list_principal_things(principal: &str, page: &PageRequest) -> Page<ThingPrincipal>
    => thing_principals::list_by_principal[principal, page];
read_one fn is_thing_attached(thing_name: &str, principal: &str) -> bool
    => thing_principals::is_attached[thing_name, principal];

// ---- IoT policies -------------------------------------------------------------------------
write_tx fn insert_iot_policy(name: &str, document: &str, generation_id: &str, at: i64, tags: &[Tag]) -> IotPolicy
    => iot_policies::insert[name, document, generation_id, at, tags];
read_one fn iot_policy(name: &str) -> Option<IotPolicy> => iot_policies::get[name];
read_one fn list_iot_policies(page: &PageRequest) -> Page<IotPolicy> => iot_policies::list[page];
read_one fn iot_policy_version(name: &str, version_id: i64) -> Option<IotPolicyVersion>
    => iot_policies::version[name, version_id];
read_tx fn list_iot_policy_versions(name: &str) -> Vec<IotPolicyVersion> => iot_policies::versions[name];
write_tx fn insert_iot_policy_version(name: &str, document: &str, set_default: bool, generation_id: &str, at: i64)
    -> IotPolicyVersion
    => iot_policies::insert_version[name, document, set_default, generation_id, at, self.limits.policy_versions];
write_tx fn set_default_iot_policy_version(name: &str, version_id: i64, generation_id: &str, at: i64) -> ()
    => iot_policies::set_default_version[name, version_id, generation_id, at];
write_tx fn delete_iot_policy_version(name: &str, version_id: i64) -> ()
    => iot_policies::delete_version[name, version_id];
write_tx fn delete_iot_policy(name: &str) -> () => iot_policies::delete[name];
write_maybe fn attach_iot_policy(name: &str, target: &str) -> ()
    => iot_policy_targets::attach[name, target, self.limits.iot_policies_per_target];
write_maybe fn detach_iot_policy(name: &str, target: &str) -> () => iot_policy_targets::detach[name, target];
read_one fn list_target_iot_policies(target: &str, page: &PageRequest) -> Page<IotPolicy>
    => iot_policy_targets::target_policies[target, page];
read_tx fn list_iot_policy_targets(name: &str, page: &PageRequest) -> Page<String>
    => iot_policy_targets::policy_targets[name, page];
read_one fn attached_iot_policies(targets: &[&str]) -> Vec<AttachedIotPolicy> => iot_policy_targets::attached[targets];

// ---- IAM roles ----------------------------------------------------------------------------
write_tx fn insert_role(role: &Role) -> () => iam_roles::insert[role];
read_one fn role(name: &str) -> Option<Role> => iam_roles::get[name];
read_tx fn list_roles(path_prefix: Option<&str>, page: &PageRequest) -> Page<Role> => iam_roles::list[path_prefix, page];
write_tx fn update_role(name: &str, update: &RoleUpdate) -> () => iam_roles::update[name, update];
write_tx fn update_role_trust_policy(name: &str, document: &str) -> () => iam_roles::update_trust_policy[name, document];
write_tx fn delete_role(name: &str) -> () => iam_roles::delete[name];
write_tx fn tag_role(name: &str, tags: &[Tag]) -> () => iam_roles::tag[name, tags, self.limits.tags_per_role];
write_tx fn untag_role(name: &str, keys: &[String]) -> () => iam_roles::untag[name, keys];
write_tx fn set_role_permissions_boundary(name: &str, boundary: Option<&str>) -> ()
    => iam_roles::set_permissions_boundary[name, boundary];
write_tx fn put_role_policy(role: &str, policy: &InlinePolicy) -> () => iam_inline::put[&Holder::role(role), policy];
read_tx fn role_policy(role: &str, policy_name: &str) -> Option<InlinePolicy>
    => iam_inline::get[&Holder::role(role), policy_name];
write_tx fn delete_role_policy(role: &str, policy_name: &str) -> ()
    => iam_inline::delete[&Holder::role(role), policy_name];
read_tx fn list_role_policies(role: &str, page: &PageRequest) -> Page<InlinePolicy>
    => iam_inline::list[&Holder::role(role), page];

// ---- IAM managed policies -----------------------------------------------------------------
write_tx fn insert_managed_policy(policy: &ManagedPolicy, document: &str) -> () => iam_managed::insert[policy, document];
read_tx fn managed_policy(arn: &str) -> Option<ManagedPolicy> => iam_managed::get[arn];
read_tx fn list_managed_policies(filter: &ManagedPolicyFilter, page: &PageRequest) -> Page<ManagedPolicy>
    => iam_managed::list[filter, page];
read_tx fn managed_policy_version(arn: &str, version_id: &str) -> Option<ManagedPolicyVersion>
    => iam_managed::version[arn, version_id];
read_tx fn list_managed_policy_versions(arn: &str) -> Vec<ManagedPolicyVersion> => iam_managed::versions[arn];
write_tx fn insert_managed_policy_version(arn: &str, document: &str, set_default: bool, at: i64) -> ManagedPolicyVersion
    => iam_managed::insert_version[arn, document, set_default, at, self.limits.policy_versions];
write_tx fn set_default_managed_policy_version(arn: &str, version_id: &str, at: i64) -> ()
    => iam_managed::set_default_version[arn, version_id, at];
write_tx fn delete_managed_policy_version(arn: &str, version_id: &str) -> ()
    => iam_managed::delete_version[arn, version_id];
write_tx fn delete_managed_policy(arn: &str) -> () => iam_managed::delete[arn];
write_tx fn tag_managed_policy(arn: &str, tags: &[Tag]) -> () => iam_managed::tag[arn, tags, self.limits.tags_per_role];
write_tx fn untag_managed_policy(arn: &str, keys: &[String]) -> () => iam_managed::untag[arn, keys];
write_maybe fn attach_managed_policy(holder: PolicyHolder<'_>, arn: &str) -> ()
    => iam_managed_attach::attach[&Holder::from(holder), arn, self.limits.managed_policies_per_holder];
write_tx fn detach_managed_policy(holder: PolicyHolder<'_>, arn: &str) -> ()
    => iam_managed_attach::detach[&Holder::from(holder), arn];
read_tx fn list_attached_managed_policies(holder: PolicyHolder<'_>, page: &PageRequest) -> Page<ManagedPolicy>
    => iam_managed_attach::list_attached[&Holder::from(holder), page];
read_tx fn list_managed_policy_holders(arn: &str) -> Vec<(String, String)> => iam_managed_attach::holders[arn];
read_one fn effective_policies(holder: PolicyHolder<'_>) -> Vec<EffectivePolicy>
    => iam_managed_attach::effective[&Holder::from(holder)];

// ---- IAM users and access keys ------------------------------------------------------------
write_tx fn insert_user(user: &User) -> () => iam_users::insert[user];
read_tx fn user(name: &str) -> Option<User> => iam_users::get[name];
read_tx fn list_users(path_prefix: Option<&str>, page: &PageRequest) -> Page<User> => iam_users::list[path_prefix, page];
write_tx fn delete_user(name: &str) -> () => iam_users::delete[name];
write_tx fn update_user(name: &str, new_name: Option<&str>, new_path: Option<&str>) -> ()
    => iam_users::rename[name, new_name, new_path];
write_tx fn tag_user(name: &str, tags: &[Tag]) -> () => iam_users::tag[name, tags, self.limits.tags_per_role];
write_tx fn untag_user(name: &str, keys: &[String]) -> () => iam_users::untag[name, keys];
write_tx fn set_user_permissions_boundary(name: &str, boundary: Option<&str>) -> ()
    => iam_users::set_permissions_boundary[name, boundary];
write_tx fn put_user_policy(user: &str, policy: &InlinePolicy) -> () => iam_inline::put[&Holder::user(user), policy];
read_tx fn user_policy(user: &str, policy_name: &str) -> Option<InlinePolicy>
    => iam_inline::get[&Holder::user(user), policy_name];
write_tx fn delete_user_policy(user: &str, policy_name: &str) -> ()
    => iam_inline::delete[&Holder::user(user), policy_name];
read_tx fn list_user_policies(user: &str, page: &PageRequest) -> Page<InlinePolicy>
    => iam_inline::list[&Holder::user(user), page];
write_tx fn insert_access_key(key: &AccessKey) -> ()
    => iam_users::insert_access_key[key, self.limits.access_keys_per_user];
read_one fn access_key(access_key_id: &str) -> Option<AccessKey> => iam_users::access_key[access_key_id];
read_tx fn list_access_keys(user: &str) -> Vec<AccessKey> => iam_users::list_access_keys[user];
write_tx fn update_access_key(user: &str, access_key_id: &str, status: AccessKeyStatus) -> ()
    => iam_users::update_access_key[user, access_key_id, status];
log_tx fn record_access_key_uses(uses: &[AccessKeyUse]) -> () => iam_users::record_uses[uses];
read_one fn access_key_last_used(access_key_id: &str) -> Option<AccessKeyUse> => iam_users::last_used[access_key_id];
write_tx fn delete_access_key(user: &str, access_key_id: &str) -> () => iam_users::delete_access_key[user, access_key_id];

// ---- role aliases -------------------------------------------------------------------------
write_tx fn insert_role_alias(alias: &RoleAlias) -> () => role_aliases::insert[alias];
read_one fn role_alias(name: &str) -> Option<RoleAlias> => role_aliases::get[name];
read_tx fn list_role_aliases(page: &PageRequest) -> Page<RoleAlias> => role_aliases::list[page];
write_tx fn update_role_alias(name: &str, update: &RoleAliasUpdate) -> RoleAlias => role_aliases::update[name, update];
write_tx fn delete_role_alias(name: &str) -> () => role_aliases::delete[name];

// ---- tags of IoT resources ----------------------------------------------------------------
read_tx fn iot_resource_tags(resource: IotTagged<'_>) -> Option<Vec<Tag>> => iot_tags::list[resource];
write_tx fn tag_iot_resource(resource: IotTagged<'_>, tags: &[Tag]) -> ()
    => iot_tags::tag[resource, tags, self.limits.tags_per_role];
write_tx fn untag_iot_resource(resource: IotTagged<'_>, keys: &[String]) -> () => iot_tags::untag[resource, keys];

// ---- console: login profiles and credential events ----------------------------------------
write_tx fn insert_login_profile(profile: &LoginProfile) -> () => console::insert_login_profile[profile];
read_tx fn login_profile(user: &str) -> Option<LoginProfile> => console::login_profile[user];
write_tx fn update_login_profile(user: &str, update: &LoginProfileUpdate) -> ()
    => console::update_login_profile[user, update];
write_tx fn delete_login_profile(user: &str) -> () => console::delete_login_profile[user];
log_tx fn append_credential_events(events: &[CredentialEvent], keep: u64) -> ()
    => console::append_events[events, keep];
read_one fn credential_events(filter: &CredentialEventFilter) -> Vec<CredentialEvent>
    => console::events[filter];
}
