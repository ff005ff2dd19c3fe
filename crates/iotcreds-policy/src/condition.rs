//! Condition operators: compilation and evaluation.
//!
//! Semantics (IAM User Guide, "Condition operators", "Conditions with multiple context keys
//! or values", "Single-valued vs. multivalued context keys", "Variables and tags"):
//!
//! * operators in a block and keys under one operator are ANDed;
//! * the policy values of one key are ORed (NOR for negated operators);
//! * a missing key makes positive operators false and negated operators true, except that
//!   `...IfExists` is true and `Null` tests presence;
//! * `ForAnyValue:` is true when some request value satisfies the operator (false when the key
//!   is missing or empty); `ForAllValues:` is true when every request value satisfies it (true
//!   when the key is missing or empty);
//! * a policy value whose variable cannot be resolved is a null value: it equals/matches
//!   nothing, so a negated operator holds against it;
//! * a value that is not of the operator's type (a policy value or a request value that is
//!   not a number, date, IP address or CIDR, ARN, base64 text or Boolean) cannot be
//!   compared: neither the operator nor its negation holds for that pair. Such a policy is
//!   accepted and evaluated (the condition does not match); it never fails a request.

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

/// Compiled policy values of one condition. A value its operator cannot read (not a number,
/// date, CIDR, ARN, base64 text or Boolean) is kept as `None`: it never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    Strings(Vec<Template>),
    Arns(Vec<Option<ArnPattern>>),
    Numbers(Vec<Option<Decimal>>),
    Dates(Vec<Option<Timestamp>>),
    Bools(Vec<Option<Template>>),
    Binary(Vec<Option<Vec<u8>>>),
    Cidrs(Vec<Option<Cidr>>),
    Null(Vec<Option<bool>>),
}

/// How one request value compares with one policy value under the positive relation of the
/// operator (`StringEquals` for `StringNotEquals`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Match,
    /// No match, including a policy variable without a value: it stands for a null value that
    /// equals nothing ("IAM policy elements: Variables and tags", policy variables with no value).
    NoMatch,
    /// The two cannot be compared: the policy value or the request value is not of the
    /// operator's type. Neither the operator nor its negation holds.
    Invalid,
}

impl Outcome {
    fn of(matched: Option<bool>) -> Outcome {
        if matched == Some(true) {
            Outcome::Match
        } else {
            Outcome::NoMatch
        }
    }
}

/// One `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    operator_name: Box<str>,
    op: Operator,
    key: Box<str>,
    lower: Box<str>,
    values: Values,
    /// The policy values the operator cannot read, as written (for validation and reports).
    unreadable: Vec<Box<str>>,
}

/// A policy value of an `Arn*` operator must be an ARN (or `*`); one with a variable is
/// checked when it is resolved (it must then match an ARN to match at all).
fn arn_shaped(v: &str) -> bool {
    v == "*" || v.starts_with("arn:")
}

impl Condition {
    /// Compile one key of one operator. `raw` holds the values as strings (JSON numbers and
    /// Booleans already turned into text). `variables` is false for policy version 2008-10-17.
    /// Only an unknown operator or an empty key is an error: values the operator cannot read
    /// make the condition not match (see [`Values`]).
    pub(crate) fn compile(
        operator: &str,
        key: &str,
        raw: &[String],
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        let op = Operator::parse(operator)
            .ok_or_else(|| PolicyError::syntax(format!("Invalid Condition type : {operator}.")))?;
        if key.is_empty() {
            return Err(PolicyError::syntax("Condition key must not be empty."));
        }
        let mut unreadable: Vec<Box<str>> = Vec::new();
        let mut read = |v: &String, ok: bool| {
            if !ok {
                unreadable.push(v.as_str().into());
            }
        };
        let templates = |wildcards: bool| -> Vec<Template> {
            raw.iter()
                .map(|v| {
                    Template::compile(
                        v,
                        Syntax {
                            variables,
                            wildcards,
                        },
                    )
                })
                .collect()
        };
        let values = match op.family {
            Family::StringEquals | Family::StringEqualsIgnoreCase => {
                Values::Strings(templates(false))
            }
            Family::StringLike => Values::Strings(templates(true)),
            Family::Arn => Values::Arns(
                raw.iter()
                    .map(|v| {
                        let p = ArnPattern::compile(
                            v,
                            Syntax {
                                variables,
                                wildcards: true,
                            },
                        );
                        let ok = p.vars().next().is_some() || arn_shaped(v);
                        read(v, ok);
                        ok.then_some(p)
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
                        let ok = t.vars().next().is_some() || parse_bool(v).is_some();
                        read(v, ok);
                        ok.then_some(t)
                    })
                    .collect(),
            ),
            Family::Numeric(_) => Values::Numbers(
                raw.iter()
                    .map(|v| {
                        let n = Decimal::parse(v);
                        read(v, n.is_some());
                        n
                    })
                    .collect(),
            ),
            Family::Date(_) => Values::Dates(
                raw.iter()
                    .map(|v| {
                        let d = Timestamp::parse(v);
                        read(v, d.is_some());
                        d
                    })
                    .collect(),
            ),
            Family::Binary => Values::Binary(
                raw.iter()
                    .map(|v| {
                        let b = base64_decode(v);
                        read(v, b.is_some());
                        b
                    })
                    .collect(),
            ),
            Family::Ip => Values::Cidrs(
                raw.iter()
                    .map(|v| {
                        let c = Cidr::parse(v);
                        read(v, c.is_some());
                        c
                    })
                    .collect(),
            ),
            Family::Null => Values::Null(
                raw.iter()
                    .map(|v| {
                        let b = parse_bool(v);
                        read(v, b.is_some());
                        b
                    })
                    .collect(),
            ),
        };
        Ok(Condition {
            operator_name: operator.into(),
            op,
            key: key.into(),
            lower: key.to_ascii_lowercase().into(),
            values,
            unreadable,
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

    /// Whether the operator is a `Date*` operator.
    pub(crate) fn is_date(&self) -> bool {
        matches!(self.op.family, Family::Date(_))
    }

    /// The policy values the operator cannot read, as written.
    pub(crate) fn unreadable_values(&self) -> &[Box<str>] {
        &self.unreadable
    }

    /// Keys of policy variables used in the values.
    pub(crate) fn variable_keys(&self) -> Vec<&str> {
        match &self.values {
            Values::Strings(t) => t.iter().flat_map(|t| t.vars().map(|v| &*v.key)).collect(),
            Values::Bools(t) => t
                .iter()
                .flatten()
                .flat_map(|t| t.vars().map(|v| &*v.key))
                .collect(),
            Values::Arns(a) => a
                .iter()
                .flatten()
                .flat_map(|a| a.vars().map(|v| &*v.key))
                .collect(),
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
            return expected.contains(&Some(is_null));
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
        let mut holds = |v: &str| self.holds(v, ctx, missing);
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

    /// Whether the operator holds for the request value `v`: for a positive operator, some
    /// policy value matches; for a negated one, every policy value can be compared with `v`
    /// and none matches. Every policy value is visited so that all missing variables are
    /// reported.
    fn holds(&self, v: &str, ctx: &Context, missing: &mut dyn FnMut(&str)) -> bool {
        let mut any_match = false;
        let mut all_differ = true;
        self.compare(v, ctx, missing, &mut |outcome| match outcome {
            Outcome::Match => {
                any_match = true;
                all_differ = false;
            }
            Outcome::NoMatch => {}
            Outcome::Invalid => all_differ = false,
        });
        if self.op.negated {
            all_differ
        } else {
            any_match
        }
    }

    /// Compare the request value `v` with each policy value.
    fn compare(
        &self,
        v: &str,
        ctx: &Context,
        missing: &mut dyn FnMut(&str),
        out: &mut dyn FnMut(Outcome),
    ) {
        // Each typed family: the request value must be of the type, each policy value too.
        fn typed<P, R: Copy>(
            policy: &[Option<P>],
            request: Option<R>,
            out: &mut dyn FnMut(Outcome),
            matches: impl Fn(&P, R) -> bool,
        ) {
            for p in policy {
                out(match (p, request) {
                    (Some(p), Some(r)) if matches(p, r) => Outcome::Match,
                    (Some(_), Some(_)) => Outcome::NoMatch,
                    _ => Outcome::Invalid,
                });
            }
        }
        match &self.values {
            Values::Strings(templates) => {
                let case = match self.op.family {
                    Family::StringEqualsIgnoreCase => Case::Unicode,
                    _ => Case::Sensitive,
                };
                for t in templates {
                    out(Outcome::of(t.matches(v, case, ctx, missing)));
                }
            }
            Values::Arns(patterns) => {
                let request_ok = v.starts_with("arn:");
                for p in patterns {
                    out(match p {
                        Some(p) if request_ok => Outcome::of(p.matches(v, ctx, missing)),
                        _ => Outcome::Invalid,
                    });
                }
            }
            Values::Bools(templates) => {
                let request = parse_bool(v);
                for t in templates {
                    let (Some(t), Some(request)) = (t, request) else {
                        out(Outcome::Invalid);
                        continue;
                    };
                    let truthy = t.matches("true", Case::AsciiInsensitive, ctx, missing);
                    let falsy = t.matches("false", Case::AsciiInsensitive, ctx, missing);
                    out(match (truthy, falsy) {
                        (Some(true), _) => Outcome::of(Some(request)),
                        (_, Some(true)) => Outcome::of(Some(!request)),
                        // A variable whose value is not a Boolean.
                        (Some(false), Some(false)) => Outcome::Invalid,
                        // A variable without a value.
                        _ => Outcome::NoMatch,
                    });
                }
            }
            Values::Numbers(numbers) => {
                let Family::Numeric(cmp) = self.op.family else {
                    return;
                };
                typed(numbers, parse_decimal(v), out, |n, req| {
                    cmp.holds(cmp_decimal(req, n.as_ref()))
                });
            }
            Values::Dates(dates) => {
                let Family::Date(cmp) = self.op.family else {
                    return;
                };
                typed(dates, Timestamp::parse(v), out, |d, req| {
                    cmp.holds(req.cmp(d))
                });
            }
            Values::Binary(blobs) => {
                let request = base64_decode(v);
                typed(blobs, request.as_deref(), out, |b, req| b.as_slice() == req);
            }
            Values::Cidrs(cidrs) => {
                typed(cidrs, v.parse::<IpAddr>().ok(), out, |c, ip| c.contains(ip));
            }
            Values::Null(_) => {}
        }
    }
}
