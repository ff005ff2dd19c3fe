//! IAM roles: `CreateRole`, `GetRole`, `UpdateRole`, `UpdateRoleDescription`, `DeleteRole`,
//! `ListRoles`, `UpdateAssumeRolePolicy` (the trust policy) and the role tags (`TagRole`,
//! `UntagRole`, `ListRoleTags`).

use std::sync::Arc;

use iotcreds_policy::{SizeLimit, Target};
use iotcreds_registry::CachedRole;
use iotcreds_store::{Role, RoleUpdate};
use iotcreds_types::names::{IAM_DESCRIPTION, IAM_ROLE_NAME, check_iam_path, check_range};
use iotcreds_types::{arn, ids};

use super::{
    Cx, Output, authorize_on, boundaries, check_document, check_document_length, check_path_prefix,
    insert_request_tags, list_tags, lookup, no_such_role, store_error, tag_keys_to_remove,
    tags_to_add, to_tags, unsupported,
};
use crate::query::{Paging, Params, Xml};
use crate::resource;
use crate::{ApiError, Resource};

/// Default and bounds of `MaxSessionDuration`.
const MAX_SESSION_DEFAULT: i64 = 3600;
const MAX_SESSION_MIN: i64 = 3600;
const MAX_SESSION_MAX: i64 = 43200;

/// Write a `Role` structure. `full` adds what only `GetRole`, `CreateRole` and
/// `UpdateRoleDescription` return (tags, permissions boundary, `RoleLastUsed`).
pub(crate) fn write_role(x: &mut Xml, role: &Role, arn: &str, full: bool) {
    x.text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.id)
        .text("Arn", arn)
        .time("CreateDate", role.created_at)
        .document("AssumeRolePolicyDocument", &role.trust_policy)
        .opt(
            "Description",
            role.description.as_deref().filter(|d| !d.is_empty()),
        )
        .int("MaxSessionDuration", role.max_session_duration);
    if full {
        super::boundaries::write(x, role.permissions_boundary.as_deref());
        if !role.tags.is_empty() {
            x.tags(
                "Tags",
                role.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
            );
        }
        x.node("RoleLastUsed", |_| {});
    }
}

/// The `RoleName` parameter, validated.
pub(crate) fn role_name(p: &Params) -> Result<&str, ApiError> {
    let name = p.required("RoleName", "roleName")?;
    IAM_ROLE_NAME.check("roleName", name)?;
    Ok(name)
}

/// The role `name` (regardless of case), authorised for this operation's action on its own
/// ARN (with `extra` keys), then required to exist.
async fn authorized_role(
    cx: &Cx<'_>,
    name: &str,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Arc<CachedRole>, ApiError> {
    let role = lookup(resource::iam_role(cx.registry(), name).await)?;
    let tags = role.found().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, role.resource(), tags, extra)?;
    role.require(|| no_such_role(name))
}

fn max_session_duration(p: &Params) -> Result<Option<i64>, ApiError> {
    let value = p.int("MaxSessionDuration", "maxSessionDuration")?;
    if let Some(v) = value {
        check_range("maxSessionDuration", v, MAX_SESSION_MIN, MAX_SESSION_MAX)?;
    }
    if p.get("MaxSigninSessionDuration").is_some() {
        return Err(unsupported("MaxSigninSessionDuration"));
    }
    Ok(value)
}

fn description(p: &Params) -> Result<Option<&str>, ApiError> {
    let d = p.get("Description");
    if let Some(d) = d {
        IAM_DESCRIPTION.check("description", d)?;
    }
    Ok(d)
}

pub(super) async fn create_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let path = p.get("Path").unwrap_or("/");
    check_iam_path("path", path)?;
    let document = p.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
    check_document_length("assumeRolePolicyDocument", document)?;
    let description = description(p)?;
    let max_session = max_session_duration(p)?.unwrap_or(MAX_SESSION_DEFAULT);
    let tags = to_tags(p.tags("Tags", 50)?);
    let boundary = boundaries::requested(cx, p, false).await?;
    let new_role = resource::new_iam_role(cx.account(), path, name);
    let boundary_arn = boundary.as_ref().map(|b| b.resource().arn().to_owned());
    cx.authorize_with(&new_role, |ctx| {
        insert_request_tags(ctx, &tags);
        boundaries::insert_key(ctx, boundary_arn.as_deref());
    })?;
    check_document(document, Target::TrustPolicy, SizeLimit::TrustPolicy)?;
    let permissions_boundary = boundaries::resolve(boundary)?;
    let role = Role {
        name: name.to_owned(),
        id: super::new_unique_id(ids::ROLE_ID_PREFIX)?,
        path: path.to_owned(),
        trust_policy: document.to_owned(),
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
        max_session_duration: max_session,
        permissions_boundary,
        created_at: cx.now_ms(),
        tags,
    };
    cx.write(cx.store().insert_role(&role)).await?;
    let mut x = Xml::new();
    x.node("Role", |x| write_role(x, &role, new_role.arn(), true));
    Ok(Some(x.finish()))
}

pub(super) async fn get_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    let mut x = Xml::new();
    x.node("Role", |x| write_role(x, &role.role, &role.arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn update_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let description = description(p)?;
    let max_session = max_session_duration(p)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    let update = RoleUpdate {
        description: description.map(str::to_owned),
        max_session_duration: max_session,
    };
    cx.write(cx.store().update_role(&role.role.name, &update))
        .await?;
    Ok(Some(String::new()))
}

pub(super) async fn update_role_description(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let description = p.required("Description", "description")?;
    IAM_DESCRIPTION.check("description", description)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    let update = RoleUpdate {
        description: Some(description.to_owned()),
        max_session_duration: None,
    };
    cx.write(cx.store().update_role(&role.role.name, &update))
        .await?;
    let role =
        lookup(cx.registry().role(&role.role.name).await)?.ok_or_else(|| no_such_role(name))?;
    let mut x = Xml::new();
    x.node("Role", |x| write_role(x, &role.role, &role.arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn delete_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    cx.write(cx.store().delete_role(&role.role.name)).await?;
    Ok(None)
}

pub(super) async fn list_roles(cx: &Cx<'_>, p: &Params) -> Output {
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_path_prefix("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    cx.authorize(&Resource::any())?;
    let page = cx
        .store()
        .list_roles(prefix, &paging.page_request())
        .await
        .map_err(store_error)?;
    let account = cx.account();
    let mut x = Xml::new();
    x.list("Roles", &page.items, |x, role| {
        let arn = arn::iam_role(account, &role.path, &role.name);
        write_role(x, role, &arn, false);
    })
    .truncation(page.next_marker.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn update_assume_role_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let document = p.required("PolicyDocument", "policyDocument")?;
    check_document_length("policyDocument", document)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    check_document(document, Target::TrustPolicy, SizeLimit::TrustPolicy)?;
    cx.write(
        cx.store()
            .update_role_trust_policy(&role.role.name, document),
    )
    .await?;
    Ok(None)
}

pub(super) async fn tag_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let tags = tags_to_add(p)?;
    let role = authorized_role(cx, name, |ctx| insert_request_tags(ctx, &tags)).await?;
    cx.write(cx.store().tag_role(&role.role.name, &tags))
        .await?;
    Ok(None)
}

pub(super) async fn untag_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let keys = tag_keys_to_remove(p)?;
    let role = authorized_role(cx, name, |ctx| {
        ctx.insert_multi("aws:TagKeys", keys.clone())
    })
    .await?;
    cx.write(cx.store().untag_role(&role.role.name, &keys))
        .await?;
    Ok(None)
}

pub(super) async fn list_role_tags(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let role = authorized_role(cx, name, |_| {}).await?;
    list_tags(p, &role.role.tags)
}
