//! Policy size quotas, counted as AWS counts them.
//!
//! IAM: "IAM does not count white space when calculating the size of a policy against these
//! quotas" (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>);
//! AWS IoT `CreatePolicy`: "policyDocument ... 2048 characters excluding whitespace".
//! Characters are Unicode scalar values, not bytes.

use crate::error::PolicyError;

/// A size quota for a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeLimit {
    /// AWS IoT policy: 2048 characters.
    IotPolicy,
    /// Aggregate inline policies of a role: 10240 characters.
    RoleInline,
    /// Customer managed policy: 6144 characters.
    Managed,
    /// Role trust policy: 2048 characters (the default quota).
    TrustPolicy,
    /// Aggregate inline policies of a user: 2048 characters.
    UserInline,
}

impl SizeLimit {
    /// The quota in characters, whitespace excluded.
    pub fn max_chars(self) -> usize {
        match self {
            SizeLimit::IotPolicy | SizeLimit::TrustPolicy | SizeLimit::UserInline => 2048,
            SizeLimit::RoleInline => 10240,
            SizeLimit::Managed => 6144,
        }
    }

    /// The quota name IAM uses in its `LimitExceeded` message.
    fn quota_name(self) -> &'static str {
        match self {
            SizeLimit::TrustPolicy => "ACLSizePerRole",
            _ => "PolicySize",
        }
    }
}

/// Number of characters of `document` that count against a quota (whitespace excluded).
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Check `document` against `limit`.
///
/// The error is `LimitExceeded` with IAM's message, e.g.
/// `Cannot exceed quota for PolicySize: 10240`.
pub fn check_size(document: &str, limit: SizeLimit) -> Result<(), PolicyError> {
    let max = limit.max_chars();
    // Count lazily so a huge document stops being scanned once it is known to be too large.
    let size = document
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(max + 1)
        .count();
    if size > max {
        Err(PolicyError::limit(format!(
            "Cannot exceed quota for {}: {max}",
            limit.quota_name()
        )))
    } else {
        Ok(())
    }
}

/// Check that a document uses only the characters IAM accepts in policy documents: tab,
/// line feed, carriage return and U+0020 to U+00FF
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>, "IAM name
/// requirements"). `Policy::parse` does not apply this rule because AWS IoT and resource
/// policies do not have it; IAM callers should call it before storing a policy.
pub fn check_characters(document: &str) -> Result<(), PolicyError> {
    match document
        .chars()
        .find(|&c| !(c == '\t' || c == '\n' || c == '\r' || ('\u{20}'..='\u{ff}').contains(&c)))
    {
        Some(c) => Err(PolicyError::malformed(format!(
            "The policy contains the character U+{:04X}, which is not allowed in a policy document.",
            c as u32
        ))),
        None => Ok(()),
    }
}
