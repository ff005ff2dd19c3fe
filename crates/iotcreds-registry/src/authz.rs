//! Authorisation: who the caller is ([`Principal`]), which policies apply to them, and the
//! request context every evaluation gets. The policy engine (`iotcreds-policy`) decides.
//!
//! **Fail closed:** a stored policy that no longer compiles counts as an explicit deny.

use std::net::IpAddr;
use std::sync::Arc;

use iotcreds_policy::{
    Context, Decision, Effect, EvalInput, MatchedStatement, PolicyRef, PolicySource, Request,
    RequestPrincipal, StatementEffect, evaluate,
};
use iotcreds_token::Claims;
use iotcreds_types::{arn, time_fmt};

use crate::{CachedRole, CachedUser, CompiledPolicy};

/// Who signed a request on the service endpoint.
#[derive(Clone)]
pub enum Principal {
    /// The account's root credentials (`DATA/admin-credentials`): full rights.
    Root {
        /// The account id.
        account: String,
        /// The access key that signed.
        access_key_id: String,
    },
    /// An IAM user with a long-term key.
    User {
        /// The user and their compiled policies.
        user: Arc<CachedUser>,
        /// The account id.
        account: String,
        /// The access key that signed.
        access_key_id: String,
    },
    /// A role session (from the credentials endpoint or STS `AssumeRole`).
    Session {
        /// What the token said.
        claims: Arc<Claims>,
        /// The assumed role, as it is now.
        role: Arc<CachedRole>,
    },
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn())
    }
}

impl Principal {
    /// The principal's ARN (`aws:PrincipalArn` is the role ARN for sessions; this is the
    /// caller ARN `GetCallerIdentity` returns).
    pub fn arn(&self) -> String {
        match self {
            Principal::Root { account, .. } => arn::iam_root(account),
            Principal::User { user, .. } => user.arn.clone(),
            Principal::Session { claims, .. } => claims.assumed_role_arn(),
        }
    }

    /// `aws:userid`: the account id for root, the user id, or `ROLEID:SESSION`.
    pub fn user_id(&self) -> String {
        match self {
            Principal::Root { account, .. } => account.clone(),
            Principal::User { user, .. } => user.user.id.clone(),
            Principal::Session { claims, .. } => claims.user_id(),
        }
    }

    /// The account id.
    pub fn account(&self) -> &str {
        match self {
            Principal::Root { account, .. } | Principal::User { account, .. } => account,
            Principal::Session { claims, .. } => &claims.account,
        }
    }

    /// The access key id that signed the request.
    pub fn access_key_id(&self) -> &str {
        match self {
            Principal::Root { access_key_id, .. } | Principal::User { access_key_id, .. } => {
                access_key_id
            }
            Principal::Session { claims, .. } => &claims.access_key_id,
        }
    }

    /// The principal as a policy engine request principal (for resource and trust policies):
    /// a session is its assumed-role ARN, which policies may name directly or through the
    /// role's ARN.
    pub fn as_request_principal(&self) -> RequestPrincipal {
        RequestPrincipal::Aws {
            arn: self.arn(),
            account: self.account().to_owned(),
        }
    }

    /// Whether this principal's policies refer to any context key (root has no policies). When
    /// they do not, evaluating with an empty context gives the same decision, faster.
    pub fn needs_context(&self) -> bool {
        match self {
            Principal::Root { .. } => false,
            Principal::User { user, .. } => !user.keys.is_empty(),
            Principal::Session { role, .. } => !role.keys.is_empty(),
        }
    }

    /// Whether this principal's policies refer to a context key starting with `prefix` (lower
    /// case, e.g. `s3:existingobjecttag/`): a key they do not mention cannot change a decision,
    /// so a caller may skip work that only produces such keys (root has no policies).
    pub fn refers_to(&self, prefix: &str) -> bool {
        match self {
            Principal::Root { .. } => false,
            Principal::User { user, .. } => user.keys.any(prefix),
            Principal::Session { role, .. } => role.keys.any(prefix),
        }
    }

    /// Add the principal's global condition keys and policy variables to `ctx`.
    pub fn insert_keys(&self, ctx: &mut Context) {
        ctx.insert("aws:userid", self.user_id());
        ctx.insert("aws:PrincipalAccount", self.account().to_owned());
        match self {
            Principal::Root { account, .. } => {
                ctx.insert("aws:PrincipalArn", arn::iam_root(account));
                ctx.insert("aws:PrincipalType", "Account");
            }
            Principal::User { user, .. } => {
                ctx.insert("aws:PrincipalArn", user.arn.clone());
                ctx.insert("aws:PrincipalType", "User");
                ctx.insert("aws:username", user.user.name.clone());
                for t in &user.user.tags {
                    ctx.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
                }
            }
            Principal::Session { claims, role } => {
                ctx.insert("aws:PrincipalArn", role.arn.clone());
                ctx.insert("aws:PrincipalType", "AssumedRole");
                ctx.insert(
                    "aws:TokenIssueTime",
                    time_fmt::iso8601_seconds(claims.issued_at_ms),
                );
                ctx.insert("aws:MultiFactorAuthPresent", "false");
                // Role tags, then session tags (session tags win, as in STS).
                for t in &role.role.tags {
                    ctx.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
                }
                for (k, v) in &claims.tags {
                    ctx.insert(&format!("aws:PrincipalTag/{k}"), v.clone());
                }
                if let Some(c) = &claims.certificate_id {
                    ctx.insert("credentials-iot:AwsCertificateId", c.clone());
                }
                if let Some(t) = &claims.thing_name {
                    ctx.insert("credentials-iot:ThingName", t.clone());
                }
                if let Some(t) = &claims.thing_type {
                    ctx.insert("credentials-iot:ThingTypeName", t.clone());
                }
            }
        }
    }

    /// Decide whether this principal may perform `action` on `resource` with `ctx` (which
    /// must already hold the principal's keys; see [`Principal::insert_keys`]).
    pub fn authorize(&self, action: &str, resource: &str, ctx: &Context) -> Decision {
        match self {
            Principal::Root { .. } => root_decision(),
            Principal::User { user, .. } => {
                let boundary = user.boundary.as_ref().map(std::slice::from_ref);
                CompiledSet::new(&user.permissions).evaluate_with_boundary(
                    action,
                    resource,
                    ctx,
                    boundary.map(CompiledSet::new).as_ref(),
                )
            }
            Principal::Session { claims, role } => {
                if role.role.id != claims.role_id {
                    // The role was deleted and re-created: its old sessions are void.
                    return decision(Effect::ImplicitDeny, Vec::new());
                }
                let identity = CompiledSet::new(&role.permissions);
                let boundary = role.boundary.as_ref().map(std::slice::from_ref);
                identity.evaluate_with_boundary(
                    action,
                    resource,
                    ctx,
                    boundary.map(CompiledSet::new).as_ref(),
                )
            }
        }
    }
}

fn root_decision() -> Decision {
    decision(Effect::Allow, Vec::new())
}

fn decision(effect: Effect, matched: Vec<MatchedStatement>) -> Decision {
    Decision {
        effect,
        matched,
        partial_allows: Vec::new(),
        missing_context_keys: Vec::new(),
    }
}

/// A set of compiled policies evaluated together.
pub struct CompiledSet<'a> {
    policies: &'a [CompiledPolicy],
}

impl<'a> CompiledSet<'a> {
    /// The set.
    pub fn new(policies: &'a [CompiledPolicy]) -> Self {
        Self { policies }
    }

    fn refs(&self) -> Result<Vec<PolicyRef<'a>>, &'a CompiledPolicy> {
        self.policies
            .iter()
            .map(|p| match &p.policy {
                Some(policy) => Ok(PolicyRef { id: &p.id, policy }),
                None => Err(p),
            })
            .collect()
    }

    /// Evaluate as identity-based policies.
    pub fn evaluate_identity(&self, action: &str, resource: &str, ctx: &Context) -> Decision {
        self.evaluate_with_boundary(action, resource, ctx, None)
    }

    /// Evaluate as identity-based policies limited by a permissions boundary.
    pub fn evaluate_with_boundary(
        &self,
        action: &str,
        resource: &str,
        ctx: &Context,
        boundary: Option<&CompiledSet<'_>>,
    ) -> Decision {
        let identity = match self.refs() {
            Ok(r) => r,
            Err(broken) => return broken_policy(broken),
        };
        let boundary = match boundary.map(CompiledSet::refs) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(broken)) => return broken_policy(broken),
        };
        evaluate(&EvalInput {
            identity: &identity,
            resource: &[],
            session: None,
            boundary: boundary.as_deref(),
            request: Request {
                action,
                resource,
                principal: None,
                context: ctx,
            },
        })
    }
}

fn broken_policy(p: &CompiledPolicy) -> Decision {
    let statement = MatchedStatement {
        policy_id: format!("{} (does not compile)", p.id),
        index: 0,
        sid: None,
        effect: StatementEffect::Deny,
        source: PolicySource::Identity,
    };
    decision(Effect::ExplicitDeny, vec![statement])
}

/// Add the request-independent global keys: `aws:CurrentTime`, `aws:EpochTime`,
/// `aws:SecureTransport`, and `aws:SourceIp` when known.
pub fn insert_global_keys(ctx: &mut Context, now_ms: i64, source_ip: Option<IpAddr>, secure: bool) {
    ctx.insert("aws:CurrentTime", time_fmt::iso8601_seconds(now_ms));
    ctx.insert("aws:EpochTime", (now_ms / 1000).to_string());
    ctx.insert("aws:SecureTransport", if secure { "true" } else { "false" });
    if let Some(ip) = source_ip {
        ctx.insert("aws:SourceIp", ip.to_string());
    }
}

/// A one-line explanation of a decision: the effect and the deciding statements.
pub fn explain(decision: &Decision) -> String {
    let mut s = decision.effect.as_str().to_owned();
    if decision.matched.is_empty() {
        if decision.effect == Effect::ImplicitDeny {
            s.push_str(" (no statement allows)");
        }
        return s;
    }
    s.push_str(" by ");
    for (i, m) in decision.matched.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&m.policy_id);
        s.push_str(&format!(" statement {}", m.index));
        if let Some(sid) = &m.sid {
            s.push_str(&format!(" ({sid})"));
        }
    }
    s
}
