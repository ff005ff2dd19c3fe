//! IoT policies and their versions: `CreatePolicy`, `GetPolicy`, `DeletePolicy`,
//! `ListPolicies`, `CreatePolicyVersion`, `GetPolicyVersion`, `ListPolicyVersions`,
//! `SetDefaultPolicyVersion`, `DeletePolicyVersion`.
//!
//! A document must pass AWS IoT's rules (`iotcreds_policy::Policy::validate`) and stay within
//! 2048 characters excluding whitespace; otherwise `MalformedPolicyException`. A policy holds
//! at most 5 versions (`VersionsLimitExceededException`). Tags are validated and not stored.

use crate::tag_keys::insert_request_tags;
use iotcreds_policy::{Policy, SizeLimit, Target, check_size};
use iotcreds_store::{IotPolicy, StoreError};
use iotcreds_types::ValidationError;
use iotcreds_types::names::IOT_POLICY_NAME;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{
    already_exists, delete_conflict, malformed_policy, not_found, store, validation, versions_limit,
};
use super::json::{
    TagInput, check_tags, compact, marker_page, marker_to_wire, ok, ok_empty, required, timestamp,
};
use super::{Reply, Req, lookup};
use crate::resource;
use crate::{ApiError, Resource};

/// A policy name from path label `i`.
pub(super) fn policy_name(req: &Req<'_>, i: usize) -> Result<String, ApiError> {
    let name = req.label(i);
    IOT_POLICY_NAME
        .check("policyName", name)
        .map_err(validation)?;
    Ok(name.to_owned())
}

/// A `policyVersionId` (`[0-9]+`).
fn version_id(value: &str) -> Result<i64, ApiError> {
    let bad = || {
        validation(ValidationError::new(
            "policyVersionId",
            value,
            "Member must satisfy regular expression pattern: [0-9]+",
        ))
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map_err(|_| bad())
}

/// Check a policy document: size, then AWS IoT's rules ([`Policy::validate`]). The client gets
/// AWS IoT's wording (`Policy document is Malformed: …`); our explanation goes to the audit
/// line.
fn check_document(document: &str) -> Result<(), ApiError> {
    if check_size(document, SizeLimit::IotPolicy).is_err() {
        return Err(malformed_policy(format!(
            "The policy document exceeds the maximum size of {} characters (whitespace excluded).",
            SizeLimit::IotPolicy.max_chars()
        )));
    }
    Policy::validate(document, Target::IotPolicy)
        .map_err(|e| malformed_policy(e.message()).with_detail(e.to_string()))?;
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    policy_document: Option<String>,
    tags: Option<Vec<TagInput>>,
}

/// `POST /policies/{policyName}`
pub(super) async fn create(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let input: CreateInput = req.json()?;
    let document = required("policyDocument", input.policy_document)?;
    let tags = check_tags(input.tags)?;
    check_document(&document)?;
    let new_policy = resource::new_iot_policy(req.registry(), &name);
    req.authorize_with(&new_policy, |ctx| insert_request_tags(ctx, &tags))?;
    let arn = new_policy.arn().to_owned();
    let generation = uuid::Uuid::new_v4().to_string();
    match req
        .write(
            req.store()
                .insert_iot_policy(&name, &document, &generation, req.now_ms(), &tags),
        )
        .await
    {
        Ok(p) => Ok(ok(json!({
            "policyName": p.name,
            "policyArn": arn,
            "policyDocument": p.document,
            "policyVersionId": p.default_version_id.to_string(),
        }))),
        Err(StoreError::AlreadyExists { .. }) => Err(already_exists(
            format!("Policy {name} already exists"),
            &name,
            &arn,
        )),
        Err(e) => Err(store(e)),
    }
}

/// The IoT policy `name`, authorised for the operation's action on its ARN, then required to
/// exist.
pub(super) async fn authorized(req: &Req<'_>, name: &str) -> Result<IotPolicy, ApiError> {
    let p = lookup(resource::iot_policy(req.registry(), name).await)?;
    req.authorize(p.resource())?;
    p.require(|| not_found(format!("Policy {name} does not exist")))
}

/// `GET /policies/{policyName}`
pub(super) async fn get(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let p = authorized(req, &name).await?;
    Ok(ok(json!({
        "policyName": p.name,
        "policyArn": req.policy_arn(&p.name),
        "policyDocument": p.document,
        "defaultVersionId": p.default_version_id.to_string(),
        "creationDate": timestamp(p.created_at),
        "lastModifiedDate": timestamp(p.modified_at),
        "generationId": p.generation_id,
    })))
}

/// `DELETE /policies/{policyName}`: refused while attached or holding non-default versions.
pub(super) async fn delete(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let p = authorized(req, &name).await?;
    req.write(req.store().delete_iot_policy(&p.name))
        .await
        .map_err(store)?;
    Ok(ok_empty())
}

/// `GET /policies?marker=&pageSize=&isAscendingOrder=`
pub(super) async fn list(req: &Req<'_>) -> Reply {
    let page = marker_page(&req.query)?;
    req.authorize(&Resource::any())?;
    let page = req.store().list_iot_policies(&page).await.map_err(store)?;
    Ok(ok(compact(json!({
        "policies": policy_list(req, &page.items),
        "nextMarker": marker_to_wire(&page),
    }))))
}

/// `[{policyName, policyArn}]`.
pub(super) fn policy_list(req: &Req<'_>, policies: &[IotPolicy]) -> Vec<Value> {
    policies
        .iter()
        .map(|p| json!({"policyName": p.name, "policyArn": req.policy_arn(&p.name)}))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateVersionInput {
    policy_document: Option<String>,
}

/// `POST /policies/{policyName}/version?setAsDefault=`
pub(super) async fn create_version(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let input: CreateVersionInput = req.json()?;
    let document = required("policyDocument", input.policy_document)?;
    let set_default = req.query.bool("setAsDefault")?.unwrap_or(false);
    check_document(&document)?;
    let policy = authorized(req, &name).await?;
    let (name, arn) = (policy.name.clone(), req.policy_arn(&policy.name));
    let generation = uuid::Uuid::new_v4().to_string();
    let v = match req
        .write(req.store().insert_iot_policy_version(
            &name,
            &document,
            set_default,
            &generation,
            req.now_ms(),
        ))
        .await
    {
        Ok(v) => v,
        Err(StoreError::LimitExceeded { reason, .. }) => {
            return Err(versions_limit(format!(
                "The policy {name} already has the maximum number of versions ({}).",
                reason.limit()
            )));
        }
        Err(e) => return Err(store(e)),
    };
    Ok(ok(json!({
        "policyArn": arn,
        "policyDocument": v.document,
        "policyVersionId": v.version_id.to_string(),
        "isDefaultVersion": v.is_default,
    })))
}

/// `GET /policies/{policyName}/version/{policyVersionId}`
pub(super) async fn get_version(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let id = version_id(req.label(1))?;
    let policy = authorized(req, &name).await?;
    let (name, arn) = (policy.name.clone(), req.policy_arn(&policy.name));
    let v = req
        .store()
        .iot_policy_version(&name, id)
        .await
        .map_err(store)?
        .ok_or_else(|| not_found(format!("Version {id} of policy {name} does not exist")))?;
    Ok(ok(json!({
        "policyArn": arn,
        "policyName": name,
        "policyDocument": v.document,
        "policyVersionId": v.version_id.to_string(),
        "isDefaultVersion": v.is_default,
        "creationDate": timestamp(v.created_at),
        "lastModifiedDate": timestamp(v.created_at.max(policy.modified_at)),
        "generationId": policy.generation_id,
    })))
}

/// `GET /policies/{policyName}/version`
pub(super) async fn list_versions(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let policy = authorized(req, &name).await?;
    let versions = req
        .store()
        .list_iot_policy_versions(&policy.name)
        .await
        .map_err(store)?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "versionId": v.version_id.to_string(),
                "isDefaultVersion": v.is_default,
                "createDate": timestamp(v.created_at),
            })
        })
        .collect();
    Ok(ok(json!({ "policyVersions": versions })))
}

/// `PATCH /policies/{policyName}/version/{policyVersionId}`
pub(super) async fn set_default_version(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let id = version_id(req.label(1))?;
    let policy = authorized(req, &name).await?;
    let generation = uuid::Uuid::new_v4().to_string();
    req.write(req.store().set_default_iot_policy_version(
        &policy.name,
        id,
        &generation,
        req.now_ms(),
    ))
    .await
    .map_err(store)?;
    Ok(ok_empty())
}

/// `DELETE /policies/{policyName}/version/{policyVersionId}`: not the default version.
pub(super) async fn delete_version(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let id = version_id(req.label(1))?;
    let policy = authorized(req, &name).await?;
    match req
        .write(req.store().delete_iot_policy_version(&policy.name, id))
        .await
    {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::InvalidState { .. }) => Err(delete_conflict(format!(
            "Version {id} is the default version of policy {name}; it cannot be deleted."
        ))),
        Err(e) => Err(store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids() {
        assert_eq!(version_id("1").unwrap(), 1);
        assert_eq!(version_id("42").unwrap(), 42);
        assert!(version_id("").is_err());
        assert!(version_id("v1").is_err());
        assert!(version_id("-1").is_err());
        assert!(version_id(&"9".repeat(40)).is_err());
    }

    #[test]
    fn documents() {
        let good = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:AssumeRoleWithCertificate","Resource":"arn:aws:iot:ap-northeast-1:123456789012:rolealias/ADCTestRoleAlias"}}"#;
        assert!(check_document(good).is_ok());
        let e = check_document("{not json").unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code),
            (400, "MalformedPolicyException")
        );
        assert_eq!(
            e.message,
            "Policy document is Malformed: Invalid policy syntax."
        );
        assert!(
            e.detail
                .as_deref()
                .is_some_and(|d| d.contains("not valid JSON"))
        );
        assert!(check_document(r#"{"Version":"2012-10-17","Statement":[]}"#).is_err());
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"iot:Connect","Resource":"{}"}}}}"#,
            "a".repeat(2100)
        );
        let e = check_document(&big).unwrap_err();
        assert!(e.message.contains("2048"), "{}", e.message);
    }
}
