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
//! "might deny access to the entire account".

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

fn invalid(value: &str) -> PolicyError {
    PolicyError::malformed(format!("Invalid principal in policy: \"{value}\""))
}

fn strings(value: &Json) -> Result<Vec<&str>, PolicyError> {
    let list: Vec<&Json> = match value {
        Json::Arr(items) => items.iter().collect(),
        other => vec![other],
    };
    if list.is_empty() {
        return Err(PolicyError::malformed(
            "Principal values must not be empty.",
        ));
    }
    list.into_iter()
        .map(|v| match v {
            Json::Str(s) if !s.is_empty() => Ok(s.as_str()),
            Json::Str(_) => Err(invalid("")),
            other => Err(PolicyError::malformed(format!(
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

impl PrincipalSpec {
    pub(crate) fn parse(value: &Json) -> Result<PrincipalSpec, PolicyError> {
        let mut spec = PrincipalSpec::default();
        match value {
            Json::Str(s) if s == "*" => spec.everyone = true,
            Json::Str(s) => return Err(invalid(s)),
            Json::Obj(members) => {
                if members.is_empty() {
                    return Err(PolicyError::malformed("Principal must not be empty."));
                }
                for (kind, v) in members {
                    let values = strings(v)?;
                    for s in values {
                        if s.contains('*') && s != "*" {
                            return Err(invalid(s));
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
                            "Service" | "Federated" | "CanonicalUser" if s == "*" => {
                                return Err(invalid(s));
                            }
                            "Service" => spec.service.push(s.into()),
                            "Federated" => spec.federated.push(s.into()),
                            "CanonicalUser" => spec.canonical.push(s.into()),
                            other => {
                                return Err(PolicyError::malformed(format!(
                                    "Invalid principal type \"{other}\" (expected AWS, Federated, Service or CanonicalUser)."
                                )));
                            }
                        }
                    }
                }
            }
            other => {
                return Err(PolicyError::malformed(format!(
                    "Principal must be \"*\" or an object, found {}.",
                    other.type_name()
                )));
            }
        }
        Ok(spec)
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
