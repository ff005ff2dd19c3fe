//! Condition operators: compilation and evaluation.
//!
//! Semantics (IAM User Guide, "Condition operators", "Conditions with multiple context keys
//! or values", "Single-valued vs. multivalued context keys"):
//!
//! * operators in a block and keys under one operator are ANDed;
//! * the policy values of one key are ORed (NOR for negated operators);
//! * a missing key makes positive operators false and negated operators true, except that
//!   `...IfExists` is true and `Null` tests presence;
//! * `ForAnyValue:` is true when some request value satisfies the operator (false when the key
//!   is missing or empty); `ForAllValues:` is true when every request value satisfies it (true
//!   when the key is missing or empty);
//! * a policy value whose variable cannot be resolved equals/matches nothing.

use std::cmp::Ordering;
use std::net::IpAddr;

use crate::context::Context;
use crate::error::PolicyError;
use crate::matching::{ArnPattern, Case, Syntax, Template};
use crate::values::{
    Cidr, Decimal, Timestamp, base64_decode, cmp_decimal, parse_bool, parse_decimal,
};

/// Set qualifier of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// A parsed operator name such as `ForAllValues:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: SetOp,
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

impl Operator {
    /// Parse an operator name (ASCII case-insensitive).
    fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::None, name)
        };
        let (if_exists, base) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let (family, negated) = match base.to_ascii_lowercase().as_str() {
            "stringequals" => (Family::StringEquals, false),
            "stringnotequals" => (Family::StringEquals, true),
            "stringequalsignorecase" => (Family::StringEqualsIgnoreCase, false),
            "stringnotequalsignorecase" => (Family::StringEqualsIgnoreCase, true),
            "stringlike" => (Family::StringLike, false),
            "stringnotlike" => (Family::StringLike, true),
            "numericequals" => (Family::Numeric(Cmp::Eq), false),
            "numericnotequals" => (Family::Numeric(Cmp::Eq), true),
            "numericlessthan" => (Family::Numeric(Cmp::Lt), false),
            "numericlessthanequals" => (Family::Numeric(Cmp::Le), false),
            "numericgreaterthan" => (Family::Numeric(Cmp::Gt), false),
            "numericgreaterthanequals" => (Family::Numeric(Cmp::Ge), false),
            "dateequals" => (Family::Date(Cmp::Eq), false),
            "datenotequals" => (Family::Date(Cmp::Eq), true),
            "datelessthan" => (Family::Date(Cmp::Lt), false),
            "datelessthanequals" => (Family::Date(Cmp::Le), false),
            "dategreaterthan" => (Family::Date(Cmp::Gt), false),
            "dategreaterthanequals" => (Family::Date(Cmp::Ge), false),
            "bool" => (Family::Bool, false),
            "binaryequals" => (Family::Binary, false),
            "ipaddress" => (Family::Ip, false),
            "notipaddress" => (Family::Ip, true),
            "arnequals" | "arnlike" => (Family::Arn, false),
            "arnnotequals" | "arnnotlike" => (Family::Arn, true),
            "null" => (Family::Null, false),
            _ => return None,
        };
        if family == Family::Null && (if_exists || set != SetOp::None) {
            return None;
        }
        Some(Operator {
            family,
            negated,
            if_exists,
            set,
        })
    }
}

/// Compiled policy values of one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    Strings(Vec<Template>),
    Arns(Vec<ArnPattern>),
    Numbers(Vec<Decimal>),
    Dates(Vec<Timestamp>),
    Bools(Vec<Template>),
    Binary(Vec<Vec<u8>>),
    Cidrs(Vec<Cidr>),
    Null(Vec<bool>),
}

/// One `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    operator_name: Box<str>,
    op: Operator,
    key: Box<str>,
    lower: Box<str>,
    values: Values,
}

impl Condition {
    /// Compile one key of one operator. `raw` holds the values as strings (JSON numbers and
    /// Booleans already turned into text). `variables` is false for policy version 2008-10-17.
    pub(crate) fn compile(
        operator: &str,
        key: &str,
        raw: &[String],
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        let op = Operator::parse(operator).ok_or_else(|| {
            PolicyError::malformed(format!("Invalid Condition type : {operator}."))
        })?;
        if key.is_empty() {
            return Err(PolicyError::malformed("Condition key must not be empty."));
        }
        let bad = |what: &str, v: &str| {
            PolicyError::malformed(format!(
                "Invalid {what} value '{v}' for condition key '{key}' of operator {operator}."
            ))
        };
        let values = match op.family {
            Family::StringEquals | Family::StringEqualsIgnoreCase => Values::Strings(
                raw.iter()
                    .map(|v| {
                        Template::compile(
                            v,
                            Syntax {
                                variables,
                                wildcards: false,
                            },
                        )
                    })
                    .collect(),
            ),
            Family::StringLike => Values::Strings(
                raw.iter()
                    .map(|v| {
                        Template::compile(
                            v,
                            Syntax {
                                variables,
                                wildcards: true,
                            },
                        )
                    })
                    .collect(),
            ),
            Family::Arn => Values::Arns(
                raw.iter()
                    .map(|v| {
                        ArnPattern::compile(
                            v,
                            Syntax {
                                variables,
                                wildcards: true,
                            },
                        )
                    })
                    .collect(),
            ),
            Family::Bool => Values::Bools(
                raw.iter()
                    .map(|v| {
                        let t = Template::compile(
                            v,
                            Syntax {
                                variables,
                                wildcards: false,
                            },
                        );
                        if t.vars().next().is_none() && parse_bool(v).is_none() {
                            Err(bad("Boolean", v))
                        } else {
                            Ok(t)
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Family::Numeric(_) => Values::Numbers(
                raw.iter()
                    .map(|v| Decimal::parse(v).ok_or_else(|| bad("numeric", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Date(_) => Values::Dates(
                raw.iter()
                    .map(|v| Timestamp::parse(v).ok_or_else(|| bad("date", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Binary => Values::Binary(
                raw.iter()
                    .map(|v| base64_decode(v).ok_or_else(|| bad("base64", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Ip => Values::Cidrs(
                raw.iter()
                    .map(|v| Cidr::parse(v).ok_or_else(|| bad("IP address", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Null => Values::Null(
                raw.iter()
                    .map(|v| parse_bool(v).ok_or_else(|| bad("Null", v)))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition {
            operator_name: operator.into(),
            op,
            key: key.into(),
            lower: key.to_ascii_lowercase().into(),
            values,
        })
    }

    /// The operator as written in the policy.
    pub(crate) fn operator_name(&self) -> &str {
        &self.operator_name
    }

    /// The condition key as written in the policy.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Keys of policy variables used in the values.
    pub(crate) fn variable_keys(&self) -> Vec<&str> {
        match &self.values {
            Values::Strings(t) | Values::Bools(t) => {
                t.iter().flat_map(|t| t.vars().map(|v| &*v.key)).collect()
            }
            Values::Arns(a) => a.iter().flat_map(|a| a.vars().map(|v| &*v.key)).collect(),
            _ => Vec::new(),
        }
    }

    /// Evaluate against the context. Missing condition keys and unresolved variables are
    /// reported through `missing`.
    pub(crate) fn evaluate(&self, ctx: &Context, missing: &mut dyn FnMut(&str)) -> bool {
        let op = self.op;
        let value = ctx.get_lower(&self.lower);
        if value.is_none() {
            missing(&self.key);
        }
        let is_null = value.is_none_or(|v| v.is_empty());
        if let Values::Null(expected) = &self.values {
            return expected.contains(&is_null);
        }
        let values = match value {
            Some(v) if !v.is_empty() => v.as_slice(),
            _ => {
                return match op.set {
                    SetOp::ForAllValues => true,
                    SetOp::ForAnyValue => op.if_exists,
                    SetOp::None => op.if_exists || op.negated,
                };
            }
        };
        let mut holds = |v: &str| self.any_value_matches(v, ctx, missing) != op.negated;
        match op.set {
            SetOp::ForAnyValue => values.iter().any(|v| holds(v)),
            SetOp::ForAllValues => values.iter().all(|v| holds(v)),
            SetOp::None => {
                if op.negated {
                    values.iter().all(|v| holds(v))
                } else {
                    values.iter().any(|v| holds(v))
                }
            }
        }
    }

    /// Whether the request value `v` matches at least one policy value (the positive relation).
    fn any_value_matches(&self, v: &str, ctx: &Context, missing: &mut dyn FnMut(&str)) -> bool {
        match &self.values {
            Values::Strings(templates) => {
                let case = match self.op.family {
                    Family::StringEqualsIgnoreCase => Case::Unicode,
                    _ => Case::Sensitive,
                };
                let mut any = false;
                for t in templates {
                    if t.matches(v, case, ctx, missing) == Some(true) {
                        any = true;
                    }
                }
                any
            }
            Values::Arns(patterns) => {
                let mut any = false;
                for p in patterns {
                    if p.matches(v, ctx, missing) == Some(true) {
                        any = true;
                    }
                }
                any
            }
            Values::Bools(templates) => {
                let Some(request) = parse_bool(v) else {
                    return false;
                };
                templates.iter().any(|t| {
                    let truthy = t.matches("true", Case::AsciiInsensitive, ctx, missing);
                    let falsy = t.matches("false", Case::AsciiInsensitive, ctx, missing);
                    match (truthy, falsy) {
                        (Some(true), _) => request,
                        (_, Some(true)) => !request,
                        _ => false,
                    }
                })
            }
            Values::Numbers(numbers) => match (parse_decimal(v), self.op.family) {
                (Some(req), Family::Numeric(cmp)) => numbers
                    .iter()
                    .any(|n| cmp.holds(cmp_decimal(req, n.as_ref()))),
                _ => false,
            },
            Values::Dates(dates) => match (Timestamp::parse(v), self.op.family) {
                (Some(req), Family::Date(cmp)) => dates.iter().any(|d| cmp.holds(req.cmp(d))),
                _ => false,
            },
            Values::Binary(blobs) => match base64_decode(v) {
                Some(bytes) => blobs.contains(&bytes),
                None => false,
            },
            Values::Cidrs(cidrs) => match v.parse::<IpAddr>() {
                Ok(ip) => cidrs.iter().any(|c| c.contains(ip)),
                Err(_) => false,
            },
            Values::Null(_) => false,
        }
    }
}
