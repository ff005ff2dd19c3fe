//! Role aliases: `CreateRoleAlias`, `DescribeRoleAlias`, `UpdateRoleAlias`,
//! `DeleteRoleAlias`, `ListRoleAliases`.
//!
//! A role alias names an IAM role of this account and a credential duration (900–43200 s,
//! default 3600). Naming a role passes it to the credentials provider, so creating an alias,
//! or pointing one at another role, needs `iam:PassRole` on the role with
//! `iam:PassedToService = credentials.iot.amazonaws.com`, besides the IoT action. Whether the
//! role exists and trusts the provider is checked when a device asks for credentials (AWS
//! does not document a check at creation).

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
use super::{Reply, Req};
use crate::ApiError;

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

/// Authorise passing `role_arn` to the credentials provider.
fn authorize_pass_role(req: &Req<'_>, role_arn: &str) -> Result<(), ApiError> {
    req.caller.authorize_with("iam:PassRole", role_arn, |ctx| {
        ctx.insert("iam:PassedToService", CREDENTIALS_SERVICE)
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
    tags: Option<Vec<TagInput>>,
}

/// `POST /role-aliases/{roleAlias}`
pub(super) async fn create(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let input: CreateInput = req.json()?;
    let role_arn = required("roleArn", input.role_arn)?;
    check_role_arn(&role_arn, req.account())?;
    check_duration(input.credential_duration_seconds)?;
    let tags = check_tags(input.tags)?;
    let alias_arn = req.role_alias_arn(&name);
    req.authorize("iot:CreateRoleAlias", &alias_arn)?;
    authorize_pass_role(req, &role_arn)?;
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

async fn existing(req: &Req<'_>, name: &str) -> Result<RoleAlias, ApiError> {
    req.store()
        .role_alias(name)
        .await
        .map_err(store)?
        .ok_or_else(|| not_found(format!("Role alias {name} does not exist")))
}

/// `GET /role-aliases/{roleAlias}`
pub(super) async fn describe(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let alias_arn = req.role_alias_arn(&name);
    req.authorize("iot:DescribeRoleAlias", &alias_arn)?;
    let a = existing(req, &name).await?;
    Ok(ok(json!({
        "roleAliasDescription": {
            "roleAlias": a.name,
            "roleAliasArn": alias_arn,
            "roleArn": a.role_arn,
            "owner": a.owner,
            "credentialDurationSeconds": a.credential_duration_seconds,
            "creationDate": timestamp(a.created_at),
            "lastModifiedDate": timestamp(a.modified_at),
        }
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    role_arn: Option<String>,
    credential_duration_seconds: Option<i64>,
}

/// `PUT /role-aliases/{roleAlias}`; `iam:PassRole` again when the role changes.
pub(super) async fn update(req: &Req<'_>) -> Reply {
    let name = alias_name(req)?;
    let input: UpdateInput = req.json()?;
    if let Some(r) = &input.role_arn {
        check_role_arn(r, req.account())?;
    }
    check_duration(input.credential_duration_seconds)?;
    let alias_arn = req.role_alias_arn(&name);
    req.authorize("iot:UpdateRoleAlias", &alias_arn)?;
    let current = existing(req, &name).await?;
    if let Some(r) = &input.role_arn
        && *r != current.role_arn
    {
        authorize_pass_role(req, r)?;
    }
    let update = RoleAliasUpdate {
        role_arn: input.role_arn,
        credential_duration_seconds: input.credential_duration_seconds,
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
    req.authorize("iot:DeleteRoleAlias", &req.role_alias_arn(&name))?;
    req.write(req.store().delete_role_alias(&name))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

/// `GET /role-aliases?pageSize=&marker=&isAscendingOrder=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let page = marker_page(&req.query)?;
    req.authorize("iot:ListRoleAliases", "*")?;
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
