//! IAM users: `CreateUser` (with a permissions boundary: see `boundaries.rs`), `GetUser`
//! (without `UserName`: the caller), `UpdateUser` (rename, move), `DeleteUser`, `ListUsers`,
//! and the user tags (`TagUser`, `UntagUser`, `ListUserTags`).

use std::sync::Arc;

use iotcreds_registry::CachedUser;
use iotcreds_registry::authz::Principal;
use iotcreds_store::User;
use iotcreds_types::names::{IAM_USER_NAME, check_iam_path};
use iotcreds_types::{arn, ids};

use super::{
    Cx, EXISTING_USER_NAME, Output, authorize_on, boundaries, check_path_prefix,
    insert_request_tags, list_tags, lookup, no_such_user, store_error, tag_keys_to_remove,
    tags_to_add, to_tags,
};
use crate::Resource;
use crate::query::{Paging, Params, Xml};
use crate::resource;

/// Write a `User` structure; `full` adds its tags (`GetUser`, `CreateUser`).
pub(crate) fn write_user(x: &mut Xml, user: &User, arn: &str, full: bool) {
    x.text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.id)
        .text("Arn", arn)
        .time("CreateDate", user.created_at);
    if full {
        super::boundaries::write(x, user.permissions_boundary.as_deref());
    }
    if full && !user.tags.is_empty() {
        x.tags(
            "Tags",
            user.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
        );
    }
}

/// The user `name` (regardless of case), authorised for this operation's action on its own
/// ARN with its tags: the user, if it exists.
pub(crate) async fn authorized_target(
    cx: &Cx<'_>,
    name: &str,
) -> Result<Option<Arc<CachedUser>>, crate::ApiError> {
    authorized_target_with(cx, name, |_| {}).await
}

/// [`authorized_target`] with `extra` condition keys (the tags a request sets or removes).
pub(crate) async fn authorized_target_with(
    cx: &Cx<'_>,
    name: &str,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Option<Arc<CachedUser>>, crate::ApiError> {
    let user = lookup(resource::iam_user(cx.registry(), name).await)?;
    let tags = user.found().map(|u| u.user.tags.as_slice()).unwrap_or(&[]);
    authorize_on(cx, user.resource(), tags, extra)?;
    Ok(user.found().cloned())
}

/// IAM's answer when an operation needs a user name and the caller is not an IAM user.
pub(crate) fn must_specify_user() -> crate::ApiError {
    crate::ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    )
}

pub(super) async fn create_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    IAM_USER_NAME.check("userName", name)?;
    let path = p.get("Path").unwrap_or("/");
    check_iam_path("path", path)?;
    let tags = to_tags(p.tags("Tags", 50)?);
    let boundary = boundaries::requested(cx, p, false).await?;
    let new_user = resource::new_iam_user(cx.account(), path, name);
    let boundary_arn = boundary.as_ref().map(|b| b.resource().arn().to_owned());
    cx.authorize_with(&new_user, |ctx| {
        insert_request_tags(ctx, &tags);
        boundaries::insert_key(ctx, boundary_arn.as_deref());
    })?;
    let user = User {
        name: name.to_owned(),
        id: super::new_unique_id(ids::USER_ID_PREFIX)?,
        path: path.to_owned(),
        permissions_boundary: boundaries::resolve(boundary)?,
        created_at: cx.now_ms(),
        tags,
    };
    cx.write(cx.store().insert_user(&user)).await?;
    let mut x = Xml::new();
    x.node("User", |x| write_user(x, &user, new_user.arn(), true));
    Ok(Some(x.finish()))
}

pub(super) async fn get_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = match p.get("UserName") {
        Some(n) => {
            EXISTING_USER_NAME.check("userName", n)?;
            n.to_owned()
        }
        None => match &cx.caller.principal {
            Principal::User { user, .. } => user.user.name.clone(),
            Principal::Root { account, .. } => {
                // The account's root user, as IAM describes it.
                let mut x = Xml::new();
                x.node("User", |x| {
                    x.text("UserId", account)
                        .text("Arn", &arn::iam_root(account));
                });
                return Ok(Some(x.finish()));
            }
            Principal::Session { .. } => return Err(must_specify_user()),
        },
    };
    let user = authorized_target(cx, &name)
        .await?
        .ok_or_else(|| no_such_user(&name))?;
    let mut x = Xml::new();
    x.node("User", |x| write_user(x, &user.user, &user.arn, true));
    Ok(Some(x.finish()))
}

pub(super) async fn delete_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    let user = authorized_target(cx, name)
        .await?
        .ok_or_else(|| no_such_user(name))?;
    cx.write(cx.store().delete_user(&user.user.name)).await?;
    Ok(None)
}

/// `UpdateUser`: a new name and/or path. As IAM requires, the caller needs `iam:UpdateUser` on
/// both the user as it is and the user as it will be.
pub(super) async fn update_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    let new_name = p.get("NewUserName");
    if let Some(n) = new_name {
        IAM_USER_NAME.check("newUserName", n)?;
    }
    let new_path = p.get("NewPath");
    if let Some(path) = new_path {
        check_iam_path("newPath", path)?;
    }
    let user = authorized_target(cx, name)
        .await?
        .ok_or_else(|| no_such_user(name))?;
    let target = resource::new_iam_user(
        cx.account(),
        new_path.unwrap_or(&user.user.path),
        new_name.unwrap_or(&user.user.name),
    );
    cx.authorize(&target)?;
    cx.write(cx.store().update_user(&user.user.name, new_name, new_path))
        .await?;
    Ok(Some(String::new()))
}

pub(super) async fn list_users(cx: &Cx<'_>, p: &Params) -> Output {
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_path_prefix("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    cx.authorize(&Resource::any())?;
    let page = cx
        .store()
        .list_users(prefix, &paging.page_request())
        .await
        .map_err(store_error)?;
    let account = cx.account();
    let mut x = Xml::new();
    x.list("Users", &page.items, |x, user| {
        let arn = arn::iam_user(account, &user.path, &user.name);
        write_user(x, user, &arn, false);
    })
    .truncation(page.next_marker.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn tag_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    let tags = tags_to_add(p)?;
    let user = authorized_target_with(cx, name, |ctx| insert_request_tags(ctx, &tags))
        .await?
        .ok_or_else(|| no_such_user(name))?;
    cx.write(cx.store().tag_user(&user.user.name, &tags))
        .await?;
    Ok(None)
}

pub(super) async fn untag_user(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    let keys = tag_keys_to_remove(p)?;
    let user = authorized_target_with(cx, name, |ctx| {
        ctx.insert_multi("aws:TagKeys", keys.clone())
    })
    .await?
    .ok_or_else(|| no_such_user(name))?;
    cx.write(cx.store().untag_user(&user.user.name, &keys))
        .await?;
    Ok(None)
}

pub(super) async fn list_user_tags(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("UserName", "userName")?;
    EXISTING_USER_NAME.check("userName", name)?;
    let user = authorized_target(cx, name)
        .await?
        .ok_or_else(|| no_such_user(name))?;
    list_tags(p, &user.user.tags)
}
