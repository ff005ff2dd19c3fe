//! `Principal` / `NotPrincipal`: parsing and matching.
//!
//! `Principal` (IAM User Guide, "AWS JSON policy elements: Principal"):
//! * `"*"` and `{"AWS": "*"}` match every caller, anonymous ones included;
//! * an account (`"123456789012"` or `"arn:aws:iam::123456789012:root"`) matches every
//!   principal of that account ("Using the account ARN ... does not limit permissions to only
//!   the root user");
//! * a role ARN also matches the sessions of that role (`arn:aws:sts::ACCOUNT:assumed-role/NAME/...`);
//! * any other ARN matches exactly (the user name part is case-sensitive);
//! * `Service` matches the service principal (ASCII case-insensitive), `Federated` and
//!   `CanonicalUser` exactly.
//!
//! `NotPrincipal` exempts a caller only when the caller itself *and* every identity AWS may
//! validate before it (its account; for a role session also its role) are listed, which is
//! why the IAM guide says to list the account ARN too. This is the conservative reading of
//! "might deny access to the entire account". (With a permissions boundary, a `Deny` with
//! `NotPrincipal` exempts nobody; see `eval`.)
//!
//! When IAM stores a role trust policy ([`crate::Target::TrustPolicy`]) it also checks the
//! forms: `AWS` is `*`, an account, or an `aws`-partition root, user, role, role session or
//! federated-user ARN; `Service` a name under `amazonaws.com`; `Federated` a SAML or OIDC
//! provider ARN or a web identity provider. Otherwise, and for a wildcard inside a name:
//! `Invalid principal in policy: "AWS":"…"`.

use crate::error::PolicyError;
use crate::json::Json;

/// Who is making the request, as needed by `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestPrincipal {
    /// A service principal such as `credentials.iot.amazonaws.com`.
    Service(String),
    /// An IAM user, role, role session, federated user or account root: its ARN and account.
    Aws {
        /// e.g. `arn:aws:sts::123456789012:assumed-role/DeviceRole/c0ffee...`
        arn: String,
        /// The 12-digit account id.
        account: String,
    },
    /// A web identity or SAML provider (`cognito-identity.amazonaws.com`, a SAML provider ARN).
    Federated(String),
    /// An S3 canonical user id.
    CanonicalUser(String),
    /// An unauthenticated caller.
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AwsEntry {
    Account(Box<str>),
    Arn(Box<str>),
}

/// A compiled `Principal` or `NotPrincipal` value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PrincipalSpec {
    everyone: bool,
    aws_any: bool,
    aws: Vec<AwsEntry>,
    service: Vec<Box<str>>,
    federated: Vec<Box<str>>,
    canonical: Vec<Box<str>>,
}

/// IAM's message for a principal it does not accept, e.g.
/// `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"` (the type in upper
/// case, as IAM writes `"SERVICE":"..."`).
fn invalid(kind: &str, value: &str) -> PolicyError {
    PolicyError::malformed(format!(
        "Invalid principal in policy: \"{}\":\"{value}\"",
        kind.to_ascii_uppercase()
    ))
}

fn strings(value: &Json) -> Result<Vec<&str>, PolicyError> {
    let list: Vec<&Json> = match value {
        Json::Arr(items) => items.iter().collect(),
        other => vec![other],
    };
    if list.is_empty() {
        return Err(PolicyError::syntax("Principal values must not be empty."));
    }
    list.into_iter()
        .map(|v| match v {
            Json::Str(s) => Ok(s.as_str()),
            other => Err(PolicyError::syntax(format!(
                "Principal values must be strings, found {}.",
                other.type_name()
            ))),
        })
        .collect()
}

fn account_of_root(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    (resource == "root" && is_account_id(account)).then_some(account)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The forms IAM accepts in a role trust policy ("AWS JSON policy elements: Principal"):
/// an account, or an IAM user, role, role session, federated user or root ARN of the `aws`
/// partition.
fn aws_form_ok(s: &str) -> bool {
    if s == "*" || is_account_id(s) {
        return true;
    }
    let Some(rest) = s.strip_prefix("arn:aws:") else {
        return false;
    };
    let (service, rest) = match rest.split_once("::") {
        Some(parts) => parts,
        None => return false,
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    if !is_account_id(account) {
        return false;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
    };
    match service {
        "iam" => resource == "root" || named("user/") || named("role/"),
        "sts" => named("assumed-role/") || named("federated-user/"),
        _ => false,
    }
}

/// A service principal: a DNS name under `amazonaws.com`.
fn service_form_ok(s: &str) -> bool {
    let host = s
        .strip_suffix(".amazonaws.com")
        .or_else(|| s.strip_suffix(".amazonaws.com.cn"));
    host.is_some_and(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    })
}

/// A SAML or OIDC provider ARN, or one of the web identity providers IAM names.
fn federated_form_ok(s: &str) -> bool {
    const WEB_IDENTITY: [&str; 4] = [
        "cognito-identity.amazonaws.com",
        "www.amazon.com",
        "graph.facebook.com",
        "accounts.google.com",
    ];
    if WEB_IDENTITY.contains(&s) {
        return true;
    }
    let Some(rest) = s.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    is_account_id(account)
        && (resource
            .strip_prefix("saml-provider/")
            .is_some_and(|n| !n.is_empty())
            || resource
                .strip_prefix("oidc-provider/")
                .is_some_and(|n| !n.is_empty()))
}

impl PrincipalSpec {
    /// Parse a `Principal`/`NotPrincipal` value. `strict` adds the forms IAM checks when it
    /// stores a role trust policy (see [`aws_form_ok`], [`service_form_ok`],
    /// [`federated_form_ok`]).
    pub(crate) fn parse(value: &Json, strict: bool) -> Result<PrincipalSpec, PolicyError> {
        let mut spec = PrincipalSpec::default();
        match value {
            Json::Str(s) if s == "*" => spec.everyone = true,
            Json::Str(s) => {
                return Err(PolicyError::syntax(format!(
                    "Principal must be \"*\" or an object such as {{\"AWS\": \"{s}\"}}."
                )));
            }
            Json::Obj(members) => {
                if members.is_empty() {
                    return Err(PolicyError::syntax("Principal must not be empty."));
                }
                for (kind, v) in members {
                    if !matches!(
                        kind.as_str(),
                        "AWS" | "Service" | "Federated" | "CanonicalUser"
                    ) {
                        return Err(PolicyError::syntax(format!(
                            "Invalid principal type \"{kind}\" (expected AWS, Federated, Service or CanonicalUser)."
                        )));
                    }
                    for s in strings(v)? {
                        let wildcard_ok = s == "*" && kind == "AWS";
                        if s.is_empty() || (s.contains(['*', '?']) && !wildcard_ok) {
                            return Err(invalid(kind, s).detailed(
                                "A principal is a whole name: wildcards cannot match part of it.",
                            ));
                        }
                        let form_ok = match kind.as_str() {
                            "AWS" => aws_form_ok(s),
                            "Service" => service_form_ok(s),
                            "Federated" => federated_form_ok(s),
                            _ => s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
                        };
                        if strict && !form_ok {
                            return Err(invalid(kind, s).detailed(format!(
                                "\"{s}\" is not a form IAM accepts for a {kind} principal."
                            )));
                        }
                        match kind.as_str() {
                            "AWS" if s == "*" => spec.aws_any = true,
                            "AWS" => spec.aws.push(if is_account_id(s) {
                                AwsEntry::Account(s.into())
                            } else if let Some(account) = account_of_root(s) {
                                AwsEntry::Account(account.into())
                            } else {
                                AwsEntry::Arn(s.into())
                            }),
                            "Service" => spec.service.push(s.into()),
                            "Federated" => spec.federated.push(s.into()),
                            _ => spec.canonical.push(s.into()),
                        }
                    }
                }
            }
            other => {
                return Err(PolicyError::syntax(format!(
                    "Principal must be \"*\" or an object, found {}.",
                    other.type_name()
                )));
            }
        }
        Ok(spec)
    }

    /// Whether this element names the caller by its own ARN (an IAM user, a role session,
    /// a federated user), not through its account, its role or a wildcard. A resource-based
    /// policy that does so grants on its own: a permissions boundary or session policy that
    /// does not allow the action does not take it away ("Policy evaluation logic", resource-
    /// based policies and permissions boundaries).
    pub(crate) fn names_exactly(&self, principal: Option<&RequestPrincipal>) -> bool {
        match principal {
            Some(RequestPrincipal::Aws { arn, .. }) => self
                .aws
                .iter()
                .any(|e| matches!(e, AwsEntry::Arn(a) if **a == **arn)),
            _ => false,
        }
    }

    /// `Principal` semantics: does this element name the caller?
    pub(crate) fn matches(&self, principal: Option<&RequestPrincipal>) -> bool {
        if self.everyone {
            return true;
        }
        let Some(principal) = principal else {
            return false;
        };
        match principal {
            RequestPrincipal::Anonymous => self.aws_any,
            RequestPrincipal::Aws { arn, account } => {
                self.aws_any
                    || self.aws.iter().any(|e| match e {
                        AwsEntry::Account(a) => **a == **account,
                        AwsEntry::Arn(a) => {
                            **a == **arn || role_of_session(arn).is_some_and(|r| same_role(a, r))
                        }
                    })
            }
            RequestPrincipal::Service(s) => self.service.iter().any(|x| x.eq_ignore_ascii_case(s)),
            RequestPrincipal::Federated(f) => self.federated.iter().any(|x| **x == **f),
            RequestPrincipal::CanonicalUser(c) => self.canonical.iter().any(|x| **x == **c),
        }
    }

    /// `NotPrincipal` semantics: is the caller exempted (so that the statement does not apply)?
    pub(crate) fn exempts(&self, principal: Option<&RequestPrincipal>) -> bool {
        if self.everyone {
            return true;
        }
        let Some(principal) = principal else {
            return false;
        };
        match principal {
            RequestPrincipal::Anonymous => self.aws_any,
            RequestPrincipal::Aws { arn, account } => {
                if self.aws_any {
                    return true;
                }
                let account_listed = self
                    .aws
                    .iter()
                    .any(|e| matches!(e, AwsEntry::Account(a) if **a == **account));
                let arn_listed = self
                    .aws
                    .iter()
                    .any(|e| matches!(e, AwsEntry::Arn(a) if **a == **arn));
                let is_root = account_of_root(arn).is_some();
                let role_listed = match role_of_session(arn) {
                    Some(role) => self
                        .aws
                        .iter()
                        .any(|e| matches!(e, AwsEntry::Arn(a) if same_role(a, role))),
                    None => true,
                };
                account_listed && (is_root || (arn_listed && role_listed))
            }
            RequestPrincipal::Service(s) => self.service.iter().any(|x| x.eq_ignore_ascii_case(s)),
            RequestPrincipal::Federated(f) => self.federated.iter().any(|x| **x == **f),
            RequestPrincipal::CanonicalUser(c) => self.canonical.iter().any(|x| **x == **c),
        }
    }
}

/// For `arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION`, return `(P, ACCOUNT, NAME)`.
fn role_of_session(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("assumed-role/")?;
    let (name, _session) = rest.split_once('/')?;
    Some((partition, account, name))
}

/// Whether `policy_arn` is the role `arn:P:iam::ACCOUNT:role[/path]/NAME` (the session ARN
/// carries no path, so the path is not compared).
fn same_role(policy_arn: &str, (partition, account, name): (&str, &str, &str)) -> bool {
    let Some(rest) = policy_arn.strip_prefix("arn:") else {
        return false;
    };
    let Some(rest) = rest
        .strip_prefix(partition)
        .and_then(|r| r.strip_prefix(":iam::"))
    else {
        return false;
    };
    let Some(rest) = rest
        .strip_prefix(account)
        .and_then(|r| r.strip_prefix(":role/"))
    else {
        return false;
    };
    rest.rsplit('/').next() == Some(name)
}
