//! Role aliases: `CreateRoleAlias`, `DescribeRoleAlias`, `UpdateRoleAlias`,
//! `DeleteRoleAlias`, `ListRoleAliases`.
//!
//! A role alias names an IAM role of this account and a credential duration (900–43200 s,
//! default 3600). Naming a role passes it to the credentials provider, so creating an alias,
//! or pointing one at another role, needs `iam:PassRole` on the role with
//! `iam:PassedToService = credentials.iot.amazonaws.com`, besides the IoT action. The role is
//! looked up first and `iam:PassRole` decided on its own ARN, which is what the alias stores;
//! the credentials endpoint issues only for a role whose ARN is exactly the stored one. Whether the
//! role exists and trusts the provider is checked when a device asks for credentials (AWS
//! does not document a check at creation).
//!
//! `iotcredsSessionTags` (an iotcreds extension, on create, update and describe) maps session
//! tag keys to facts about the device (`iotcreds_registry::session_tags`); AWS's SDKs do not
//! know the field, so it is set with `iotcreds alias create/update --session-tag` or a raw
//! request. On update, the field replaces the mapping; `{}` removes it.

use std::collections::BTreeMap;

use crate::tag_keys::insert_request_tags;
use iotcreds_registry::session_tags;
use iotcreds_store::{RoleAlias, RoleAliasUpdate, StoreError};
use iotcreds_types::arn;
use iotcreds_types::names::{ROLE_ALIAS, check_range};
use serde::Deserialize;
use serde_json::json;

use super::errors::{already_exists, invalid, not_found, store, validation};
use super::json::{
    TagInput, check_length, check_tags, compact, marker_page, marker_to_wire, ok, ok_empty,
    required, timestamp,
};
use super::{Reply, Req, lookup};
use crate::resource;
use crate::{ApiError, Resource};

/// The service principal that assumes the aliased roles.
const CREDENTIALS_SERVICE: &str = "credentials.iot.amazonaws.com";
/// `credentialDurationSeconds` bounds and default.
const MIN_DURATION: i64 = 900;
const MAX_DURATION: i64 = 43200;
const DEFAULT_DURATION: i64 = 3600;

fn alias_name(req: &Req<'_>) -> Result<String, ApiError> {
    let name = req.label(0);
    ROLE_ALIAS.check("roleAlias", name).map_err(validation)?;
    Ok(name.to_owned())
}

/// `roleArn`: 20–2048 characters, the ARN of an IAM role in `account`.
fn check_role_arn(role_arn: &str, account: &str) -> Result<(), ApiError> {
    check_length("roleArn", role_arn, 20, 2048)?;
    if arn::split_iam(role_arn, "role", Some(account)).is_none() {
        return Err(invalid(format!(
            "roleArn must be the ARN of an IAM role in account {account} (arn:aws:iam::{account}:role/NAME); got '{}'",
            role_arn.chars().take(256).collect::<String>()
        )));
    }
    Ok(())
}

fn check_duration(seconds: Option<i64>) -> Result<(), ApiError> {
    if let Some(s) = seconds {
        check_range("credentialDurationSeconds", s, MIN_DURATION, MAX_DURATION)
            .map_err(validation)?;
    }
    Ok(())
}

/// Look up the role `role_arn` designates and authorise passing it to the credentials
/// provider, on the role's own ARN: the ARN to store (the role's own when it exists, so a
/// device's credentials are for exactly the role `iam:PassRole` was decided on; the caller's
/// text otherwise, which the credentials endpoint only honours for a role of exactly that ARN).
async fn authorize_pass_role(req: &Req<'_>, role_arn: &str) -> Result<String, ApiError> {
    let role = lookup(resource::iam_role_by_arn(req.registry(), role_arn).await)?;
    req.caller
        .authorize_with("iam:PassRole", role.resource(), |ctx| {
            ctx.insert("iam:PassedToService", CREDENTIALS_SERVICE)
        })?;
    Ok(role.resource().arn().to_owned())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
    tags: Option<Vec<TagInput>>,
    iotcreds_session_tags: Option<BTreeMap<String, String>>,
}

/// `iotcredsSessionTags`, checked.
fn check_session_tags(
    m: Option<BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    if let Some(m) = &m {
        session_tags::check(m).map_err(|e| invalid(format!("iotcredsSessionTags: {e}")))?;
    }
    Ok(m)
}

/// `POST /role-aliases/{roleAlias}`
pub(super) async fn create(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let input: CreateInput = req.json()?;
    let role_arn = required("roleArn", input.role_arn)?;
    check_role_arn(&role_arn, req.account())?;
    check_duration(input.credential_duration_seconds)?;
    let tags = check_tags(input.tags)?;
    let session_tags = check_session_tags(input.iotcreds_session_tags)?.unwrap_or_default();
    let new_alias = resource::new_role_alias(req.registry(), &name);
    req.authorize_with(&new_alias, |ctx| insert_request_tags(ctx, &tags))?;
    let role_arn = authorize_pass_role(req, &role_arn).await?;
    let alias_arn = new_alias.arn().to_owned();
    let now = req.now_ms();
    let alias = RoleAlias {
        name: name.clone(),
        role_arn,
        credential_duration_seconds: input
            .credential_duration_seconds
            .unwrap_or(DEFAULT_DURATION),
        owner: req.account().to_owned(),
        created_at: now,
        modified_at: now,
        tags,
        session_tags,
    };
    match req.write(req.store().insert_role_alias(&alias)).await {
        Ok(()) => Ok(ok(json!({"roleAlias": name, "roleAliasArn": alias_arn}))),
        Err(StoreError::AlreadyExists { .. }) => Err(already_exists(
            format!("Role alias {name} already exists"),
            &name,
            &alias_arn,
        )),
        Err(e) => Err(store(e)),
    }
}

/// The role alias `name`, authorised for the operation's action on its ARN, then required to
/// exist.
async fn authorized(req: &Req<'_>, name: &str) -> Result<RoleAlias, ApiError> {
    let alias = lookup(resource::role_alias(req.registry(), name).await)?;
    req.authorize(alias.resource())?;
    alias.require(|| not_found(format!("Role alias {name} does not exist")))
}

/// `GET /role-aliases/{roleAlias}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let a = authorized(req, &name).await?;
    let alias_arn = req.role_alias_arn(&a.name);
    Ok(ok(json!({
        "roleAliasDescription": {
            "roleAlias": a.name,
            "roleAliasArn": alias_arn,
            "roleArn": a.role_arn,
            "owner": a.owner,
            "credentialDurationSeconds": a.credential_duration_seconds,
            "creationDate": timestamp(a.created_at),
            "lastModifiedDate": timestamp(a.modified_at),
            "iotcredsSessionTags": a.session_tags,
        }
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
    iotcreds_session_tags: Option<BTreeMap<String, String>>,
}

/// `PUT /role-aliases/{roleAlias}`; `iam:PassRole` again when the role changes.
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let input: UpdateInput = req.json()?;
    if let Some(r) = &input.role_arn {
        check_role_arn(r, req.account())?;
    }
    check_duration(input.credential_duration_seconds)?;
    let session_tags = check_session_tags(input.iotcreds_session_tags)?;
    let current = authorized(req, &name).await?;
    let (name, alias_arn) = (current.name.clone(), req.role_alias_arn(&current.name));
    let role_arn = match &input.role_arn {
        // Passing the role it already names passes nothing new.
        Some(r) if *r == current.role_arn => Some(current.role_arn.clone()),
        Some(r) => Some(authorize_pass_role(req, r).await?),
        None => None,
    };
    let update = RoleAliasUpdate {
        role_arn,
        credential_duration_seconds: input.credential_duration_seconds,
        session_tags,
        modified_at: req.now_ms(),
    };
    req.write(req.store().update_role_alias(&name, &update))
        .await
        .map_err(store)?;
    Ok(ok(json!({"roleAlias": name, "roleAliasArn": alias_arn})))
}

/// `DELETE /role-aliases/{roleAlias}`
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let alias = authorized(req, &name).await?;
    req.write(req.store().delete_role_alias(&alias.name))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

/// `GET /role-aliases?pageSize=&marker=&isAscendingOrder=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let page = marker_page(&req.query)?;
    req.authorize(&Resource::any())?;
    let page = req.store().list_role_aliases(&page).await.map_err(store)?;
    let names: Vec<&str> = page.items.iter().map(|a| a.name.as_str()).collect();
    Ok(ok(compact(
        json!({"roleAliases": names, "nextMarker": marker_to_wire(&page)}),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        let acct = "123456789012";
        assert!(check_role_arn("arn:aws:iam::123456789012:role/ADCTestRole", acct).is_ok());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/service-role/R", acct).is_ok());
        for bad in [
            "arn:aws:iam::000000000000:role/ADCTestRole",
            "arn:aws:iam::123456789012:user/ADCTestRole",
            "arn:aws:iot:ap-northeast-1:123456789012:rolealias/A",
            "short",
        ] {
            assert_eq!(
                check_role_arn(bad, acct).unwrap_err().code,
                "InvalidRequestException",
                "{bad}"
            );
        }
    }

    #[test]
    fn durations() {
        assert!(check_duration(None).is_ok());
        assert!(check_duration(Some(900)).is_ok());
        assert!(check_duration(Some(43200)).is_ok());
        let e = check_duration(Some(899)).unwrap_err();
        assert!(
            e.message.contains("greater than or equal to 900"),
            "{}",
            e.message
        );
        assert!(check_duration(Some(43201)).is_err());
    }
}
