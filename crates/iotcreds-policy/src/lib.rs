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
//!
//! Two entry points:
//!
//! * [`Policy::parse`] reads a document for evaluation: the grammar above, plus what the
//!   engine has always refused (actions without a vendor prefix, resources that are neither
//!   `*` nor an ARN, a `Principal` where none is allowed or none where one is required,
//!   `Resource` in a trust policy, non-alphanumeric or duplicate `Sid`s in IAM policies,
//!   unknown condition operators). Stored policies are read with it, so a rule added at write
//!   time never turns a stored policy into a deny.
//! * [`Policy::validate`] checks a document as IAM or AWS IoT does before storing it at a
//!   [`Target`]: `Version` 2012-10-17 for managed and IoT policies; one colon and a valid
//!   service prefix in actions; the `aws` partition, a service, no region in IAM and S3
//!   bucket/object ARNs and a known IAM resource type in resources; `sts:` assume-role actions
//!   and well-formed principals in trust policies; dates in `Date*` conditions.
//!
//! Errors are [`PolicyError`]s: [`PolicyError::message`] is IAM's own `MalformedPolicyDocument`
//! wording ("Syntax errors in policy.", "Policy statement must contain actions.", `Partition
//! "x" is not valid for resource "…".`, …; AWS IoT's `Policy document is Malformed: …` for
//! [`Target::IotPolicy`]), [`PolicyError::detail`] says what exactly is wrong, and the error
//! names the statement (index and `Sid`) and element. When a document has several faults the
//! one reported is the one IAM reports first (syntax, `Version`, legacy parsing, duplicate
//! `Sid`, missing actions, missing resources, the rest). Size quotas are separate:
//! [`check_size`] (whitespace excluded, as IAM and IoT count).
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
//! session policies (when given) also allow, except that a resource policy naming the caller
//! by its own user or role-session ARN grants on its own; otherwise `implicitDeny`. The
//! [`Decision`] names the deciding statements and the context keys that were missing.
//! [`evaluate_effect`] gives the same answer without explanations or allocation.
//!
//! # Permissions boundaries
//!
//! A principal's permissions boundary is [`EvalInput::boundary`]: `Some(policies)` when it has
//! one (the managed policy's default version, compiled with [`Policy::parse`] as
//! [`PolicyKind::Identity`]), `None` when it has none. As IAM documents ("Permissions
//! boundaries for IAM entities", "Policy evaluation logic"): an identity-based `Allow` counts
//! only if the boundary allows the request too; a `Deny` in the boundary denies; the boundary
//! alone grants nothing; a resource-based policy that names the user or role session ARN is
//! not limited by the boundary's implicit deny, one that names the role, the account or `*`
//! is; a `Deny` with `NotPrincipal` applies to a principal with a boundary whatever it lists.
//! The simulator takes boundaries as [`simulate::Simulation::boundary`].
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
//! * `NotPrincipal` exempts a caller only when the caller, its account and (for a role session)
//!   its role are all listed.
//! * `Id` is accepted in every kind of policy.
//! * Numbers are `[+-]digits[.digits]` compared exactly (no exponent); dates are ISO 8601
//!   (W3C profiles) or epoch seconds (any other run of digits; a JSON number is read the
//!   same way), compared as instants, so `2020-01-01T00:00:00Z`, `2020-01-01T09:00:00+09:00`
//!   and `1577836800` are equal; a 4-digit value is a year.
//! * A multivalued key used without `ForAnyValue`/`ForAllValues` behaves as `ForAnyValue` for
//!   positive operators and as "no value matches" for negated ones.
//! * `ForAnyValue:...IfExists` is true when the key is missing (the `IfExists` rule wins).
//! * A condition value its operator cannot read (a policy value or a request value that is
//!   not a number, date, IP address or CIDR, ARN, base64 text or Boolean) makes the
//!   comparison fail both ways: neither the operator nor its negation (`NumericNotEquals`,
//!   `NotIpAddress`, `ArnNotLike`, ...) holds for it, so an `Allow` does not allow and a
//!   `Deny` does not deny; the request is evaluated, never refused. [`Policy::validate`]
//!   refuses a `Date*` value that is not a date, as IAM does.
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
mod rules;
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

/// Where a document is being stored, for [`Policy::validate`]: decides which write-time rules
/// apply and how errors are worded.
///
/// | target | kind | rules beyond [`Policy::parse`] | wording |
/// |---|---|---|---|
/// | `ManagedPolicy` | identity | `Version` 2012-10-17; action and resource rules of IAM; dates | IAM |
/// | `InlinePolicy` | identity | action and resource rules of IAM; dates | IAM |
/// | `TrustPolicy` | trust | `sts:` assume-role actions only; principal forms; dates | IAM |
/// | `IotPolicy` | IoT | `Version` 2012-10-17; dates | AWS IoT (`Policy document is Malformed: …`) |
///
/// The action and resource rules: one colon in an action and a service prefix of letters,
/// digits, `-` and `.`; resources in the `aws` partition (or `*`), with a service, no region
/// in IAM and S3 bucket/object ARNs, a known IAM resource type. A `Date*` condition value that
/// is not a date is refused ("The policy failed legacy parsing"); other condition values are
/// accepted and simply never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// IAM customer managed policy (`CreatePolicy`, `CreatePolicyVersion`), also the
    /// document of a permissions boundary.
    ManagedPolicy,
    /// IAM inline policy of a user, group or role (`PutUserPolicy`, `PutRolePolicy`, ...).
    InlinePolicy,
    /// IAM role trust policy (`CreateRole`, `UpdateAssumeRolePolicy`).
    TrustPolicy,
    /// AWS IoT policy (`CreatePolicy`, `CreatePolicyVersion` of AWS IoT).
    IotPolicy,
}

impl Target {
    /// The kind of policy stored there.
    pub fn kind(self) -> PolicyKind {
        match self {
            Target::ManagedPolicy | Target::InlinePolicy => PolicyKind::Identity,
            Target::TrustPolicy => PolicyKind::Trust,
            Target::IotPolicy => PolicyKind::Iot,
        }
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
    /// Parse, check against the grammar and compile a policy document, as it is read for
    /// evaluation: every document [`Policy::validate`] accepts, and every document accepted
    /// before (stored policies keep compiling). Size quotas are not checked here (see
    /// [`check_size`]).
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        grammar::parse(document, kind, None)
    }

    /// Check a document as IAM or AWS IoT does before storing it at `target`, and compile
    /// it. Errors carry AWS's message for the fault ([`PolicyError::message`]) and our
    /// explanation ([`PolicyError::detail`]). Size quotas and IAM's character set are
    /// separate ([`check_size`], [`check_characters`]).
    pub fn validate(document: &str, target: Target) -> Result<Policy, PolicyError> {
        grammar::parse(document, target.kind(), Some(target))
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
