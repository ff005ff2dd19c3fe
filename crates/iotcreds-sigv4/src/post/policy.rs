//! The POST policy document (S3 API Reference, "POST Policy"): base64 JSON with an
//! `expiration` and a list of `conditions`, and the check of a form against it.
//!
//! Conditions: exact match `{"field": "value"}` or `["eq", "$field", "value"]`; prefix
//! `["starts-with", "$field", "prefix"]` (for `Content-Type`, a comma-separated list passes when
//! every item has the prefix); size `["content-length-range", min, max]`, inclusive. Operators
//! and field names are case-insensitive, values are not. A condition on a field the form does not
//! carry fails. Every form field except `x-amz-signature`, `file`, `policy` and `x-ignore-*` must
//! be named by at least one `eq`/`starts-with` condition. Messages are S3's.

use std::borrow::Cow;

use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

/// Why a policy document is unusable: S3's `InvalidPolicyDocument` (400). The text is S3's
/// message (`Invalid Policy: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid Policy: {0}")]
pub struct PolicyError(Cow<'static, str>);

impl PolicyError {
    fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        Self(msg.into())
    }

    fn json() -> Self {
        Self::new("Invalid JSON.")
    }
}

/// How a form fails its policy. `Expired`, `ConditionFailed` and `ExtraField` are S3's
/// `AccessDenied` (403, "Invalid according to Policy: …"); the size variants are
/// `EntityTooLarge`/`EntityTooSmall` (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostViolation {
    /// The policy's `expiration` has passed.
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    /// A condition does not hold; carries the condition as S3 prints it.
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    /// A form field that no condition names; carries the field as sent.
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraField(String),
    /// The file is larger than allowed (`size` when known).
    #[error("Your proposed upload exceeds the maximum allowed size")]
    TooLarge {
        /// The size received so far, when the whole file was read.
        size: Option<u64>,
        /// The largest size allowed.
        max: u64,
    },
    /// The file is smaller than the policy's minimum.
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    TooSmall {
        /// The file's size.
        size: u64,
        /// The smallest size allowed.
        min: u64,
    },
}

impl PostViolation {
    /// The AWS error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired | Self::ConditionFailed(_) | Self::ExtraField(_) => "AccessDenied",
            Self::TooLarge { .. } => "EntityTooLarge",
            Self::TooSmall { .. } => "EntityTooSmall",
        }
    }
}

/// A bound of `content-length-range`: a JSON integer, or a string S3 reads as one (a string
/// that is not a number makes the condition fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// A JSON integer.
    Int(u64),
    /// A JSON string.
    Text(String),
}

impl Bound {
    fn value(&self) -> Option<u64> {
        match self {
            Self::Int(n) => Some(*n),
            Self::Text(s) => s.parse().ok(),
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            Self::Text(s) => json_string(s),
        }
    }
}

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`. `name` is as written (with `$`).
    Eq {
        /// The operand naming the field, `$field`.
        name: String,
        /// The value the field must equal.
        value: String,
    },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith {
        /// The operand naming the field, `$field`.
        name: String,
        /// The prefix.
        value: String,
    },
    /// `["content-length-range", min, max]`.
    ContentLengthRange {
        /// Smallest size.
        min: Bound,
        /// Largest size.
        max: Bound,
    },
}

impl Condition {
    /// The lowercase form field this condition names, when it is a well-formed `$field`.
    fn field(&self) -> Option<String> {
        match self {
            Self::Eq { name, .. } | Self::StartsWith { name, .. } => {
                name.strip_prefix('$').map(str::to_ascii_lowercase)
            }
            Self::ContentLengthRange { .. } => None,
        }
    }

    /// The condition as S3 prints it in "Policy Condition failed: …".
    fn render(&self) -> String {
        match self {
            Self::Eq { name, value } => {
                format!("[\"eq\", {}, {}]", json_string(name), json_string(value))
            }
            Self::StartsWith { name, value } => format!(
                "[\"starts-with\", {}, {}]",
                json_string(name),
                json_string(value)
            ),
            Self::ContentLengthRange { min, max } => format!(
                "[\"content-length-range\", {}, {}]",
                min.render(),
                max.render()
            ),
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A parsed POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

impl PostPolicy {
    /// Decodes and parses the `policy` form field.
    ///
    /// # Errors
    /// [`PolicyError`] with S3's message for bad base64, bad JSON, a missing or unreadable
    /// `expiration`, missing or non-list `conditions`, an unknown member, or a malformed
    /// condition.
    pub fn from_base64(policy: &str) -> Result<Self, PolicyError> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(policy.as_bytes())
            .map_err(|_| PolicyError::new("invalid Base64 encoding."))?;
        Self::from_json(&json)
    }

    /// Parses a policy document.
    ///
    /// # Errors
    /// As [`Self::from_base64`].
    pub fn from_json(json: &[u8]) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_slice(json).map_err(|_| PolicyError::json())?;
        let Value::Object(members) = doc else {
            return Err(PolicyError::json());
        };
        if let Some(other) = members
            .keys()
            .find(|k| *k != "expiration" && *k != "conditions")
        {
            return Err(PolicyError::new(format!(
                "Unexpected: '{}'",
                other.to_ascii_lowercase()
            )));
        }
        let expiration = match members.get("expiration") {
            None => return Err(PolicyError::new("Policy missing expiration.")),
            Some(Value::String(s)) => parse_expiration(s)
                .ok_or_else(|| PolicyError::new(format!("Invalid 'expiration' value: '{s}'")))?,
            Some(other) => {
                return Err(PolicyError::new(format!(
                    "Invalid 'expiration' value: '{other}'"
                )));
            }
        };
        let conditions = match members.get("conditions") {
            None => return Err(PolicyError::new("Policy missing conditions.")),
            Some(Value::Array(list)) => list
                .iter()
                .map(parse_condition)
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(PolicyError::new(
                    "Invalid 'conditions' value: must be a List.",
                ));
            }
        };
        Ok(Self {
            expiration,
            conditions,
        })
    }

    /// When the policy stops being valid.
    #[must_use]
    pub fn expiration(&self) -> OffsetDateTime {
        self.expiration
    }

    /// The conditions, in the document's order.
    #[must_use]
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The size range every `content-length-range` condition allows together (inclusive), or
    /// `None` when there is none. Call after [`Self::check`], which refuses unreadable bounds.
    #[must_use]
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        let mut range: Option<(u64, u64)> = None;
        for c in &self.conditions {
            if let Condition::ContentLengthRange { min, max } = c {
                let (lo, hi) = (min.value().unwrap_or(u64::MAX), max.value().unwrap_or(0));
                range = Some(match range {
                    None => (lo, hi),
                    Some((a, b)) => (a.max(lo), b.min(hi)),
                });
            }
        }
        range
    }

    /// Checks a form against the policy at `now`: expiration, then each condition in order,
    /// then that every field is covered by a condition. `fields` are `(name as sent, value)`
    /// with `${filename}` already expanded and each name present once; `bucket` is the bucket
    /// the form is posted to (the value of `$bucket`). The file's size is checked separately
    /// ([`Self::check_size`]).
    ///
    /// # Errors
    /// The first [`PostViolation`] found.
    pub fn check(
        &self,
        fields: &[(&str, &str)],
        bucket: &str,
        now: OffsetDateTime,
    ) -> Result<(), PostViolation> {
        if now >= self.expiration {
            return Err(PostViolation::Expired);
        }
        let lookup = |field: &str| -> Option<&str> {
            if field == "bucket" {
                return Some(bucket);
            }
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(field))
                .map(|(_, v)| *v)
        };
        for c in &self.conditions {
            let holds = match c {
                Condition::Eq { value, .. } => c
                    .field()
                    .and_then(|f| lookup(&f))
                    .is_some_and(|v| v == value),
                Condition::StartsWith { value, .. } => {
                    c.field().is_some_and(|f| match lookup(&f) {
                        Some(v) if f == "content-type" => v
                            .split(',')
                            .all(|item| item.trim().starts_with(value.as_str())),
                        Some(v) => v.starts_with(value.as_str()),
                        None => false,
                    })
                }
                Condition::ContentLengthRange { min, max } => {
                    matches!((min.value(), max.value()), (Some(a), Some(b)) if a <= b)
                }
            };
            if !holds {
                return Err(PostViolation::ConditionFailed(c.render()));
            }
        }
        let covered: Vec<String> = self
            .conditions
            .iter()
            .filter_map(Condition::field)
            .collect();
        for (name, _) in fields {
            let lower = name.to_ascii_lowercase();
            let exempt = matches!(lower.as_str(), "x-amz-signature" | "file" | "policy")
                || lower.starts_with("x-ignore-");
            if !exempt && !covered.contains(&lower) {
                return Err(PostViolation::ExtraField((*name).to_owned()));
            }
        }
        Ok(())
    }

    /// Checks a file's size against the `content-length-range` conditions.
    ///
    /// # Errors
    /// [`PostViolation::TooLarge`] or [`PostViolation::TooSmall`].
    pub fn check_size(&self, size: u64) -> Result<(), PostViolation> {
        match self.content_length_range() {
            Some((_, max)) if size > max => Err(PostViolation::TooLarge {
                size: Some(size),
                max,
            }),
            Some((min, _)) if size < min => Err(PostViolation::TooSmall { size, min }),
            _ => Ok(()),
        }
    }
}

/// `2015-12-30T12:00:00.000Z` or `2015-12-30T12:00:00Z`: UTC only, `T` separator.
fn parse_expiration(s: &str) -> Option<OffsetDateTime> {
    if s.as_bytes().get(10) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn parse_condition(c: &Value) -> Result<Condition, PolicyError> {
    match c {
        Value::Object(m) => {
            let mut it = m.iter();
            let (Some((name, value)), None) = (it.next(), it.next()) else {
                return Err(PolicyError::new(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            };
            let Value::String(value) = value else {
                return Err(PolicyError::new(
                    "Invalid Simple-Condition: value must be a string.",
                ));
            };
            Ok(Condition::Eq {
                name: format!("${name}"),
                value: value.clone(),
            })
        }
        Value::Array(items) => {
            let Some(op) = items.first() else {
                return Err(PolicyError::new(
                    "Invalid Condition: missing operation identifier.",
                ));
            };
            let Value::String(op) = op else {
                return Err(PolicyError::json());
            };
            let op = op.to_ascii_lowercase();
            if !matches!(op.as_str(), "eq" | "starts-with" | "content-length-range") {
                return Err(PolicyError::new(format!(
                    "Invalid Condition: unknown operation '{op}'."
                )));
            }
            let [_, a, b] = items.as_slice() else {
                return Err(PolicyError::new(format!(
                    "Invalid {op}: wrong number of arguments."
                )));
            };
            if op == "content-length-range" {
                return Ok(Condition::ContentLengthRange {
                    min: bound(a)?,
                    max: bound(b)?,
                });
            }
            let (Value::String(name), Value::String(value)) = (a, b) else {
                return Err(PolicyError::json());
            };
            let (name, value) = (name.clone(), value.clone());
            Ok(if op == "eq" {
                Condition::Eq { name, value }
            } else {
                Condition::StartsWith { name, value }
            })
        }
        _ => Err(PolicyError::new(
            "Invalid condition test: must be a List or Object.",
        )),
    }
}

fn bound(v: &Value) -> Result<Bound, PolicyError> {
    match v {
        Value::Number(n) => n.as_u64().map(Bound::Int).ok_or_else(PolicyError::json),
        Value::String(s) => Ok(Bound::Text(s.clone())),
        _ => Err(PolicyError::json()),
    }
}
