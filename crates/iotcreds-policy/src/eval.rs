//! Evaluation across every policy that applies to a request.
//!
//! Order ("Policy evaluation logic", IAM User Guide):
//! 1. an applicable `Deny` statement in any policy (identity, resource, session, boundary)
//!    gives `explicitDeny`;
//! 2. otherwise the request is allowed when an identity policy or a resource policy allows
//!    it, and the permissions boundary (if given) and the session policies (if given) allow
//!    it too: boundaries and session policies intersect, they never grant;
//! 3. except that a resource-based policy naming the caller by its own ARN (an IAM user, a
//!    role session) grants on its own: an implicit deny in the boundary or session policy
//!    does not limit it, as IAM documents for resource-based policies within an account. A
//!    resource policy that names the caller through its role, its account or `*` is limited
//!    like an identity policy;
//! 4. otherwise `implicitDeny`.
//!
//! With a permissions boundary, a `Deny` statement with `NotPrincipal` applies whatever the
//! `NotPrincipal` lists ("Permissions boundaries for IAM entities": such a statement "will
//! always deny any IAM principal that has a permissions boundary policy attached").

use crate::context::Context;
use crate::grammar::Statement;
use crate::matching::Case;
use crate::principal::RequestPrincipal;
use crate::{Policy, StatementEffect};

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, e.g. `s3:GetObject` (compared ignoring ASCII case).
    pub action: &'a str,
    /// The resource ARN (or `*` for actions without a resource).
    pub resource: &'a str,
    /// The caller, for `Principal` / `NotPrincipal` in trust and resource policies.
    pub principal: Option<&'a RequestPrincipal>,
    /// Condition keys and policy variable values.
    pub context: &'a Context,
}

/// A policy with the name or ARN used to report on it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRef<'a> {
    /// Name or ARN given by the caller, echoed in [`MatchedStatement::policy_id`].
    pub id: &'a str,
    /// The compiled policy.
    pub policy: &'a Policy,
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    /// Identity policies of the principal (inline and attached).
    pub identity: &'a [PolicyRef<'a>],
    /// Resource-based policies, including a role's trust policy.
    pub resource: &'a [PolicyRef<'a>],
    /// Session policies passed when the session was created; `Some(&[])` means a session
    /// policy was passed and allows nothing.
    pub session: Option<&'a [PolicyRef<'a>]>,
    /// The principal's permissions boundary: `Some` when it has one (the boundary managed
    /// policy, as [`crate::PolicyKind::Identity`]), `None` when it has none. `Some(&[])`
    /// would be a boundary that allows nothing. See the crate docs, "Permissions boundaries".
    pub boundary: Option<&'a [PolicyRef<'a>]>,
    /// The request.
    pub request: Request<'a>,
}

/// Final decision, spelled as IAM's `EvalDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `allowed`
    Allow,
    /// `explicitDeny`
    ExplicitDeny,
    /// `implicitDeny`
    ImplicitDeny,
}

impl Effect {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allowed",
            Effect::ExplicitDeny => "explicitDeny",
            Effect::ImplicitDeny => "implicitDeny",
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which group of policies a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// [`EvalInput::identity`]
    Identity,
    /// [`EvalInput::resource`]
    Resource,
    /// [`EvalInput::session`]
    Session,
    /// [`EvalInput::boundary`]
    Boundary,
}

impl PolicySource {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Identity => "identity",
            PolicySource::Resource => "resource",
            PolicySource::Session => "session",
            PolicySource::Boundary => "boundary",
        }
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// [`PolicyRef::id`] of the policy.
    pub policy_id: String,
    /// Zero-based index of the statement in the policy.
    pub index: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
    /// The statement's `Effect`.
    pub effect: StatementEffect,
    /// Where the policy came from.
    pub source: PolicySource,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The decision.
    pub effect: Effect,
    /// The deciding statements: every applicable `Deny` for `explicitDeny`; for `allowed`
    /// the granting `Allow` (first per policy group) plus the boundary and session `Allow`s
    /// that let it through. Empty for `implicitDeny`.
    pub matched: Vec<MatchedStatement>,
    /// For `implicitDeny`: `Allow` statements that applied but were not enough (for
    /// example an identity policy allowed and the session policy did not).
    pub partial_allows: Vec<MatchedStatement>,
    /// Condition keys and policy variables used by applicable statements but absent from the
    /// context (IAM's `MissingContextValues`), as spelled in the policy, without duplicates.
    pub missing_context_keys: Vec<String>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

impl Statement {
    /// Whether the statement applies: principal, action, resource and conditions all match.
    /// Every condition is evaluated (no short circuit) so that missing keys are all reported.
    /// `has_boundary`: the principal has a permissions boundary (see the module docs on
    /// `NotPrincipal`).
    pub(crate) fn applies(
        &self,
        req: &Request<'_>,
        has_boundary: bool,
        missing: &mut dyn FnMut(&str),
    ) -> bool {
        if let Some((negated, spec)) = &self.principal {
            let hit = if *negated {
                (has_boundary && self.effect == StatementEffect::Deny)
                    || !spec.exempts(req.principal)
            } else {
                spec.matches(req.principal)
            };
            if !hit {
                return false;
            }
        }
        let action_hit = self.actions.iter().any(|t| {
            t.matches(req.action, Case::AsciiInsensitive, req.context, &mut |_| {}) == Some(true)
        });
        if action_hit == self.not_action {
            return false;
        }
        if let Some((negated, patterns)) = &self.resources {
            let hit = patterns
                .iter()
                .any(|p| p.matches(req.resource, req.context, missing) == Some(true));
            if hit == *negated {
                return false;
            }
        }
        let mut all = true;
        for condition in &self.conditions {
            if !condition.evaluate(req.context, missing) {
                all = false;
            }
        }
        all
    }
}

/// A statement found to apply, before it is turned into an owned [`MatchedStatement`].
#[derive(Clone, Copy)]
struct Hit<'a> {
    policy_id: &'a str,
    index: usize,
    statement: &'a Statement,
    source: PolicySource,
}

impl Hit<'_> {
    fn to_matched(self) -> MatchedStatement {
        MatchedStatement {
            policy_id: self.policy_id.to_owned(),
            index: self.index,
            sid: self.statement.sid.clone(),
            effect: self.statement.effect,
            source: self.source,
        }
    }
}

struct Tally<'a> {
    explain: bool,
    has_boundary: bool,
    denies: Vec<Hit<'a>>,
    denied: bool,
    /// The first applicable `Allow` per [`slot`].
    allows: [Option<Hit<'a>>; SLOTS],
    missing: Vec<String>,
}

const SLOTS: usize = 5;
/// A resource policy `Allow` naming the caller by its own ARN.
const RESOURCE_EXACT: usize = 4;

fn slot(source: PolicySource) -> usize {
    match source {
        PolicySource::Identity => 0,
        PolicySource::Resource => 1,
        PolicySource::Session => 2,
        PolicySource::Boundary => 3,
    }
}

impl<'a> Tally<'a> {
    fn scan(&mut self, refs: &'a [PolicyRef<'a>], source: PolicySource, req: &Request<'_>) {
        let explain = self.explain;
        for policy_ref in refs {
            for (index, statement) in policy_ref.policy.inner.statements.iter().enumerate() {
                let is_allow = statement.effect == StatementEffect::Allow;
                // Without explanations, a statement that cannot change the answer is skipped.
                let settled = match source {
                    PolicySource::Resource => self.allows[RESOURCE_EXACT].is_some(),
                    other => self.allows[slot(other)].is_some(),
                };
                if !explain && (self.denied || (is_allow && settled)) {
                    continue;
                }
                let missing = &mut self.missing;
                let mut record = |key: &str| {
                    if explain && !missing.iter().any(|m| m.eq_ignore_ascii_case(key)) {
                        missing.push(key.to_owned());
                    }
                };
                if !statement.applies(req, self.has_boundary, &mut record) {
                    continue;
                }
                let hit = Hit {
                    policy_id: policy_ref.id,
                    index,
                    statement,
                    source,
                };
                if is_allow {
                    let exact = source == PolicySource::Resource
                        && statement.principal.as_ref().is_some_and(|(negated, spec)| {
                            !negated && spec.names_exactly(req.principal)
                        });
                    let at = if exact { RESOURCE_EXACT } else { slot(source) };
                    self.allows[at].get_or_insert(hit);
                } else {
                    self.denied = true;
                    if explain {
                        self.denies.push(hit);
                    }
                }
            }
        }
    }
}

fn run<'a>(input: &'a EvalInput<'a>, explain: bool) -> Tally<'a> {
    let mut tally = Tally {
        explain,
        has_boundary: input.boundary.is_some(),
        denies: Vec::new(),
        denied: false,
        allows: [None; SLOTS],
        missing: Vec::new(),
    };
    let req = &input.request;
    tally.scan(input.identity, PolicySource::Identity, req);
    tally.scan(input.resource, PolicySource::Resource, req);
    if let Some(session) = input.session {
        tally.scan(session, PolicySource::Session, req);
    }
    if let Some(boundary) = input.boundary {
        tally.scan(boundary, PolicySource::Boundary, req);
    }
    tally
}

/// Whether the allows found grant the request.
fn allowed(input: &EvalInput<'_>, tally: &Tally<'_>) -> bool {
    let [identity, resource, session, boundary, exact] = &tally.allows;
    let boundary_ok = input.boundary.is_none() || boundary.is_some();
    let session_ok = input.session.is_none() || session.is_some();
    exact.is_some() || ((identity.is_some() || resource.is_some()) && boundary_ok && session_ok)
}

/// The statements to name: the applicable allows (the granting ones when the request is
/// granted, the ones that were not enough when it is not).
fn explained<'a>(tally: &Tally<'a>) -> Vec<Hit<'a>> {
    tally.allows.iter().flatten().copied().collect()
}

/// Evaluate a request against every applicable policy, with explanations.
pub fn evaluate(input: &EvalInput<'_>) -> Decision {
    let tally = run(input, true);
    let allowed = allowed(input, &tally);
    let explained: Vec<MatchedStatement> =
        explained(&tally).iter().map(|h| h.to_matched()).collect();
    let (effect, matched, partial_allows) = if tally.denied {
        let denies = tally.denies.iter().map(|h| h.to_matched()).collect();
        (Effect::ExplicitDeny, denies, Vec::new())
    } else if allowed {
        (Effect::Allow, explained, Vec::new())
    } else {
        (Effect::ImplicitDeny, Vec::new(), explained)
    };
    Decision {
        effect,
        matched,
        partial_allows,
        missing_context_keys: tally.missing,
    }
}

/// Evaluate without explanations: never allocates, stops at the first applicable `Deny`.
/// Gives the same [`Effect`] as [`evaluate`].
pub fn evaluate_effect(input: &EvalInput<'_>) -> Effect {
    let tally = run(input, false);
    if tally.denied {
        return Effect::ExplicitDeny;
    }
    if allowed(input, &tally) {
        Effect::Allow
    } else {
        Effect::ImplicitDeny
    }
}
