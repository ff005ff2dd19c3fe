//! Long-term access keys of IAM users: `CreateAccessKey` (the only answer that carries the
//! secret), `DeleteAccessKey`, `ListAccessKeys`, `UpdateAccessKey`, `GetAccessKeyLastUsed`. Without `UserName` each
//! acts on the calling IAM user. At most two keys per user (`LimitExceeded`).

use iotcreds_registry::authz::Principal;
use iotcreds_registry::{new_long_term_access_key_id, new_secret_access_key};
use iotcreds_store::AccessKey;
use iotcreds_types::{AccessKeyStatus, ValidationError};

use super::users::{authorized_target, must_specify_user};
use super::{Cx, EXISTING_USER_NAME, Output, no_such_entity, no_such_user, store_error};
use crate::query::{Paging, Params, Xml, check_length};
use crate::{ApiError, Resource};

/// The user an access-key operation is about (`UserName`, or the calling IAM user),
/// authorised for the operation's action, then required to exist: its stored name.
async fn authorized_user(cx: &Cx<'_>, p: &Params) -> Result<String, ApiError> {
    let name = match p.get("UserName") {
        Some(n) => {
            EXISTING_USER_NAME.check("userName", n)?;
            n.to_owned()
        }
        None => match &cx.caller.principal {
            Principal::User { user, .. } => user.user.name.clone(),
            _ => return Err(must_specify_user()),
        },
    };
    match authorized_target(cx, &name).await? {
        Some(u) => Ok(u.user.name.clone()),
        None => Err(no_such_user(&name)),
    }
}

/// `AccessKeyId` (`accessKeyIdType`: 16–128 word characters).
fn access_key_id(p: &Params) -> Result<&str, ApiError> {
    let id = p.required("AccessKeyId", "accessKeyId")?;
    check_length("accessKeyId", id, 16, 128)?;
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ValidationError::new(
            "accessKeyId",
            id,
            "Member must satisfy regular expression pattern: [\\w]+",
        )
        .into());
    }
    Ok(id)
}

fn write_key_metadata(x: &mut Xml, key: &AccessKey) {
    x.text("UserName", &key.user_name)
        .text("AccessKeyId", &key.access_key_id)
        .text("Status", key.status.as_str())
        .time("CreateDate", key.created_at);
}

pub(super) async fn create_access_key(cx: &Cx<'_>, p: &Params) -> Output {
    let user = authorized_user(cx, p).await?;
    let key = AccessKey {
        access_key_id: new_long_term_access_key_id(),
        user_name: user,
        secret: new_secret_access_key(),
        status: AccessKeyStatus::Active,
        created_at: cx.now_ms(),
    };
    cx.write(cx.store().insert_access_key(&key)).await?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "create_access_key",
        request_id = %cx.caller.request_id,
        principal = %cx.caller.principal.arn(),
        user = %key.user_name,
        access_key_id = %key.access_key_id,
    );
    let mut x = Xml::new();
    x.node("AccessKey", |x| {
        x.text("UserName", &key.user_name)
            .text("AccessKeyId", &key.access_key_id)
            .text("Status", key.status.as_str())
            .text("SecretAccessKey", &key.secret)
            .time("CreateDate", key.created_at);
    });
    Ok(Some(x.finish()))
}

pub(super) async fn delete_access_key(cx: &Cx<'_>, p: &Params) -> Output {
    let id = access_key_id(p)?;
    let user = authorized_user(cx, p).await?;
    cx.write(cx.store().delete_access_key(&user, id)).await?;
    tracing::info!(
        target: "iotcreds::audit",
        event = "delete_access_key",
        request_id = %cx.caller.request_id,
        principal = %cx.caller.principal.arn(),
        user = %user,
        access_key_id = %id,
    );
    Ok(None)
}

pub(super) async fn update_access_key(cx: &Cx<'_>, p: &Params) -> Output {
    let id = access_key_id(p)?;
    let status = p.required("Status", "status")?;
    let status = match status {
        "Active" => AccessKeyStatus::Active,
        "Inactive" => AccessKeyStatus::Inactive,
        other => {
            return Err(ValidationError::new(
                "status",
                other,
                "Member must satisfy enum value set: [Active, Inactive]",
            )
            .into());
        }
    };
    let user = authorized_user(cx, p).await?;
    cx.write(cx.store().update_access_key(&user, id, status))
        .await?;
    Ok(None)
}

pub(super) async fn list_access_keys(cx: &Cx<'_>, p: &Params) -> Output {
    let paging = Paging::from_params(p)?;
    let user = authorized_user(cx, p).await?;
    let keys = cx
        .store()
        .list_access_keys(&user)
        .await
        .map_err(store_error)?;
    let (page, next) = paging.slice(&keys)?;
    let mut x = Xml::new();
    x.list("AccessKeyMetadata", page, write_key_metadata)
        .truncation(next.as_deref());
    Ok(Some(x.finish()))
}

/// `GetAccessKeyLastUsed`: when the key last signed a verified request, for which service and
/// in which region (`N/A` for a key never used). Authorised on the key's owner, so a caller
/// learns nothing of another user's key without the right to ask.
pub(super) async fn get_access_key_last_used(cx: &Cx<'_>, p: &Params) -> Output {
    let id = access_key_id(p)?;
    let key = cx.store().access_key(id).await.map_err(store_error)?;
    let Some(key) = key else {
        // No owner to authorise on: only a caller allowed this on every user learns that the
        // key does not exist.
        cx.authorize(&Resource::any())?;
        return Err(no_such_entity(format!(
            "The Access Key with id {id} cannot be found."
        )));
    };
    let owner = authorized_target(cx, &key.user_name)
        .await?
        .ok_or_else(|| no_such_user(&key.user_name))?;
    let used = cx
        .registry()
        .key_uses()
        .last_used(cx.store().as_ref(), id)
        .await
        .map_err(store_error)?;
    let mut x = Xml::new();
    x.text("UserName", &owner.user.name);
    x.node("AccessKeyLastUsed", |x| match &used {
        Some(u) => {
            x.time("LastUsedDate", u.at)
                .text("ServiceName", &u.service)
                .text("Region", &u.region);
        }
        None => {
            x.text("ServiceName", "N/A").text("Region", "N/A");
        }
    });
    Ok(Some(x.finish()))
}
