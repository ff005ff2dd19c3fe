//! IAM roles: `CreateRole`, `GetRole`, `UpdateRole`, `UpdateRoleDescription`, `DeleteRole`,
//! `ListRoles`, `UpdateAssumeRolePolicy` (the trust policy) and the role tags (`TagRole`,
//! `UntagRole`, `ListRoleTags`).

use std::sync::Arc;

use iotcreds_policy::{SizeLimit, Target};
use iotcreds_registry::CachedRole;
use iotcreds_store::{Role, RoleUpdate};
use iotcreds_types::names::{IAM_DESCRIPTION, IAM_ROLE_NAME, check_iam_path, check_range};
use iotcreds_types::{ValidationError, arn, ids};

use super::{
    Cx, Output, authorize_on, check_arn_length, check_document, check_document_length,
    check_path_prefix, insert_request_tags, invalid_input, no_such_role, store_error, to_tags,
    unsupported,
};
use crate::ApiError;
use crate::query::{Paging, Params, Xml, check_tag_text};

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
        if let Some(boundary) = &role.permissions_boundary {
            x.node("PermissionsBoundary", |x| {
                x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                    .text("PermissionsBoundaryArn", boundary);
            });
        }
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

/// A role as the target of an action: the role if it exists, and the ARN to authorise on (the
/// role's own, or `role/NAME` when there is no such role, so that a caller without rights
/// learns nothing about which roles exist).
pub(crate) async fn target(
    cx: &Cx<'_>,
    name: &str,
) -> Result<(Option<Arc<CachedRole>>, String), ApiError> {
    let role = cx.ctx.registry.role(name).await.map_err(store_error)?;
    let arn = match &role {
        Some(r) => r.arn.clone(),
        None => arn::iam_role(cx.account(), "/", name),
    };
    Ok((role, arn))
}

/// Authorise `action` on the role `name`, then require that it exists.
async fn authorized_role(
    cx: &Cx<'_>,
    action: &str,
    name: &str,
) -> Result<Arc<CachedRole>, ApiError> {
    let (role, arn) = target(cx, name).await?;
    let tags = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, action, &arn, tags, |_| {})?;
    role.ok_or_else(|| no_such_role(name))
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
    let boundary = p.get("PermissionsBoundary");
    if let Some(b) = boundary {
        check_arn_length("permissionsBoundary", b)?;
    }
    let tags = to_tags(p.tags("Tags", 50)?);

    let role_arn = arn::iam_role(cx.account(), path, name);
    cx.caller
        .authorize_with("iam:CreateRole", &role_arn, |ctx| {
            insert_request_tags(ctx, &tags);
            if let Some(b) = boundary {
                ctx.insert("iam:PermissionsBoundary", b);
            }
        })?;
    check_document(document, Target::TrustPolicy, SizeLimit::TrustPolicy)?;
    let permissions_boundary = match boundary {
        None => None,
        Some(b) => match cx.store().managed_policy(b).await.map_err(store_error)? {
            Some(mp) => Some(mp.arn),
            None => {
                return Err(invalid_input(format!(
                    "Scope ARN: {b} does not exist or is not attachable."
                )));
            }
        },
    };
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
    x.node("Role", |x| write_role(x, &role, &role_arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn get_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let role = authorized_role(cx, "iam:GetRole", name).await?;
    let mut x = Xml::new();
    x.node("Role", |x| write_role(x, &role.role, &role.arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn update_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let description = description(p)?;
    let max_session = max_session_duration(p)?;
    let (role, arn) = target(cx, name).await?;
    let tags = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:UpdateRole", &arn, tags, |_| {})?;
    let update = RoleUpdate {
        description: description.map(str::to_owned),
        max_session_duration: max_session,
    };
    cx.write(cx.store().update_role(name, &update)).await?;
    Ok(Some(String::new()))
}

pub(super) async fn update_role_description(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let description = p.required("Description", "description")?;
    IAM_DESCRIPTION.check("description", description)?;
    let (role, arn) = target(cx, name).await?;
    let tags = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:UpdateRoleDescription", &arn, tags, |_| {})?;
    let update = RoleUpdate {
        description: Some(description.to_owned()),
        max_session_duration: None,
    };
    cx.write(cx.store().update_role(name, &update)).await?;
    let role = cx
        .ctx
        .registry
        .role(name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_such_role(name))?;
    let mut x = Xml::new();
    x.node("Role", |x| write_role(x, &role.role, &role.arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn delete_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let (role, arn) = target(cx, name).await?;
    let tags = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:DeleteRole", &arn, tags, |_| {})?;
    cx.write(cx.store().delete_role(name)).await?;
    Ok(None)
}

pub(super) async fn list_roles(cx: &Cx<'_>, p: &Params) -> Output {
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_path_prefix("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    cx.caller.authorize("iam:ListRoles", "*")?;
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
    let (role, arn) = target(cx, name).await?;
    let tags = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:UpdateAssumeRolePolicy", &arn, tags, |_| {})?;
    check_document(document, Target::TrustPolicy, SizeLimit::TrustPolicy)?;
    cx.write(cx.store().update_role_trust_policy(name, document))
        .await?;
    Ok(None)
}

pub(super) async fn tag_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
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
    let (role, arn) = target(cx, name).await?;
    let existing = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:TagRole", &arn, existing, |ctx| {
        insert_request_tags(ctx, &tags)
    })?;
    cx.write(cx.store().tag_role(name, &tags)).await?;
    Ok(None)
}

pub(super) async fn untag_role(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
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
        check_tag_text(&format!("tagKeys.{}.member", i + 1), k, 1, 128)?;
    }
    let (role, arn) = target(cx, name).await?;
    let existing = role.as_ref().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, "iam:UntagRole", &arn, existing, |ctx| {
        ctx.insert_multi("aws:TagKeys", keys.clone())
    })?;
    cx.write(cx.store().untag_role(name, &keys)).await?;
    Ok(None)
}

pub(super) async fn list_role_tags(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let paging = Paging::from_params(p)?;
    let role = authorized_role(cx, "iam:ListRoleTags", name).await?;
    let (page, next) = paging.slice(&role.role.tags)?;
    let mut x = Xml::new();
    x.tags(
        "Tags",
        page.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    )
    .truncation(next.as_deref());
    Ok(Some(x.finish()))
}
