//! iotcreds-policy: the IAM and AWS IoT policy engine.
//!
//! Every authorisation decision in iotcreds goes through this crate: the IoT policy check for
//! `iot:AssumeRoleWithCertificate`, a role's trust policy, and every S3/IoT/IAM/STS request
//! made with issued or long-term credentials. It is pure (no I/O, no async), compiles a policy
//! once ([`Policy::parse`]) and evaluates it many times ([`evaluate`]).
//!
//! # Grammar
//!
//! As in "Grammar of the IAM JSON policy language":
//!
//! ```text
//! policy    = { "Version"?: "2012-10-17" | "2008-10-17", "Id"?: string, "Statement": statement | [statement, ...] }
//! statement = { "Sid"?, "Effect": "Allow" | "Deny",
//!               ("Principal" | "NotPrincipal")?,        -- required in Trust/Resource, forbidden elsewhere
//!               "Action" | "NotAction",                 -- exactly one
//!               ("Resource" | "NotResource")?,          -- required in Identity/Iot/Session, forbidden in Trust
//!               "Condition"?: { operator: { key: value | [value, ...] } } }
//! ```
//!
//! Values may be a string or an array; blocks may come in any order; a key given twice in one
//! object is rejected. Without `Version` (or with `2008-10-17`) `${...}` is literal text.
//! Validation errors are [`PolicyError`]s whose `Display` reads like IAM's
//! `MalformedPolicyDocument` messages and names the statement (index and `Sid`) and element:
//! unknown fields, bad `Effect`, missing `Action`/`Resource`, actions without a vendor prefix,
//! resources that are neither `*` nor an ARN, a `Principal` where none is allowed (or none
//! where one is required), `Resource` in a trust policy, non-alphanumeric or duplicate `Sid`s
//! in IAM policies (identity, trust, session), unknown condition operators, and condition
//! values that cannot be read by their operator (numbers, dates, CIDRs, base64, Booleans).
//! Size quotas are separate: [`check_size`] (whitespace excluded, as IAM and IoT count).
//!
//! # Matching
//!
//! * Actions: ASCII case-insensitive, `*` and `?` wildcards over the whole `service:Action`.
//! * Resources and `Arn*` conditions: segment-aware (see [`matching`]): wildcards in the first
//!   five colon-separated segments stay inside their segment; in the resource part `*` spans
//!   `/` and `:`. Case-sensitive.
//! * Principals: see [`RequestPrincipal`]; an account id or `arn:aws:iam::ACCOUNT:root` names
//!   every principal of that account; a role ARN also names its sessions.
//!
//! # Evaluation
//!
//! [`evaluate`]: an applicable `Deny` anywhere gives `explicitDeny`; otherwise an `Allow` in an
//! identity or resource policy gives `allowed` provided the permissions boundary and the
//! session policies (when given) also allow; otherwise `implicitDeny`. The [`Decision`] names
//! the deciding statements and the context keys that were missing. [`evaluate_effect`] gives
//! the same answer without explanations or allocation.
//!
//! # Conditions and variables
//!
//! All operator families (String, Numeric, Date, Bool, BinaryEquals, IpAddress, Arn, Null), the
//! `...IfExists` suffix and the `ForAnyValue:`/`ForAllValues:` qualifiers; see [`Context`] for
//! keys (case-insensitive) and values (case-sensitive). Policy variables (`${aws:username}`,
//! `${aws:PrincipalTag/team}`, `${credentials-iot:ThingName}`, `${iot:Connection.Thing.Attributes[x]}`,
//! any key of the context) are allowed in `Resource`/`NotResource` and in the values of String,
//! Arn and Bool conditions, with defaults (`${aws:username, 'anonymous'}`) and the escapes
//! `${*}`, `${?}`, `${$}`. A variable with no value and no default makes its element match
//! nothing; a multivalued key cannot be used as a variable. Values substituted from the
//! context are literal (a `*` in a user name is not a wildcard).
//!
//! # Deliberate gaps and choices
//!
//! * No Organizations SCPs/RCPs, no cross-account rule (both accounts must allow), no
//!   service-specific resource scoping of `NotAction`/`NotResource`: the caller passes exactly
//!   the policies that apply and the ARN of the resource.
//! * A resource-policy `Allow` is also limited by the boundary and session policies (IAM does
//!   so for role principals; for a principal named by its exact session or user ARN it does
//!   not): the stricter reading.
//! * `NotPrincipal` exempts a caller only when the caller, its account and (for a role session)
//!   its role are all listed.
//! * Condition values that their operator cannot read are rejected at parse time (IAM accepts
//!   some of them and they never match); `Id` is accepted in every kind of policy.
//! * Numbers are `[+-]digits[.digits]` compared exactly (no exponent); dates are ISO 8601
//!   (W3C profiles) or epoch seconds; a 4-digit value is a year.
//! * A multivalued key used without `ForAnyValue`/`ForAllValues` behaves as `ForAnyValue` for
//!   positive operators and as "no value matches" for negated ones.
//! * `ForAnyValue:...IfExists` is true when the key is missing (the `IfExists` rule wins).
//! * Values that come from the context (request side) are never wildcards or variables.
//! * Condition operator names and the `ForAnyValue:`/`ForAllValues:`/`IfExists` affixes are
//!   accepted in any ASCII case; element names (`Effect`, `Action`, ...) are case-sensitive.
//! * Missing context keys are reported for the statements whose principal, action and
//!   resource matched (every condition of those statements is evaluated, no short circuit).
//!
//! # Using it
//!
//! ```
//! use iotcreds_policy::{Context, EvalInput, Policy, PolicyKind, PolicyRef, Request, evaluate};
//!
//! let role = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
//!         "Resource":"arn:aws:s3:::fleet/${credentials-iot:ThingName}/*"}}"#,
//!     PolicyKind::Identity,
//! )?;
//! let mut context = Context::new();
//! context.insert("credentials-iot:ThingName", "sensor-1");
//! let policies = [PolicyRef { id: "DeviceRole", policy: &role }];
//! let decision = evaluate(&EvalInput {
//!     identity: &policies,
//!     resource: &[],
//!     session: None,
//!     boundary: None,
//!     request: Request {
//!         action: "s3:GetObject",
//!         resource: "arn:aws:s3:::fleet/sensor-2/log.txt",
//!         principal: None,
//!         context: &context,
//!     },
//! });
//! assert_eq!(decision.effect.as_str(), "implicitDeny");
//! # Ok::<(), iotcreds_policy::PolicyError>(())
//! ```
//! * `StringEqualsIgnoreCase` folds Unicode lower case; actions and key names fold ASCII only.

mod condition;
mod context;
mod error;
mod eval;
mod grammar;
mod json;
pub mod matching;
mod principal;
pub mod simulate;
mod size;
mod values;

use std::sync::Arc;

pub use context::{Context, ContextValue};
pub use error::{ErrorKind, PolicyError};
pub use eval::{
    Decision, Effect, EvalInput, MatchedStatement, PolicyRef, PolicySource, Request, evaluate,
    evaluate_effect,
};
pub use principal::RequestPrincipal;
pub use size::{SizeLimit, check_characters, check_size, policy_size};
pub use values::Cidr;

/// What a policy is attached to; decides which elements are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// IAM identity policy (user, group, role; inline or managed). No `Principal`.
    Identity,
    /// IAM role trust policy. `Principal`/`NotPrincipal` required, no `Resource`.
    Trust,
    /// Resource-based policy (bucket policy, ...). `Principal`/`NotPrincipal` required.
    Resource,
    /// AWS IoT policy attached to a certificate. No `Principal`.
    Iot,
    /// Session policy passed to `AssumeRole*`/`GetFederationToken`. No `Principal`.
    Session,
}

impl PolicyKind {
    pub(crate) fn requires_principal(self) -> bool {
        matches!(self, PolicyKind::Trust | PolicyKind::Resource)
    }

    /// Policies stored and validated by IAM itself (alphanumeric, unique `Sid`s).
    pub(crate) fn is_iam(self) -> bool {
        matches!(
            self,
            PolicyKind::Identity | PolicyKind::Trust | PolicyKind::Session
        )
    }
}

/// The policy language version (`Version` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are supported.
    V2012_10_17,
    /// `2008-10-17`, or no `Version` element: `${...}` is literal text.
    V2008_10_17,
}

impl PolicyVersion {
    /// The `Version` string.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::V2012_10_17 => "2012-10-17",
            PolicyVersion::V2008_10_17 => "2008-10-17",
        }
    }
}

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementEffect {
    /// `"Allow"`
    Allow,
    /// `"Deny"`
    Deny,
}

impl StatementEffect {
    /// `Allow` or `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementEffect::Allow => "Allow",
            StatementEffect::Deny => "Deny",
        }
    }
}

/// A parsed and compiled policy. Cloning is cheap (shared).
#[derive(Debug, Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

#[derive(Debug)]
pub(crate) struct PolicyInner {
    pub(crate) version: PolicyVersion,
    pub(crate) kind: PolicyKind,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<grammar::Statement>,
}

impl Policy {
    /// Parse, validate and compile a policy document. Size quotas are not checked here
    /// (see [`check_size`]).
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        grammar::parse(document, kind)
    }

    /// The `Version` of the document.
    pub fn version(&self) -> PolicyVersion {
        self.inner.version
    }

    /// The kind the policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The document's `Id` element, if any.
    pub fn document_id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// `Sid` of statement `index`, if it has one.
    pub fn statement_sid(&self, index: usize) -> Option<&str> {
        self.inner
            .statements
            .get(index)
            .and_then(|s| s.sid.as_deref())
    }

    /// Every condition key and policy variable the policy refers to, as written, without
    /// duplicates (case-insensitive), sorted. This is what IAM's
    /// `GetContextKeysForCustomPolicy` returns.
    pub fn context_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut add = |k: &str| {
            if !keys.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                keys.push(k.to_owned());
            }
        };
        for statement in &self.inner.statements {
            if let Some((_, patterns)) = &statement.resources {
                for var in patterns.iter().flat_map(|p| p.vars()) {
                    add(&var.key);
                }
            }
            for condition in &statement.conditions {
                add(condition.key());
                for var in condition.variable_keys() {
                    add(var);
                }
            }
        }
        keys.sort_by_key(|k| k.to_ascii_lowercase());
        keys
    }

    /// Operators used by the policy's conditions, as written (for diagnostics).
    pub fn condition_operators(&self) -> Vec<&str> {
        let mut ops: Vec<&str> = self
            .inner
            .statements
            .iter()
            .flat_map(|s| s.conditions.iter().map(|c| c.operator_name()))
            .collect();
        ops.sort_unstable();
        ops.dedup();
        ops
    }
}
