//! Customer managed policies and their versions: `CreatePolicy`, `GetPolicy`, `DeletePolicy`,
//! `ListPolicies`, `CreatePolicyVersion`, `GetPolicyVersion`, `ListPolicyVersions`,
//! `SetDefaultPolicyVersion`, `DeletePolicyVersion`. The default version of a new policy is
//! `v1`; a policy keeps at most five versions.

use std::collections::BTreeSet;

use iotcreds_policy::{SizeLimit, Target};
use iotcreds_store::{
    Entity, ManagedPolicy, ManagedPolicyFilter, ManagedPolicyVersion, PageRequest, StoreError,
};
use iotcreds_types::names::IAM_POLICY_NAME;
use iotcreds_types::{ValidationError, ids};

use super::{
    Cx, Output, check_document, check_document_length, check_policy_path, insert_request_tags,
    list_tags, lookup, no_such_entity, policy_arn_param, store_error, tag_keys_to_remove,
    tags_to_add, to_tags,
};
use crate::query::{Paging, Params, Xml};
use crate::resource::{self, Lookup};
use crate::{ApiError, Resource};

/// Write a `Policy` structure; `full` adds `Description` and `Tags` (`GetPolicy`,
/// `CreatePolicy`), which `ListPolicies` does not return.
fn write_policy(x: &mut Xml, mp: &ManagedPolicy, full: bool) {
    x.text("PolicyName", &mp.name)
        .text("PolicyId", &mp.id)
        .text("Arn", &mp.arn)
        .text("Path", &mp.path)
        .text("DefaultVersionId", &mp.default_version_id)
        .int("AttachmentCount", mp.attachment_count)
        .bool("IsAttachable", true);
    if full {
        x.opt(
            "Description",
            mp.description.as_deref().filter(|d| !d.is_empty()),
        );
    }
    x.time("CreateDate", mp.created_at)
        .time("UpdateDate", mp.updated_at);
    if full && !mp.tags.is_empty() {
        x.tags(
            "Tags",
            mp.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
        );
    }
}

/// Write a `PolicyVersion`; the document only where IAM returns it (`GetPolicyVersion`).
fn write_version(x: &mut Xml, v: &ManagedPolicyVersion, with_document: bool) {
    if with_document {
        x.document("Document", &v.document);
    }
    x.text("VersionId", &v.version_id)
        .bool("IsDefaultVersion", v.is_default)
        .time("CreateDate", v.created_at);
}

/// `VersionId` (`v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`).
fn version_id(p: &Params) -> Result<&str, ApiError> {
    let v = p.required("VersionId", "versionId")?;
    let ok = v.strip_prefix('v').is_some_and(|rest| {
        let (num, suffix) = rest.split_once('.').unwrap_or((rest, ""));
        !num.is_empty()
            && !num.starts_with('0')
            && num.bytes().all(|b| b.is_ascii_digit())
            && suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ok {
        Ok(v)
    } else {
        Err(ValidationError::new(
            "versionId",
            v,
            "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
        )
        .into())
    }
}

fn no_such_policy(policy_arn: &str) -> ApiError {
    no_such_entity(format!("Policy {policy_arn} was not found."))
}

/// What the store answers for an operation on a policy that does not exist.
fn absent_policy(policy_arn: &str) -> ApiError {
    store_error(StoreError::not_found(Entity::ManagedPolicy, policy_arn))
}

/// The `PolicyArn` parameter's policy (matched exactly), authorised for the operation's action
/// on its ARN.
async fn authorized_policy(cx: &Cx<'_>, p: &Params) -> Result<Lookup<ManagedPolicy>, ApiError> {
    authorized_policy_with(cx, p, |_| {}).await
}

/// [`authorized_policy`] with `extra` condition keys (the tags a request sets or removes).
async fn authorized_policy_with(
    cx: &Cx<'_>,
    p: &Params,
    extra: impl FnOnce(&mut iotcreds_policy::Context),
) -> Result<Lookup<ManagedPolicy>, ApiError> {
    let policy_arn = policy_arn_param(p)?;
    let policy = lookup(resource::managed_policy(cx.registry(), policy_arn).await)?;
    cx.authorize_with(policy.resource(), extra)?;
    Ok(policy)
}

pub(super) async fn create_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let name = p.required("PolicyName", "policyName")?;
    IAM_POLICY_NAME.check("policyName", name)?;
    let path = p.get("Path").unwrap_or("/");
    check_policy_path("path", path)?;
    let document = p.required("PolicyDocument", "policyDocument")?;
    check_document_length("policyDocument", document)?;
    let description = p.get("Description");
    if let Some(d) = description
        && d.chars().count() > 1000
    {
        return Err(ValidationError::new(
            "description",
            d,
            "Member must have length less than or equal to 1000",
        )
        .into());
    }
    let tags = to_tags(p.tags("Tags", 50)?);
    let new_policy = resource::new_managed_policy(cx.account(), path, name);
    cx.authorize_with(&new_policy, |ctx| insert_request_tags(ctx, &tags))?;
    check_document(document, Target::ManagedPolicy, SizeLimit::Managed)?;
    let now = cx.now_ms();
    let policy = ManagedPolicy {
        arn: new_policy.arn().to_owned(),
        name: name.to_owned(),
        id: super::new_unique_id(ids::POLICY_ID_PREFIX)?,
        path: path.to_owned(),
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
        default_version_id: "v1".to_owned(),
        attachment_count: 0,
        created_at: now,
        updated_at: now,
        tags,
    };
    cx.write(cx.store().insert_managed_policy(&policy, document))
        .await?;
    let mut x = Xml::new();
    x.node("Policy", |x| write_policy(x, &policy, true));
    Ok(Some(x.finish()))
}

pub(super) async fn get_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let policy = authorized_policy(cx, p).await?;
    let mp = match policy {
        Lookup::Found(mp, _) => mp,
        Lookup::Absent(r) => return Err(no_such_policy(r.arn())),
    };
    let mut x = Xml::new();
    x.node("Policy", |x| write_policy(x, &mp, true));
    Ok(Some(x.finish()))
}

pub(super) async fn delete_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| absent_policy(policy_arn))?;
    cx.write(cx.store().delete_managed_policy(&mp.arn)).await?;
    Ok(None)
}

/// The ARNs of managed policies that some role or user uses as its permissions boundary.
async fn boundary_arns(cx: &Cx<'_>) -> Result<BTreeSet<String>, ApiError> {
    let mut out = BTreeSet::new();
    let mut page = PageRequest::first(1000);
    loop {
        let got = cx
            .store()
            .list_roles(None, &page)
            .await
            .map_err(store_error)?;
        out.extend(got.items.into_iter().filter_map(|r| r.permissions_boundary));
        match got.next_marker {
            Some(m) => page.marker = Some(m),
            None => break,
        }
    }
    let mut page = PageRequest::first(1000);
    loop {
        let got = cx
            .store()
            .list_users(None, &page)
            .await
            .map_err(store_error)?;
        out.extend(got.items.into_iter().filter_map(|u| u.permissions_boundary));
        match got.next_marker {
            Some(m) => page.marker = Some(m),
            None => return Ok(out),
        }
    }
}

pub(super) async fn list_policies(cx: &Cx<'_>, p: &Params) -> Output {
    let scope = p.get("Scope").unwrap_or("All");
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(ValidationError::new(
            "scope",
            scope,
            "Member must satisfy enum value set: [All, AWS, Local]",
        )
        .into());
    }
    let usage = p.get("PolicyUsageFilter");
    if let Some(u) = usage
        && !matches!(u, "PermissionsPolicy" | "PermissionsBoundary")
    {
        return Err(ValidationError::new(
            "policyUsageFilter",
            u,
            "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
        )
        .into());
    }
    let only_attached = p.bool("OnlyAttached", "onlyAttached")?.unwrap_or(false);
    let prefix = p.get("PathPrefix");
    if let Some(prefix) = prefix {
        check_policy_path("pathPrefix", prefix)?;
    }
    let paging = Paging::from_params(p)?;
    cx.authorize(&Resource::any())?;
    let mut x = Xml::new();
    if scope == "AWS" {
        // No AWS managed policies exist here.
        x.list("Policies", std::iter::empty::<()>(), |_, ()| {})
            .truncation(None);
        return Ok(Some(x.finish()));
    }
    let filter = ManagedPolicyFilter {
        path_prefix: prefix.map(str::to_owned),
        only_attached,
    };
    let page = cx
        .store()
        .list_managed_policies(&filter, &paging.page_request())
        .await
        .map_err(store_error)?;
    let boundaries = match usage {
        Some("PermissionsBoundary") => Some(boundary_arns(cx).await?),
        _ => None,
    };
    x.list(
        "Policies",
        page.items
            .iter()
            .filter(|mp| boundaries.as_ref().is_none_or(|b| b.contains(&mp.arn))),
        |x, mp| write_policy(x, mp, false),
    )
    .truncation(page.next_marker.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn create_policy_version(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let document = p.required("PolicyDocument", "policyDocument")?;
    check_document_length("policyDocument", document)?;
    let set_default = p.bool("SetAsDefault", "setAsDefault")?.unwrap_or(false);
    let policy = authorized_policy(cx, p).await?;
    check_document(document, Target::ManagedPolicy, SizeLimit::Managed)?;
    let mp = policy.require(|| absent_policy(policy_arn))?;
    let version = cx
        .write(cx.store().insert_managed_policy_version(
            &mp.arn,
            document,
            set_default,
            cx.now_ms(),
        ))
        .await?;
    let mut x = Xml::new();
    x.node("PolicyVersion", |x| write_version(x, &version, false));
    Ok(Some(x.finish()))
}

pub(super) async fn get_policy_version(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let version = version_id(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| no_such_policy(policy_arn))?;
    let found = cx
        .store()
        .managed_policy_version(&mp.arn, version)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            no_such_entity(format!(
                "Policy {} version {version} does not exist or is not attachable.",
                mp.arn
            ))
        })?;
    let mut x = Xml::new();
    x.node("PolicyVersion", |x| write_version(x, &found, true));
    Ok(Some(x.finish()))
}

pub(super) async fn list_policy_versions(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let paging = Paging::from_params(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| absent_policy(policy_arn))?;
    let versions = cx
        .store()
        .list_managed_policy_versions(&mp.arn)
        .await
        .map_err(store_error)?;
    let (page, next) = paging.slice(&versions)?;
    let mut x = Xml::new();
    x.list("Versions", page, |x, v| write_version(x, v, false))
        .truncation(next.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn set_default_policy_version(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let version = version_id(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| absent_policy(policy_arn))?;
    cx.write(
        cx.store()
            .set_default_managed_policy_version(&mp.arn, version, cx.now_ms()),
    )
    .await?;
    Ok(None)
}

pub(super) async fn delete_policy_version(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let version = version_id(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| absent_policy(policy_arn))?;
    cx.write(cx.store().delete_managed_policy_version(&mp.arn, version))
        .await?;
    Ok(None)
}

pub(super) async fn tag_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let tags = tags_to_add(p)?;
    let mp = authorized_policy_with(cx, p, |ctx| insert_request_tags(ctx, &tags))
        .await?
        .require(|| absent_policy(policy_arn))?;
    cx.write(cx.store().tag_managed_policy(&mp.arn, &tags))
        .await?;
    Ok(None)
}

pub(super) async fn untag_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let keys = tag_keys_to_remove(p)?;
    let mp = authorized_policy_with(cx, p, |ctx| ctx.insert_multi("aws:TagKeys", keys.clone()))
        .await?
        .require(|| absent_policy(policy_arn))?;
    cx.write(cx.store().untag_managed_policy(&mp.arn, &keys))
        .await?;
    Ok(None)
}

pub(super) async fn list_policy_tags(cx: &Cx<'_>, p: &Params) -> Output {
    let policy_arn = policy_arn_param(p)?;
    let mp = authorized_policy(cx, p)
        .await?
        .require(|| absent_policy(policy_arn))?;
    list_tags(p, &mp.tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids() {
        for ok in ["v1", "v12", "v3.a-b"] {
            let p = Params::from_form(&format!("VersionId={ok}")).unwrap();
            assert!(version_id(&p).is_ok(), "{ok}");
        }
        for bad in ["1", "v0", "v01", "v", "vx", "v1.a_b"] {
            let p = Params::from_form(&format!("VersionId={bad}")).unwrap();
            assert_eq!(version_id(&p).unwrap_err().code, "ValidationError", "{bad}");
        }
    }
}
