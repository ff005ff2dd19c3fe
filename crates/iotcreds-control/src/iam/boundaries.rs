//! Permissions boundaries of roles and users: the `PermissionsBoundary` parameter of
//! `CreateRole` and `CreateUser`, `PutRolePermissionsBoundary`, `DeleteRolePermissionsBoundary`,
//! `PutUserPermissionsBoundary`, `DeleteUserPermissionsBoundary`.
//!
//! A boundary is a customer-managed policy of this account; evaluation intersects it with the
//! entity's identity policies (see `iotcreds_registry::authz`). Each of these operations is
//! authorised with `iam:PermissionsBoundary`: the boundary the request sets, or the one it
//! removes, as IAM's service authorisation reference lists the key, so that an administrator
//! can be allowed to create users only under a given boundary and never to lift it.

use std::sync::Arc;

use iotcreds_registry::{CachedRole, CachedUser};
use iotcreds_store::ManagedPolicy;

use super::roles::role_name;
use super::users::authorized_target_with;
use super::{
    Cx, EXISTING_USER_NAME, Output, authorize_on, check_arn_length, invalid_input, lookup,
};
use super::{no_such_role, no_such_user};
use crate::ApiError;
use crate::query::{Params, Xml};
use crate::resource::{self, Lookup};

/// The `PermissionsBoundary` parameter, looked up (not yet required to exist, so that the
/// request is authorised before a missing policy is reported).
pub(crate) async fn requested(
    cx: &Cx<'_>,
    p: &Params,
    required: bool,
) -> Result<Option<Lookup<ManagedPolicy>>, ApiError> {
    let arn = if required {
        Some(p.required("PermissionsBoundary", "permissionsBoundary")?)
    } else {
        p.get("PermissionsBoundary")
    };
    let Some(arn) = arn else {
        return Ok(None);
    };
    check_arn_length("permissionsBoundary", arn)?;
    Ok(Some(lookup(
        resource::managed_policy(cx.registry(), arn).await,
    )?))
}

/// `iam:PermissionsBoundary` for a request that sets or removes `boundary`.
pub(crate) fn insert_key(ctx: &mut iotcreds_policy::Context, boundary: Option<&str>) {
    if let Some(b) = boundary {
        ctx.insert("iam:PermissionsBoundary", b.to_owned());
    }
}

/// The canonical ARN of a requested boundary, refused as IAM refuses a policy that does not
/// exist.
pub(crate) fn resolve(boundary: Option<Lookup<ManagedPolicy>>) -> Result<Option<String>, ApiError> {
    match boundary {
        None => Ok(None),
        Some(Lookup::Found(mp, _)) => Ok(Some(mp.arn)),
        Some(Lookup::Absent(b)) => Err(invalid_input(format!(
            "Scope ARN: {} does not exist or is not attachable.",
            b.arn()
        ))),
    }
}

/// The `PermissionsBoundary` structure of `GetRole`, `GetUser` and their kin.
pub(crate) fn write(x: &mut Xml, boundary: Option<&str>) {
    if let Some(b) = boundary {
        x.node("PermissionsBoundary", |x| {
            x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", b);
        });
    }
}

/// The role `name`, authorised with `iam:PermissionsBoundary` = `key`, then required to exist.
async fn authorized_role(
    cx: &Cx<'_>,
    name: &str,
    key: impl FnOnce(&CachedRole) -> Option<String>,
) -> Result<Arc<CachedRole>, ApiError> {
    let role = lookup(resource::iam_role(cx.registry(), name).await)?;
    let tags = role.found().map(|r| r.role.tags.as_slice()).unwrap_or(&[]);
    let boundary = role.found().and_then(|r| key(r));
    authorize_on(cx, role.resource(), tags, |ctx| {
        insert_key(ctx, boundary.as_deref())
    })?;
    role.require(|| no_such_role(name))
}

pub(super) async fn put_role_permissions_boundary(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let boundary = requested(cx, p, true).await?;
    let arn = boundary.as_ref().map(|b| b.resource().arn().to_owned());
    let role = authorized_role(cx, name, |_| arn.clone()).await?;
    let boundary = resolve(boundary)?;
    cx.write(
        cx.store()
            .set_role_permissions_boundary(&role.role.name, boundary.as_deref()),
    )
    .await?;
    Ok(Some(String::new()))
}

pub(super) async fn delete_role_permissions_boundary(cx: &Cx<'_>, p: &Params) -> Output {
    let name = role_name(p)?;
    let role = authorized_role(cx, name, |r| r.role.permissions_boundary.clone()).await?;
    cx.write(
        cx.store()
            .set_role_permissions_boundary(&role.role.name, None),
    )
    .await?;
    Ok(Some(String::new()))
}

/// The `UserName` parameter of the user boundary operations, validated.
fn user_name(p: &Params) -> Result<&str, ApiError> {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    Ok(name)
}

async fn authorized_user(
    cx: &Cx<'_>,
    name: &str,
    boundary: Option<String>,
) -> Result<Arc<CachedUser>, ApiError> {
    authorized_target_with(cx, name, |ctx| insert_key(ctx, boundary.as_deref()))
        .await?
        .ok_or_else(|| no_such_user(name))
}

pub(super) async fn put_user_permissions_boundary(cx: &Cx<'_>, p: &Params) -> Output {
    let name = user_name(p)?;
    let boundary = requested(cx, p, true).await?;
    let arn = boundary.as_ref().map(|b| b.resource().arn().to_owned());
    let user = authorized_user(cx, name, arn).await?;
    let boundary = resolve(boundary)?;
    cx.write(
        cx.store()
            .set_user_permissions_boundary(&user.user.name, boundary.as_deref()),
    )
    .await?;
    Ok(Some(String::new()))
}

pub(super) async fn delete_user_permissions_boundary(cx: &Cx<'_>, p: &Params) -> Output {
    let name = user_name(p)?;
    // The key is the boundary being removed: the user's current one.
    let current = lookup(resource::iam_user(cx.registry(), name).await)?
        .found()
        .and_then(|u| u.user.permissions_boundary.clone());
    let user = authorized_user(cx, name, current).await?;
    cx.write(
        cx.store()
            .set_user_permissions_boundary(&user.user.name, None),
    )
    .await?;
    Ok(Some(String::new()))
}
