//! Policy grammar and validation: JSON text to a compiled [`Policy`].
//!
//! Follows "Grammar of the IAM JSON policy language"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>) and the
//! element pages. Errors carry the `MalformedPolicyDocument` message IAM returns for the fault
//! and our explanation as detail. When a document has several faults, the one reported is the
//! one IAM reports first: a syntax error, then a customer managed policy's `Version`, then the
//! "legacy parsing" faults, duplicate `Sid`s, missing actions, missing resources, then the rest
//! (in document order within each class).
//!
//! [`parse`] with a [`Target`] (that is, [`crate::Policy::validate`]) adds the rules IAM or
//! AWS IoT apply when they store a document (see [`crate::rules`]); without one it reads any
//! document that was accepted before, so stored policies keep compiling.

use std::collections::HashSet;
use std::sync::Arc;

use crate::condition::Condition;
use crate::error::{PolicyError, iam};
use crate::json::{self, Json};
use crate::matching::{ArnPattern, Syntax, Template};
use crate::principal::PrincipalSpec;
use crate::{Policy, PolicyInner, PolicyKind, PolicyVersion, StatementEffect, Target, rules};

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
        return Err(PolicyError::syntax(format!(
            "{what} must be a JSON object, found {}.",
            value.type_name()
        )));
    };
    // A set, so that a huge object cannot make this quadratic.
    let mut seen = HashSet::with_capacity(members.len());
    for (key, _) in members {
        if !seen.insert(key.as_str()) {
            return Err(PolicyError::syntax(format!(
                "Duplicate key \"{key}\" in {what}."
            )));
        }
    }
    Ok(members)
}

fn get<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A string or an array of strings (possibly empty).
fn string_list<'a>(value: &'a Json, element: &str) -> Result<Vec<&'a str>, PolicyError> {
    let items: Vec<&Json> = match value {
        Json::Arr(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|v| match v {
            Json::Str(s) => Ok(s.as_str()),
            other => Err(PolicyError::syntax(format!(
                "{element} values must be strings, found {}.",
                other.type_name()
            ))),
        })
        .collect()
}

/// The order in which IAM reports faults (lower first).
fn rank(e: &PolicyError) -> u8 {
    match e.message() {
        iam::SYNTAX => 0,
        iam::VERSION => 1,
        iam::LEGACY => 2,
        iam::SID_UNIQUE => 3,
        iam::NO_ACTIONS => 4,
        iam::NO_RESOURCES => 5,
        _ => 6,
    }
}

/// The fault to report: the first of the lowest rank.
#[derive(Default)]
struct Faults(Option<PolicyError>);

impl Faults {
    fn add(&mut self, e: PolicyError) {
        if self.0.as_ref().is_none_or(|kept| rank(&e) < rank(kept)) {
            self.0 = Some(e);
        }
    }

    fn check<T>(&mut self, result: Result<T, PolicyError>) -> Option<T> {
        result.map_err(|e| self.add(e)).ok()
    }
}

/// What the caller asks of [`parse`]: the kind of policy, and when the document is being
/// stored, where (which adds that service's write-time rules and wording).
#[derive(Debug, Clone, Copy)]
struct Rules {
    kind: PolicyKind,
    target: Option<Target>,
    variables: bool,
}

impl Rules {
    /// IAM's write-time checks of actions and resources (identity policies).
    fn iam_strict(self) -> bool {
        matches!(
            self.target,
            Some(Target::ManagedPolicy | Target::InlinePolicy)
        )
    }

    fn trust_strict(self) -> bool {
        self.target == Some(Target::TrustPolicy)
    }

    fn strict(self) -> bool {
        self.target.is_some()
    }
}

pub(crate) fn parse(
    document: &str,
    kind: PolicyKind,
    target: Option<Target>,
) -> Result<Policy, PolicyError> {
    let result = parse_document(document, kind, target);
    match target {
        Some(Target::IotPolicy) => result.map_err(PolicyError::into_iot),
        _ => result,
    }
}

fn parse_document(
    document: &str,
    kind: PolicyKind,
    target: Option<Target>,
) -> Result<Policy, PolicyError> {
    let root = json::parse(document)
        .map_err(|e| PolicyError::syntax(format!("The document is not valid JSON: {e}.")))?;
    let top = members(&root, "the policy")?;
    for (key, _) in top {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::syntax(format!(
                "Policy document contains an unknown field \"{key}\"."
            )));
        }
    }
    let version = match get(top, "Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Json::Str(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(Json::Str(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(other) => {
            let found = match other {
                Json::Str(s) => format!("\"{s}\""),
                other => other.type_name().to_owned(),
            };
            return Err(PolicyError::syntax(format!(
                "Version must be \"2012-10-17\" or \"2008-10-17\", found {found}."
            ))
            .in_element("Version"));
        }
    };
    let id = match get(top, "Id") {
        None => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => {
            return Err(PolicyError::syntax(format!(
                "Id must be a string, found {}.",
                other.type_name()
            ))
            .in_element("Id"));
        }
    };
    let raw_statements: Vec<&Json> = match get(top, "Statement") {
        None => {
            return Err(
                PolicyError::syntax("Missing required field Statement.").in_element("Statement")
            );
        }
        Some(Json::Arr(items)) if items.is_empty() => {
            return Err(
                PolicyError::syntax("Policy must contain at least one statement.")
                    .in_element("Statement"),
            );
        }
        Some(Json::Arr(items)) => items.iter().collect(),
        Some(obj @ Json::Obj(_)) => vec![obj],
        Some(other) => {
            return Err(PolicyError::syntax(format!(
                "Statement must be an object or an array of objects, found {}.",
                other.type_name()
            ))
            .in_element("Statement"));
        }
    };
    let rules = Rules {
        kind,
        target,
        variables: version == PolicyVersion::V2012_10_17,
    };
    let mut faults = Faults::default();
    if matches!(target, Some(Target::ManagedPolicy | Target::IotPolicy))
        && version != PolicyVersion::V2012_10_17
    {
        faults.add(
            PolicyError::malformed(iam::VERSION)
                .detailed("This kind of policy needs \"Version\": \"2012-10-17\".")
                .in_element("Version"),
        );
    }
    let mut statements = Vec::with_capacity(raw_statements.len());
    let mut sids: HashSet<&str> = HashSet::new();
    for (index, raw) in raw_statements.into_iter().enumerate() {
        let sid = match raw {
            Json::Obj(m) => match get(m, "Sid") {
                Some(Json::Str(s)) => Some(s.as_str()),
                _ => None,
            },
            _ => None,
        };
        if kind.is_iam()
            && let Some(sid) = sid.filter(|s| !s.is_empty())
            && !sids.insert(sid)
        {
            faults.add(
                PolicyError::malformed(iam::SID_UNIQUE)
                    .detailed(format!("The Sid \"{sid}\" is used twice."))
                    .in_element("Sid")
                    .in_statement(index, Some(sid)),
            );
        }
        match parse_statement(raw, rules) {
            Ok(statement) => statements.push(statement),
            Err(e) => faults.add(e.in_statement(index, sid)),
        }
    }
    if let Some(e) = faults.0 {
        return Err(e);
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

fn parse_statement(raw: &Json, rules: Rules) -> Result<Statement, PolicyError> {
    let kind = rules.kind;
    let m = members(raw, "a statement")?;
    let mut faults = Faults::default();
    for (key, _) in m {
        if !STATEMENT_FIELDS.contains(&key.as_str()) {
            faults.add(
                PolicyError::syntax(format!("Statement contains an unknown field \"{key}\"."))
                    .in_element(key),
            );
        }
    }

    let sid = match get(m, "Sid") {
        None => None,
        Some(Json::Str(s)) => {
            if kind.is_iam() && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                faults.add(
                    PolicyError::malformed(iam::SID_CHARS)
                        .detailed(format!("The Sid \"{s}\" has other characters."))
                        .in_element("Sid"),
                );
            }
            Some(s.clone())
        }
        Some(other) => {
            faults.add(
                PolicyError::syntax(format!(
                    "Sid must be a string, found {}.",
                    other.type_name()
                ))
                .in_element("Sid"),
            );
            None
        }
    };

    let effect = match get(m, "Effect") {
        Some(Json::Str(s)) if s == "Allow" => Some(StatementEffect::Allow),
        Some(Json::Str(s)) if s == "Deny" => Some(StatementEffect::Deny),
        Some(Json::Str(s)) if s.eq_ignore_ascii_case("allow") || s.eq_ignore_ascii_case("deny") => {
            faults.add(
                PolicyError::malformed(iam::LEGACY)
                    .detailed(format!(
                        "Invalid effect: {s} (Effect is \"Allow\" or \"Deny\", in that case)."
                    ))
                    .in_element("Effect"),
            );
            None
        }
        Some(Json::Str(s)) => {
            faults.add(
                PolicyError::syntax(format!(
                    "Invalid effect: {s} (Effect is \"Allow\" or \"Deny\")."
                ))
                .in_element("Effect"),
            );
            None
        }
        Some(other) => {
            faults.add(
                PolicyError::syntax(format!(
                    "Effect must be a string, found {}.",
                    other.type_name()
                ))
                .in_element("Effect"),
            );
            None
        }
        None => {
            faults.add(PolicyError::syntax("Missing required field Effect.").in_element("Effect"));
            None
        }
    };

    // Resources before principals: a trust policy holding `Resource` (a permissions policy
    // given as trust policy) is reported as such.
    let resources = parse_resources(m, rules, &mut faults);
    let principal = parse_principal(m, rules, &mut faults);
    let actions = parse_actions(m, rules, &mut faults);
    let conditions = match get(m, "Condition") {
        None => Some(Vec::new()),
        Some(c) => faults.check(parse_conditions(c, rules).map_err(|e| e.in_element("Condition"))),
    };

    if let Some(e) = faults.0 {
        return Err(e);
    }
    match (effect, principal, actions, resources, conditions) {
        (
            Some(effect),
            Some(principal),
            Some((not_action, actions)),
            Some(resources),
            Some(conditions),
        ) => Ok(Statement {
            sid,
            effect,
            principal,
            not_action,
            actions,
            resources,
            conditions,
        }),
        // Every `None` above comes with a fault.
        _ => Err(PolicyError::syntax("The statement is incomplete.")),
    }
}

/// `Principal` / `NotPrincipal`: required in trust and resource policies, refused elsewhere.
/// `None` when faulty; `Some(None)` when the statement has none.
fn parse_principal(
    m: &[(String, Json)],
    rules: Rules,
    faults: &mut Faults,
) -> Option<Option<(bool, PrincipalSpec)>> {
    match (get(m, "Principal"), get(m, "NotPrincipal")) {
        (Some(_), Some(_)) => {
            faults.add(
                PolicyError::syntax("A statement cannot contain both Principal and NotPrincipal.")
                    .in_element("Principal"),
            );
            None
        }
        (p, np) if !rules.kind.requires_principal() => {
            if p.is_none() && np.is_none() {
                return Some(None);
            }
            let element = if p.is_some() {
                "Principal"
            } else {
                "NotPrincipal"
            };
            faults.add(
                PolicyError::malformed(iam::PRINCIPAL_FORBIDDEN)
                    .detailed(format!(
                        "{element} belongs in trust and resource-based policies only."
                    ))
                    .in_element(element),
            );
            None
        }
        (None, None) => {
            let error = match rules.kind {
                PolicyKind::Trust => PolicyError::malformed(iam::NO_PRINCIPALS),
                _ => PolicyError::malformed("Missing required field Principal"),
            };
            faults.add(
                error
                    .detailed("The statement names no Principal.")
                    .in_element("Principal"),
            );
            None
        }
        (p, np) => {
            let (negated, value, element) = match (p, np) {
                (Some(v), _) => (false, v, "Principal"),
                (None, Some(v)) => (true, v, "NotPrincipal"),
                (None, None) => return None,
            };
            faults
                .check(
                    PrincipalSpec::parse(value, rules.trust_strict())
                        .map_err(|e| e.in_element(element)),
                )
                .map(|spec| Some((negated, spec)))
        }
    }
}

/// `Action` / `NotAction`: `(is NotAction, compiled)`, `None` when faulty.
fn parse_actions(
    m: &[(String, Json)],
    rules: Rules,
    faults: &mut Faults,
) -> Option<(bool, Vec<Template>)> {
    let (not_action, value) = match (get(m, "Action"), get(m, "NotAction")) {
        (Some(_), Some(_)) => {
            faults.add(
                PolicyError::syntax("A statement cannot contain both Action and NotAction.")
                    .in_element("Action"),
            );
            return None;
        }
        (Some(a), None) => (false, a),
        (None, Some(a)) => (true, a),
        (None, None) => {
            faults.add(
                PolicyError::malformed(iam::NO_ACTIONS)
                    .detailed("The statement has neither Action nor NotAction.")
                    .in_element("Action"),
            );
            return None;
        }
    };
    let element = if not_action { "NotAction" } else { "Action" };
    let list = faults.check(string_list(value, element).map_err(|e| e.in_element(element)))?;
    if list.is_empty() {
        faults.add(
            PolicyError::malformed(iam::NO_ACTIONS)
                .detailed(format!("{element} is an empty list."))
                .in_element(element),
        );
        return None;
    }
    let mut actions = Vec::with_capacity(list.len());
    for action in list {
        let vendor_ok = action == "*"
            || action
                .split_once(':')
                .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
        if !vendor_ok {
            faults.add(
                PolicyError::malformed(iam::NO_VENDOR)
                    .detailed(format!("\"{action}\" is not service:action."))
                    .in_element(element),
            );
            continue;
        }
        if rules.strict() && rules.kind != PolicyKind::Iot {
            faults.check(rules::action(action).map_err(|e| e.in_element(element)));
        }
        if rules.trust_strict() {
            faults.check(rules::trust_action(action).map_err(|e| e.in_element(element)));
        }
        actions.push(Template::compile(
            action,
            Syntax {
                variables: false,
                wildcards: true,
            },
        ));
    }
    Some((not_action, actions))
}

/// `Resource` / `NotResource`: `Some(None)` when the statement has none and may omit it
/// (trust and resource policies), `None` when faulty.
#[allow(clippy::type_complexity)]
fn parse_resources(
    m: &[(String, Json)],
    rules: Rules,
    faults: &mut Faults,
) -> Option<Option<(bool, Vec<ArnPattern>)>> {
    let (negated, value, element) = match (get(m, "Resource"), get(m, "NotResource")) {
        (Some(_), Some(_)) => {
            faults.add(
                PolicyError::syntax("A statement cannot contain both Resource and NotResource.")
                    .in_element("Resource"),
            );
            return None;
        }
        (Some(v), None) => (false, v, "Resource"),
        (None, Some(v)) => (true, v, "NotResource"),
        (None, None) => {
            if matches!(rules.kind, PolicyKind::Trust | PolicyKind::Resource) {
                return Some(None);
            }
            faults.add(
                PolicyError::malformed(iam::NO_RESOURCES)
                    .detailed("The statement has neither Resource nor NotResource.")
                    .in_element("Resource"),
            );
            return None;
        }
    };
    if rules.kind == PolicyKind::Trust {
        faults.add(
            PolicyError::malformed(format!("Has prohibited field {element}"))
                .detailed("A role trust policy names no resource: the role is the resource.")
                .in_element(element),
        );
        return None;
    }
    let list = faults.check(string_list(value, element).map_err(|e| e.in_element(element)))?;
    if list.is_empty() {
        faults.add(
            PolicyError::malformed(iam::NO_RESOURCES)
                .detailed(format!("{element} is an empty list."))
                .in_element(element),
        );
        return None;
    }
    let mut patterns = Vec::with_capacity(list.len());
    for resource in list {
        if rules.iam_strict()
            && let Err(e) = rules::resource(resource)
        {
            faults.add(e.in_element(element));
            continue;
        }
        if resource != "*" && !resource.starts_with("arn:") {
            faults.add(
                rules::not_arn(resource)
                    .detailed("A resource is an ARN (arn:partition:service:region:account:resource) or \"*\".")
                    .in_element(element),
            );
            continue;
        }
        patterns.push(ArnPattern::compile(
            resource,
            Syntax {
                variables: rules.variables,
                wildcards: true,
            },
        ));
    }
    Some(Some((negated, patterns)))
}

fn parse_conditions(value: &Json, rules: Rules) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (operator, block) in members(value, "Condition")? {
        let keys = members(block, "a condition operator block")?;
        if keys.is_empty() {
            // IAM accepts an empty block, whatever its operator; it tests nothing.
            continue;
        }
        for (key, raw) in keys {
            let values = condition_values(raw, operator, key)?;
            let condition = Condition::compile(operator, key, &values, rules.variables)?;
            if rules.strict()
                && condition.is_date()
                && let Some(bad) = condition.unreadable_values().first()
            {
                return Err(PolicyError::malformed(iam::LEGACY).detailed(format!(
                    "'{bad}' is not a date for {operator} (key {key}): use ISO 8601 (2020-01-01T00:00:00Z) or epoch seconds."
                )));
            }
            out.push(condition);
        }
    }
    Ok(out)
}

/// A condition value: a string, number or Boolean, or an array of them.
fn condition_values(raw: &Json, operator: &str, key: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |v: &Json| -> Result<String, PolicyError> {
        match v {
            Json::Str(s) => Ok(s.clone()),
            Json::Num(n) => Ok(n.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(PolicyError::syntax(format!(
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
