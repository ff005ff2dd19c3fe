//! What an action is authorised on: the canonical ARN of the resource the handler acts on.
//!
//! **The rule.** A handler that takes a name or an ARN looks the resource up *first*, through
//! this module, and authorises the action on the [`Resource`] the look-up returns; then it acts
//! on what the look-up found (its stored name or id), never on the caller's text. A caller's
//! spelling is only ever a key to look up: `adminrole`, `%41dminRole` or
//! `arn:aws:iam::ACCOUNT:role/fleet/ADMINROLE` either designates a resource, and the decision
//! is made on that resource's own ARN (`…:role/fleet/AdminRole`, with the case it was created
//! with), or it designates nothing, and nothing is acted on.
//!
//! [`Resource`] cannot be built from text outside this module. It comes from:
//! - a look-up ([`Lookup`]): the found resource's canonical ARN, or, when nothing was found,
//!   the ARN of the validated spelling (for the refusal only; the handler answers "not found"
//!   and writes nothing);
//! - `new_*`, for a create: the ARN built from the canonical name the new resource will have;
//! - [`Resource::any`], for actions whose resource is `*` (lists, registrations).
//!
//! How names are matched follows AWS: IAM names are unique regardless of case and looked up so
//! (an IAM ARN designates a role or user when its account and path match exactly and its name
//! matches regardless of case); managed policy ARNs, IoT names and ARNs are matched exactly
//! (IoT names are case-sensitive); certificate ids are hexadecimal, so their case does not
//! matter. Paths and labels are percent-decoded once, by the protocol layer, before they get
//! here.

use std::sync::Arc;

use iotcreds_registry::{CachedRole, CachedUser, Registry};
use iotcreds_store::{
    CaCertificate, Certificate, IotPolicy, IotTagged, ManagedPolicy, RoleAlias, StoreResult, Thing,
    ThingType,
};
use iotcreds_types::arn;

/// The resource of an authorisation: a canonical ARN, or `*`. See the module documentation for
/// where one comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    arn: String,
}

impl Resource {
    /// `*`: the resource of actions that name no resource (lists, registrations, creations
    /// whose id the server picks).
    pub fn any() -> Self {
        Self { arn: "*".into() }
    }

    /// The ARN (or `*`).
    pub fn arn(&self) -> &str {
        &self.arn
    }

    fn of(arn: String) -> Self {
        Self { arn }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

/// What a look-up found.
#[derive(Debug)]
pub enum Lookup<T> {
    /// The resource exists: what is stored, and its canonical ARN.
    Found(T, Resource),
    /// Nothing of that name: the ARN of the caller's validated spelling, to authorise on so
    /// that a caller without rights learns nothing about which resources exist. Nothing may be
    /// acted on.
    Absent(Resource),
}

impl<T> Lookup<T> {
    /// The resource to authorise on.
    pub fn resource(&self) -> &Resource {
        match self {
            Lookup::Found(_, r) | Lookup::Absent(r) => r,
        }
    }

    /// What was found, if anything.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t, _) => Some(t),
            Lookup::Absent(_) => None,
        }
    }

    /// What was found, or `absent()`'s error.
    pub fn require<E>(self, absent: impl FnOnce() -> E) -> Result<T, E> {
        match self {
            Lookup::Found(t, _) => Ok(t),
            Lookup::Absent(_) => Err(absent()),
        }
    }

    fn from(found: Option<T>, canonical: impl FnOnce(&T) -> String, spelled: String) -> Self {
        match found {
            Some(t) => {
                let arn = canonical(&t);
                Lookup::Found(t, Resource::of(arn))
            }
            None => Lookup::Absent(Resource::of(spelled)),
        }
    }
}

// ---- IAM --------------------------------------------------------------------------------

/// The role named `name` (regardless of case).
pub async fn iam_role(registry: &Registry, name: &str) -> StoreResult<Lookup<Arc<CachedRole>>> {
    let found = registry.role(name).await?;
    Ok(Lookup::from(
        found,
        |r| r.arn.clone(),
        arn::iam_role(registry.account_id(), "/", name),
    ))
}

/// The role an ARN designates: this account, the role's path exactly, its name regardless of
/// case. The caller can tell whether it was spelled canonically by comparing
/// [`Lookup::resource`] with its text.
pub async fn iam_role_by_arn(
    registry: &Registry,
    role_arn: &str,
) -> StoreResult<Lookup<Arc<CachedRole>>> {
    let found = match arn::split_iam(role_arn, "role", Some(registry.account_id())) {
        Some((path, name)) => registry.role(name).await?.filter(|r| r.role.path == path),
        None => None,
    };
    Ok(Lookup::from(found, |r| r.arn.clone(), role_arn.to_owned()))
}

/// The user named `name` (regardless of case).
pub async fn iam_user(registry: &Registry, name: &str) -> StoreResult<Lookup<Arc<CachedUser>>> {
    let found = registry.user(name).await?;
    Ok(Lookup::from(
        found,
        |u| u.arn.clone(),
        arn::iam_user(registry.account_id(), "/", name),
    ))
}

/// The user an ARN designates (as [`iam_role_by_arn`]).
pub async fn iam_user_by_arn(
    registry: &Registry,
    user_arn: &str,
) -> StoreResult<Lookup<Arc<CachedUser>>> {
    let found = match arn::split_iam(user_arn, "user", Some(registry.account_id())) {
        Some((path, name)) => registry.user(name).await?.filter(|u| u.user.path == path),
        None => None,
    };
    Ok(Lookup::from(found, |u| u.arn.clone(), user_arn.to_owned()))
}

/// The customer managed policy whose ARN is exactly `policy_arn`.
pub async fn managed_policy(
    registry: &Registry,
    policy_arn: &str,
) -> StoreResult<Lookup<ManagedPolicy>> {
    let found = registry.store().managed_policy(policy_arn).await?;
    Ok(Lookup::from(
        found,
        |p| p.arn.clone(),
        policy_arn.to_owned(),
    ))
}

/// The ARN a role created with `path` and `name` will have.
pub fn new_iam_role(account: &str, path: &str, name: &str) -> Resource {
    Resource::of(arn::iam_role(account, path, name))
}

/// The ARN a user created with `path` and `name` will have.
pub fn new_iam_user(account: &str, path: &str, name: &str) -> Resource {
    Resource::of(arn::iam_user(account, path, name))
}

/// The ARN a managed policy created with `path` and `name` will have.
pub fn new_managed_policy(account: &str, path: &str, name: &str) -> Resource {
    Resource::of(arn::iam_policy(account, path, name))
}

// ---- IoT --------------------------------------------------------------------------------

fn iot_arn(registry: &Registry, build: fn(&str, &str, &str) -> String, name: &str) -> String {
    build(registry.region(), registry.account_id(), name)
}

/// The thing named exactly `name`.
pub async fn thing(registry: &Registry, name: &str) -> StoreResult<Lookup<Thing>> {
    let found = registry.store().thing(name).await?;
    Ok(Lookup::from(
        found,
        |t| iot_arn(registry, arn::iot_thing, &t.name),
        iot_arn(registry, arn::iot_thing, name),
    ))
}

/// The ARN a thing created as `name` will have.
pub fn new_thing(registry: &Registry, name: &str) -> Resource {
    Resource::of(iot_arn(registry, arn::iot_thing, name))
}

/// The thing type named exactly `name`.
pub async fn thing_type(registry: &Registry, name: &str) -> StoreResult<Lookup<ThingType>> {
    let found = registry.store().thing_type(name).await?;
    Ok(Lookup::from(
        found,
        |t| iot_arn(registry, arn::iot_thing_type, &t.name),
        iot_arn(registry, arn::iot_thing_type, name),
    ))
}

/// The ARN a thing type created as `name` will have.
pub fn new_thing_type(registry: &Registry, name: &str) -> Resource {
    Resource::of(iot_arn(registry, arn::iot_thing_type, name))
}

/// The IoT policy named exactly `name`.
pub async fn iot_policy(registry: &Registry, name: &str) -> StoreResult<Lookup<IotPolicy>> {
    let found = registry.store().iot_policy(name).await?;
    Ok(Lookup::from(
        found,
        |p| iot_arn(registry, arn::iot_policy, &p.name),
        iot_arn(registry, arn::iot_policy, name),
    ))
}

/// The ARN an IoT policy created as `name` will have.
pub fn new_iot_policy(registry: &Registry, name: &str) -> Resource {
    Resource::of(iot_arn(registry, arn::iot_policy, name))
}

/// The role alias named exactly `name`.
pub async fn role_alias(registry: &Registry, name: &str) -> StoreResult<Lookup<RoleAlias>> {
    let found = registry.store().role_alias(name).await?;
    Ok(Lookup::from(
        found,
        |a| registry.role_alias_arn(&a.name),
        registry.role_alias_arn(name),
    ))
}

/// The ARN a role alias created as `name` will have.
pub fn new_role_alias(registry: &Registry, name: &str) -> Resource {
    Resource::of(registry.role_alias_arn(name))
}

/// The certificate `id` (64 hexadecimal digits; stored in lower case, so looked up so).
pub async fn certificate(registry: &Registry, id: &str) -> StoreResult<Lookup<Certificate>> {
    let id = id.to_ascii_lowercase();
    let found = registry.store().certificate(&id).await?;
    Ok(Lookup::from(
        found,
        |c| registry.certificate_arn(&c.id),
        registry.certificate_arn(&id),
    ))
}

/// The CA certificate `id` (as [`certificate`]).
pub async fn ca_certificate(registry: &Registry, id: &str) -> StoreResult<Lookup<CaCertificate>> {
    let id = id.to_ascii_lowercase();
    let found = registry.store().ca_certificate(&id).await?;
    Ok(Lookup::from(
        found,
        |c| iot_arn(registry, arn::iot_ca_certificate, &c.id),
        iot_arn(registry, arn::iot_ca_certificate, &id),
    ))
}

/// A taggable IoT resource, by its canonical key (a CA id in lower case, names exactly), whether
/// or not it exists.
pub fn iot_tagged(registry: &Registry, r: IotTagged<'_>) -> Resource {
    match r {
        IotTagged::CaCertificate(id) => {
            Resource::of(iot_arn(registry, arn::iot_ca_certificate, id))
        }
        IotTagged::Policy(name) => new_iot_policy(registry, name),
        IotTagged::RoleAlias(name) => new_role_alias(registry, name),
        IotTagged::ThingType(name) => new_thing_type(registry, name),
    }
}

/// A thing group: there are none here, so always absent (its ARN, for the refusal).
pub fn thing_group(registry: &Registry, name: &str) -> Lookup<std::convert::Infallible> {
    Lookup::Absent(Resource::of(format!(
        "arn:aws:iot:{}:{}:thinggroup/{name}",
        registry.region(),
        registry.account_id()
    )))
}
