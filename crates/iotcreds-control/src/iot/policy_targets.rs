//! Where IoT policies are attached: `AttachPolicy`, `DetachPolicy`, `ListAttachedPolicies`,
//! `ListTargetsForPolicy`, and the deprecated principal forms `AttachPrincipalPolicy`,
//! `DetachPrincipalPolicy`, `ListPrincipalPolicies`, `ListPolicyPrincipals`.
//!
//! A target is a certificate ARN of this account and region (the thing-group form parses, but
//! iotcreds has no thing groups, so such a group never exists). A target holds at most 10
//! policies (`LimitExceededException`, 410).

use iotcreds_store::StoreError;
use iotcreds_types::Arn;
use iotcreds_types::names::{IOT_POLICY_NAME, THING_NAME};
use serde::Deserialize;
use serde_json::json;

use super::certificates::certificate_id;
use super::errors::{invalid, limit_exceeded, not_found, store, validation};
use super::json::{compact, marker_page, marker_to_wire, ok, ok_empty, required};
use super::policies::{self, policy_list, policy_name};
use super::{Reply, Req, lookup};
use crate::ApiError;
use crate::resource::{self, Lookup};

/// A policy target or thing principal, parsed (not yet looked up: see [`resolve`], which
/// gives the ARN to authorise on and to act on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `arn:aws:iot:REGION:ACCOUNT:cert/ID`.
    Certificate {
        /// The certificate id (lower case).
        id: String,
    },
    /// `arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME`.
    ThingGroup {
        /// The group name.
        name: String,
    },
}

/// Parse `value` (of input `field`) as a target in `region` and `account`.
fn parse_target_in(
    field: &str,
    value: &str,
    region: &str,
    account: &str,
) -> Result<Target, ApiError> {
    let wrong = || {
        invalid(format!(
            "{field} must be the ARN of a certificate (arn:aws:iot:{region}:{account}:cert/ID) or a thing group of this account and region; got '{}'",
            value.chars().take(256).collect::<String>()
        ))
    };
    let arn = Arn::parse(value).map_err(|_| wrong())?;
    if arn.partition != "aws"
        || arn.service != "iot"
        || arn.region != region
        || arn.account != account
    {
        return Err(wrong());
    }
    match arn.resource_type() {
        ("cert", id) => {
            let id = certificate_id(field, id)?;
            Ok(Target::Certificate { id })
        }
        ("thinggroup", name) => {
            THING_NAME.check(field, name).map_err(validation)?;
            Ok(Target::ThingGroup {
                name: name.to_owned(),
            })
        }
        _ => Err(wrong()),
    }
}

/// Parse a target of this server's account and region.
pub(super) fn parse_target(req: &Req<'_>, field: &str, value: &str) -> Result<Target, ApiError> {
    parse_target_in(field, value, req.region(), req.account())
}

/// Parse a principal: a certificate ARN only.
pub(super) fn parse_principal(
    req: &Req<'_>,
    field: &str,
    value: Option<&str>,
) -> Result<Target, ApiError> {
    let value = required(field, value)?;
    match parse_target(req, field, value)? {
        t @ Target::Certificate { .. } => Ok(t),
        Target::ThingGroup { .. } => Err(invalid(format!(
            "{field} must be a certificate ARN; a thing group is not a principal"
        ))),
    }
}

/// Look a parsed target up: the registered certificate it names (found by its id, whatever
/// the case of the id's hex digits), with its canonical ARN to authorise on; thing groups never
/// exist here.
pub(super) async fn resolve(req: &Req<'_>, target: &Target) -> Result<Lookup<String>, ApiError> {
    Ok(match target {
        Target::Certificate { id } => {
            match lookup(resource::certificate(req.registry(), id).await)? {
                Lookup::Found(_, r) => {
                    let arn = r.arn().to_owned();
                    Lookup::Found(arn, r)
                }
                Lookup::Absent(r) => Lookup::Absent(r),
            }
        }
        Target::ThingGroup { name } => match resource::thing_group(req.registry(), name) {
            Lookup::Absent(r) => Lookup::Absent(r),
        },
    })
}

/// The answer for a target that does not exist.
pub(super) fn no_such_target(target: &Target) -> ApiError {
    match target {
        Target::Certificate { id } => not_found(format!("Certificate {id} does not exist")),
        Target::ThingGroup { name } => not_found(format!("Thing group {name} does not exist")),
    }
}

/// Resolve `target`, authorise the operation's action on it, and require that it exists: the
/// canonical ARN of the certificate it names.
pub(super) async fn authorized(req: &Req<'_>, target: &Target) -> Result<String, ApiError> {
    let found = resolve(req, target).await?;
    req.authorize(found.resource())?;
    found.require(|| no_such_target(target))
}

#[derive(Debug, Default, Deserialize)]
struct TargetInput {
    target: Option<String>,
}

fn body_target(req: &Req<'_>) -> Result<Target, ApiError> {
    let input: TargetInput = req.json()?;
    let target = required("target", input.target)?;
    parse_target(req, "target", &target)
}

async fn attach(req: &Req<'_>, policy: &str, target: &str) -> Reply {
    match req
        .write(req.store().attach_iot_policy(policy, target))
        .await
    {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::NotFound { .. }) => {
            Err(not_found(format!("Policy {policy} does not exist")))
        }
        Err(StoreError::LimitExceeded { .. }) => Err(limit_exceeded(format!(
            "{target} already has the maximum number of policies attached (10)"
        ))),
        Err(e) => Err(store(e)),
    }
}

async fn detach(req: &Req<'_>, policy: &str, target: &str) -> Reply {
    match req
        .write(req.store().detach_iot_policy(policy, target))
        .await
    {
        Ok(()) => Ok(ok_empty()),
        Err(StoreError::NotFound { .. }) => {
            Err(not_found(format!("Policy {policy} does not exist")))
        }
        Err(e) => Err(store(e)),
    }
}

/// `PUT /target-policies/{policyName}` with `{"target": ARN}`.
pub(super) async fn attach_policy(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let target = body_target(req)?;
    let target = authorized(req, &target).await?;
    attach(req, &name, &target).await
}

/// `POST /target-policies/{policyName}` with `{"target": ARN}`.
pub(super) async fn detach_policy(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let target = body_target(req)?;
    let target = authorized(req, &target).await?;
    detach(req, &name, &target).await
}

async fn target_policies(req: &Req<'_>, target: &str) -> Reply {
    let page = marker_page(&req.query)?;
    let page = req
        .store()
        .list_target_iot_policies(target, &page)
        .await
        .map_err(store)?;
    Ok(ok(compact(json!({
        "policies": policy_list(req, &page.items),
        "nextMarker": marker_to_wire(&page),
    }))))
}

/// `POST /attached-policies/{target}?recursive=&marker=&pageSize=` (`recursive` concerns
/// thing-group hierarchies, which do not exist here).
pub(super) async fn list_attached_policies(req: &Req<'_>) -> Reply {
    let target = parse_target(req, "target", req.label(0))?;
    req.query.bool("recursive")?;
    marker_page(&req.query)?;
    let target = authorized(req, &target).await?;
    target_policies(req, &target).await
}

/// The targets of a policy, as `(json key, marker page)` of `ListTargetsForPolicy` and
/// `ListPolicyPrincipals`.
async fn policy_targets(req: &Req<'_>, name: &str, key: &str) -> Reply {
    let page = marker_page(&req.query)?;
    let page = req
        .store()
        .list_iot_policy_targets(name, &page)
        .await
        .map_err(store)?;
    let mut out = serde_json::Map::new();
    out.insert(key.to_owned(), json!(page.items));
    out.insert("nextMarker".to_owned(), marker_to_wire(&page));
    Ok(ok(compact(serde_json::Value::Object(out))))
}

/// `POST /policy-targets/{policyName}?marker=&pageSize=`
pub(super) async fn list_targets_for_policy(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    marker_page(&req.query)?;
    let policy = policies::authorized(req, &name).await?;
    policy_targets(req, &policy.name, "targets").await
}

/// `PUT /principal-policies/{policyName}` with header `x-amzn-iot-principal` (deprecated).
pub(super) async fn attach_principal_policy(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let principal = parse_principal(req, "principal", req.header("x-amzn-iot-principal"))?;
    let principal = authorized(req, &principal).await?;
    attach(req, &name, &principal).await
}

/// `DELETE /principal-policies/{policyName}` with header `x-amzn-iot-principal` (deprecated).
pub(super) async fn detach_principal_policy(req: &Req<'_>) -> Reply {
    let name = policy_name(req, 0)?;
    let principal = parse_principal(req, "principal", req.header("x-amzn-iot-principal"))?;
    let principal = authorized(req, &principal).await?;
    detach(req, &name, &principal).await
}

/// `GET /principal-policies` with header `x-amzn-iot-principal` (deprecated).
pub(super) async fn list_principal_policies(req: &Req<'_>) -> Reply {
    let principal = parse_principal(req, "principal", req.header("x-amzn-iot-principal"))?;
    marker_page(&req.query)?;
    let principal = authorized(req, &principal).await?;
    target_policies(req, &principal).await
}

/// `GET /policy-principals` with header `x-amzn-iot-policy` (deprecated).
pub(super) async fn list_policy_principals(req: &Req<'_>) -> Reply {
    let name = required("policyName", req.header("x-amzn-iot-policy"))?.to_owned();
    IOT_POLICY_NAME
        .check("policyName", &name)
        .map_err(validation)?;
    marker_page(&req.query)?;
    let policy = policies::authorized(req, &name).await?;
    policy_targets(req, &policy.name, "principals").await
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "ap-northeast-1";
    const ACCOUNT: &str = "123456789012";

    fn parse(v: &str) -> Result<Target, ApiError> {
        parse_target_in("target", v, REGION, ACCOUNT)
    }

    #[test]
    fn targets() {
        let id = "AB".repeat(32);
        let t = parse(&format!("arn:aws:iot:{REGION}:{ACCOUNT}:cert/{id}")).unwrap();
        assert_eq!(
            t,
            Target::Certificate {
                id: "ab".repeat(32),
            }
        );
        let g = parse(&format!("arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/Floor1")).unwrap();
        assert_eq!(
            g,
            Target::ThingGroup {
                name: "Floor1".into()
            }
        );
        for bad in [
            "us-east-1:1234-abcd".to_string(),
            format!("arn:aws:iot:us-east-1:{ACCOUNT}:cert/{id}"),
            format!("arn:aws:iot:{REGION}:000000000000:cert/{id}"),
            format!("arn:aws:iam::{ACCOUNT}:role/R"),
            format!("arn:aws:iot:{REGION}:{ACCOUNT}:cert/short"),
            format!("arn:aws:iot:{REGION}:{ACCOUNT}:thing/T"),
        ] {
            let e = parse(&bad).unwrap_err();
            assert_eq!(e.code, "InvalidRequestException", "{bad}");
        }
    }
}
