//! The policy simulator: "why was this allowed or denied?"
//!
//! A pure function over policy documents, used by `iotcreds policy simulate --policy FILE...
//! --action A --resource ARN [--context KEY=VALUE...]` and by IAM's `SimulateCustomPolicy` /
//! `SimulatePrincipalPolicy`.
//!
//! ```
//! use iotcreds_policy::PolicyKind;
//! use iotcreds_policy::simulate::{PolicyDocument, Simulation, format_report, parse_context_args, simulate};
//!
//! let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
//!              "Resource":"arn:aws:s3:::fleet/${credentials-iot:ThingName}/*"}}"#;
//! let context = parse_context_args(["credentials-iot:ThingName=sensor-1"]).unwrap();
//! let policies = [PolicyDocument { id: "device-role", text: doc, kind: PolicyKind::Identity }];
//! let result = simulate(&Simulation {
//!     policies: &policies,
//!     boundary: &[],
//!     action: "s3:GetObject",
//!     resource: "arn:aws:s3:::fleet/sensor-1/log.txt",
//!     principal: None,
//!     context: &context,
//! })
//! .unwrap();
//! assert_eq!(result.decision.as_str(), "allowed");
//! assert!(format_report(&result).contains("device-role"));
//! ```

use std::fmt::Write as _;

use crate::{
    Context, Decision, Effect, EvalInput, MatchedStatement, Policy, PolicyError, PolicyKind,
    PolicyRef, Request, RequestPrincipal, evaluate,
};

/// A policy document to simulate with: an id (name or ARN, echoed in the result), the JSON
/// text, and what it is. `Identity` and `Iot` documents are identity policies, `Trust` and
/// `Resource` documents are resource policies, `Session` documents are session policies.
#[derive(Debug, Clone, Copy)]
pub struct PolicyDocument<'a> {
    /// Name or ARN.
    pub id: &'a str,
    /// JSON text.
    pub text: &'a str,
    /// How to read it.
    pub kind: PolicyKind,
}

/// One simulated request.
#[derive(Debug, Clone, Copy)]
pub struct Simulation<'a> {
    /// The policies (grouped by [`PolicyDocument::kind`]).
    pub policies: &'a [PolicyDocument<'a>],
    /// Permissions boundary documents (parsed as identity policies); empty for none.
    pub boundary: &'a [PolicyDocument<'a>],
    /// Action, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// Resource ARN, or `*`.
    pub resource: &'a str,
    /// Caller, for trust and resource policies.
    pub principal: Option<&'a RequestPrincipal>,
    /// Context entries.
    pub context: &'a Context,
}

/// The result, shaped like IAM's `EvaluationResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    /// `EvalActionName`
    pub action: String,
    /// `EvalResourceName`
    pub resource: String,
    /// `EvalDecision`: `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: Effect,
    /// `MatchedStatements`: the deciding statements.
    pub matched: Vec<MatchedStatement>,
    /// Allow statements that applied but were not enough (boundary or session policy missing).
    pub partial_allows: Vec<MatchedStatement>,
    /// `MissingContextValues`.
    pub missing_context_values: Vec<String>,
}

/// A document that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy_id}: {error}")]
pub struct SimulationError {
    /// Id of the offending document.
    pub policy_id: String,
    /// What is wrong with it.
    pub error: PolicyError,
}

/// Parse the documents and evaluate the request.
pub fn simulate(sim: &Simulation<'_>) -> Result<SimulationResult, SimulationError> {
    let parse = |doc: &PolicyDocument<'_>, kind: PolicyKind| {
        Policy::parse(doc.text, kind).map_err(|error| SimulationError {
            policy_id: doc.id.to_owned(),
            error,
        })
    };
    let mut identity = Vec::new();
    let mut resource = Vec::new();
    let mut session = Vec::new();
    for doc in sim.policies {
        let policy = parse(doc, doc.kind)?;
        match doc.kind {
            PolicyKind::Identity | PolicyKind::Iot => identity.push((doc.id, policy)),
            PolicyKind::Trust | PolicyKind::Resource => resource.push((doc.id, policy)),
            PolicyKind::Session => session.push((doc.id, policy)),
        }
    }
    let boundary = sim
        .boundary
        .iter()
        .map(|doc| parse(doc, PolicyKind::Identity).map(|p| (doc.id, p)))
        .collect::<Result<Vec<_>, _>>()?;
    let identity_refs = to_refs(&identity);
    let resource_refs = to_refs(&resource);
    let session_refs = to_refs(&session);
    let boundary_refs = to_refs(&boundary);
    let input = EvalInput {
        identity: &identity_refs,
        resource: &resource_refs,
        session: (!session.is_empty()).then_some(session_refs.as_slice()),
        boundary: (!boundary.is_empty()).then_some(boundary_refs.as_slice()),
        request: Request {
            action: sim.action,
            resource: sim.resource,
            principal: sim.principal,
            context: sim.context,
        },
    };
    Ok(simulate_compiled(&input))
}

fn to_refs<'a>(list: &'a [(&'a str, Policy)]) -> Vec<PolicyRef<'a>> {
    list.iter()
        .map(|(id, policy)| PolicyRef { id, policy })
        .collect()
}

/// Evaluate already compiled policies and shape the answer as a [`SimulationResult`].
pub fn simulate_compiled(input: &EvalInput<'_>) -> SimulationResult {
    let Decision {
        effect,
        matched,
        partial_allows,
        missing_context_keys,
    } = evaluate(input);
    SimulationResult {
        action: input.request.action.to_owned(),
        resource: input.request.resource.to_owned(),
        decision: effect,
        matched,
        partial_allows,
        missing_context_values: missing_context_keys,
    }
}

fn describe(out: &mut String, m: &MatchedStatement) {
    let _ = write!(
        out,
        "  - {} {} policy \"{}\" statement {}",
        m.effect.as_str(),
        m.source.as_str(),
        m.policy_id,
        m.index
    );
    if let Some(sid) = &m.sid {
        let _ = write!(out, " (Sid \"{sid}\")");
    }
    out.push('\n');
}

/// A human-readable report of a simulation, for the CLI and audit explanations.
pub fn format_report(result: &SimulationResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Decision: {}", result.decision.as_str());
    let _ = writeln!(out, "Action:   {}", result.action);
    let _ = writeln!(out, "Resource: {}", result.resource);
    match result.decision {
        Effect::ExplicitDeny => out.push_str("Denied explicitly by:\n"),
        Effect::Allow => out.push_str("Allowed by:\n"),
        Effect::ImplicitDeny => {
            if result.partial_allows.is_empty() {
                out.push_str("No statement allows this request (implicit deny).\n");
            } else {
                out.push_str(
                    "Implicit deny: these statements allow it, but a permissions boundary or session policy does not:\n",
                );
            }
        }
    }
    for m in result.matched.iter().chain(&result.partial_allows) {
        describe(&mut out, m);
    }
    if !result.missing_context_values.is_empty() {
        let _ = writeln!(
            out,
            "Missing context values: {}",
            result.missing_context_values.join(", ")
        );
    }
    out
}

/// An invalid `KEY=VALUE` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid context argument {arg:?}: expected KEY=VALUE with a non-empty KEY without spaces")]
pub struct ContextArgError {
    /// The argument as given.
    pub arg: String,
}

/// Build a [`Context`] from `KEY=VALUE` arguments.
///
/// Syntax: the key is everything before the first `=` (non-empty, no whitespace, any case:
/// keys are case-insensitive); the value is everything after it, verbatim (it may be empty
/// and may contain `=`). Giving the same key more than once makes it multivalued, in the
/// order given, e.g. `aws:TagKeys=env aws:TagKeys=team` for `ForAnyValue`/`ForAllValues`.
pub fn parse_context_args<I, S>(args: I) -> Result<Context, ContextArgError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut context = Context::new();
    for arg in args {
        let arg = arg.as_ref();
        match arg.split_once('=') {
            Some((key, value)) if !key.is_empty() && !key.contains(char::is_whitespace) => {
                context.push(key, value);
            }
            _ => {
                return Err(ContextArgError {
                    arg: arg.to_owned(),
                });
            }
        }
    }
    Ok(context)
}
