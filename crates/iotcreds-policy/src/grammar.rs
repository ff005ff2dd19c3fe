//! Policy grammar and validation: JSON text to a compiled [`Policy`].
//!
//! Follows "Grammar of the IAM JSON policy language"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>) and the
//! element pages; error texts follow the `MalformedPolicyDocument` messages IAM returns.

use std::collections::HashSet;
use std::sync::Arc;

use crate::condition::Condition;
use crate::error::PolicyError;
use crate::json::{self, Json};
use crate::matching::{ArnPattern, Syntax, Template};
use crate::principal::PrincipalSpec;
use crate::{Policy, PolicyInner, PolicyKind, PolicyVersion, StatementEffect};

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: StatementEffect,
    /// `(is NotPrincipal, spec)`.
    pub(crate) principal: Option<(bool, PrincipalSpec)>,
    /// `true` for `NotAction`.
    pub(crate) not_action: bool,
    pub(crate) actions: Vec<Template>,
    /// `(is NotResource, patterns)`; `None` when the statement has no resource element
    /// (trust policies, some resource policies): it then covers any resource.
    pub(crate) resources: Option<(bool, Vec<ArnPattern>)>,
    pub(crate) conditions: Vec<Condition>,
}

const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Members of an object, rejecting duplicate keys.
fn members<'a>(value: &'a Json, what: &str) -> Result<&'a [(String, Json)], PolicyError> {
    let Json::Obj(members) = value else {
        return Err(PolicyError::malformed(format!(
            "{what} must be a JSON object, found {}.",
            value.type_name()
        )));
    };
    // A set, so that a huge object cannot make this quadratic.
    let mut seen = HashSet::with_capacity(members.len());
    for (key, _) in members {
        if !seen.insert(key.as_str()) {
            return Err(PolicyError::malformed(format!(
                "Duplicate key \"{key}\" in {what}."
            )));
        }
    }
    Ok(members)
}

fn get<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A string or a non-empty array of strings.
fn string_list<'a>(value: &'a Json, element: &str) -> Result<Vec<&'a str>, PolicyError> {
    let items: Vec<&Json> = match value {
        Json::Arr(items) if items.is_empty() => {
            return Err(PolicyError::malformed(format!(
                "{element} must not be an empty list."
            )));
        }
        Json::Arr(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|v| match v {
            Json::Str(s) => Ok(s.as_str()),
            other => Err(PolicyError::malformed(format!(
                "{element} values must be strings, found {}.",
                other.type_name()
            ))),
        })
        .collect()
}

pub(crate) fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let root = json::parse(document)
        .map_err(|e| PolicyError::malformed(format!("Syntax errors in policy. {e}")))?;
    let top = members(&root, "the policy")?;
    for (key, _) in top {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::malformed(format!(
                "Policy document contains an unknown field \"{key}\"."
            )));
        }
    }
    let version = match get(top, "Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Json::Str(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(Json::Str(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(_) => {
            return Err(
                PolicyError::malformed("The policy failed legacy parsing").in_element("Version")
            );
        }
    };
    let id = match get(top, "Id") {
        None => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Id must be a string, found {}.",
                other.type_name()
            ))
            .in_element("Id"));
        }
    };
    let raw_statements: Vec<&Json> = match get(top, "Statement") {
        None => {
            return Err(
                PolicyError::malformed("Missing required field Statement").in_element("Statement")
            );
        }
        Some(Json::Arr(items)) if items.is_empty() => {
            return Err(
                PolicyError::malformed("Policy must contain at least one statement.")
                    .in_element("Statement"),
            );
        }
        Some(Json::Arr(items)) => items.iter().collect(),
        Some(obj @ Json::Obj(_)) => vec![obj],
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Statement must be an object or an array of objects, found {}.",
                other.type_name()
            ))
            .in_element("Statement"));
        }
    };
    let mut statements = Vec::with_capacity(raw_statements.len());
    let mut sids: HashSet<String> = HashSet::new();
    for (index, raw) in raw_statements.into_iter().enumerate() {
        let sid = match raw {
            Json::Obj(m) => match get(m, "Sid") {
                Some(Json::Str(s)) => Some(s.as_str()),
                _ => None,
            },
            _ => None,
        };
        let statement =
            parse_statement(raw, kind, version).map_err(|e| e.in_statement(index, sid))?;
        if kind.is_iam()
            && let Some(sid) = statement.sid.as_deref().filter(|s| !s.is_empty())
            && !sids.insert(sid.to_owned())
        {
            return Err(PolicyError::malformed(
                "Statement IDs (SID) in a single policy must be unique.",
            )
            .in_element("Sid")
            .in_statement(index, Some(sid)));
        }
        statements.push(statement);
    }
    Ok(Policy {
        inner: Arc::new(PolicyInner {
            version,
            kind,
            id,
            statements,
        }),
    })
}

fn parse_statement(
    raw: &Json,
    kind: PolicyKind,
    version: PolicyVersion,
) -> Result<Statement, PolicyError> {
    let m = members(raw, "a statement")?;
    for (key, _) in m {
        if !STATEMENT_FIELDS.contains(&key.as_str()) {
            return Err(PolicyError::malformed(format!(
                "Statement contains an unknown field \"{key}\"."
            ))
            .in_element(key));
        }
    }
    let variables = version == PolicyVersion::V2012_10_17;

    let sid = match get(m, "Sid") {
        None => None,
        Some(Json::Str(s)) => {
            if kind.is_iam() && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PolicyError::malformed(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                )
                .in_element("Sid"));
            }
            Some(s.clone())
        }
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Sid must be a string, found {}.",
                other.type_name()
            ))
            .in_element("Sid"));
        }
    };

    let effect = match get(m, "Effect") {
        Some(Json::Str(s)) if s == "Allow" => StatementEffect::Allow,
        Some(Json::Str(s)) if s == "Deny" => StatementEffect::Deny,
        Some(Json::Str(s)) => {
            return Err(PolicyError::malformed(format!("Invalid effect: {s}")).in_element("Effect"));
        }
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Effect must be a string, found {}.",
                other.type_name()
            ))
            .in_element("Effect"));
        }
        None => {
            return Err(
                PolicyError::malformed("Missing required field Effect").in_element("Effect")
            );
        }
    };

    let principal = match (get(m, "Principal"), get(m, "NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::malformed(
                "A statement cannot contain both Principal and NotPrincipal.",
            )
            .in_element("Principal"));
        }
        (p, np) if !kind.requires_principal() => {
            if p.is_some() || np.is_some() {
                let element = if p.is_some() {
                    "Principal"
                } else {
                    "NotPrincipal"
                };
                return Err(PolicyError::malformed(
                    "Policy document should not specify a principal.",
                )
                .in_element(element));
            }
            None
        }
        (Some(p), None) => Some((
            false,
            PrincipalSpec::parse(p).map_err(|e| e.in_element("Principal"))?,
        )),
        (None, Some(np)) => Some((
            true,
            PrincipalSpec::parse(np).map_err(|e| e.in_element("NotPrincipal"))?,
        )),
        (None, None) => {
            return Err(
                PolicyError::malformed("Missing required field Principal").in_element("Principal")
            );
        }
    };

    let (not_action, action_value) = match (get(m, "Action"), get(m, "NotAction")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::malformed(
                "A statement cannot contain both Action and NotAction.",
            )
            .in_element("Action"));
        }
        (Some(a), None) => (false, a),
        (None, Some(a)) => (true, a),
        (None, None) => {
            return Err(
                PolicyError::malformed("Policy statement must contain actions.")
                    .in_element("Action"),
            );
        }
    };
    let element = if not_action { "NotAction" } else { "Action" };
    let mut actions = Vec::new();
    for action in string_list(action_value, element).map_err(|e| e.in_element(element))? {
        let vendor_ok = action == "*"
            || action
                .split_once(':')
                .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
        if !vendor_ok {
            return Err(PolicyError::malformed(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (found \"{action}\")"
            ))
            .in_element(element));
        }
        actions.push(Template::compile(
            action,
            Syntax {
                variables: false,
                wildcards: true,
            },
        ));
    }

    let resource_element = match (get(m, "Resource"), get(m, "NotResource")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::malformed(
                "A statement cannot contain both Resource and NotResource.",
            )
            .in_element("Resource"));
        }
        (Some(v), None) => Some((false, v, "Resource")),
        (None, Some(v)) => Some((true, v, "NotResource")),
        (None, None) => None,
    };
    let resources = match (kind, resource_element) {
        (PolicyKind::Trust, Some((_, _, element))) => {
            return Err(
                PolicyError::malformed(format!("Has prohibited field {element}"))
                    .in_element(element),
            );
        }
        (PolicyKind::Trust | PolicyKind::Resource, None) => None,
        (_, None) => {
            return Err(
                PolicyError::malformed("Policy statement must contain resources.")
                    .in_element("Resource"),
            );
        }
        (_, Some((negated, value, element))) => {
            let mut patterns = Vec::new();
            for resource in string_list(value, element).map_err(|e| e.in_element(element))? {
                if resource != "*" && !resource.starts_with("arn:") {
                    return Err(PolicyError::malformed(format!(
                        "Resource {resource} must be in ARN format or \"*\"."
                    ))
                    .in_element(element));
                }
                patterns.push(ArnPattern::compile(
                    resource,
                    Syntax {
                        variables,
                        wildcards: true,
                    },
                ));
            }
            Some((negated, patterns))
        }
    };

    let conditions = match get(m, "Condition") {
        None => Vec::new(),
        Some(c) => parse_conditions(c, variables).map_err(|e| e.in_element("Condition"))?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        not_action,
        actions,
        resources,
        conditions,
    })
}

fn parse_conditions(value: &Json, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (operator, block) in members(value, "Condition")? {
        for (key, raw) in members(block, "a condition operator block")? {
            let values = condition_values(raw, operator, key)?;
            out.push(Condition::compile(operator, key, &values, variables)?);
        }
    }
    Ok(out)
}

fn condition_values(raw: &Json, operator: &str, key: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |v: &Json| -> Result<String, PolicyError> {
        match v {
            Json::Str(s) => Ok(s.clone()),
            Json::Num(n) => Ok(n.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(PolicyError::malformed(format!(
                "Condition values of {operator} for key {key} must be strings, numbers or Booleans, found {}.",
                other.type_name()
            ))),
        }
    };
    match raw {
        Json::Arr(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}
