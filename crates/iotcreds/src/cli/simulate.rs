//! `iotcreds policy simulate`: evaluate policy documents against one request, locally (no
//! server), and say which statements decided.
//!
//! Exit status: 0 when the request is allowed, 2 when it is denied (explicitly or
//! implicitly), 1 when the documents or arguments are unusable.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use iotcreds_policy::simulate::{
    PolicyDocument, Simulation, SimulationResult, format_report, parse_context_args, simulate,
};
use iotcreds_policy::{Effect, PolicyKind, RequestPrincipal};
use serde_json::{Value, json};

use super::Status;
use super::output::{Output, emit_with};

/// How the `--policy` documents are read.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// IAM identity policies (role, user).
    Identity,
    /// AWS IoT policies (attached to certificates).
    Iot,
    /// An IAM role trust policy (needs --principal-service or --principal-arn).
    Trust,
    /// A resource-based policy (needs --principal-service or --principal-arn).
    Resource,
}

impl Kind {
    fn policy_kind(self) -> PolicyKind {
        match self {
            Kind::Identity => PolicyKind::Identity,
            Kind::Iot => PolicyKind::Iot,
            Kind::Trust => PolicyKind::Trust,
            Kind::Resource => PolicyKind::Resource,
        }
    }
}

/// `iotcreds policy simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Policy document (JSON file; repeatable, or several after one flag).
    #[arg(long = "policy", value_name = "FILE", required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Permissions boundary document (JSON file; repeatable).
    #[arg(long = "boundary", value_name = "FILE")]
    boundaries: Vec<PathBuf>,
    /// The action, e.g. s3:GetObject or iot:AssumeRoleWithCertificate.
    #[arg(long)]
    action: String,
    /// The resource ARN.
    #[arg(long, default_value = "*")]
    resource: String,
    /// Request context KEY=VALUE (repeatable; a repeated KEY is multivalued), e.g.
    /// credentials-iot:ThingName=sensor-1 or aws:SourceIp=10.0.0.1.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// How to read the policies.
    #[arg(long, value_enum, default_value = "identity")]
    kind: Kind,
    /// The calling service principal, e.g. credentials.iot.amazonaws.com.
    #[arg(long, value_name = "NAME", conflicts_with = "principal_arn")]
    principal_service: Option<String>,
    /// The calling principal's ARN, e.g. arn:aws:iam::123456789012:user/alice.
    #[arg(long, value_name = "ARN")]
    principal_arn: Option<String>,
}

fn principal(args: &SimulateArgs) -> anyhow::Result<Option<RequestPrincipal>> {
    if let Some(s) = &args.principal_service {
        return Ok(Some(RequestPrincipal::Service(s.clone())));
    }
    let Some(arn) = &args.principal_arn else {
        return Ok(None);
    };
    let account = arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--principal-arn {arn:?} is not an ARN with a 12-digit account \
                 (arn:aws:iam::123456789012:role/NAME)"
            )
        })?;
    Ok(Some(RequestPrincipal::Aws {
        arn: arn.clone(),
        account: account.to_owned(),
    }))
}

/// The result in the shape of IAM's `EvaluationResult`.
fn to_json(r: &SimulationResult) -> Value {
    let statements = |list: &[iotcreds_policy::MatchedStatement]| -> Vec<Value> {
        list.iter()
            .map(|m| {
                json!({
                    "SourcePolicyId": m.policy_id,
                    "SourcePolicyType": m.source.as_str(),
                    "StatementIndex": m.index,
                    "Sid": m.sid,
                    "Effect": m.effect.as_str(),
                })
            })
            .collect()
    };
    json!({
        "EvalActionName": r.action,
        "EvalResourceName": r.resource,
        "EvalDecision": r.decision.as_str(),
        "MatchedStatements": statements(&r.matched),
        "PartialAllows": statements(&r.partial_allows),
        "MissingContextValues": r.missing_context_values,
    })
}

/// Run the simulation; `Denied` unless allowed.
pub fn run(args: SimulateArgs, out: Output) -> anyhow::Result<Status> {
    if matches!(args.kind, Kind::Trust | Kind::Resource)
        && args.principal_service.is_none()
        && args.principal_arn.is_none()
    {
        anyhow::bail!(
            "--kind {} policies are matched against the caller: give --principal-service or --principal-arn",
            if args.kind == Kind::Trust {
                "trust"
            } else {
                "resource"
            }
        );
    }
    let context = parse_context_args(&args.context)?;
    let principal = principal(&args)?;
    let read = |paths: &[PathBuf]| -> anyhow::Result<Vec<(String, String)>> {
        paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Ok((p.display().to_string(), text))
            })
            .collect()
    };
    let texts = read(&args.policies)?;
    let boundary_texts = read(&args.boundaries)?;
    let kind = args.kind.policy_kind();
    let docs: Vec<PolicyDocument<'_>> = texts
        .iter()
        .map(|(id, text)| PolicyDocument { id, text, kind })
        .collect();
    let boundary: Vec<PolicyDocument<'_>> = boundary_texts
        .iter()
        .map(|(id, text)| PolicyDocument {
            id,
            text,
            kind: PolicyKind::Identity,
        })
        .collect();
    let result = simulate(&Simulation {
        policies: &docs,
        boundary: &boundary,
        action: &args.action,
        resource: &args.resource,
        principal: principal.as_ref(),
        context: &context,
    })?;
    emit_with(out, &to_json(&result), |_| format_report(&result));
    Ok(if result.decision == Effect::Allow {
        Status::Success
    } else {
        Status::Denied
    })
}
