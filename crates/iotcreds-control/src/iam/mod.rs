//! IAM (query protocol, version `2010-05-08`, signing name `iam`): roles, their trust and
//! permission policies, customer managed policies, users, their access keys and console
//! passwords (login profiles), role tags, and the policy simulator, with the wire shapes, error codes and messages botocore expects.
//!
//! Every call is validated as the service model constrains it (`ValidationError`), its target
//! looked up ([`crate::resource`]: names regardless of case, ARNs exactly), then authorised with
//! [`Caller::authorize`] on the canonical ARN of that target (the resource type the Service
//! Authorization Reference gives for the action), and only then reads the registry or writes
//! it, on what the look-up found (each write wrapped in
//! [`iotcreds_registry::Registry::mutate`]). A refused call changes nothing. Store errors map to
//! IAM codes in `store_error`.

mod access_keys;
mod account;
mod boundaries;
mod holder_policies;
mod login_profiles;
mod managed;
mod roles;
mod simulate;
mod users;

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use iotcreds_policy::{Context, Policy, PolicyError, SizeLimit, Target};
use iotcreds_store::{ConflictReason, Entity, LimitKind, Store, StoreError, StoreResult, Tag};
use iotcreds_types::names::{Charset, NameRule};
use iotcreds_types::{ValidationError, ids};

use crate::query::{self, Paging, Params, Xml};
use crate::{ApiError, Caller, ControlContext, Resource};

/// XML namespace of IAM answers.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The IAM API version.
pub const VERSION: &str = "2010-05-08";

/// IAM's internal-failure code.
pub(crate) const SERVICE_FAILURE: &str = "ServiceFailure";

/// An existing user name as IAM validates it on reads (`existingUserNameType`, 1–128).
pub(crate) const EXISTING_USER_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::IamName,
};

/// The result of one operation: the inner XML of `<OpResult>` when the operation has an
/// output, `None` when it has none.
pub(crate) type Output = Result<Option<String>, ApiError>;

/// What a handler works with.
pub(crate) struct Cx<'a> {
    /// Registry, region.
    pub ctx: &'a ControlContext,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// The IAM action of the operation being answered (`iam:CreateRole`), from [`OPERATIONS`].
    pub action: &'static str,
}

impl Cx<'_> {
    /// The account id.
    pub fn account(&self) -> &str {
        self.ctx.registry.account_id()
    }

    /// The registry.
    pub fn registry(&self) -> &iotcreds_registry::Registry {
        &self.ctx.registry
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.ctx.registry.store()
    }

    /// Run a store write through the registry (so its cache drops) and map its error.
    pub async fn write<T>(
        &self,
        write: impl Future<Output = StoreResult<T>>,
    ) -> Result<T, ApiError> {
        self.ctx.registry.mutate(write).await.map_err(store_error)
    }

    /// Now, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.caller.now_ms
    }

    /// Authorise this operation's action on `resource`.
    pub fn authorize(&self, resource: &Resource) -> Result<(), ApiError> {
        self.caller.authorize(self.action, resource)
    }

    /// Authorise this operation's action on `resource` with `extra` condition keys.
    pub fn authorize_with(
        &self,
        resource: &Resource,
        extra: impl FnOnce(&mut Context),
    ) -> Result<(), ApiError> {
        self.caller.authorize_with(self.action, resource, extra)
    }
}

/// One IAM operation: its name in the API and the IAM action it is authorised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// `CreateRole`.
    pub name: &'static str,
    /// `iam:CreateRole`.
    pub action: &'static str,
}

/// Answer one authenticated IAM request.
pub async fn handle(
    ctx: &ControlContext,
    caller: &Caller,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response<Bytes> {
    match dispatch(ctx, caller, parts, &body).await {
        Ok((action, result)) => query::response(action, XMLNS, &caller.request_id, result),
        Err(err) => {
            tracing::debug!(request_id = %caller.request_id, code = err.code, "iam request refused");
            caller.audit_refusal(&err);
            crate::render_query_error(&err, &caller.request_id, XMLNS)
        }
    }
}

/// The operation table: each row is the operation's name and its handler; the IAM action is
/// `iam:` and the name. [`OPERATIONS`] and the dispatcher are both made from it, so they cannot
/// disagree.
macro_rules! operations {
    ($($name:literal => $handler:path),+ $(,)?) => {
        /// Every IAM operation this server answers.
        pub const OPERATIONS: &[Operation] = &[
            $(Operation { name: $name, action: concat!("iam:", $name) },)+
        ];

        async fn dispatch(
            ctx: &ControlContext,
            caller: &Caller,
            parts: &http::request::Parts,
            body: &[u8],
        ) -> Result<(&'static str, Option<String>), ApiError> {
            let p = Params::from_request(parts, body)?;
            let action = query::action_of(&p, VERSION)?;
            match action {
                $($name => {
                    let cx = Cx { ctx, caller, action: concat!("iam:", $name) };
                    Ok(($name, $handler(&cx, &p).await?))
                })+
                other => Err(query::invalid_action(other, VERSION)),
            }
        }
    };
}

operations! {
    "CreateRole" => roles::create_role,
    "GetRole" => roles::get_role,
    "UpdateRole" => roles::update_role,
    "UpdateRoleDescription" => roles::update_role_description,
    "DeleteRole" => roles::delete_role,
    "ListRoles" => roles::list_roles,
    "UpdateAssumeRolePolicy" => roles::update_assume_role_policy,
    "TagRole" => roles::tag_role,
    "UntagRole" => roles::untag_role,
    "ListRoleTags" => roles::list_role_tags,
    "PutRolePolicy" => holder_policies::put_role_policy,
    "GetRolePolicy" => holder_policies::get_role_policy,
    "DeleteRolePolicy" => holder_policies::delete_role_policy,
    "ListRolePolicies" => holder_policies::list_role_policies,
    "AttachRolePolicy" => holder_policies::attach_role_policy,
    "DetachRolePolicy" => holder_policies::detach_role_policy,
    "ListAttachedRolePolicies" => holder_policies::list_attached_role_policies,
    "PutUserPolicy" => holder_policies::put_user_policy,
    "GetUserPolicy" => holder_policies::get_user_policy,
    "DeleteUserPolicy" => holder_policies::delete_user_policy,
    "ListUserPolicies" => holder_policies::list_user_policies,
    "AttachUserPolicy" => holder_policies::attach_user_policy,
    "DetachUserPolicy" => holder_policies::detach_user_policy,
    "ListAttachedUserPolicies" => holder_policies::list_attached_user_policies,
    "CreatePolicy" => managed::create_policy,
    "GetPolicy" => managed::get_policy,
    "DeletePolicy" => managed::delete_policy,
    "TagPolicy" => managed::tag_policy,
    "UntagPolicy" => managed::untag_policy,
    "ListPolicyTags" => managed::list_policy_tags,
    "ListPolicies" => managed::list_policies,
    "CreatePolicyVersion" => managed::create_policy_version,
    "GetPolicyVersion" => managed::get_policy_version,
    "ListPolicyVersions" => managed::list_policy_versions,
    "SetDefaultPolicyVersion" => managed::set_default_policy_version,
    "DeletePolicyVersion" => managed::delete_policy_version,
    "CreateUser" => users::create_user,
    "GetUser" => users::get_user,
    "UpdateUser" => users::update_user,
    "DeleteUser" => users::delete_user,
    "PutRolePermissionsBoundary" => boundaries::put_role_permissions_boundary,
    "DeleteRolePermissionsBoundary" => boundaries::delete_role_permissions_boundary,
    "PutUserPermissionsBoundary" => boundaries::put_user_permissions_boundary,
    "DeleteUserPermissionsBoundary" => boundaries::delete_user_permissions_boundary,
    "TagUser" => users::tag_user,
    "UntagUser" => users::untag_user,
    "ListUserTags" => users::list_user_tags,
    "ListUsers" => users::list_users,
    "CreateAccessKey" => access_keys::create_access_key,
    "DeleteAccessKey" => access_keys::delete_access_key,
    "ListAccessKeys" => access_keys::list_access_keys,
    "UpdateAccessKey" => access_keys::update_access_key,
    "GetAccessKeyLastUsed" => access_keys::get_access_key_last_used,
    "CreateLoginProfile" => login_profiles::create_login_profile,
    "GetLoginProfile" => login_profiles::get_login_profile,
    "UpdateLoginProfile" => login_profiles::update_login_profile,
    "DeleteLoginProfile" => login_profiles::delete_login_profile,
    "SimulateCustomPolicy" => simulate::simulate_custom_policy,
    "SimulatePrincipalPolicy" => simulate::simulate_principal_policy,
    "GetAccountAuthorizationDetails" => account::get_account_authorization_details,
}

// ---- errors ------------------------------------------------------------------------------

/// `NoSuchEntity` (404).
pub(crate) fn no_such_entity(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
}

/// `InvalidInput` (400).
pub(crate) fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

/// `LimitExceeded` (409).
pub(crate) fn limit_exceeded(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "LimitExceeded", message)
}

/// A parameter this server does not implement: refused, never silently ignored.
pub(crate) fn unsupported(parameter: &str) -> ApiError {
    invalid_input(format!(
        "The parameter {parameter} is not supported by this server."
    ))
}

/// The role `name` does not exist.
pub(crate) fn no_such_role(name: &str) -> ApiError {
    no_such_entity(format!("The role with name {name} cannot be found."))
}

/// The user `name` does not exist.
pub(crate) fn no_such_user(name: &str) -> ApiError {
    no_such_entity(format!("The user with name {name} cannot be found."))
}

/// Map a store error to IAM's code, status and message. This is the only place that decides
/// which IAM code a store rule becomes.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity, key } => no_such_entity(match entity {
            Entity::Role => format!("The role with name {key} cannot be found."),
            Entity::User => format!("The user with name {key} cannot be found."),
            Entity::ManagedPolicy => format!("Policy {key} does not exist or is not attachable."),
            Entity::ManagedPolicyVersion => format!("Policy version {key} does not exist."),
            Entity::PolicyAttachment => format!("Policy {key} was not found."),
            Entity::InlinePolicy => format!("The policy with name {key} cannot be found."),
            Entity::AccessKey => format!("The Access Key with id {key} cannot be found."),
            Entity::LoginProfile => format!("Login Profile for User {key} cannot be found."),
            other => format!("The {other} {key} cannot be found."),
        }),
        StoreError::AlreadyExists { entity, key } => ApiError::new(
            StatusCode::CONFLICT,
            "EntityAlreadyExists",
            match entity {
                Entity::Role => format!("Role with name {key} already exists."),
                Entity::User => format!("User with name {key} already exists."),
                Entity::LoginProfile => format!("Login Profile for user {key} already exists."),
                Entity::ManagedPolicy => format!(
                    "A policy called {key} already exists. Duplicate names are not allowed."
                ),
                other => format!("The {other} {key} already exists."),
            },
        ),
        StoreError::Conflict { reason, .. } => ApiError::new(
            StatusCode::CONFLICT,
            "DeleteConflict",
            match reason {
                ConflictReason::LoginProfile => {
                    "Cannot delete entity, must delete login profile first."
                }
                ConflictReason::AccessKeys => {
                    "Cannot delete entity, must delete access keys first."
                }
                ConflictReason::InlinePolicies => {
                    "Cannot delete entity, must delete policies first."
                }
                ConflictReason::AttachedPolicies => {
                    "Cannot delete entity, must detach all policies first."
                }
                ConflictReason::AttachedToHolders => "Cannot delete a policy attached to entities.",
                ConflictReason::NonDefaultVersions => {
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."
                }
                ConflictReason::DefaultVersion => "Cannot delete the default version of a policy.",
                // IoT's conflicts never come out of an IAM call; a sentence rather than a panic.
                ConflictReason::AttachedToTargets
                | ConflictReason::AttachedToThing
                | ConflictReason::CertificatePolicies
                | ConflictReason::ThingPrincipals
                | ConflictReason::ThingTypeInUse
                | ConflictReason::AttachedToOtherThing
                | ConflictReason::AttachedExclusively
                | ConflictReason::NewerCrl => "Cannot delete entity.",
            },
        ),
        // The message names the limit the store enforced (configurable), in IAM's wording.
        StoreError::LimitExceeded { reason, .. } => limit_exceeded(match reason {
            LimitKind::AccessKeysPerUser(n) => {
                format!("Cannot exceed quota for AccessKeysPerUser: {n}")
            }
            LimitKind::ManagedPolicyVersions(n) | LimitKind::IotPolicyVersions(n) => format!(
                "A managed policy can have up to {n} versions. Before you create a new version, you must delete an existing version."
            ),
            LimitKind::PoliciesPerUser(n) => {
                format!("Cannot exceed quota for PoliciesPerUser: {n}")
            }
            LimitKind::PoliciesPerRole(n) => {
                format!("Cannot exceed quota for PoliciesPerRole: {n}")
            }
            LimitKind::TagsPerRole(n) => format!("Cannot exceed quota for TagsPerRole: {n}"),
            LimitKind::TagsPerUser(n) => format!("Cannot exceed quota for TagsPerUser: {n}"),
            LimitKind::TagsPerPolicy(n) => format!("Cannot exceed quota for TagsPerPolicy: {n}"),
            other @ (LimitKind::PoliciesPerTarget(_)
            | LimitKind::CaCertificatesPerSubject(_)
            | LimitKind::TagsPerIotResource(_)) => {
                format!("Limit exceeded: {other}.")
            }
        }),
        StoreError::VersionConflict { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "ConcurrentModification",
            "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.",
        ),
        StoreError::InvalidState { reason, .. } => invalid_input(format!("{reason}.")),
        StoreError::InvalidMarker => query::invalid_marker(),
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "registry unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Service Unavailable",
            )
        }
        StoreError::Backend(detail) => ApiError::internal(SERVICE_FAILURE, detail),
    }
}

/// A policy document refused by the policy crate: `MalformedPolicyDocument` (400) or
/// `LimitExceeded` (409) with IAM's own message; our explanation (what exactly is wrong, in
/// which statement and element) goes to the audit line.
pub(crate) fn policy_error(e: &PolicyError) -> ApiError {
    let status = match e.kind() {
        iotcreds_policy::ErrorKind::MalformedPolicyDocument => StatusCode::BAD_REQUEST,
        iotcreds_policy::ErrorKind::LimitExceeded => StatusCode::CONFLICT,
    };
    ApiError::new(status, e.code(), e.message()).with_detail(e.to_string())
}

// ---- validation --------------------------------------------------------------------------

/// The model's length bounds of a policy document (`policyDocumentType`: 1–131072).
pub(crate) fn check_document_length(field: &str, document: &str) -> Result<(), ApiError> {
    query::check_length(field, document, 1, 131_072)
}

/// Accept a policy document as IAM does before storing it at `target`: IAM's character set,
/// the size quota (whitespace excluded), then IAM's rules ([`Policy::validate`]).
pub(crate) fn check_document(
    document: &str,
    target: Target,
    limit: SizeLimit,
) -> Result<Policy, ApiError> {
    iotcreds_policy::check_characters(document).map_err(|e| policy_error(&e))?;
    iotcreds_policy::check_size(document, limit).map_err(|e| policy_error(&e))?;
    Policy::validate(document, target).map_err(|e| policy_error(&e))
}

/// A managed policy path (`policyPathType`: `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, 1–512).
pub(crate) fn check_policy_path(field: &str, path: &str) -> Result<(), ApiError> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && !path.contains("//")
        && path.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'/' | b'.' | b',' | b'+' | b'@' | b'=' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            path,
            "Member must satisfy regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/",
        )
        .into())
    }
}

/// A role or user path prefix (`pathPrefixType`: `\u002F[\u0021-\u007F]*`, 1–512).
pub(crate) fn check_path_prefix(field: &str, prefix: &str) -> Result<(), ApiError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 512
        && prefix.starts_with('/')
        && prefix.bytes().all(|b| (0x21..=0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            prefix,
            "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        )
        .into())
    }
}

/// An ARN parameter's model length (`arnType`: 20–2048).
pub(crate) fn check_arn_length(field: &str, arn: &str) -> Result<(), ApiError> {
    query::check_length(field, arn, 20, 2048)
}

/// The `PolicyArn` parameter: a valid ARN (`InvalidInput` otherwise, as IAM answers).
pub(crate) fn policy_arn_param(p: &Params) -> Result<&str, ApiError> {
    let arn = p.required("PolicyArn", "policyArn")?;
    check_arn_length("policyArn", arn)?;
    match iotcreds_types::Arn::parse(arn) {
        Ok(a) if a.service == "iam" && a.resource.starts_with("policy/") => Ok(arn),
        _ => Err(invalid_input(format!("ARN {arn} is not valid."))),
    }
}

// ---- identifiers, tags, authorisation ------------------------------------------------------

/// A fresh IAM unique id with `prefix` (`AROA`, `AIDA`, `ANPA`), from the system CSPRNG.
pub(crate) fn new_unique_id(prefix: &str) -> Result<String, ApiError> {
    let mut bytes = [0u8; 11];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        ApiError::internal(SERVICE_FAILURE, "system random number generator failed")
    })?;
    Ok(ids::unique_id(prefix, |buf| {
        for (dst, src) in buf.iter_mut().zip(bytes) {
            *dst = src;
        }
    }))
}

/// Request tags as stored tags, sorted by key.
pub(crate) fn to_tags(tags: Vec<(String, String)>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    tags.sort();
    tags
}

/// The `Tags` of a `Tag*` operation (`TagRole`, `TagUser`, `TagPolicy`): at least one, at most
/// 50, each key and value checked.
pub(crate) fn tags_to_add(p: &Params) -> Result<Vec<Tag>, ApiError> {
    if !p.has_list("Tags") {
        return Err(crate::query::missing("tags"));
    }
    let tags = to_tags(p.tags("Tags", 50)?);
    if tags.is_empty() {
        return Err(ValidationError::new(
            "tags",
            "[]",
            "Member must have length greater than or equal to 1",
        )
        .into());
    }
    Ok(tags)
}

/// The `TagKeys` of an `Untag*` operation: at most 50, each checked.
pub(crate) fn tag_keys_to_remove(p: &Params) -> Result<Vec<String>, ApiError> {
    if !p.has_list("TagKeys") {
        return Err(crate::query::missing("tagKeys"));
    }
    let keys = p.strings("TagKeys")?;
    if keys.len() > 50 {
        return Err(ValidationError::new(
            "tagKeys",
            "[...]",
            "Member must have length less than or equal to 50",
        )
        .into());
    }
    for (i, k) in keys.iter().enumerate() {
        crate::query::check_tag_text(&format!("tagKeys.{}.member", i + 1), k, 1, 128)?;
    }
    Ok(keys)
}

/// The `List*Tags` answer: one page of `tags`.
pub(crate) fn list_tags(p: &Params, tags: &[Tag]) -> Output {
    let paging = Paging::from_params(p)?;
    let (page, next) = paging.slice(tags)?;
    let mut x = Xml::new();
    x.tags(
        "Tags",
        page.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    )
    .truncation(next.as_deref());
    Ok(Some(x.finish()))
}

pub(crate) use crate::tag_keys::{insert_request_tags, insert_resource_tags};

/// Authorise the operation's action on a role or user (`resource`) whose tags are `tags`, with
/// `extra` keys.
pub(crate) fn authorize_on(
    cx: &Cx<'_>,
    resource: &Resource,
    tags: &[Tag],
    extra: impl FnOnce(&mut Context),
) -> Result<(), ApiError> {
    cx.authorize_with(resource, |ctx| {
        insert_resource_tags(ctx, tags);
        extra(ctx);
    })
}

/// A look-up's store error, as IAM answers it.
pub(crate) fn lookup<T>(r: StoreResult<T>) -> Result<T, ApiError> {
    r.map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_iam_codes() {
        let e = store_error(StoreError::not_found(Entity::Role, "R"));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "NoSuchEntity"));
        assert_eq!(e.message, "The role with name R cannot be found.");
        let e = store_error(StoreError::already_exists(Entity::User, "bob"));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::CONFLICT, "EntityAlreadyExists")
        );
        let e = store_error(StoreError::conflict(
            Entity::User,
            "bob",
            ConflictReason::AccessKeys,
        ));
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "DeleteConflict"));
        assert_eq!(
            e.message,
            "Cannot delete entity, must delete access keys first."
        );
        let e = store_error(StoreError::conflict(
            Entity::Role,
            "R",
            ConflictReason::AttachedPolicies,
        ));
        assert_eq!(
            e.message,
            "Cannot delete entity, must detach all policies first."
        );
        let e = store_error(StoreError::limit(
            Entity::AccessKey,
            "bob",
            LimitKind::AccessKeysPerUser(2),
        ));
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "LimitExceeded"));
        assert_eq!(e.message, "Cannot exceed quota for AccessKeysPerUser: 2");
        // The figure is the one the store enforced, not a default.
        let e = store_error(StoreError::limit(
            Entity::PolicyAttachment,
            "bob",
            LimitKind::PoliciesPerUser(3),
        ));
        assert_eq!(e.message, "Cannot exceed quota for PoliciesPerUser: 3");
        let e = store_error(StoreError::InvalidMarker);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = store_error(StoreError::Backend("secret detail".into()));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INTERNAL_SERVER_ERROR, SERVICE_FAILURE)
        );
        assert!(!e.message.contains("secret detail"));
        let e = store_error(StoreError::Unavailable("down".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn documents_are_checked_in_order() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert!(check_document(ok, Target::ManagedPolicy, SizeLimit::Managed).is_ok());
        let e = check_document("{", Target::ManagedPolicy, SizeLimit::Managed).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "MalformedPolicyDocument")
        );
        // AWS's wording to the client, our explanation for the audit line.
        assert_eq!(e.message, "Syntax errors in policy.");
        assert!(
            e.detail
                .as_deref()
                .is_some_and(|d| d.contains("not valid JSON"))
        );
        let e = check_document(ok, Target::TrustPolicy, SizeLimit::TrustPolicy).unwrap_err();
        assert_eq!(e.code, "MalformedPolicyDocument");
        assert_eq!(e.message, "Has prohibited field Resource");
        let inline = r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        assert!(check_document(inline, Target::InlinePolicy, SizeLimit::RoleInline).is_ok());
        let e = check_document(inline, Target::ManagedPolicy, SizeLimit::Managed).unwrap_err();
        assert_eq!(
            e.message,
            "Policy document must be version 2012-10-17 or greater."
        );
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "a".repeat(7000)
        );
        let e = check_document(&big, Target::ManagedPolicy, SizeLimit::Managed).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "LimitExceeded"));
        assert_eq!(e.message, "Cannot exceed quota for PolicySize: 6144");
        assert!(check_document_length("policyDocument", "").is_err());
    }

    #[test]
    fn paths_and_arns() {
        assert!(check_policy_path("path", "/").is_ok());
        assert!(check_policy_path("path", "/a/b.c/").is_ok());
        assert!(check_policy_path("path", "/a b/").is_err());
        assert!(check_policy_path("path", "//").is_err());
        assert!(check_policy_path("path", "a/").is_err());
        assert!(check_path_prefix("pathPrefix", "/app").is_ok());
        assert!(check_path_prefix("pathPrefix", "app").is_err());
        let p = Params::from_form("PolicyArn=arn:aws:iam::123456789012:policy/P").unwrap();
        assert!(policy_arn_param(&p).is_ok());
        let p = Params::from_form("PolicyArn=not-an-arn-at-all-really").unwrap();
        assert_eq!(policy_arn_param(&p).unwrap_err().code, "InvalidInput");
        let p = Params::from_form("PolicyArn=short").unwrap();
        assert_eq!(policy_arn_param(&p).unwrap_err().code, "ValidationError");
    }

    #[test]
    fn unique_ids_have_iam_shapes() {
        let a = new_unique_id(ids::ROLE_ID_PREFIX).unwrap();
        let b = new_unique_id(ids::ROLE_ID_PREFIX).unwrap();
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("AROA"));
        assert_ne!(a, b);
    }
}
