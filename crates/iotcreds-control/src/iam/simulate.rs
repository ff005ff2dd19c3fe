//! `SimulateCustomPolicy` and `SimulatePrincipalPolicy`: IAM's policy simulator, answered by
//! the policy engine's simulator (`iotcreds_policy::simulate`, the code behind
//! `iotcreds policy simulate`). Each document is parsed once; every action × resource pair
//! gives one `EvaluationResult` with the deciding statements (`SourcePolicyId`,
//! `SourcePolicyType`) and the missing context keys.
//!
//! Not modelled: statement positions (`StartPosition`/`EndPosition`), organisation policies
//! (`OrderedOrganizationPolicyInputList`, refused), `PolicyExclusionList` (refused),
//! `ResourceSpecificResults` and `EvalDecisionDetails`.

use iotcreds_policy::simulate::{SimulationResult, simulate_compiled};
use iotcreds_policy::{
    Context, EvalInput, Policy, PolicyKind, PolicyRef, Request, RequestPrincipal,
};
use iotcreds_store::PolicyHolder;
use iotcreds_types::{Arn, ValidationError, arn};

use super::{
    Cx, Output, check_arn_length, check_document_length, invalid_input, lookup, no_such_role,
    no_such_user, store_error, unsupported,
};
use crate::ApiError;
use crate::query::{Paging, Params, Xml, check_length, missing};
use crate::resource;

/// Most action × resource pairs one call may simulate.
const MAX_EVALUATIONS: usize = 1000;

/// What a simulated policy is, as `MatchedStatements` reports it.
struct Source {
    /// `SourcePolicyId`.
    id: String,
    /// `SourcePolicyType`.
    kind: &'static str,
}

/// The parsed documents of one simulation, each with its source.
#[derive(Default)]
struct Documents {
    identity: Vec<(Policy, Source)>,
    resource: Vec<(Policy, Source)>,
    boundary: Vec<(Policy, Source)>,
}

impl Documents {
    fn add(
        list: &mut Vec<(Policy, Source)>,
        text: &str,
        kind: PolicyKind,
        source: Source,
    ) -> Result<(), ApiError> {
        match Policy::parse(text, kind) {
            Ok(policy) => {
                list.push((policy, source));
                Ok(())
            }
            Err(e) => Err(invalid_input(format!(
                "The policy {} is not valid: {e}",
                source.id
            ))),
        }
    }

    fn identity(&mut self, text: &str, source: Source) -> Result<(), ApiError> {
        Self::add(&mut self.identity, text, PolicyKind::Identity, source)
    }

    fn boundary(&mut self, text: &str, source: Source) -> Result<(), ApiError> {
        Self::add(&mut self.boundary, text, PolicyKind::Identity, source)
    }

    fn resource(&mut self, text: &str, source: Source) -> Result<(), ApiError> {
        Self::add(&mut self.resource, text, PolicyKind::Resource, source)
    }

    /// The documents of the request: `PolicyInputList.N` (identity) and `ResourcePolicy`.
    fn inputs(&mut self, inputs: &[String], req: &SimInput) -> Result<(), ApiError> {
        for (i, text) in inputs.iter().enumerate() {
            let id = format!("PolicyInputList.{}", i + 1);
            self.identity(text, Source { id, kind: "none" })?;
        }
        if let Some(text) = &req.resource_policy {
            let id = "ResourcePolicy".to_owned();
            self.resource(
                text,
                Source {
                    id,
                    kind: "resource",
                },
            )?;
        }
        Ok(())
    }

    /// `PermissionsBoundaryPolicyInputList.N`.
    fn boundary_inputs(&mut self, inputs: &[String]) -> Result<(), ApiError> {
        for (i, text) in inputs.iter().enumerate() {
            let id = format!("PermissionsBoundaryPolicyInputList.{}", i + 1);
            self.boundary(text, Source { id, kind: "none" })?;
        }
        Ok(())
    }
}

/// Validated input common to both operations.
struct SimInput {
    actions: Vec<String>,
    resources: Vec<String>,
    resource_policy: Option<String>,
    caller_arn: Option<String>,
    context: Context,
    paging: Paging,
}

/// `ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}`.
fn context_entries(p: &Params) -> Result<Context, ApiError> {
    const TYPES: &str = "[string, stringList, numeric, numericList, boolean, booleanList, ip, ipList, binary, binaryList, date, dateList]";
    let mut ctx = Context::new();
    for (i, entry) in p.members("ContextEntries")?.iter().enumerate() {
        let n = i + 1;
        let name = entry.required(
            "ContextKeyName",
            &format!("contextEntries.{n}.member.contextKeyName"),
        )?;
        check_length(
            &format!("contextEntries.{n}.member.contextKeyName"),
            name,
            5,
            256,
        )?;
        let kind = entry.get("ContextKeyType").unwrap_or("string");
        let (base, list) = match kind.strip_suffix("List") {
            Some(base) => (base, true),
            None => (kind, false),
        };
        if !matches!(
            base,
            "string" | "numeric" | "boolean" | "ip" | "binary" | "date"
        ) {
            return Err(ValidationError::new(
                &format!("contextEntries.{n}.member.contextKeyType"),
                kind,
                format!("Member must satisfy enum value set: {TYPES}"),
            )
            .into());
        }
        let values = entry.strings("ContextKeyValues")?;
        for v in &values {
            let ok = match base {
                "numeric" => v.parse::<f64>().is_ok(),
                "boolean" => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
                _ => true,
            };
            if !ok {
                return Err(invalid_input(format!(
                    "The value {v} of context key {name} is not a valid {base}."
                )));
            }
        }
        if list {
            ctx.insert_multi(name, values);
        } else {
            let [value] = <[String; 1]>::try_from(values).map_err(|_| {
                invalid_input(format!(
                    "Context key {name} of type {kind} takes exactly one value."
                ))
            })?;
            ctx.insert(name, value);
        }
    }
    Ok(ctx)
}

fn common(p: &Params) -> Result<SimInput, ApiError> {
    if !p.has_list("ActionNames") {
        return Err(missing("actionNames"));
    }
    let actions = p.strings("ActionNames")?;
    for (i, a) in actions.iter().enumerate() {
        check_length(&format!("actionNames.{}.member", i + 1), a, 3, 128)?;
    }
    let mut resources = p.strings("ResourceArns")?;
    for (i, r) in resources.iter().enumerate() {
        check_length(&format!("resourceArns.{}.member", i + 1), r, 1, 2048)?;
    }
    if resources.is_empty() {
        resources.push("*".to_owned());
    }
    if actions.len().saturating_mul(resources.len()) > MAX_EVALUATIONS {
        return Err(invalid_input(format!(
            "At most {MAX_EVALUATIONS} action and resource combinations can be simulated in one call."
        )));
    }
    let resource_policy = p.get("ResourcePolicy").map(str::to_owned);
    if let Some(doc) = &resource_policy {
        check_document_length("resourcePolicy", doc)?;
    }
    let caller_arn = p.get("CallerArn").map(str::to_owned);
    if let Some(c) = &caller_arn {
        check_length("callerArn", c, 1, 2048)?;
    }
    if let Some(owner) = p.get("ResourceOwner") {
        check_length("resourceOwner", owner, 1, 2048)?;
    }
    if p.has_list("OrderedOrganizationPolicyInputList") {
        return Err(unsupported("OrderedOrganizationPolicyInputList"));
    }
    Ok(SimInput {
        actions,
        resources,
        resource_policy,
        caller_arn,
        context: context_entries(p)?,
        paging: Paging::from_params(p)?,
    })
}

/// The documents of a `…InputList` parameter, length-checked.
fn input_list(p: &Params, name: &str, field: &str) -> Result<Vec<String>, ApiError> {
    let docs = p.strings(name)?;
    for (i, d) in docs.iter().enumerate() {
        check_document_length(&format!("{field}.{}.member", i + 1), d)?;
    }
    Ok(docs)
}

/// Evaluate every action × resource pair and write the answer.
fn run(docs: &Documents, req: &SimInput, caller_arn: Option<&str>, account: &str) -> Output {
    let principal = caller_arn.map(|arn| RequestPrincipal::Aws {
        arn: arn.to_owned(),
        account: Arn::parse(arn)
            .ok()
            .map(|a| a.account)
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| account.to_owned()),
    });
    // Positional ids, mapped back to sources when writing the answer.
    let groups = [&docs.identity, &docs.resource, &docs.boundary];
    let ids: Vec<Vec<String>> = groups
        .iter()
        .enumerate()
        .map(|(g, list)| (0..list.len()).map(|i| format!("{g}:{i}")).collect())
        .collect();
    let refs: Vec<Vec<PolicyRef<'_>>> = groups
        .iter()
        .zip(&ids)
        .map(|(list, ids)| {
            list.iter()
                .zip(ids)
                .map(|((policy, _), id)| PolicyRef { id, policy })
                .collect()
        })
        .collect();
    let source_of = |id: &str| -> Option<&Source> {
        let (g, i) = id.split_once(':')?;
        let list = groups.get(g.parse::<usize>().ok()?)?;
        list.get(i.parse::<usize>().ok()?).map(|(_, s)| s)
    };
    let mut results: Vec<SimulationResult> = Vec::new();
    for action in &req.actions {
        for resource in &req.resources {
            results.push(simulate_compiled(&EvalInput {
                identity: &refs[0],
                resource: &refs[1],
                session: None,
                boundary: (!refs[2].is_empty()).then_some(refs[2].as_slice()),
                request: Request {
                    action,
                    resource,
                    principal: principal.as_ref(),
                    context: &req.context,
                },
            }));
        }
    }
    let (page, next) = req.paging.slice(&results)?;
    let mut x = Xml::new();
    x.list("EvaluationResults", page, |x, r| {
        x.text("EvalActionName", &r.action)
            .text("EvalResourceName", &r.resource)
            .text("EvalDecision", r.decision.as_str())
            .list("MatchedStatements", &r.matched, |x, m| {
                let (id, kind) = match source_of(&m.policy_id) {
                    Some(s) => (s.id.as_str(), s.kind),
                    None => (m.policy_id.as_str(), "none"),
                };
                x.text("SourcePolicyId", id).text("SourcePolicyType", kind);
            })
            .strings("MissingContextValues", &r.missing_context_values);
    })
    .truncation(next.as_deref());
    Ok(Some(x.finish()))
}

pub(super) async fn simulate_custom_policy(cx: &Cx<'_>, p: &Params) -> Output {
    if !p.has_list("PolicyInputList") {
        return Err(missing("policyInputList"));
    }
    let inputs = input_list(p, "PolicyInputList", "policyInputList")?;
    let boundaries = input_list(
        p,
        "PermissionsBoundaryPolicyInputList",
        "permissionsBoundaryPolicyInputList",
    )?;
    let req = common(p)?;
    cx.authorize(&crate::Resource::any())?;
    if req.resource_policy.is_some() && req.caller_arn.is_none() {
        return Err(invalid_input(
            "CallerArn must be specified when ResourcePolicy is specified.",
        ));
    }
    let mut docs = Documents::default();
    docs.inputs(&inputs, &req)?;
    docs.boundary_inputs(&boundaries)?;
    run(&docs, &req, req.caller_arn.as_deref(), cx.account())
}

/// The name part of a managed policy ARN.
fn policy_name_of(policy_arn: &str) -> &str {
    policy_arn.rsplit('/').next().unwrap_or(policy_arn)
}

pub(super) async fn simulate_principal_policy(cx: &Cx<'_>, p: &Params) -> Output {
    let source_arn = p.required("PolicySourceArn", "policySourceArn")?;
    check_arn_length("policySourceArn", source_arn)?;
    let extra = input_list(p, "PolicyInputList", "policyInputList")?;
    let boundary_inputs = input_list(
        p,
        "PermissionsBoundaryPolicyInputList",
        "permissionsBoundaryPolicyInputList",
    )?;
    if p.has_list("PolicyExclusionList") {
        return Err(unsupported("PolicyExclusionList"));
    }
    let req = common(p)?;
    let account = cx.account().to_owned();
    // The principal the ARN designates (its path exactly, its name regardless of case), and
    // the action authorised on that principal's own ARN.
    let registry = cx.registry();
    let (holder_name, holder_kind, boundary_arn, holder_arn) =
        if let Some((_, name)) = arn::split_iam(source_arn, "role", Some(&account)) {
            let role = lookup(resource::iam_role_by_arn(registry, source_arn).await)?;
            cx.authorize(role.resource())?;
            let role = role.require(|| no_such_role(name))?;
            (
                role.role.name.clone(),
                "role",
                role.role.permissions_boundary.clone(),
                role.arn.clone(),
            )
        } else if let Some((_, name)) = arn::split_iam(source_arn, "user", Some(&account)) {
            let user = lookup(resource::iam_user_by_arn(registry, source_arn).await)?;
            cx.authorize(user.resource())?;
            let user = user.require(|| no_such_user(name))?;
            (
                user.user.name.clone(),
                "user",
                user.user.permissions_boundary.clone(),
                user.arn.clone(),
            )
        } else {
            return Err(invalid_input(format!(
                "Invalid ARN {source_arn}: PolicySourceArn must be a role or user of this account."
            )));
        };
    let kind = holder_kind;
    let holder = match holder_kind {
        "role" => PolicyHolder::Role(&holder_name),
        _ => PolicyHolder::User(&holder_name),
    };
    let effective = cx
        .store()
        .effective_policies(holder)
        .await
        .map_err(store_error)?;
    let mut docs = Documents::default();
    for ep in &effective {
        let source = if ep.version == "inline" {
            Source {
                id: ep.id.clone(),
                kind,
            }
        } else {
            Source {
                id: policy_name_of(&ep.id).to_owned(),
                kind: "user-managed",
            }
        };
        docs.identity(&ep.document, source)?;
    }
    docs.inputs(&extra, &req)?;
    if !boundary_inputs.is_empty() {
        // Given boundaries replace the principal's own, as in IAM.
        docs.boundary_inputs(&boundary_inputs)?;
    } else if let Some(b) = boundary_arn {
        let mp = cx.store().managed_policy(&b).await.map_err(store_error)?;
        if let Some(mp) = mp {
            let version = cx
                .store()
                .managed_policy_version(&b, &mp.default_version_id)
                .await
                .map_err(store_error)?;
            if let Some(v) = version {
                let source = Source {
                    id: mp.name.clone(),
                    kind: "user-managed",
                };
                docs.boundary(&v.document, source)?;
            }
        }
    }
    let caller = req.caller_arn.clone().unwrap_or(holder_arn);
    run(&docs, &req, Some(&caller), &account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_entries_follow_their_types() {
        let p = Params::from_form(
            "ContextEntries.member.1.ContextKeyName=aws:username\
             &ContextEntries.member.1.ContextKeyValues.member.1=bob\
             &ContextEntries.member.1.ContextKeyType=string\
             &ContextEntries.member.2.ContextKeyName=aws:TagKeys\
             &ContextEntries.member.2.ContextKeyValues.member.1=a\
             &ContextEntries.member.2.ContextKeyValues.member.2=b\
             &ContextEntries.member.2.ContextKeyType=stringList",
        )
        .unwrap();
        let ctx = context_entries(&p).unwrap();
        assert_eq!(ctx.get("aws:username").unwrap().as_single(), Some("bob"));
        assert_eq!(ctx.get("aws:tagkeys").unwrap().as_slice(), ["a", "b"]);

        let two_for_scalar = Params::from_form(
            "ContextEntries.member.1.ContextKeyName=aws:username\
             &ContextEntries.member.1.ContextKeyValues.member.1=a\
             &ContextEntries.member.1.ContextKeyValues.member.2=b",
        )
        .unwrap();
        assert_eq!(
            context_entries(&two_for_scalar).unwrap_err().code,
            "InvalidInput"
        );
        let bad_type = Params::from_form(
            "ContextEntries.member.1.ContextKeyName=aws:username\
             &ContextEntries.member.1.ContextKeyValues.member.1=a\
             &ContextEntries.member.1.ContextKeyType=text",
        )
        .unwrap();
        assert_eq!(
            context_entries(&bad_type).unwrap_err().code,
            "ValidationError"
        );
        let bad_number = Params::from_form(
            "ContextEntries.member.1.ContextKeyName=s3:max-keys\
             &ContextEntries.member.1.ContextKeyValues.member.1=ten\
             &ContextEntries.member.1.ContextKeyType=numeric",
        )
        .unwrap();
        assert_eq!(
            context_entries(&bad_number).unwrap_err().code,
            "InvalidInput"
        );
    }

    #[test]
    fn results_name_the_deciding_statement() {
        let mut docs = Documents::default();
        docs.identity(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"No","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
            Source { id: "PolicyInputList.1".into(), kind: "none" },
        )
        .unwrap();
        let p = Params::from_form(
            "ActionNames.member.1=s3:GetObject&ActionNames.member.2=s3:DeleteObject&ActionNames.member.3=s3:PutObject",
        )
        .unwrap();
        let req = common(&p).unwrap();
        let xml = run(&docs, &req, None, "123456789012").unwrap().unwrap();
        assert_eq!(xml.matches("<member><EvalActionName>").count(), 3);
        assert!(xml.contains("<EvalActionName>s3:GetObject</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision><MatchedStatements><member><SourcePolicyId>PolicyInputList.1</SourcePolicyId>"));
        assert!(xml.contains("<EvalDecision>explicitDeny</EvalDecision>"));
        assert!(xml.contains("<EvalActionName>s3:PutObject</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><MatchedStatements></MatchedStatements>"));
        assert!(xml.ends_with("<IsTruncated>false</IsTruncated>"));
    }

    #[test]
    fn condition_values_of_the_wrong_type_are_evaluated_not_refused() {
        let mut docs = Documents::default();
        docs.identity(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"not-a-cidr"}}}]}"#,
            Source { id: "PolicyInputList.1".into(), kind: "none" },
        )
        .unwrap();
        let p = Params::from_form(
            "ActionNames.member.1=s3:ListBucket&ActionNames.member.2=s3:GetObject\
             &ContextEntries.member.1.ContextKeyName=s3:max-keys\
             &ContextEntries.member.1.ContextKeyValues.member.1=5\
             &ContextEntries.member.1.ContextKeyType=numeric\
             &ContextEntries.member.2.ContextKeyName=aws:SourceIp\
             &ContextEntries.member.2.ContextKeyValues.member.1=203.0.113.7\
             &ContextEntries.member.2.ContextKeyType=ip",
        )
        .unwrap();
        let req = common(&p).unwrap();
        let xml = run(&docs, &req, None, "123456789012").unwrap().unwrap();
        assert_eq!(
            xml.matches("<EvalDecision>implicitDeny</EvalDecision>")
                .count(),
            2,
            "{xml}"
        );
    }

    #[test]
    fn bad_documents_are_invalid_input() {
        let mut docs = Documents::default();
        let e = docs
            .identity(
                "{",
                Source {
                    id: "PolicyInputList.1".into(),
                    kind: "none",
                },
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidInput");
        assert!(e.message.contains("PolicyInputList.1"));
    }
}
